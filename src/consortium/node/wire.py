"""Bodies of the node-layer messages that travel inside a network Envelope (see docs/protocol.md).

    STATUS          [height, head_hash]
    BLOCK_REQUEST   [from_number, count]            count <= MAX_SYNC_BATCH
    BLOCK_RESPONSE  [block, ...]                    blocks as arrays, ascending, contiguous
    TX_GOSSIP       [transaction, ...]              transactions as arrays

Each decoder faces bytes from a peer and raises only :class:`WireError`. Blocks and
transactions are decoded in one strict pass and keep their bytes (``canonical.Reader``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, field_bytes, field_int
from consortium.ledger.block import Block
from consortium.ledger.transaction import Transaction

MAX_SYNC_BATCH = 64
MAX_GOSSIP_BATCH = 1000
MAX_BODY = 64 * 1024 * 1024


class WireError(ValueError):
    """A node-layer message body is malformed."""


@dataclass(frozen=True)
class Status:
    height: int
    head_hash: bytes


def encode_status(s: Status) -> bytes:
    return canonical.encode([s.height, s.head_hash])


def decode_status(data: bytes) -> Status:
    v = _array(data, 2, "status")
    try:
        return Status(field_int(v[0], "status.height", hi=2**63 - 1), field_bytes(v[1], "status.head_hash", size=32))
    except DecodeError as exc:
        raise WireError(str(exc)) from None


def encode_block_request(start: int, count: int) -> bytes:
    return canonical.encode([start, count])


def decode_block_request(data: bytes) -> tuple[int, int]:
    v = _array(data, 2, "block request")
    try:
        return (field_int(v[0], "block request.from", hi=2**63 - 1),
                field_int(v[1], "block request.count", lo=1, hi=MAX_SYNC_BATCH))
    except DecodeError as exc:
        raise WireError(str(exc)) from None


def encode_blocks(blocks: list[Block]) -> bytes:
    return canonical.array_header(len(blocks)) + b"".join(b.encode() for b in blocks)


def decode_blocks(data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> tuple[Block, ...]:
    try:
        blocks = tuple(Block.decode(raw, suite) for raw in _items(data, MAX_SYNC_BATCH, "block response"))
    except DecodeError as exc:
        raise WireError(f"block response: {exc}") from None
    for a, b in pairwise(blocks):
        if b.number != a.number + 1:
            raise WireError("block response: blocks are not contiguous and ascending")
    return blocks


def encode_transactions(txs: list[Transaction]) -> bytes:
    return canonical.array_header(len(txs)) + b"".join(t.encode() for t in txs)


def decode_transactions(data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> tuple[Transaction, ...]:
    try:
        r = canonical.Reader(data, max_size=MAX_BODY)
        txs = [Transaction.from_wire(*r.item(), suite) for _ in range(r.array("tx gossip", max_len=MAX_GOSSIP_BATCH))]
        r.end()
    except DecodeError as exc:
        raise WireError(f"tx gossip: {exc}") from None
    return tuple(txs)


def _items(data: bytes, max_len: int, what: str) -> list[bytes]:
    """The exact bytes of each item of a canonical array (each checked canonical)."""
    try:
        r = canonical.Reader(data, max_size=MAX_BODY)
        out = [r.raw_item() for _ in range(r.array(what, max_len=max_len))]

        r.end()
    except DecodeError as exc:
        raise WireError(f"{what}: {exc}") from None
    return out


def _decode(data: bytes, what: str) -> object:
    try:
        return canonical.decode(data, max_size=MAX_BODY)
    except DecodeError as exc:
        raise WireError(f"{what}: {exc}") from None


def _array(data: bytes, length: int, what: str) -> list:
    v = _decode(data, what)
    if not isinstance(v, list) or len(v) != length:
        raise WireError(f"{what}: expected an array of {length}")
    return v

