"""The vote state a sealer must keep across crashes (CometBFT's last-sign-state, widened for PBFT).

A sealer that signs, crashes, forgets, and signs something else for the same
(height, view, phase) is an equivocator as far as everyone else can tell.
Every Ready that carries signed messages therefore carries this state, and the
driver makes it durable before sending (see ``Ready.persist``). It holds:

* ``height`` and ``view``: the view never goes backwards after a restart;
* ``signed``: for ``signed_view``, the digest of every message signed per phase
  (PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE, NEW-VIEW); the core refuses to
  sign a different digest for that phase and view, and re-signing the same one
  (Ed25519 is deterministic) yields the same bytes;
* ``prepared`` and ``prepared_block``: the highest prepared certificate at this
  height with its block. A sealer that sent COMMIT must still report that
  certificate in its VIEW-CHANGE after a restart, or a later view could
  replace a committed block (the view-change argument needs it).

Encoding: ``body || checksum`` where body is the canonical encoding of
``[22, chain_id, group_id, height, view, signed_view, [[phase_tag, digest], ...],
encode(certificate) | nil, encode(block) | nil]`` (certificate and block as byte
strings, so they are encoded once, not at every write) and checksum is the suite hash of body (32
bytes), so a damaged or torn file is detected rather than half-believed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consortium.consensus.errors import CorruptPersistedState, MalformedMessage
from consortium.consensus.messages import (
    TAG_COMMIT,
    TAG_NEW_VIEW,
    TAG_PERSISTED_STATE,
    TAG_PRE_PREPARE,
    TAG_PREPARE,
    TAG_VIEW_CHANGE,
    PreparedCertificate,
    prepared_certificate_from_value,
)
from consortium.crypto.suite import DEFAULT_SUITE, HASH_SIZE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, Value, field_bytes, field_int, field_list, field_str
from consortium.ledger.block import Block
from consortium.ledger.transaction import MAX_ID_LEN, InvalidTransaction

PHASES = (TAG_PRE_PREPARE, TAG_PREPARE, TAG_COMMIT, TAG_VIEW_CHANGE, TAG_NEW_VIEW)
_FIELDS = 9
MAX_STATE_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True)
class PersistedState:
    chain_id: str
    group_id: str
    height: int
    view: int
    signed_view: int
    signed: tuple[tuple[int, bytes], ...]
    """(phase tag, digest of the signed message) for ``signed_view``, in phase order."""
    prepared: PreparedCertificate | None
    prepared_block: Block | None
    prepared_block_encoding: bytes | None = field(default=None, compare=False, repr=False)
    """``prepared_block.encode()``, if the caller already has it (the core keeps it, so a large block
    is encoded once per height rather than at every persist)."""

    def signed_digest(self, phase: int) -> bytes | None:
        for tag, digest in self.signed:
            if tag == phase:
                return digest
        return None

    def _body(self) -> list[Value]:
        return [
            TAG_PERSISTED_STATE, self.chain_id, self.group_id, self.height, self.view, self.signed_view,
            [[tag, digest] for tag, digest in self.signed],
            None if self.prepared is None else self.prepared.encoded,
            None if self.prepared_block is None else (self.prepared_block_encoding or self.prepared_block.encode()),
        ]

    def encode(self, suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
        body = canonical.encode(self._body())
        return body + suite.hash(body)

    @classmethod
    def decode(cls, data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> PersistedState:
        """Decode and checksum-check. Raises :class:`CorruptPersistedState` only."""
        data = bytes(data)
        if len(data) <= HASH_SIZE:
            raise CorruptPersistedState(f"persisted consensus state is {len(data)} bytes: truncated")
        body, checksum = data[:-HASH_SIZE], data[-HASH_SIZE:]
        if suite.hash(body) != checksum:
            raise CorruptPersistedState("persisted consensus state fails its checksum (damaged or torn file)")
        try:
            v = canonical.decode(body, max_size=MAX_STATE_SIZE)
            if not isinstance(v, list) or len(v) != _FIELDS or v[0] != TAG_PERSISTED_STATE \
                    or isinstance(v[0], bool):
                raise CorruptPersistedState("not a persisted consensus state (wrong tag or field count)")
            signed: list[tuple[int, bytes]] = []
            for item in field_list(v[6], "persisted state.signed", max_len=len(PHASES)):
                if not isinstance(item, list) or len(item) != 2:
                    raise CorruptPersistedState("persisted state.signed[]: expected [phase, digest]")
                tag = field_int(item[0], "persisted state.signed[].phase")
                if tag not in PHASES or (signed and tag <= signed[-1][0]):
                    raise CorruptPersistedState("persisted state.signed: unknown or unordered phase")
                signed.append((tag, field_bytes(item[1], "persisted state.signed[].digest", size=HASH_SIZE)))
            block_bytes = None if v[8] is None else field_bytes(v[8], "persisted state.block")
            state = cls(
                chain_id=field_str(v[1], "persisted state.chain_id", max_len=MAX_ID_LEN),
                group_id=field_str(v[2], "persisted state.group_id", max_len=MAX_ID_LEN),
                height=field_int(v[3], "persisted state.height"),
                view=field_int(v[4], "persisted state.view"),
                signed_view=field_int(v[5], "persisted state.signed_view"),
                signed=tuple(signed),
                prepared=None if v[7] is None else prepared_certificate_from_value(
                    canonical.decode(field_bytes(v[7], "persisted state.prepared"))),
                prepared_block=None if block_bytes is None else Block.decode(block_bytes, suite),
                prepared_block_encoding=block_bytes,
            )
        except CorruptPersistedState:
            raise
        except (DecodeError, MalformedMessage, InvalidTransaction) as exc:
            raise CorruptPersistedState(f"persisted consensus state: {exc}") from None
        if state.signed_view > state.view:
            raise CorruptPersistedState("persisted state signed in a view above its current view")
        if (state.prepared is None) != (state.prepared_block is None):
            raise CorruptPersistedState("persisted state has a prepared certificate without its block or vice versa")
        return state
