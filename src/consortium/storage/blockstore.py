"""The block store: committed blocks, receipts and their indexes in one KV database.

Everything one block commits — header, transactions, receipts, the tx-hash
index, the block-hash index, the state tree's new nodes (passed in as a
batch by the caller) and the head pointer — goes into ONE write batch applied
with ``sync=True``. After a crash the database therefore holds either all of a
block or none of it; the head pointer is never ahead of the data it names.

Key layout (all block-store keys start with ``B``; other components use other
first bytes, see docs/design.md)::

    B h <number:8>            -> encoded BlockHeader (with its commit certificate)
    B t <number:8> <index:4>  -> encoded Transaction
    B l <number:8>            -> per transaction, in block order: <tx hash:32> <sender address:20> <nonce:8>
    B r <number:8> <index:4>  -> encoded Receipt
    B n <block hash:32>       -> <number:8>
    B x <tx hash:32>          -> <number:8> <index:4>
    B o <sender address:20> <nonce:8>  -> <number:8>   (replay protection, see chain.admission)
    B c                       -> <total transactions:8>
    B H                       -> <number:8> <block hash:32>   (the head pointer)

Numbers are big-endian so that LevelDB's key order is block order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite
from consortium.encoding.canonical import DecodeError
from consortium.ledger.block import Block, BlockHeader, tx_root
from consortium.ledger.receipt import Receipt
from consortium.ledger.transaction import Transaction
from consortium.storage.kv import KVStore, StorageError, WriteBatch

_HEADER = b"Bh"
_TX = b"Bt"
_TX_KEYS = b"Bl"
_KEY_ENTRY = 32 + 20 + 8
_RECEIPT = b"Br"
_BLOCK_INDEX = b"Bn"
_TX_INDEX = b"Bx"
_NONCE = b"Bo"
_TX_COUNT = b"Bc"
_HEAD = b"BH"

_NUM = struct.Struct(">Q")
_NUM_IDX = struct.Struct(">QI")


class CorruptDatabase(StorageError):
    """A stored value does not decode or does not match what points at it; names the block."""


class BlockStoreError(StorageError):
    """A commit that would break the chain (wrong number, wrong parent, receipts mismatch)."""


@dataclass(frozen=True)
class Head:
    number: int
    hash: bytes


@dataclass(frozen=True)
class TxLocation:
    number: int
    index: int


class BlockStore:
    """Reads and atomic commits of blocks. Not thread-safe; the node has one writer."""

    def __init__(self, kv: KVStore, suite: CryptoSuite = DEFAULT_SUITE) -> None:
        self.kv = kv
        self.suite = suite
        """The chain's suite: stored headers and transactions are hashed under it."""
        self._head = self._load_head()

    # -- head ---------------------------------------------------------------------------------
    def _load_head(self) -> Head | None:
        raw = self.kv.get(_HEAD)
        if raw is None:
            return None
        if len(raw) != 40:
            raise CorruptDatabase(f"head pointer has {len(raw)} bytes, expected 40")
        (number,) = _NUM.unpack_from(raw)
        head = Head(number, raw[8:])
        header = self._read_header(number)
        if header is None:
            raise CorruptDatabase(f"head pointer names block {number}, which is not stored")
        if header.hash != head.hash:
            raise CorruptDatabase(
                f"block {number}: stored header hashes to 0x{header.hash.hex()}, "
                f"but the head pointer says 0x{head.hash.hex()}; the database is corrupted"
            )
        txs = self.transactions(number)
        if tx_root(txs, self.suite) != header.tx_root:
            raise CorruptDatabase(f"block {number}: stored transactions do not match the header's tx_root")
        return head

    @property
    def head(self) -> Head | None:
        """The last committed block, or None for an empty store."""
        return self._head

    # -- commit -------------------------------------------------------------------------------
    def commit(self, block: Block, receipts: tuple[Receipt, ...], batch: WriteBatch | None = None) -> None:
        """Append ``block`` atomically, together with whatever is already in ``batch``.

        ``batch`` carries the state tree's nodes for this block, so state and
        block become durable in the same write or not at all.
        """
        header = block.header
        expected = 0 if self._head is None else self._head.number + 1
        if header.number != expected:
            raise BlockStoreError(f"cannot commit block {header.number}: the next block must be {expected}")
        if self._head is not None and header.parent_hash != self._head.hash:
            raise BlockStoreError(
                f"block {header.number}: parent_hash 0x{header.parent_hash.hex()} is not the head 0x{self._head.hash.hex()}"
            )
        if len(receipts) != len(block.transactions):
            raise BlockStoreError(
                f"block {header.number}: {len(receipts)} receipts for {len(block.transactions)} transactions"
            )
        batch = batch if batch is not None else WriteBatch()
        n = header.number
        num = _NUM.pack(n)
        batch.put(_HEADER + num, header.encode())
        add = batch.ops.append  # WriteBatch.put without a call per record; every key here is non-empty
        pack_loc = _NUM_IDX.pack
        pack_num = _NUM.pack
        key_list = []
        for i, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            loc = pack_loc(n, i)
            tx_hash = tx.hash
            sender_nonce = tx.sender_address + pack_num(tx.nonce)
            add((_TX + loc, tx.encode()))
            add((_RECEIPT + loc, receipt.encode()))
            add((_TX_INDEX + tx_hash, loc))
            add((_NONCE + sender_nonce, num))
            key_list.append(tx_hash + sender_nonce)
        # The key list answers "which transactions are in block n" (block explorers, clients
        # watching for their commits) and rebuilds admission's in-memory replay index at start-up,
        # without reading and decoding the transactions.
        batch.put(_TX_KEYS + num, b"".join(key_list))
        batch.put(_TX_COUNT, _NUM.pack(self.total_transactions() + len(block.transactions)))
        batch.put(_BLOCK_INDEX + header.hash, num)
        batch.put(_HEAD, num + header.hash)
        self.kv.write(batch, sync=True)
        self._head = Head(n, header.hash)

    # -- reads --------------------------------------------------------------------------------
    def _read_header(self, number: int) -> BlockHeader | None:
        raw = self.kv.get(_HEADER + _NUM.pack(number))
        if raw is None:
            return None
        try:
            return BlockHeader.decode(raw, self.suite)
        except DecodeError as exc:
            raise CorruptDatabase(f"block {number}: stored header does not decode: {exc}") from None

    def header(self, number: int) -> BlockHeader | None:
        if number < 0 or self._head is None or number > self._head.number:
            return None
        return self._read_header(number)

    def transactions(self, number: int) -> tuple[Transaction, ...]:
        return tuple(self._decode_all(_TX + _NUM.pack(number), self._decode_tx, number, "transaction"))

    def _decode_tx(self, raw: bytes) -> Transaction:
        return Transaction.decode(raw, self.suite)

    def tx_keys(self, number: int) -> list[tuple[bytes, bytes, int]]:
        """(hash, sender address, nonce) of block ``number``'s transactions, in block order, read from
        one record without decoding the transactions."""
        raw = self.kv.get(_TX_KEYS + _NUM.pack(number))
        if raw is None:  # a block committed before the key list existed
            return [(tx.hash, tx.sender_address, tx.nonce) for tx in self.transactions(number)]
        if len(raw) % _KEY_ENTRY:
            raise CorruptDatabase(f"block {number}: stored transaction key list has {len(raw)} bytes")
        return [(raw[i:i + 32], raw[i + 32:i + 52], _NUM.unpack_from(raw, i + 52)[0])
                for i in range(0, len(raw), _KEY_ENTRY)]

    def tx_hashes(self, number: int) -> list[bytes]:
        """The hashes of block ``number``'s transactions, in block order, without decoding them."""
        return [h for h, _, _ in self.tx_keys(number)]

    def receipts(self, number: int) -> tuple[Receipt, ...]:

        return tuple(self._decode_all(_RECEIPT + _NUM.pack(number), Receipt.decode, number, "receipt"))

    def _decode_all(self, prefix: bytes, decoder, number: int, what: str) -> list:
        out = []
        for key, raw in self.kv.iterate(prefix):
            try:
                out.append(decoder(raw))
            except DecodeError as exc:
                (_, index) = _NUM_IDX.unpack(key[2:])
                raise CorruptDatabase(f"block {number}: stored {what} {index} does not decode: {exc}") from None
        return out

    def block(self, number: int) -> Block | None:
        header = self.header(number)
        if header is None:
            return None
        return Block(header, self.transactions(number))

    def total_transactions(self) -> int:
        raw = self.kv.get(_TX_COUNT)
        return 0 if raw is None else _NUM.unpack(raw)[0]

    def nonce_used_at(self, sender_address: bytes, nonce: int) -> int | None:
        """The block in which ``sender_address`` last used ``nonce``, if any."""
        raw = self.kv.get(_NONCE + sender_address + _NUM.pack(nonce))
        return None if raw is None else _NUM.unpack(raw)[0]

    def number_of(self, block_hash: bytes) -> int | None:
        raw = self.kv.get(_BLOCK_INDEX + block_hash)
        return None if raw is None else _NUM.unpack(raw)[0]

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        number = self.number_of(block_hash)
        return None if number is None else self.block(number)

    def locate(self, tx_hash: bytes) -> TxLocation | None:
        raw = self.kv.get(_TX_INDEX + tx_hash)
        if raw is None:
            return None
        number, index = _NUM_IDX.unpack(raw)
        return TxLocation(number, index)

    def transaction(self, tx_hash: bytes) -> tuple[Transaction, TxLocation] | None:
        return self._located(tx_hash, _TX, self._decode_tx, "transaction")

    def receipt(self, tx_hash: bytes) -> tuple[Receipt, TxLocation] | None:
        return self._located(tx_hash, _RECEIPT, Receipt.decode, "receipt")

    def _located(self, tx_hash: bytes, prefix: bytes, decoder, what: str):
        """The transaction-indexed item under ``prefix`` (a transaction or its receipt)."""
        loc = self.locate(tx_hash)
        if loc is None:
            return None
        raw = self.kv.get(prefix + _NUM_IDX.pack(loc.number, loc.index))
        if raw is None:
            raise CorruptDatabase(f"block {loc.number}: indexed {what} {loc.index} is missing")
        try:
            return decoder(raw), loc
        except DecodeError as exc:
            raise CorruptDatabase(f"block {loc.number}: stored {what} {loc.index} does not decode: {exc}") from None
