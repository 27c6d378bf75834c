"""PBFT messages: their fields, canonical encoding, signing and structural decoding.

Every message is an array ``[tag, chain_id, group_id, height, view, sender,
<type fields...>, signature, <attachments...>]``. The signature is the
sender's node key over ``hash(encode([tag, ... <type fields>]))``, i.e. over the
array up to (not including) the signature. Attachments are outside the
signature because they are bound by a hash that is inside it: the block of a
PRE-PREPARE is named by ``block_hash``, the block a VIEW-CHANGE carries by the
hash in its prepared certificate. Messages embedded in other messages (in a
certificate, a VIEW-CHANGE set) carry no attachments, so a NEW-VIEW holds the
re-proposed block exactly once.

This module only decodes structure: :func:`decode_message` raises
:class:`MalformedMessage` and nothing else. Whether a message is *true* (its
signatures, hashes and certificates) is decided in :mod:`.verify`.
docs/protocol.md §7 gives the byte layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import ClassVar, Self, TypeAlias

from consortium.consensus.errors import MalformedMessage
from consortium.crypto.suite import DEFAULT_SUITE, HASH_SIZE, CryptoSuite, KeyPair
from consortium.encoding import canonical
from consortium.encoding.canonical import (
    DecodeError,
    Value,
    field_bytes,
    field_int,
    field_list,
    field_str,
)
from consortium.ledger.block import MAX_BLOCK_SIZE, MAX_SEALERS, Block, commit_seal_payload
from consortium.ledger.tags import TAG_CONSENSUS
from consortium.ledger.transaction import MAX_ID_LEN, InvalidTransaction

TAG_PRE_PREPARE = TAG_CONSENSUS + 0
TAG_PREPARE = TAG_CONSENSUS + 1
TAG_COMMIT = TAG_CONSENSUS + 2
TAG_VIEW_CHANGE = TAG_CONSENSUS + 3
TAG_NEW_VIEW = TAG_CONSENSUS + 4
TAG_PREPARED_CERTIFICATE = TAG_CONSENSUS + 5
TAG_PERSISTED_STATE = TAG_CONSENSUS + 6

MAX_MESSAGE_SIZE = MAX_BLOCK_SIZE + 16 * 1024 * 1024
"""A NEW-VIEW holds one block plus up to MAX_SEALERS view changes with their certificates."""
MAX_KEY_SIZE = 128
MAX_SIG_SIZE = 128
_COMMON = 6  # tag, chain_id, group_id, height, view, sender
_NIL = canonical.encode(None)
_ATTACHED = frozenset((TAG_PRE_PREPARE, TAG_VIEW_CHANGE, TAG_NEW_VIEW))
"""Message types whose last item is a block attachment."""


class _Message:
    """Shared behaviour of the signed messages (a mixin over frozen dataclasses)."""

    TAG: ClassVar[int]
    NAME: ClassVar[str]
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    signature: bytes

    def _fields(self) -> list[Value]:
        raise NotImplementedError

    def _attachments(self) -> list[Value]:
        return []

    def _attachment_bytes(self) -> list[bytes]:
        """The attachments' encodings (a block's cached bytes: never encoded again)."""
        return []

    def signed_value(self) -> list[Value]:
        """The array the signature covers."""
        return [self.TAG, self.chain_id, self.group_id, self.height, self.view, self.sender, *self._fields()]

    @cached_property
    def signing_bytes(self) -> bytes:
        return canonical.encode(self.signed_value())

    def digest(self, suite: CryptoSuite) -> bytes:
        """What the sender signs, and what equivocation detection compares."""
        return suite.hash(self.signing_bytes)

    def to_value(self) -> list[Value]:
        return self.signed_value() + [self.signature] + self._attachments()

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # Equal to canonical.encode(self.to_value()), built from parts already encoded: the signed
        # items (the signing bytes without their array header), the signature, the attachments.
        # The signed array has at most 10 items, so its header is one byte.
        attachments = self._attachment_bytes()
        count = _COMMON + len(self._fields()) + 1 + len(attachments)
        return b"".join((canonical.array_header(count), self.signing_bytes[1:], canonical.encode(self.signature),
                         *attachments))

    def signed_by(self, key: KeyPair) -> Self:
        """A copy with ``sender`` = ``key``'s node id and a fresh signature."""
        unsigned = replace(self, sender=key.public_key, signature=b"")  # type: ignore[type-var]
        body = unsigned.signing_bytes
        signed = replace(unsigned, signature=key.sign(key.suite.hash(body)))  # type: ignore[type-var]
        signed.__dict__["signing_bytes"] = body  # the signature is not part of it: reuse, don't re-encode
        return signed


