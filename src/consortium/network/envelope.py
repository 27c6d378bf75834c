"""The envelope that multiplexes node-layer messages over one connection.

The transport moves opaque payloads; the node layer wraps each in an
:class:`Envelope` so consensus messages, transaction gossip and block sync
share a connection and are dispatched by ``kind``. Wire form: the canonical
encoding of ``[kind, body]`` (kind an integer in [1, 65535], body bytes).
Kinds are not consensus data, so an unknown kind is decoded and left to the
dispatcher to drop (a newer peer may speak kinds we do not know).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.network.errors import EnvelopeError
from consortium.network.frames import DEFAULT_MAX_FRAME_BYTES

MAX_KIND = 65535


class MessageKind(IntEnum):
    """Kinds the node layer uses. Numbers are wire format: never reuse one."""

    CONSENSUS = 1
    TX_GOSSIP = 2
    BLOCK_REQUEST = 3
    BLOCK_RESPONSE = 4
    STATUS = 5
    ANCHOR = 6
    ANCHOR_REQUEST = 7


@dataclass(frozen=True)
class Envelope:
    kind: int
    body: bytes

    def __post_init__(self) -> None:
        if isinstance(self.kind, bool) or not isinstance(self.kind, int) or not 1 <= self.kind <= MAX_KIND:
            raise ValueError(f"envelope kind must be an integer in [1, {MAX_KIND}], got {self.kind!r}")
        if not isinstance(self.body, bytes):
            raise TypeError(f"envelope body must be bytes, got {type(self.body).__name__}")

    def encode(self) -> bytes:
        return canonical.encode([int(self.kind), self.body])

    @classmethod
    def decode(cls, data: bytes, *, max_size: int = DEFAULT_MAX_FRAME_BYTES) -> Envelope:
        """Parse untrusted bytes; raises only :class:`EnvelopeError`."""
        try:
            value = canonical.decode(data, max_size=max_size)
        except DecodeError as exc:
            raise EnvelopeError(f"envelope: {exc}") from None
        if not isinstance(value, list) or len(value) != 2:
            raise EnvelopeError("envelope: expected an array [kind, body]")
        kind, body = value
        if isinstance(kind, bool) or not isinstance(kind, int) or not 1 <= kind <= MAX_KIND:
            raise EnvelopeError(f"envelope: kind must be an integer in [1, {MAX_KIND}], got {kind!r}")
        if not isinstance(body, bytes):
            raise EnvelopeError(f"envelope: body must be bytes, got {type(body).__name__}")
        return cls(kind, body)
