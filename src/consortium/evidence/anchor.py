"""The time anchor in a proof bundle: an RFC 3161 token over a checkpoint that contains the notarization block.

Optional member ``"anchor"`` of a version-2 bundle (docs/protocol.md §11.6)::

    "anchor": {
      "checkpoint": "0x…",   canonical checkpoint [64, chain, group, first, last, root] (ledger/checkpoint.py)
      "proof":      "0x…",   encode([index, size, path]): the notarization block's hash under root
      "reply":      "0x…",   the TSA's DER TimeStampResp over SHA-256(checkpoint)
      "tsas": {"value": "0x…" | null, "proof": "0x…"}   optional: gv/tsas proven in the record block's state
    }

Parsing is bundle.py's (one edge for untrusted bytes); verification (:func:`verify_anchor`) is a separate step after the rest of the proof
verified, so a bundle without an anchor verifies exactly as before — its time then
rests on the sealers, and the verdict says so. With an anchor the block hash (already
certified) must be a leaf of the checkpoint, and the token must be a trusted TSA's
signature over that checkpoint: then the notarization — and the file hash in it —
existed no later than the TSA's time, whoever the sealers were. Trusted TSAs are
genesis ``[[tsa]]``, or, when the bundle carries ``tsas``, the governance list proven
against the certified state root of the record's block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consortium.crypto.suite import CryptoSuite
from consortium.crypto.timestamp import (
    OTHER_HASH,
    OTHER_TSA,
    TimestampError,
    TimestampToken,
    TrustedTsa,
    VerifiedTimestamp,
    verify_token,
)
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.errors import (
    ANCHOR_MISMATCH,
    ANCHOR_TOO_LATE,
    NO_ANCHOR,
    TIMESTAMP_INVALID,
    TIMESTAMP_OTHER_HASH,
    TIMESTAMP_UNTRUSTED,
    NotVerified,
)
from consortium.execution.governance import KEY_TSAS
from consortium.ledger.block import BlockHeader
from consortium.ledger.checkpoint import Checkpoint
from consortium.ledger.merkle import InvalidListProof, ListProof, verify_inclusion
from consortium.state import InvalidStateProof, StateProof, verify_proof

MAX_CHECKPOINT_BYTES = 256
MAX_PATH_BYTES = 4096
MAX_TSA_LIST_BYTES = 256 * 1024


@dataclass(frozen=True)
class TsaListProof:
    """``gv/tsas`` in the record block's state (None: absent, never set, so the genesis list applies)."""

    value: bytes | None
    proof: StateProof

    def to_json(self) -> dict[str, Any]:
        return {"value": None if self.value is None else to_hex(self.value), "proof": to_hex(self.proof.encode())}


@dataclass(frozen=True)
class BundleAnchor:
    checkpoint: Checkpoint
    proof: ListProof
    token: TimestampToken
    """Parsed (strict DER, granted) but not verified: that needs the chain's trusted TSAs."""
    tsas: TsaListProof | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": to_hex(self.checkpoint.encode()),
            "proof": to_hex(canonical.encode(self.proof.to_value())),
            "reply": to_hex(self.token.der),
            **({"tsas": self.tsas.to_json()} if self.tsas is not None else {}),
        }


@dataclass(frozen=True)
class VerifiedAnchor:
    """What a verified anchor establishes about the notarization block: it existed no later than ``latest``."""

    timestamp: VerifiedTimestamp
    first: int
    last: int
    """The checkpoint's block range."""
    trust: str
    """Where the TSA list came from: ``"genesis"`` or ``"governance at block N"``."""

    tsa = property(lambda self: self.timestamp.tsa)
    gen_time = property(lambda self: self.timestamp.gen_time)
    accuracy = property(lambda self: self.timestamp.accuracy)
    policy = property(lambda self: self.timestamp.policy)
    serial = property(lambda self: self.timestamp.serial)

    @property
    def latest(self) -> datetime:
        """The TSA's time plus its stated accuracy."""
        return self.timestamp.latest


def trusted_tsas(genesis_tsas: tuple[TrustedTsa, ...], anchor: BundleAnchor, record_header: BlockHeader,
                 suite: CryptoSuite) -> tuple[tuple[TrustedTsa, ...], str]:
    """The TSAs the chain trusted: governance's list proven at the record block, else (not carried, or proven
    never set) genesis's."""
    if anchor.tsas is None:
        return genesis_tsas, "genesis"
    try:
        verify_proof(record_header.state_root, KEY_TSAS, anchor.tsas.value, anchor.tsas.proof, suite)
    except InvalidStateProof as exc:
        raise NotVerified(ANCHOR_MISMATCH, f"the trusted TSA list in the anchor is not proven in block "
                                           f"{record_header.number}'s state: {exc}") from None
    if anchor.tsas.value is None:  # never set by governance: the genesis list applies
        return genesis_tsas, f"genesis (governance list unset at block {record_header.number})"
    out = []
    try:
        entries = canonical.decode(anchor.tsas.value)
    except DecodeError:
        raise NotVerified(ANCHOR_MISMATCH, "the governance TSA list in the anchor cannot be read") from None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, list) and len(entry) == 3:
            name, cert, policy = entry
            if isinstance(name, str) and isinstance(cert, bytes) and isinstance(policy, str):
                try:
                    out.append(TrustedTsa(name, cert, policy))
                except ValueError:
                    continue  # an entry no verifier can use trusts nobody
    return tuple(out), f"governance at block {record_header.number}"