@dataclass(frozen=True)
class PrePrepare(_Message):
    """The leader's proposal of ``block_hash`` for ``(height, view)``; the block rides along."""

    TAG: ClassVar[int] = TAG_PRE_PREPARE
    NAME: ClassVar[str] = "PRE-PREPARE"
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    block_hash: bytes
    signature: bytes = b""
    block: Block | None = None
    """Attachment (not signed; must hash to ``block_hash``). None when embedded."""

    def _fields(self) -> list[Value]:
        return [self.block_hash]

    def _attachments(self) -> list[Value]:
        return [None if self.block is None else self.block.to_value()]

    def _attachment_bytes(self) -> list[bytes]:
        return [_NIL if self.block is None else self.block.encode()]

    def without_block(self) -> PrePrepare:
        return self if self.block is None else replace(self, block=None)


@dataclass(frozen=True)
class Prepare(_Message):
    """A sealer's statement that it accepted and validated the PRE-PREPARE of ``block_hash``."""

    TAG: ClassVar[int] = TAG_PREPARE
    NAME: ClassVar[str] = "PREPARE"
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    block_hash: bytes
    signature: bytes = b""

    def _fields(self) -> list[Value]:
        return [self.block_hash]


@dataclass(frozen=True)
class Commit(_Message):
    """A sealer's statement that ``block_hash`` is prepared, with its commit seal.

    ``seal`` is the sender's signature over ``commit_seal_payload(block_hash, view)``;
    a quorum of seals of one view is the block's commit certificate.
    """

    TAG: ClassVar[int] = TAG_COMMIT
    NAME: ClassVar[str] = "COMMIT"
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    block_hash: bytes
    seal: bytes = b""
    signature: bytes = b""

    def _fields(self) -> list[Value]:
        return [self.block_hash, self.seal]

    @cached_property
    def seal_payload(self) -> bytes:
        """What ``seal`` must be a signature over: ``ledger.commit_seal_payload(block_hash, view)``."""
        return commit_seal_payload(self.block_hash, self.view)

    def signed_by(self, key: KeyPair) -> Self:
        """Also (re)computes the commit seal over ``block_hash``."""
        sealed = replace(self, seal=key.sign(commit_seal_payload(self.block_hash, self.view)))
        return _Message.signed_by(sealed, key)


@dataclass(frozen=True)
class PreparedCertificate:
    """Proof that ``block_hash`` was prepared in ``view``: the leader's PRE-PREPARE and a quorum of PREPAREs."""

    pre_prepare: PrePrepare
    prepares: tuple[Prepare, ...]

    @property
    def height(self) -> int:
        return self.pre_prepare.height

    @property
    def view(self) -> int:
        return self.pre_prepare.view

    @property
    def block_hash(self) -> bytes:
        return self.pre_prepare.block_hash

    def to_value(self) -> list[Value]:
        return [TAG_PREPARED_CERTIFICATE, self.pre_prepare.without_block().to_value(),
                [p.to_value() for p in self.prepares]]

    @cached_property
    def encoded(self) -> bytes:
        return canonical.encode(self.to_value())


@dataclass(frozen=True)
class ViewChange(_Message):
    """A sealer's request to move to ``view``, with its highest prepared certificate at this height.

    ``block`` (attachment) is the prepared block, so the new leader can
    re-propose it; it is dropped when the VIEW-CHANGE is embedded in a NEW-VIEW.
    """

    TAG: ClassVar[int] = TAG_VIEW_CHANGE
    NAME: ClassVar[str] = "VIEW-CHANGE"
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    prepared: PreparedCertificate | None
    signature: bytes = b""
    block: Block | None = None

    def _fields(self) -> list[Value]:
        return [None if self.prepared is None else self.prepared.to_value()]

    def _attachments(self) -> list[Value]:
        return [None if self.block is None else self.block.to_value()]

    def _attachment_bytes(self) -> list[bytes]:
        return [_NIL if self.block is None else self.block.encode()]

    def without_block(self) -> ViewChange:
        return self if self.block is None else replace(self, block=None)


