"""Block headers and blocks.

The block hash covers the whole header, including the sealer set in force,
but not the commit signatures: the signatures are over the hash, so they cannot
be inside it. A header together with its ``signatures`` (the commit
certificate) is what an arbitrator checks offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from consortium.crypto.suite import DEFAULT_SUITE, HASH_SIZE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import (
    DecodeError,
    Value,
    expect_array,
    field_bytes,
    field_int,
    field_list,
    field_str,
)
from consortium.ledger.merkle import merkle_root
from consortium.ledger.receipt import Receipt
from consortium.ledger.tags import TAG_BLOCK, TAG_BLOCK_HEADER, TAG_COMMIT_SEAL
from consortium.ledger.transaction import MAX_ID_LEN, Transaction

MAX_SEALERS = 256
MAX_BLOCK_TXS = 100_000
MAX_BLOCK_SIZE = 64 * 1024 * 1024
ZERO_HASH = bytes(HASH_SIZE)
_HEADER_FIELDS = 14


@dataclass(frozen=True)
class CommitSignature:
    """One sealer's commit seal: ``sealer_index`` into the header's sealer list."""

    sealer_index: int
    signature: bytes


def commit_seal_payload(block_hash: bytes, view: int) -> bytes:
    """The bytes a sealer signs to commit a block in ``view``: ``encode([5, block_hash, view])``.

    The tag keeps a commit seal from ever being valid as a signature over
    anything else (a transaction hash, a consensus message). The view is what
    makes a certificate unique: an honest sealer may seal block Z in one view
    and block W in a later one (when Z was not committed), so seals from
    different views must never be counted together — PBFT's commit certificate
    is a quorum of COMMITs of ONE view (tests/consensus/test_pbft_seal_view.py).
    """
    return canonical.encode([TAG_COMMIT_SEAL, block_hash, view])


@dataclass(frozen=True)
class BlockHeader:
    chain_id: str
    group_id: str
    number: int
    parent_hash: bytes
    timestamp: int
    """Milliseconds since the Unix epoch, chosen by the proposer and checked by replicas."""
    tx_root: bytes
    receipt_root: bytes
    state_root: bytes
    proposer: bytes
    """Node id (public key) of the sealer that proposed the block."""
    view: int
    sealers: tuple[bytes, ...]
    """Node ids of the sealer set that must commit this block, in on-chain order."""
    signatures: tuple[CommitSignature, ...] = ()
    commit_view: int = 0
    """The view in which the commit seals in ``signatures`` were made (all of them).
    Like the seals, outside the hash: it can differ from ``view`` (the view of the first
    proposal) when a block prepared in one view is committed in a later one."""
    suite: CryptoSuite = field(default=DEFAULT_SUITE, compare=False, repr=False)
    """The chain's suite, which hashes the header (a chain parameter, not part of the encoding)."""

    def unsigned_value(self) -> list[Value]:
        return [
            TAG_BLOCK_HEADER, self.chain_id, self.group_id, self.number, self.parent_hash,
            self.timestamp, self.tx_root, self.receipt_root, self.state_root, self.proposer,
            self.view, list(self.sealers),
        ]

    def hashing_bytes(self) -> bytes:
        return canonical.encode(self.unsigned_value())

    @cached_property
    def hash(self) -> bytes:
        """The block hash under :attr:`suite`."""
        return self.suite.hash(self.hashing_bytes())

    def hash_with(self, suite: CryptoSuite) -> bytes:
        return self.hash if suite.name == self.suite.name else suite.hash(self.hashing_bytes())

    def with_signatures(self, signatures: Sequence[CommitSignature], commit_view: int | None = None) -> BlockHeader:
        """The header with a commit certificate: ``signatures`` made in ``commit_view`` (default: unchanged)."""
        ordered = tuple(sorted(signatures, key=lambda s: s.sealer_index))
        return replace(self, signatures=ordered, commit_view=self.commit_view if commit_view is None else commit_view)

    def to_value(self) -> list[Value]:
        return self.unsigned_value() + [[[s.sealer_index, s.signature] for s in self.signatures], self.commit_view]

    def encode(self) -> bytes:
        return canonical.encode(self.to_value())

    @classmethod
    def from_value(cls, value: Value, suite: CryptoSuite = DEFAULT_SUITE) -> BlockHeader:
        v = expect_array(value, TAG_BLOCK_HEADER, _HEADER_FIELDS, "block header")
        sealers = tuple(
            field_bytes(s, "block header.sealers[]", max_size=128)
            for s in field_list(v[11], "block header.sealers", max_len=MAX_SEALERS)
        )
        sigs: list[CommitSignature] = []
        for raw in field_list(v[12], "block header.signatures", max_len=MAX_SEALERS):
            if not isinstance(raw, list) or len(raw) != 2:
                raise DecodeError("block header.signatures[]: expected [sealer_index, signature]")
            idx = field_int(raw[0], "block header.signatures[].sealer_index", hi=MAX_SEALERS - 1)
            if sigs and idx <= sigs[-1].sealer_index:
                raise DecodeError("block header.signatures: sealer indexes must be strictly increasing")
            sigs.append(CommitSignature(idx, field_bytes(raw[1], "block header.signatures[].signature", max_size=128)))
        return cls(
            chain_id=field_str(v[1], "block header.chain_id", max_len=MAX_ID_LEN),
            group_id=field_str(v[2], "block header.group_id", max_len=MAX_ID_LEN),
            number=field_int(v[3], "block header.number"),
            parent_hash=field_bytes(v[4], "block header.parent_hash", size=HASH_SIZE),
            timestamp=field_int(v[5], "block header.timestamp"),
            tx_root=field_bytes(v[6], "block header.tx_root", size=HASH_SIZE),
            receipt_root=field_bytes(v[7], "block header.receipt_root", size=HASH_SIZE),
            state_root=field_bytes(v[8], "block header.state_root", size=HASH_SIZE),
            proposer=field_bytes(v[9], "block header.proposer", max_size=128),
            view=field_int(v[10], "block header.view"),
            sealers=sealers,
            signatures=tuple(sigs),
            commit_view=field_int(v[13], "block header.commit_view"),
            suite=suite,
        )

    @classmethod
    def decode(cls, data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> BlockHeader:
        return cls.from_value(canonical.decode(data), suite)


@dataclass(frozen=True)
class Block:
    """A header and its transactions. A decoded block keeps its bytes and each transaction's, so
    sending it on (PRE-PREPARE, sync), persisting it (vote state) or storing it encodes nothing,
    and its transaction root is computed once (:attr:`computed_tx_root`)."""

    header: BlockHeader
    transactions: tuple[Transaction, ...]

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def suite(self) -> CryptoSuite:
        return self.header.suite

    @cached_property
    def computed_tx_root(self) -> bytes:
        """The Merkle root of the transactions as they are (to compare with ``header.tx_root``)."""
        return tx_root(self.transactions, self.header.suite)

    def to_value(self) -> list[Value]:
        return [TAG_BLOCK, self.header.to_value(), [tx.to_value() for tx in self.transactions]]

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # Equal to canonical.encode(self.to_value()), built from the transactions' cached bytes.
        return b"".join((
            canonical.array_header(3), canonical.encode(TAG_BLOCK), self.header.encode(),
            canonical.array_header(len(self.transactions)), *(tx.encode() for tx in self.transactions),
        ))

    @classmethod
    def from_value(cls, value: Value, suite: CryptoSuite = DEFAULT_SUITE) -> Block:
        """A block from a decoded value (encoded again when needed); prefer :meth:`decode`."""
        v = expect_array(value, TAG_BLOCK, 3, "block")
        txs = field_list(v[2], "block.transactions", max_len=MAX_BLOCK_TXS)
        return cls(BlockHeader.from_value(v[1], suite), tuple(Transaction.from_value(t, suite) for t in txs))

    @classmethod
    def decode(cls, data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> Block:
        """Decode untrusted bytes in one strict pass, keeping the block's and each transaction's bytes."""
        data = bytes(data)
        r = canonical.Reader(data, max_size=MAX_BLOCK_SIZE)
        r.array("block", length=3)
        tag = r.value()
        if tag != TAG_BLOCK or isinstance(tag, bool):
            raise DecodeError(f"block: unknown type tag {tag!r} (expected {TAG_BLOCK})")
        header = BlockHeader.from_value(r.value(), suite)
        count = r.array("block.transactions", max_len=MAX_BLOCK_TXS)
        txs = []
        for _ in range(count):
            value, raw = r.item()
            txs.append(Transaction.from_wire(value, raw, suite))
        r.end()
        block = cls(header, tuple(txs))
        block.__dict__["_encoded"] = data
        return block


def tx_root(transactions: Sequence[Transaction], suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    """Root over the full encoded transactions (signatures included)."""
    return merkle_root([tx.encode() for tx in transactions], suite.hash)


def receipt_root(receipts: Sequence[Receipt], suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    return merkle_root([r.encode() for r in receipts], suite.hash)
