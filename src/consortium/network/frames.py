"""Length-prefixed frames: the only way bytes cross a P2P connection.

Wire format (see docs/protocol.md)::

    frame  = length payload
    length = 4 bytes, unsigned big-endian, the number of payload bytes
    payload = `length` bytes

A header announcing more than the receiver's ``max_frame_bytes`` is a protocol
error and the connection is closed *before* any of the payload is read or
buffered, so a hostile peer cannot make us allocate more than one maximum
frame. A zero-length frame is a keepalive: it proves the peer is alive and is
never delivered to the application.
"""

from __future__ import annotations

import asyncio
import struct

from consortium.network.errors import FrameError, FrameTooLarge

HEADER_SIZE = 4
MAX_FRAME_LIMIT = 2**32 - 1
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
KEEPALIVE = b"\x00\x00\x00\x00"
"""A complete zero-length frame."""

_HEADER = struct.Struct(">I")


def encode_header(length: int, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Header for a payload of ``length`` bytes; refuses what the peer would refuse."""
    if length > max_frame_bytes:
        raise FrameTooLarge(f"payload of {length} bytes exceeds the frame limit of {max_frame_bytes}")
    return _HEADER.pack(length)


def encode_frame(payload: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    return encode_header(len(payload), max_frame_bytes) + payload


def decode_header(header: bytes, max_frame_bytes: int) -> int:
    """Payload length announced by a 4-byte header, checked against the limit."""
    if len(header) != HEADER_SIZE:
        raise FrameError(f"frame header must be {HEADER_SIZE} bytes, got {len(header)}")
    (length,) = _HEADER.unpack(header)
    if length > max_frame_bytes:
        raise FrameTooLarge(f"frame header announces {length} bytes; the limit is {max_frame_bytes}")
    return length


async def read_frame(reader: asyncio.StreamReader, max_frame_bytes: int) -> bytes:
    """Read one frame's payload (``b""`` for a keepalive).

    Raises :class:`FrameTooLarge` on an oversize header, :class:`FrameError`
    when the stream ends inside a frame, and ``EOFError`` on a clean end of
    stream between frames.
    """
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError(f"stream ended inside a frame header ({len(exc.partial)} of 4 bytes)") from None
        raise EOFError("peer closed the connection") from None
    length = decode_header(header, max_frame_bytes)
    if length == 0:
        return b""
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(f"stream ended inside a frame ({len(exc.partial)} of {length} bytes)") from None


class FrameDecoder:
    """Incremental decoder for callers that receive arbitrary chunks (and for fuzzing).

    ``feed`` returns the complete payloads found so far (keepalives included as
    ``b""``); it raises :class:`FrameTooLarge` as soon as a header is complete,
    never after buffering the oversize payload.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if not 0 <= max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes must be in [0, {MAX_FRAME_LIMIT}], got {max_frame_bytes}")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._need: int | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._need is None:
                if len(self._buf) < HEADER_SIZE:
                    return out
                self._need = decode_header(bytes(self._buf[:HEADER_SIZE]), self._max)
                del self._buf[:HEADER_SIZE]
            if len(self._buf) < self._need:
                return out
            out.append(bytes(self._buf[: self._need]))
            del self._buf[: self._need]
            self._need = None

    def at_boundary(self) -> bool:
        """True if the bytes fed so far end exactly between frames."""
        return self._need is None and not self._buf