def verify_anchor(anchor: BundleAnchor, header: BlockHeader, block_hash: bytes, genesis_tsas: tuple[TrustedTsa, ...],
                  record_header: BlockHeader, suite: CryptoSuite) -> VerifiedAnchor:
    """Step 6: the certified ``header`` (hash ``block_hash``) is in the checkpoint a trusted TSA time-stamped.

    The checkpoint first (does it contain this block at all?), then the TSA list, then the token.
    """
    cp = anchor.checkpoint
    if (cp.chain_id, cp.group_id) != (header.chain_id, header.group_id):
        raise NotVerified(ANCHOR_MISMATCH, f"the anchor's checkpoint is of chain {cp.chain_id!r}/{cp.group_id!r}, "
                                           f"not {header.chain_id!r}/{header.group_id!r}")
    if not cp.covers(header.number) or anchor.proof.index != header.number - cp.first or anchor.proof.size != cp.size:
        raise NotVerified(ANCHOR_MISMATCH, f"the anchor covers blocks {cp.first}-{cp.last} but is offered for block "
                                           f"{header.number} (path index {anchor.proof.index} of {anchor.proof.size})")
    try:
        verify_inclusion(cp.root, block_hash, anchor.proof, suite.hash)
    except InvalidListProof:
        raise NotVerified(ANCHOR_MISMATCH, f"block {header.number} as proven here ({to_hex(block_hash)}) is not the "
                                           f"block that was time-stamped in checkpoint {cp.first}-{cp.last}: this "
                                           "history is not the one anchored") from None
    tsas, trust = trusted_tsas(genesis_tsas, anchor, record_header, suite)
    try:
        v = verify_token(anchor.token, cp.imprint, tsas)
    except TimestampError as exc:
        code = {OTHER_HASH: TIMESTAMP_OTHER_HASH, OTHER_TSA: TIMESTAMP_UNTRUSTED}.get(exc.kind, TIMESTAMP_INVALID)
        raise NotVerified(code, f"the time-stamp token does not anchor this proof: {exc.message}") from None
    return VerifiedAnchor(timestamp=v, first=cp.first, last=cp.last, trust=trust)


@dataclass(frozen=True)
class TimePolicy:
    """A reader's policy on top of verification (``evidence verify --max-anchor-lag / --require-anchor``).

    Verification proves "existed no later than the TSA's time". How much later than the block's own
    (sealer-set) time that bound may be is a matter of judgement, not of proof: a court may refuse a
    token dated long after its block, since a history forged by a retired quorum can be time-stamped
    only when it is forged (design.md §14.1). ``max_lag`` implies that an anchor is required.
    """

    max_lag: timedelta | None = None
    require_anchor: bool = False

    @property
    def active(self) -> bool:
        return self.max_lag is not None or self.require_anchor

    def check(self, anchor: VerifiedAnchor | None, block: int, block_time_ms: int) -> timedelta | None:
        """Raise NotVerified if the policy refuses; else the anchor's lag behind the block time (None: no anchor)."""
        if anchor is None:
            if self.active:
                raise NotVerified(NO_ANCHOR, "the proof carries no time-stamp token, so its time rests on the sealers "
                                             "alone, and the policy requires one")
            return None
        block_time = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=block_time_ms)
        lag = anchor.latest - block_time
        if self.max_lag is not None and lag > self.max_lag:
            raise NotVerified(ANCHOR_TOO_LATE, f"the time-stamp ({anchor.tsa}) says the proof existed no later than "
                                               f"{anchor.latest.isoformat()}, {describe(lag)} after block {block}'s "
                                               f"time {block_time.isoformat()} (set by the sealers); the policy allows "
                                               f"at most {describe(self.max_lag)}: the block may have been made, or "
                                               "re-made, later than it claims")
        return lag


def describe(d: timedelta) -> str:
    """A duration for people: 42 s, 17 min 3 s, 5 h 2 min, 3 d 4 h."""
    s = int(d.total_seconds())
    if s < 0:
        return "-" + describe(-d)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")
    return f"{s // 86400} d" + (f" {s % 86400 // 3600} h" if s % 86400 // 3600 else "")
