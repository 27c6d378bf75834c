"""The proof bundle: everything needed to verify a notarization with no node, as one JSON file.

Binary objects travel as 0x-hex of their canonical encodings (docs/protocol.md),
so the verifier decodes exactly the bytes that were hashed and signed; JSON is
only the envelope. The format (docs/protocol.md §11)::

    {
      "type": "consortium-evidence-proof", "version": 2,
      "chainId": "chain0", "groupId": "group0", "genesisHash": "0x…",
      "evidence": {"fileHash": "0x…", "salt": "0x…" | null},   the opening (commitment.py)
      "headers": ["0x…", …],                        certified block headers (commit seals included),
                                                    strictly ascending block numbers
      "notarization": {"header": i, "transaction": "0x…", "transactionProof": "0x…",
                       "receipt": "0x…", "receiptProof": "0x…"},
      "cosignatures": [{same shape}, …],             one per co-signature in the record, in its order
      "record": {"header": i, "value": "0x…", "proof": "0x…"},
      "sealerChanges": [{"header": "0x…", "value": "0x…", "proof": "0x…",
                         "organizations": {"value": "0x…" | null, "proof": "0x…"}}, …],
                                                    ("organizations", optional: gv/node_orgs in the
                                                    same state, naming the new sealers' organizations)
      "anchor": {"checkpoint": "0x…", "proof": "0x…", "reply": "0x…"}   optional: RFC 3161 time anchor
    }

Version 1 (bundles made before salted commitments) has ``"evidenceHash": "0x…"``
instead of ``"evidence"``: it reads as the public-hash opening of that hash, and
is written back unchanged. Optional members (:data:`OPTIONAL_KEYS`) extend
version 2 without a new number; a member this reader does not know is refused,
so a bundle never claims more than the verifier checked.

``header`` fields index ``headers``. Parsing checks shape only (types, sizes,
encodings, bounds) and never hashes or verifies a signature: that is
:mod:`consortium.evidence.verify`'s job. Every way parsing can fail raises
:class:`MalformedBundle` (or :class:`UnsupportedBundle` for a newer version).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from consortium.crypto.suite import HASH_SIZE
from consortium.crypto.timestamp import TimestampError, parse_response
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.anchor import MAX_CHECKPOINT_BYTES, MAX_PATH_BYTES, MAX_TSA_LIST_BYTES, BundleAnchor, TsaListProof
from consortium.evidence.commitment import InvalidOpening, Opening, Unopened, parse_evidence_member
from consortium.evidence.errors import MalformedBundle, UnsupportedBundle
from consortium.evidence.record import MAX_RECORD_BYTES, MAX_SIGNERS
from consortium.ledger.block import BlockHeader
from consortium.ledger.checkpoint import MAX_REPLY_BYTES, Checkpoint
from consortium.ledger.merkle import InvalidListProof, ListProof
from consortium.ledger.receipt import Receipt
from consortium.ledger.transaction import MAX_TX_SIZE, Transaction
from consortium.state import InvalidStateProof, StateProof

BUNDLE_TYPE = "consortium-evidence-proof"
BUNDLE_VERSION = 2
"""What this code writes; it reads 1 and 2."""
READABLE_VERSIONS = (1, 2)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""Refused before parsing: a bundle of 2 + 16 blocks and many sealer-set changes stays far below."""
MAX_HEADERS = 2 + MAX_SIGNERS
"""Notarization block, state block, and one block per co-signature."""
MAX_SEALER_CHANGES = 1024
MAX_HEADER_BYTES = 64 * 1024
"""A header with 256 sealers and 256 seals is about 25 KB."""
MAX_PROOF_BYTES = 64 * 1024
MAX_RECEIPT_BYTES = 256 * 1024
MAX_NODE_ORGS_BYTES = 256 * 1024
"""gv/node_orgs: every sealer and observer on chain with its organization's name."""

_COMMON_KEYS = {"type", "version", "chainId", "groupId", "genesisHash", "headers", "notarization", "cosignatures",
                "record", "sealerChanges"}
_TOP_KEYS = {1: _COMMON_KEYS | {"evidenceHash"}, 2: _COMMON_KEYS | {"evidence"}}
OPTIONAL_KEYS: dict[int, frozenset[str]] = {1: frozenset(), 2: frozenset({"anchor"})}
"""Members a version may carry or omit; extensions (a timestamp token, a batch path) are added here."""
_INCLUSION_KEYS = {"header", "transaction", "transactionProof", "receipt", "receiptProof"}
_STATE_KEYS = {"header", "value", "proof"}

T = TypeVar("T")