@dataclass(frozen=True)
class NewView(_Message):
    """The new leader's proof that a quorum left the old view, and its proposal for ``view``.

    ``pre_prepare`` must propose the block of the highest prepared certificate
    among ``view_changes`` (or, if none carries one, a fresh block); ``block``
    is that block.
    """

    TAG: ClassVar[int] = TAG_NEW_VIEW
    NAME: ClassVar[str] = "NEW-VIEW"
    chain_id: str
    group_id: str
    height: int
    view: int
    sender: bytes
    view_changes: tuple[ViewChange, ...]
    pre_prepare: PrePrepare
    signature: bytes = b""
    block: Block | None = None

    def _fields(self) -> list[Value]:
        return [[vc.without_block().to_value() for vc in self.view_changes],
                self.pre_prepare.without_block().to_value()]

    def _attachments(self) -> list[Value]:
        return [None if self.block is None else self.block.to_value()]

    def _attachment_bytes(self) -> list[bytes]:
        return [_NIL if self.block is None else self.block.encode()]


Message: TypeAlias = PrePrepare | Prepare | Commit | ViewChange | NewView


# --- decoding ----------------------------------------------------------------------------------


def decode_message(data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> Message:
    """Decode untrusted bytes into a message, in one strict pass. Raises :class:`MalformedMessage` only.

    Structure only: signatures, hashes and certificates are checked by the core
    (see :mod:`.verify`) before anything is believed. The message keeps its bytes
    and its signing bytes (a slice), and an attached block is decoded under the
    chain's ``suite`` keeping its own and its transactions' bytes, so nothing is
    encoded again to hash, verify, forward or persist it.
    """
    try:
        data = bytes(data)
        r = canonical.Reader(data, max_size=MAX_MESSAGE_SIZE)
        count = r.array("consensus message", max_len=_COMMON + 5)
        if count == 0:
            raise MalformedMessage("consensus message: expected a non-empty array")
        items: list[bytes] = []
        values: list[Value] = []
        tag: Value = None
        for i in range(count):
            if i == count - 1 and type(tag) is int and tag in _ATTACHED:
                raw = r.raw_item()
                items.append(raw)
                values.append(None if raw == _NIL else Block.decode(raw, suite))  # type: ignore[arg-type]
                break
            value, raw = r.item()
            if i == 0:
                tag = value
            items.append(raw)
            values.append(value)
        r.end()
        msg = message_from_value(values)
        signed = len(msg.signed_value())
        msg.__dict__["signing_bytes"] = canonical.array_header(signed) + b"".join(items[:signed])
        msg.__dict__["_encoded"] = data
        return msg
    except MalformedMessage:
        raise
    except (DecodeError, InvalidTransaction) as exc:
        raise MalformedMessage(f"consensus message: {exc}") from None


def message_from_value(value: Value) -> Message:
    """A message from its decoded value (an attached block may already be a :class:`Block`)."""
    if not isinstance(value, list) or not value:
        raise MalformedMessage("consensus message: expected a non-empty array")
    tag = value[0]
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise MalformedMessage("consensus message: the first element must be an integer type tag")
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise MalformedMessage(f"consensus message: unknown type tag {tag}")
    try:
        return decoder(value, True)
    except MalformedMessage:
        raise
    except (DecodeError, InvalidTransaction) as exc:
        raise MalformedMessage(f"consensus message: {exc}") from None


def _common(v: list[Value], length: int, what: str) -> tuple[str, str, int, int, bytes]:
    if len(v) != length:
        raise MalformedMessage(f"{what}: expected {length} fields, got {len(v)}")
    return (
        field_str(v[1], f"{what}.chain_id", max_len=MAX_ID_LEN),
        field_str(v[2], f"{what}.group_id", max_len=MAX_ID_LEN),
        field_int(v[3], f"{what}.height"),
        field_int(v[4], f"{what}.view"),
        field_bytes(v[5], f"{what}.sender", max_size=MAX_KEY_SIZE),
    )


def _expect(value: Value, tag: int, what: str) -> list[Value]:
    if not isinstance(value, list) or not value or value[0] != tag or isinstance(value[0], bool):
        raise MalformedMessage(f"{what}: expected an array with type tag {tag}")
    return value


def _hash(value: Value, what: str) -> bytes:
    return field_bytes(value, what, size=HASH_SIZE)


def _sig(value: Value, what: str) -> bytes:
    return field_bytes(value, what, max_size=MAX_SIG_SIZE)


def _block(value: Value | Block, what: str, allowed: bool) -> Block | None:
    if value is None:
        return None
    if not allowed:
        raise MalformedMessage(f"{what}: an embedded message must not carry a block")
    return value if isinstance(value, Block) else Block.from_value(value)


def _pre_prepare(value: Value, attachments: bool) -> PrePrepare:
    v = _expect(value, TAG_PRE_PREPARE, "PRE-PREPARE")
    c = _common(v, _COMMON + 3, "PRE-PREPARE")
    return PrePrepare(*c, block_hash=_hash(v[6], "PRE-PREPARE.block_hash"),
                      signature=_sig(v[7], "PRE-PREPARE.signature"),
                      block=_block(v[8], "PRE-PREPARE.block", attachments))


def _prepare(value: Value, attachments: bool) -> Prepare:
    v = _expect(value, TAG_PREPARE, "PREPARE")
    c = _common(v, _COMMON + 2, "PREPARE")
    return Prepare(*c, block_hash=_hash(v[6], "PREPARE.block_hash"), signature=_sig(v[7], "PREPARE.signature"))


def _commit(value: Value, attachments: bool) -> Commit:
    v = _expect(value, TAG_COMMIT, "COMMIT")
    c = _common(v, _COMMON + 3, "COMMIT")
    return Commit(*c, block_hash=_hash(v[6], "COMMIT.block_hash"), seal=_sig(v[7], "COMMIT.seal"),
                  signature=_sig(v[8], "COMMIT.signature"))


def _certificate(value: Value) -> PreparedCertificate:
    v = _expect(value, TAG_PREPARED_CERTIFICATE, "prepared certificate")
    if len(v) != 3:
        raise MalformedMessage(f"prepared certificate: expected 3 fields, got {len(v)}")
    prepares = field_list(v[2], "prepared certificate.prepares", max_len=MAX_SEALERS)
    return PreparedCertificate(_pre_prepare(v[1], False), tuple(_prepare(p, False) for p in prepares))


def _view_change(value: Value, attachments: bool) -> ViewChange:
    v = _expect(value, TAG_VIEW_CHANGE, "VIEW-CHANGE")
    c = _common(v, _COMMON + 3, "VIEW-CHANGE")
    return ViewChange(*c, prepared=None if v[6] is None else _certificate(v[6]),
                      signature=_sig(v[7], "VIEW-CHANGE.signature"),
                      block=_block(v[8], "VIEW-CHANGE.block", attachments))


def _new_view(value: Value, attachments: bool) -> NewView:
    v = _expect(value, TAG_NEW_VIEW, "NEW-VIEW")
    c = _common(v, _COMMON + 4, "NEW-VIEW")
    vcs = field_list(v[6], "NEW-VIEW.view_changes", max_len=MAX_SEALERS)
    return NewView(*c, view_changes=tuple(_view_change(x, False) for x in vcs),
                   pre_prepare=_pre_prepare(v[7], False),
                   signature=_sig(v[8], "NEW-VIEW.signature"),
                   block=_block(v[9], "NEW-VIEW.block", attachments))


_DECODERS: dict[int, Callable[[Value, bool], Message]] = {

    TAG_PRE_PREPARE: _pre_prepare,
    TAG_PREPARE: _prepare,
    TAG_COMMIT: _commit,
    TAG_VIEW_CHANGE: _view_change,
    TAG_NEW_VIEW: _new_view,
}


def prepared_certificate_from_value(value: Value) -> PreparedCertificate:
    """Decode a prepared certificate (used by the persisted state). Raises :class:`MalformedMessage`."""
    try:
        return _certificate(value)
    except MalformedMessage:
        raise
    except (DecodeError, InvalidTransaction) as exc:
        raise MalformedMessage(f"prepared certificate: {exc}") from None
