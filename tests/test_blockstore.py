"""Block store: atomic commits on real LevelDB, reads, corruption detection, and crash safety."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.blockstore_writer import STATE_KEYS
from tests.helpers.chainmaker import make_block, make_chain
from tests.helpers.sigkill import killed_rounds

from consortium.ledger import ZERO_HASH, BlockHeader
from consortium.storage import LevelDBStore, MemoryStore, WriteBatch
from consortium.storage.blockstore import BlockStore, BlockStoreError, CorruptDatabase

ROOT = Path(__file__).resolve().parent.parent


def test_commit_and_read_back(tmp_path) -> None:
    chain = make_chain(5)
    store = BlockStore(LevelDBStore(tmp_path / "db"))
    for block, receipts in chain:
        store.commit(block, receipts)
    assert store.head.number == 4
    for block, receipts in chain:
        assert store.block(block.number) == block
        assert store.block_by_hash(block.hash) == block
        assert store.receipts(block.number) == receipts
        assert store.tx_hashes(block.number) == [tx.hash for tx in block.transactions]
        assert store.tx_keys(block.number) == [(tx.hash, tx.sender_address, tx.nonce) for tx in block.transactions]

        for i, tx in enumerate(block.transactions):

            got, loc = store.transaction(tx.hash)
            assert got == tx and (loc.number, loc.index) == (block.number, i)
            assert store.receipt(tx.hash)[0] == receipts[i]
    assert store.block(5) is None and store.transaction(b"\x00" * 32) is None


def test_survives_reopen(tmp_path) -> None:
    chain = make_chain(3)
    kv = LevelDBStore(tmp_path / "db")
    store = BlockStore(kv)
    for block, receipts in chain:
        store.commit(block, receipts)
    kv.close()
    reopened = BlockStore(LevelDBStore(tmp_path / "db"))
    assert reopened.head.hash == chain[-1][0].hash
    assert reopened.block(1) == chain[1][0]


def test_refuses_out_of_order_and_wrong_parent() -> None:
    store = BlockStore(MemoryStore())
    b0, r0 = make_block(0, ZERO_HASH)
    with pytest.raises(BlockStoreError, match="next block must be 0"):
        store.commit(*make_block(1, ZERO_HASH))
    store.commit(b0, r0)
    with pytest.raises(BlockStoreError, match="parent_hash"):
        store.commit(*make_block(1, b"\x09" * 32))
    b1, r1 = make_block(1, b0.hash)
    with pytest.raises(BlockStoreError, match="receipts"):
        store.commit(b1, r1[:-1])
    assert store.head.number == 0


def test_refuses_to_open_database_whose_head_block_fails_its_hash(tmp_path) -> None:
    kv = LevelDBStore(tmp_path / "db")
    store = BlockStore(kv)
    for block, receipts in make_chain(3):
        store.commit(block, receipts)
    # Tamper with the stored head header (a different state root, still a valid encoding).
    raw = kv.get(b"Bh" + (2).to_bytes(8, "big"))
    header = BlockHeader.decode(raw)
    import dataclasses

    kv.put(b"Bh" + (2).to_bytes(8, "big"), dataclasses.replace(header, state_root=b"\xee" * 32).encode())
    kv.close()
    with pytest.raises(CorruptDatabase, match="block 2: stored header hashes to"):
        BlockStore(LevelDBStore(tmp_path / "db"))


def test_corrupt_values_give_typed_errors_naming_the_block() -> None:
    kv = MemoryStore()
    store = BlockStore(kv)
    chain = make_chain(2)
    for block, receipts in chain:
        store.commit(block, receipts)
    kv.put(b"Br" + (1).to_bytes(8, "big") + (0).to_bytes(4, "big"), b"\xc1garbage")
    with pytest.raises(CorruptDatabase, match="block 1: stored receipt 0 does not decode"):
        store.receipt(chain[1][0].transactions[0].hash)
    kv.put(b"Bt" + (1).to_bytes(8, "big") + (1).to_bytes(4, "big"), b"\x90")
    with pytest.raises(CorruptDatabase, match="block 1"):
        BlockStore(kv)


def test_one_commit_is_one_write() -> None:
    kv = MemoryStore()
    store = BlockStore(kv)
    extra = WriteBatch()
    extra.put(b"s-node", b"x")
    block, receipts = make_block(0, ZERO_HASH, n_txs=50)
    store.commit(block, receipts, extra)
    assert kv.writes == 1 and kv.get(b"s-node") == b"x"


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_half_a_block(tmp_path) -> None:
    """A real writer process is killed with SIGKILL at random moments, again and again.

    After each kill the database must open, its head must be a complete block whose
    state keys are all present, nothing of the next block may exist, and every block
    the writer reported as committed must be there.
    """
    db = tmp_path / "db"
    for acknowledged in killed_rounds("tests.helpers.blockstore_writer", [str(db)], seed=1234):
        kv = LevelDBStore(db)

        store = BlockStore(kv)  # raises CorruptDatabase if the head is not intact
        head = store.head.number
        assert head >= acknowledged, f"block {acknowledged} was acknowledged but head is {head}"
        for n in range(head + 1):
            block = store.block(n)
            assert block is not None and len(block.transactions) == 20
            assert len(store.receipts(n)) == 20
        state_keys = list(kv.iterate(b"s" + head.to_bytes(8, "big")))
        assert len(state_keys) == STATE_KEYS
        assert list(kv.iterate(b"s" + (head + 1).to_bytes(8, "big"))) == []
        assert list(kv.iterate(b"Bt" + (head + 1).to_bytes(8, "big"))) == []
        assert store.header(head + 1) is None
        kv.close()
