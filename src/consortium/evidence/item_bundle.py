"""The per-item proof of a gateway batch, and its one extra verification step.

A gateway anchors many items with one ``notarize_batch(root, count)`` transaction.
An item's proof is its Merkle path to that root plus the batch's *ordinary* proof
bundle (evidence/bundle.py: transaction, receipt, certified headers, sealer-set
changes, the batch record)::

    {
      "type": "consortium-evidence-item-proof", "version": 1,
      "item": "0x…",      canonical [48, commitment, metadata]        (evidence/item.py)
      "path": "0x…",      canonical [index, size, [sibling, …]]       (RFC 9162 audit path)
      "batch": {…},       an ordinary "consortium-evidence-proof" whose (public-hash) key is the batch root
      "evidence": {"fileHash": "0x…", "salt": "0x…" | null}    optional: the submitter's opening
    }

Verifying is two bounded steps (:func:`verify_item_bundle`):

1. the item step, here and cheap: the item is about this file (its commitment is the
   file's SHA-256, or the salted commitment the optional ``evidence`` opening gives,
   evidence/commitment.py), and its path leads to the root the batch bundle is about;
2. the batch step: :func:`consortium.evidence.verify.verify_bundle` on the batch bundle
   with ``batch_size`` = the path's tree size, which insists on a
   ``notarize_batch(root, size)`` transaction and otherwise verifies exactly what it
   verifies for a single notarization (certificates from genesis, signatures last).

So whatever the ordinary verifier learns to check, batched items get it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from consortium.crypto.suite import DEFAULT_SUITE
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.bundle import MAX_BUNDLE_BYTES, ProofBundle, parse_bundle
from consortium.evidence.commitment import InvalidOpening, Opening
from consortium.evidence.errors import FILE_CHANGED, PROOF_ALTERED, MalformedBundle, NotVerified, UnsupportedBundle
from consortium.evidence.item import MAX_ITEM_BYTES, EvidenceItem, InvalidItem
from consortium.evidence.verify import VerifiedEvidence, verify_bundle
from consortium.ledger.merkle import MAX_PROOF_DEPTH, Hasher, InvalidListProof, ListProof, verify_inclusion
from consortium.node.genesis import Genesis

ITEM_BUNDLE_TYPE = "consortium-evidence-item-proof"
ITEM_BUNDLE_VERSION = 1
MAX_BATCH_ITEMS = 1 << 24
"""The contract's bound on a batch (contracts/evidence.py MAX_BATCH_ITEMS)."""
MAX_PATH_BYTES = 32 + MAX_PROOF_DEPTH * (2 + 32)
"""Index, size, array headers, and up to 64 hashes of 2 + 32 bytes each."""
_KEYS = {"type", "version", "item", "path", "batch"}
_OPTIONAL_KEYS = {"evidence"}


@dataclass(frozen=True)
class ItemBundle:
    item: EvidenceItem
    path: ListProof
    batch: ProofBundle
    opening: Opening | None = None
    """How the file gives the item's commitment (salt kept by the submitter, added to the proof it hands
    over); None: the commitment is the file's SHA-256 itself (public-hash mode)."""

    @property
    def root(self) -> bytes:
        """The batch root the bundle claims (the batch bundle's public-hash key): checked, not trusted."""
        return self.batch.key

    def with_opening(self, opening: Opening | None) -> ItemBundle:
        return replace(self, opening=opening)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": ITEM_BUNDLE_TYPE,
            "version": ITEM_BUNDLE_VERSION,
            "item": to_hex(self.item.encoded),
            "path": to_hex(canonical.encode(self.path.to_value())),
            "batch": self.batch.to_json(),
        }
        if self.opening is not None:
            doc["evidence"] = self.opening.to_json()
        return doc

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


@dataclass(frozen=True)
class VerifiedItem:
    """What a verified item proof establishes: the item, its place in the batch, and the batch's notarization."""

    item: EvidenceItem
    index: int
    batch_size: int
    root: bytes
    batch: VerifiedEvidence


def is_item_bundle(doc: Any) -> bool:
    """Whether a decoded JSON proof document declares itself a per-item proof (then parse it with
    :func:`parse_item_bundle`, else with the ordinary parser)."""
    return isinstance(doc, dict) and doc.get("type") == ITEM_BUNDLE_TYPE