@dataclass(frozen=True)
class TxInclusion:
    """A transaction and its receipt, each with its Merkle proof in block ``headers[header]``."""

    header: int
    transaction: Transaction
    transaction_proof: ListProof
    receipt: Receipt
    receipt_proof: ListProof

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "transaction": to_hex(self.transaction.encode()),
            "transactionProof": to_hex(canonical.encode(self.transaction_proof.to_value())),
            "receipt": to_hex(self.receipt.encode()),
            "receiptProof": to_hex(canonical.encode(self.receipt_proof.to_value())),
        }


@dataclass(frozen=True)
class RecordInclusion:
    """The evidence record's state value and its state proof against ``headers[header].state_root``."""

    header: int
    value: bytes
    proof: StateProof

    def to_json(self) -> dict[str, Any]:
        return {"header": self.header, "value": to_hex(self.value), "proof": to_hex(self.proof.encode())}


@dataclass(frozen=True)
class NodeOrgsProof:
    """``gv/node_orgs`` (node id -> organization; None: absent) proven in a sealer-set change's state."""

    value: bytes | None
    proof: StateProof

    def to_json(self) -> dict[str, Any]:
        return {"value": None if self.value is None else to_hex(self.value), "proof": to_hex(self.proof.encode())}


@dataclass(frozen=True)
class SealerSetChange:
    """A certified header whose state holds a new sealer set (in force from ``header.number + 1``)."""

    header: BlockHeader
    value: bytes
    proof: StateProof
    organizations: NodeOrgsProof | None = None
    """Optional: which organization each node belongs to, in the same state (chains of organizations)."""

    def to_json(self) -> dict[str, Any]:
        return {"header": to_hex(self.header.encode()), "value": to_hex(self.value), "proof": to_hex(self.proof.encode()),
                **({"organizations": self.organizations.to_json()} if self.organizations is not None else {})}


