"""Transaction pool: admission on entry (cheap checks, the edge, the ledger's rules), bounds, dedup,
replay rules, pruning on commit."""

from __future__ import annotations

import dataclasses

import pytest
from tests.helpers.chainmaker import make_block

from consortium.chain.admission import (
    BlockLimitTooFar,
    ChainIdentity,
    ExpiredBlockLimit,
    InvalidSignature,
    WrongChain,
    check_block_limit,
)
from consortium.chain.edge import VerifiedTx, verify_transaction
from consortium.crypto import DEFAULT_SUITE, KeyPair
from consortium.ledger import Block, Transaction
from consortium.txpool import AlreadyInPool, TxPool, TxPoolFull

CHAIN = ChainIdentity("chain0", "group0", block_limit_window=600)
ALICE = KeyPair(b"\x0a" * 32)
BOB = KeyPair(b"\x0b" * 32)


class HeadOnly:
    """The admission rules over an in-memory head (the ledger adds on-chain duplicate checks),
    and the chain's edge, counting the signatures it checks."""

    def __init__(self) -> None:
        self.height = 10
        self.checked_signatures = 0

    def admit(self, tx: VerifiedTx) -> None:
        assert isinstance(tx, VerifiedTx)
        check_block_limit(tx.tx, self.height, CHAIN.block_limit_window)

    def verify(self, tx: Transaction) -> VerifiedTx:
        self.checked_signatures += 1
        return verify_transaction(tx, CHAIN, DEFAULT_SUITE)


def add(pool: TxPool, t: Transaction) -> VerifiedTx:
    ledger = pool.ledger
    assert isinstance(ledger, HeadOnly)
    return pool.admit(t, ledger.verify)


def tx(nonce: int, *, key: KeyPair = ALICE, block_limit: int = 100, chain_id: str = "chain0") -> Transaction:
    return Transaction(chain_id, "group0", nonce, block_limit, b"", b"\x01" * 20, "notarize", (nonce,)).signed_by(key)


def test_admits_and_takes_in_arrival_order() -> None:
    pool = TxPool(HeadOnly())
    txs = [tx(i) for i in range(5)]
    for t in txs:
        add(pool, t)
    assert [v.tx for v in pool.take(3)] == txs[:3]
    assert len(pool) == 5  # taking does not remove: a failed proposal loses nothing


def test_refusals_carry_typed_reasons() -> None:
    pool = TxPool(HeadOnly())
    add(pool, tx(1))
    with pytest.raises(AlreadyInPool, match="already in the pool"):
        add(pool, tx(1))
    with pytest.raises(AlreadyInPool, match="nonce 1"):
        add(pool, tx(1, block_limit=101))  # same sender and nonce, different hash
    add(pool, tx(1, key=BOB))  # another sender may use the same nonce
    with pytest.raises(WrongChain, match="chain 'other'"):
        add(pool, tx(2, chain_id="other"))
    with pytest.raises(ExpiredBlockLimit, match="has passed"):
        add(pool, tx(3, block_limit=10))
    with pytest.raises(BlockLimitTooFar, match="at most 610"):
        add(pool, tx(4, block_limit=611))
    forged = dataclasses.replace(tx(5), nonce=6)
    with pytest.raises(InvalidSignature):
        add(pool, forged)
    assert len(pool) == 2 and pool.rejected == 6


def test_full_pool_refuses_before_verifying_signatures() -> None:
    ledger = HeadOnly()
    pool = TxPool(ledger, limit=3)
    for i in range(3):
        add(pool, tx(i))
    before = ledger.checked_signatures
    with pytest.raises(TxPoolFull, match="txpool full"):
        add(pool, tx(99))
    assert ledger.checked_signatures == before
    assert tx(99).hash not in pool


def test_commit_removes_included_and_expired() -> None:
    ledger = HeadOnly()
    pool = TxPool(ledger)
    keep, included, expiring = tx(1, block_limit=500), tx(2), tx(3, block_limit=12)
    for t in (keep, included, expiring):
        add(pool, t)
    block, _ = make_block(12, b"\x00" * 32, n_txs=0)
    pool.remove_committed(Block(block.header, (included,)))
    ledger.height = 12
    assert keep.hash in pool and included.hash not in pool and expiring.hash not in pool
    add(pool, tx(2, block_limit=200))  # nonce freed with its transaction


def test_take_drops_expired() -> None:
    ledger = HeadOnly()
    pool = TxPool(ledger)
    add(pool, tx(1, block_limit=11))
    add(pool, tx(2, block_limit=50))
    ledger.height = 11
    assert [t.nonce for t in pool.take(10)] == [2]
    assert len(pool) == 1


def test_remove_invalid_drops_only_what_the_chain_would_refuse() -> None:
    ledger = HeadOnly()
    pool = TxPool(ledger)
    stale, fine = tx(1, block_limit=15), tx(2, block_limit=50)
    add(pool, stale)
    add(pool, fine)
    ledger.height = 20
    assert pool.remove_invalid([pool.get(stale.hash), pool.get(fine.hash)]) == 1
    assert stale.hash not in pool and fine.hash in pool


def test_take_respects_a_byte_budget_but_always_makes_progress() -> None:
    pool = TxPool(HeadOnly())
    big = [Transaction("chain0", "group0", i, 100, b"", b"\x01" * 20, "m", ("x" * 3000,)).signed_by(ALICE)
           for i in range(5)]
    for t in big:
        add(pool, t)
    size = len(big[0].encode())
    assert len(pool.take(100, max_bytes=2 * size + 10)) == 2
    assert len(pool.take(100, max_bytes=1)) == 1  # one oversized transaction still goes alone