def load_item_bundle(data: bytes) -> ItemBundle:
    """Parse a per-item proof file's bytes. Raises MalformedBundle or UnsupportedBundle, nothing else."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise MalformedBundle(f"the proof file is {len(data)} bytes; a proof bundle is at most {MAX_BUNDLE_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedBundle("the proof file is not UTF-8 text, so not a JSON proof bundle") from None
    except RecursionError:
        raise MalformedBundle("the proof file is JSON nested too deeply to be a proof bundle") from None
    except ValueError as exc:
        raise MalformedBundle(f"the proof file is not valid JSON (truncated or not a proof?): {exc}") from None
    return parse_item_bundle(doc)


def parse_item_bundle(doc: Any) -> ItemBundle:
    """Check the shape of a decoded per-item proof and decode the item, the path and the batch bundle."""
    if not isinstance(doc, dict) or doc.get("type") != ITEM_BUNDLE_TYPE:
        raise MalformedBundle(f"not a consortium item proof (\"type\" must be {ITEM_BUNDLE_TYPE!r})")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MalformedBundle("\"version\" must be an integer")
    if version != ITEM_BUNDLE_VERSION:
        if version > ITEM_BUNDLE_VERSION:
            raise UnsupportedBundle(f"the item proof uses format version {version}; this verifier reads version "
                                    f"{ITEM_BUNDLE_VERSION}: upgrade consortium to verify it")
        raise MalformedBundle(f"unknown item proof format version {version}")
    missing, extra = _KEYS - set(doc), set(doc) - _KEYS - _OPTIONAL_KEYS
    if missing:
        raise MalformedBundle(f"the item proof lacks {', '.join(sorted(missing))}")
    if extra:
        raise MalformedBundle(f"the item proof has unknown fields {', '.join(sorted(map(str, extra)))[:200]}")
    batch = parse_bundle(doc["batch"])
    if not batch.opening.is_public:
        raise MalformedBundle("batch: a batch root is notarized as itself, so the batch bundle's opening has no salt")
    opening = None
    if "evidence" in doc:
        try:
            opening = Opening.from_json(doc["evidence"])
        except InvalidOpening as exc:
            raise MalformedBundle(str(exc)) from None
    return ItemBundle(item=parse_item(doc["item"]), path=parse_path(doc["path"]), batch=batch, opening=opening)


def parse_item(value: Any) -> EvidenceItem:
    raw = _hex(value, "item", MAX_ITEM_BYTES)
    try:
        return EvidenceItem.decode(raw)
    except InvalidItem as exc:
        raise MalformedBundle(f"item cannot be decoded: {exc}") from None


def parse_path(value: Any) -> ListProof:
    raw = _hex(value, "path", MAX_PATH_BYTES)
    try:
        path = ListProof.from_value(canonical.decode(raw, max_size=MAX_PATH_BYTES))
    except (DecodeError, InvalidListProof) as exc:
        raise MalformedBundle(f"path cannot be decoded: {exc}") from None
    if not 0 < path.size <= MAX_BATCH_ITEMS or not 0 <= path.index < path.size:
        raise MalformedBundle(f"path: index {path.index} of a batch of {path.size} is out of range "
                              f"(a batch holds 1 to {MAX_BATCH_ITEMS} items)")
    return path


def _hex(value: Any, what: str, max_size: int) -> bytes:
    if isinstance(value, str) and len(value) > 2 + 2 * max_size:
        raise MalformedBundle(f"{what} is longer than {max_size} bytes")
    try:
        return from_hex(value, what=what)
    except HexError as exc:
        raise MalformedBundle(str(exc)) from None


def verify_item_step(bundle: ItemBundle, file_hash: bytes, hasher: Hasher = DEFAULT_SUITE.hash) -> bytes:
    """Step 1: the item is about this file and its path leads to the batch root. Returns the root.

    Pure and cheap (one hash per level); the root is still only a claim until
    :func:`verify_bundle` proves it was notarized.
    """
    item = bundle.item
    opening = bundle.opening if bundle.opening is not None else Opening.public(item.commitment)
    if opening.file_hash != file_hash:
        raise NotVerified(FILE_CHANGED, f"the file's SHA-256 is {to_hex(file_hash)}, but the item proof is for "
                                        f"{to_hex(opening.file_hash)}: the file was changed, or it is another file")
    if opening.key != item.commitment:
        raise NotVerified(PROOF_ALTERED, f"the proof's {opening.mode} opening of the file gives the commitment "
                                         f"{to_hex(opening.key)}, not the item's {to_hex(item.commitment)}: the salt "
                                         "or the item was altered")
    try:
        verify_inclusion(bundle.root, item.encoded, bundle.path, hasher)
    except InvalidListProof as exc:
        raise NotVerified(PROOF_ALTERED, f"the item's Merkle path does not lead to the batch root "
                                         f"{to_hex(bundle.root)} ({exc}): the path was altered or is for another "
                                         "item") from None
    return bundle.root


def verify_item_bundle(genesis: Genesis, bundle: ItemBundle, file_hash: bytes) -> VerifiedItem:
    """Both steps: the item into its batch root, then the batch root onto the chain (from genesis alone)."""
    root = verify_item_step(bundle, file_hash, genesis.suite.hash)
    evidence = verify_bundle(genesis, bundle.batch, root, batch_size=bundle.path.size)
    return VerifiedItem(item=bundle.item, index=bundle.path.index, batch_size=bundle.path.size, root=root,
                        batch=evidence)