@dataclass(frozen=True)
class ProofBundle:
    chain_id: str
    group_id: str
    genesis_hash: bytes
    opening: Opening | Unopened
    """The file's SHA-256 and the salt (None: public-hash mode) that give the record's key; or only the
    key (an unopened bundle, inside case proofs: it proves the record, not a file)."""
    headers: tuple[BlockHeader, ...]
    notarization: TxInclusion
    cosignatures: tuple[TxInclusion, ...]
    record: RecordInclusion
    sealer_changes: tuple[SealerSetChange, ...] = ()
    version: int = BUNDLE_VERSION
    anchor: BundleAnchor | None = None
    """An RFC 3161 time anchor over the notarization block (evidence/anchor.py), if the node had one."""

    @property
    def evidence_hash(self) -> bytes:
        """SHA-256 of the evidence file (an unopened bundle names no file: MalformedBundle)."""
        if isinstance(self.opening, Unopened):
            raise MalformedBundle("this proof carries no opening (file hash and salt): it proves a record, not a file")
        return self.opening.file_hash

    @property
    def key(self) -> bytes:
        """The 32 bytes on chain: the salted commitment, or the file hash in public-hash mode."""
        return self.opening.key

    def to_json(self) -> dict[str, Any]:
        evidence: dict[str, Any] = ({"evidenceHash": to_hex(self.evidence_hash)} if self.version == 1
                                    else {"evidence": self.opening.to_json()})
        return {
            "type": BUNDLE_TYPE,
            "version": self.version,
            "chainId": self.chain_id,
            "groupId": self.group_id,
            "genesisHash": to_hex(self.genesis_hash),
            **evidence,
            "headers": [to_hex(h.encode()) for h in self.headers],
            "notarization": self.notarization.to_json(),
            "cosignatures": [c.to_json() for c in self.cosignatures],
            "record": self.record.to_json(),
            "sealerChanges": [c.to_json() for c in self.sealer_changes],
            **({"anchor": self.anchor.to_json()} if self.anchor is not None else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


# --- parsing ----------------------------------------------------------------------------------


def load_bundle(data: bytes) -> ProofBundle:
    """Parse a proof file's bytes. Raises MalformedBundle or UnsupportedBundle, nothing else."""
    return parse_bundle(read_json(data))


def read_json(data: bytes, what: str = "the proof file") -> Any:
    """A proof file's JSON document (size-bounded, UTF-8, depth-safe); MalformedBundle otherwise."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise MalformedBundle(f"{what} is {len(data)} bytes; a proof file is at most {MAX_BUNDLE_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBundle(f"{what} is not UTF-8 text, so not a JSON proof bundle") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise MalformedBundle(f"{what} is JSON nested too deeply to be a proof bundle") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing a huge number
        raise MalformedBundle(f"{what} is not valid JSON (truncated or not a proof?): {exc}") from None


def parse_bundle(doc: Any) -> ProofBundle:
    """Check the shape of a decoded JSON document and decode every binary object in it."""
    if not isinstance(doc, dict):
        raise MalformedBundle("a proof bundle is a JSON object")
    if doc.get("type") != BUNDLE_TYPE:
        raise MalformedBundle(f"not a consortium evidence proof (\"type\" must be {BUNDLE_TYPE!r})")
    version = _format_version(doc, READABLE_VERSIONS, BUNDLE_VERSION, "proof")
    _exact_keys(doc, _TOP_KEYS[version], "the proof bundle", optional=OPTIONAL_KEYS[version])
    opening: Opening | Unopened
    if version == 1:
        opening = Opening.public(_hex(doc["evidenceHash"], "evidenceHash", size=HASH_SIZE))
    else:
        try:
            opening = parse_evidence_member(doc["evidence"])
        except InvalidOpening as exc:
            raise MalformedBundle(str(exc)) from None
    headers = tuple(_header(h, f"headers[{i}]") for i, h in enumerate(_list(doc["headers"], "headers", MAX_HEADERS)))
    if not headers:
        raise MalformedBundle("headers: a proof needs at least one block header")
    for prev, cur in pairwise(headers):
        if cur.number <= prev.number:
            raise MalformedBundle("headers: block numbers must be strictly ascending")
    cosigs = _list(doc["cosignatures"], "cosignatures", MAX_SIGNERS)
    changes = _list(doc["sealerChanges"], "sealerChanges", MAX_SEALER_CHANGES)
    bundle = ProofBundle(
        chain_id=_text(doc["chainId"], "chainId"),
        group_id=_text(doc["groupId"], "groupId"),
        genesis_hash=_hex(doc["genesisHash"], "genesisHash", size=HASH_SIZE),
        opening=opening,
        headers=headers,
        notarization=_inclusion(doc["notarization"], "notarization", len(headers)),
        cosignatures=tuple(_inclusion(c, f"cosignatures[{i}]", len(headers)) for i, c in enumerate(cosigs)),
        record=_record(doc["record"], len(headers)),
        sealer_changes=tuple(_change(c, f"sealerChanges[{i}]") for i, c in enumerate(changes)),
        version=version,
        anchor=_anchor(doc["anchor"]) if "anchor" in doc else None,
    )
    used = {bundle.notarization.header, bundle.record.header, *(c.header for c in bundle.cosignatures)}
    if len(used) != len(headers):
        raise MalformedBundle("headers: every block header must be used by the notarization, a co-signature "
                              "or the record")
    return bundle


def _format_version(doc: dict[str, Any], readable: tuple[int, ...], newest: int, what: str) -> int:
    """The document's ``"version"``, one of ``readable``. A newer one than this verifier knows is
    UnsupportedBundle (upgrade, do not conclude); any other unknown one is malformed."""
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MalformedBundle("\"version\" must be an integer")
    if version not in readable:
        if version > newest:
            raise UnsupportedBundle(f"the {what} uses format version {version}; this verifier reads versions "
                                    f"{readable[0]} to {newest}: upgrade consortium to verify it")
        raise MalformedBundle(f"unknown {what} format version {version}")
    return version


def _exact_keys(obj: Any, keys: set[str], what: str, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise MalformedBundle(f"{what} must be a JSON object")
    missing = keys - set(obj)
    if missing:
        raise MalformedBundle(f"{what} lacks {', '.join(sorted(missing))}")
    extra = set(obj) - keys - optional
    if extra:
        raise MalformedBundle(f"{what} has unknown fields {', '.join(sorted(map(str, extra)))[:200]}")
    return obj


def _list(value: Any, what: str, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedBundle(f"{what} must be a JSON array")
    if len(value) > max_len:
        raise MalformedBundle(f"{what} has {len(value)} entries; at most {max_len} are allowed")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise MalformedBundle(f"{what} must be a string of 1-64 characters")
    return value


def _hex(value: Any, what: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
    if max_size is not None and isinstance(value, str) and len(value) > 2 + 2 * max_size:
        raise MalformedBundle(f"{what} is longer than {max_size} bytes")
    try:
        return from_hex(value, size=size, what=what)
    except HexError as exc:
        raise MalformedBundle(str(exc)) from None


def _index(value: Any, what: str, count: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise MalformedBundle(f"{what} must be an index into headers (0-{count - 1})")
    return value


def _decoded(raw: bytes, what: str, decode: Callable[[bytes], T], encode: Callable[[T], bytes]) -> T:
    """Decode, and insist the bytes are the object's one canonical encoding (so what is checked is what was hashed)."""
    try:
        obj = decode(raw)
        canonical_form = encode(obj)
    except (DecodeError, InvalidListProof, InvalidStateProof, ValueError) as exc:
        raise MalformedBundle(f"{what} cannot be decoded: {exc}") from None
    except RecursionError:
        raise MalformedBundle(f"{what} is nested too deeply") from None
    if canonical_form != raw:
        raise MalformedBundle(f"{what} is not in canonical encoding")
    return obj


def _header(value: Any, what: str) -> BlockHeader:
    raw = _hex(value, what, max_size=MAX_HEADER_BYTES)
    return _decoded(raw, what, BlockHeader.decode, lambda h: h.encode())


def _list_proof(value: Any, what: str) -> ListProof:
    raw = _hex(value, what, max_size=MAX_PROOF_BYTES)
    return _decoded(raw, what, lambda b: ListProof.from_value(canonical.decode(b, max_size=MAX_PROOF_BYTES)),
                    lambda p: canonical.encode(p.to_value()))


def _state_proof(value: Any, what: str) -> StateProof:
    raw = _hex(value, what, max_size=MAX_PROOF_BYTES)
    return _decoded(raw, what, StateProof.decode, lambda p: p.encode())


def _inclusion(value: Any, what: str, count: int) -> TxInclusion:
    obj = _exact_keys(value, _INCLUSION_KEYS, what)
    tx_raw = _hex(obj["transaction"], f"{what}.transaction", max_size=MAX_TX_SIZE)
    receipt_raw = _hex(obj["receipt"], f"{what}.receipt", max_size=MAX_RECEIPT_BYTES)
    return TxInclusion(
        header=_index(obj["header"], f"{what}.header", count),
        transaction=_decoded(tx_raw, f"{what}.transaction", Transaction.decode, lambda t: t.encode()),
        transaction_proof=_list_proof(obj["transactionProof"], f"{what}.transactionProof"),
        receipt=_decoded(receipt_raw, f"{what}.receipt", Receipt.decode, lambda r: r.encode()),
        receipt_proof=_list_proof(obj["receiptProof"], f"{what}.receiptProof"),
    )


def _record(value: Any, count: int) -> RecordInclusion:
    obj = _exact_keys(value, _STATE_KEYS, "record")
    return RecordInclusion(
        header=_index(obj["header"], "record.header", count),
        value=_hex(obj["value"], "record.value", max_size=MAX_RECORD_BYTES),
        proof=_state_proof(obj["proof"], "record.proof"),
    )


def _change(value: Any, what: str) -> SealerSetChange:
    obj = _exact_keys(value, {"header", "value", "proof"}, what, optional=frozenset({"organizations"}))
    orgs = None
    if "organizations" in obj:
        o = _exact_keys(obj["organizations"], {"value", "proof"}, f"{what}.organizations")
        orgs = NodeOrgsProof(None if o["value"] is None else _hex(o["value"], f"{what}.organizations.value",
                                                                   max_size=MAX_NODE_ORGS_BYTES),
                             _state_proof(o["proof"], f"{what}.organizations.proof"))
    return SealerSetChange(
        header=_header(obj["header"], f"{what}.header"),
        value=_hex(obj["value"], f"{what}.value", max_size=MAX_RECORD_BYTES),
        proof=_state_proof(obj["proof"], f"{what}.proof"),
        organizations=orgs,
    )


def _anchor(value: Any) -> BundleAnchor:
    """The optional time anchor (evidence/anchor.py): shapes and strict DER only; verify.py step 6 judges it."""
    obj = _exact_keys(value, {"checkpoint", "proof", "reply"}, "anchor", optional=frozenset({"tsas"}))
    checkpoint = _decoded(_hex(obj["checkpoint"], "anchor.checkpoint", max_size=MAX_CHECKPOINT_BYTES),
                          "anchor.checkpoint", Checkpoint.decode, Checkpoint.encode)
    raw_path = _hex(obj["proof"], "anchor.proof", max_size=MAX_PATH_BYTES)
    path = _decoded(raw_path, "anchor.proof", lambda b: ListProof.from_value(canonical.decode(b)),
                    lambda p: canonical.encode(p.to_value()))
    try:
        token = parse_response(_hex(obj["reply"], "anchor.reply", max_size=MAX_REPLY_BYTES))
    except TimestampError as exc:
        raise MalformedBundle(f"anchor.reply is not a usable RFC 3161 reply: {exc.message}") from None
    tsas = None
    if "tsas" in obj:
        t = _exact_keys(obj["tsas"], {"value", "proof"}, "anchor.tsas")
        tsas = TsaListProof(None if t["value"] is None else _hex(t["value"], "anchor.tsas.value",
                                                                 max_size=MAX_TSA_LIST_BYTES),
                            _state_proof(t["proof"], "anchor.tsas.proof"))
    return BundleAnchor(checkpoint, path, token, tsas)
