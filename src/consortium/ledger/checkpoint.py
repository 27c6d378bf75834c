"""Time-anchor checkpoints: one RFC 3161 token covers a range of blocks through a Merkle root.

A checkpoint is ``[64, chain_id, group_id, first, last, root]`` where ``root`` is the
RFC 6962 root (ledger/merkle.py) over the hashes of blocks ``first..last``, each hash a
leaf. A time-stamping authority signs SHA-256 of the checkpoint's canonical encoding
(its *imprint*); a block is then shown to be covered by the token with an audit path
of ``log2(last - first + 1)`` hashes from its hash to ``root``. One token per period
instead of one per block keeps TSA cost and traffic flat however fast the chain runs,
while a proof stays a few hundred bytes (docs/design.md §14.1 argues the choice).

An :class:`Anchor` is a checkpoint with the TSA's reply, exactly as stored beside the
ledger and carried in proof bundles; nothing here verifies the reply (that is
:mod:`consortium.crypto.timestamp`'s job, against the TSAs a chain trusts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from consortium.crypto.suite import DEFAULT_SUITE, HASH_SIZE
from consortium.encoding import canonical
from consortium.encoding.canonical import Value, expect_array, field_bytes, field_int, field_str
from consortium.ledger.merkle import Hasher, ListProof, merkle_root, prove
from consortium.ledger.tags import TAG_ANCHOR, TAG_CHECKPOINT
from consortium.ledger.transaction import MAX_ID_LEN

MAX_CHECKPOINT_BLOCKS = 1 << 20
"""A checkpoint spans at most this many blocks (an audit path of at most 20 hashes)."""
MAX_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Checkpoint:
    chain_id: str
    group_id: str
    first: int
    last: int
    root: bytes
    """RFC 6962 root over the block hashes of ``first..last`` (each hash a leaf)."""

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last or self.last - self.first + 1 > MAX_CHECKPOINT_BLOCKS:
            raise ValueError(f"a checkpoint covers blocks first..last with 1 <= first <= last and at most "
                             f"{MAX_CHECKPOINT_BLOCKS} blocks, got {self.first}..{self.last}")
        if len(self.root) != HASH_SIZE:
            raise ValueError(f"a checkpoint root is {HASH_SIZE} bytes")

    @classmethod
    def over(cls, chain_id: str, group_id: str, first: int, block_hashes: Sequence[bytes],
             hasher: Hasher = DEFAULT_SUITE.hash) -> Checkpoint:
        return cls(chain_id, group_id, first, first + len(block_hashes) - 1, merkle_root(block_hashes, hasher))

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def covers(self, number: int) -> bool:
        return self.first <= number <= self.last

    def to_value(self) -> list[Value]:
        return [TAG_CHECKPOINT, self.chain_id, self.group_id, self.first, self.last, self.root]

    def encode(self) -> bytes:
        return canonical.encode(self.to_value())

    @property
    def imprint(self) -> bytes:
        """What the TSA signs: SHA-256 of the encoding (RFC 3161 messageImprint; SHA-256 whatever the chain's suite)."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def from_value(cls, value: Value) -> Checkpoint:
        v = expect_array(value, TAG_CHECKPOINT, 6, "checkpoint")
        try:
            return cls(
                chain_id=field_str(v[1], "checkpoint.chain_id", max_len=MAX_ID_LEN),
                group_id=field_str(v[2], "checkpoint.group_id", max_len=MAX_ID_LEN),
                first=field_int(v[3], "checkpoint.first"),
                last=field_int(v[4], "checkpoint.last"),
                root=field_bytes(v[5], "checkpoint.root", size=HASH_SIZE),
            )
        except ValueError as exc:
            raise canonical.DecodeError(str(exc)) from None

    @classmethod
    def decode(cls, data: bytes) -> Checkpoint:
        return cls.from_value(canonical.decode(data))


def prove_block(block_hashes: Sequence[bytes], first: int, number: int, hasher: Hasher = DEFAULT_SUITE.hash) -> ListProof:
    """Audit path from block ``number``'s hash to the root of the checkpoint over ``block_hashes`` (from ``first``)."""
    return prove(block_hashes, number - first, hasher)


@dataclass(frozen=True)
class Anchor:
    """A checkpoint and the DER RFC 3161 reply (TimeStampResp) a TSA gave over its imprint."""

    checkpoint: Checkpoint
    reply: bytes

    def to_value(self) -> list[Value]:
        return [TAG_ANCHOR, self.checkpoint.to_value(), self.reply]

    def encode(self) -> bytes:
        return canonical.encode(self.to_value())

    @classmethod
    def decode(cls, data: bytes) -> Anchor:
        v = expect_array(canonical.decode(data), TAG_ANCHOR, 3, "anchor")
        return cls(Checkpoint.from_value(v[1]), field_bytes(v[2], "anchor.reply", max_size=MAX_REPLY_BYTES))
