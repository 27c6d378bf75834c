"""Speculative proposals (design.md §12.7) on real LevelDB ledgers running the evidence contract.

The next leader executes block h + 1 while h is still being voted on. That is safe only if the
result is exactly the block ``Ledger.execute`` would build once h is committed, and if a
candidate h that loses (view change) leaves nothing behind — in particular no state-tree nodes
in the shared cache under a version another candidate will own. Both are checked byte for byte
against a second ledger that never speculates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from tests.evidence.evidence_chain import ALICE, BOB, EvidenceChain, file_hash

from consortium.chain.ledger import BlockRejected, ExecutedBlock, Ledger
from consortium.consensus.events import ProposalRequest
from consortium.consensus.quorum import leader_index
from consortium.ledger import Block, CommitSignature, Transaction, commit_seal_payload
from consortium.node.driver import ConsensusDriver
from consortium.txpool.pool import TxPool


def notarizations(chain: EvidenceChain, tag: str, n: int, key=ALICE) -> list[Transaction]:
    return [chain.tx(key, "notarize", [file_hash(f"{tag}-{i}".encode()), {"case_id": tag}, []]) for i in range(n)]


def execute(chain: EvidenceChain, txs: Sequence[Transaction], ts: int) -> ExecutedBlock:
    return chain.ledger.execute(txs, timestamp=ts, proposer=chain.sealers[0], view=0, sealers=chain.sealers)


def after(chain: EvidenceChain, parent: ExecutedBlock, txs: Sequence[Transaction], ts: int) -> ExecutedBlock:
    return chain.ledger.execute_after(parent, txs, timestamp=ts, proposer=chain.sealers[0], view=0,
                                      sealers=chain.sealers)


def commit(chain: EvidenceChain, executed: ExecutedBlock) -> Block:
    payload = commit_seal_payload(executed.block.hash, 0)
    seals = [CommitSignature(i, chain.sealer_keys[i].sign(payload)) for i in range(3)]
    return chain.ledger.commit(executed, seals)


def same(a: ExecutedBlock, b: ExecutedBlock) -> None:
    assert a.block.hash == b.block.hash  # the header carries tx, receipt and state roots
    assert a.receipts == b.receipts
    assert dict(a.writes) == dict(b.writes)
    assert a.state_batch.ops == b.state_batch.ops  # the same tree nodes, stale lists and indexes


@pytest.fixture
def pair(tmp_path):
    a, b = EvidenceChain(tmp_path / "spec"), EvidenceChain(tmp_path / "plain")
    yield a, b
    a.close()
    b.close()


def test_the_block_after_an_uncommitted_parent_is_the_block_built_after_its_commit(pair) -> None:
    spec, plain = pair
    ts = spec.ledger.head_header().timestamp
    parent_txs = notarizations(spec, "round-0", 40)
    parent = execute(spec, parent_txs, ts + 1)
    same(parent, execute(plain, parent_txs, ts + 1))
    for r in range(1, 7):
        ts += 10
        # Reads through the parent's writes: re-notarizing its first hash reverts ("already notarized
        # at block h"), and Bob's one co-signs nothing yet. Plus fresh notarizations, many sharing
        # tree paths with the parent's keys.
        txs = [spec.tx(BOB, "notarize", [file_hash(f"round-{r - 1}-0".encode()), {}, []])]
        txs += notarizations(spec, f"round-{r}", 30 + 7 * r)
        if r % 2:  # the parent's commit lands first (the thread race the driver allows) or after
            commit(spec, parent)
        early = after(spec, parent, txs, ts)
        if not r % 2:
            commit(spec, parent)
        commit(plain, parent)
        late = execute(plain, txs, ts)
        same(early, late)
        assert early.receipts[0].status != 0 and "already notarized" in early.receipts[0].error
        parent = early
    commit(spec, parent)
    commit(plain, late)
    assert spec.ledger.head_header().hash == plain.ledger.head_header().hash


def test_a_speculative_block_extended_with_late_transactions_is_the_block_built_at_once(pair) -> None:
    spec, plain = pair
    ts = spec.ledger.head_header().timestamp
    parent_txs = notarizations(spec, "ext-parent", 25)
    parent = execute(spec, parent_txs, ts + 1)
    early_txs = notarizations(spec, "ext-early", 30)
    early = after(spec, parent, early_txs, ts + 2)
    commit(spec, parent)
    commit(plain, execute(plain, parent_txs, ts + 1))
    # Late: a re-notarization of an early hash (reads the early part's writes), then fresh ones.
    late_txs = [spec.tx(BOB, "notarize", [file_hash(b"ext-early-3"), {}, []])] + notarizations(spec, "ext-late", 20)
    with pytest.raises(BlockRejected, match="already in block 2"):
        spec.ledger.extend(early, [early_txs[4]])
    assert spec.ledger.extend(early, []) is early
    extended = spec.ledger.extend(early, late_txs)
    same(extended, execute(plain, early_txs + late_txs, early.block.header.timestamp))
    assert "already notarized at block 2" in extended.receipts[len(early_txs)].error
    commit(spec, extended)
    assert spec.ledger.head_header().hash == extended.block.hash


def test_transactions_of_the_parent_are_refused_as_committed(pair) -> None:
    spec, _ = pair
    ts = spec.ledger.head_header().timestamp
    txs = notarizations(spec, "dup", 5)
    parent = execute(spec, txs, ts + 1)
    with pytest.raises(BlockRejected, match="already in block 1"):
        after(spec, parent, [txs[2]], ts + 2)
    reused = Transaction(txs[0].chain_id, txs[0].group_id, txs[0].nonce, txs[0].block_limit, b"", txs[0].to,
                         "notarize", (file_hash(b"other"), {}, [])).signed_by(ALICE)
    with pytest.raises(BlockRejected, match="nonce .* was used in block 1"):
        after(spec, parent, [reused], ts + 2)


def test_a_parent_that_loses_leaves_no_trace(pair) -> None:
    spec, plain = pair
    ts = spec.ledger.head_header().timestamp
    loser = execute(spec, notarizations(spec, "loser", 60), ts + 1)
    after(spec, loser, notarizations(spec, "on-loser", 60), ts + 2)  # built, then never used
    winner_txs = notarizations(spec, "winner", 45, key=BOB)
    winner = execute(spec, winner_txs, ts + 3)
    commit(spec, winner)
    commit(plain, execute(plain, winner_txs, ts + 3))
    with pytest.raises(BlockRejected, match="not the head or the block after it"):
        after(spec, loser, [], ts + 4)
    # The next heights touch the same tree paths the discarded candidates wrote: a node of theirs
    # served from the cache would give a different root here.
    for r in range(3):
        txs = notarizations(spec, "loser", 60 + r)[r * 10:] + notarizations(spec, f"next-{r}", 20)
        same(execute(spec, txs, ts + 10 + r), mine := execute(plain, txs, ts + 10 + r))
        commit(spec, execute(spec, txs, ts + 10 + r))
        commit(plain, mine)
    assert spec.ledger.head_header().hash == plain.ledger.head_header().hash


class _Core:
    """What the driver asks of the consensus core while speculating."""

    def __init__(self, sealers: tuple[bytes, ...], me: bytes) -> None:
        self.sealers = sealers
        self.node_id = me


def _driver(chain: EvidenceChain, me: bytes) -> tuple[ConsensusDriver, TxPool]:
    pool = TxPool(chain.ledger)
    core = _Core(chain.sealers, me)
    driver = ConsensusDriver(core, chain.ledger, pool, SimpleNamespace(), lambda to, data: None,  # type: ignore[arg-type]
                             max_txs_per_block=1000, clock_ms=lambda: chain.ledger.head_header().timestamp + 5)
    return driver, pool


def _leader_of(chain: EvidenceChain, number: int) -> bytes:
    return chain.sealers[leader_index(number, 0, len(chain.sealers))]


def test_the_driver_proposes_the_speculative_block_only_where_it_fits(pair) -> None:
    spec, plain = pair

    async def scenario() -> None:
        ts = spec.ledger.head_header().timestamp
        parent_txs = notarizations(spec, "drv-parent", 20)
        parent = execute(spec, parent_txs, ts + 1)
        waiting = notarizations(spec, "drv-next", 25)
        # A node that does not lead the next height does nothing.
        other, pool = _driver(spec, _leader_of(spec, 3))
        for tx in parent_txs + waiting:
            pool.admit(tx, spec.ledger.verify_transaction)
        other._speculate(parent)
        assert other._spec is None and other.speculations["started"] == 0

        driver, pool = _driver(spec, _leader_of(spec, 2))
        for tx in parent_txs + waiting:
            pool.admit(tx, spec.ledger.verify_transaction)
        driver._speculate(parent)
        assert driver.speculations["started"] == 1
        commit(spec, parent)
        pool.remove_committed(parent.block)
        arrived = notarizations(spec, "drv-late", 7)  # during the votes on the parent
        for tx in arrived:
            pool.admit(tx, spec.ledger.verify_transaction)
        proposal = await driver._propose(ProposalRequest(2, 0, parent.block.hash))
        assert proposal is not None and driver.speculations["used"] == 1
        assert [tx.hash for tx in proposal.block.transactions] == [tx.hash for tx in waiting + arrived]
        commit(plain, execute(plain, parent_txs, ts + 1))
        late = plain.ledger.execute(waiting + arrived, timestamp=proposal.block.header.timestamp,
                                    proposer=_leader_of(spec, 2), view=0, sealers=spec.sealers)
        assert proposal.block.hash == late.block.hash

        # A view change at the next height: the early block (view 0) is not proposed in view 1.
        commit(spec, driver._executed[proposal.block.hash])
        pool.remove_committed(proposal.block)
        more = notarizations(spec, "drv-more", 5)
        for tx in more:
            pool.admit(tx, spec.ledger.verify_transaction)
        driver.core.node_id = _leader_of(spec, 4)  # type: ignore[attr-defined]
        head = spec.ledger.head_header()
        third = execute(spec, notarizations(spec, "drv-third", 3), head.timestamp + 1)
        driver._speculate(third)
        assert driver.speculations["started"] == 2
        fallback = await driver._propose(ProposalRequest(3, 1, head.hash))
        assert fallback is not None and driver.speculations["dropped"] == 1
        assert fallback.block.header.view == 1 and fallback.block.header.parent_hash == head.hash

    asyncio.run(scenario())


def test_ledger_speculation_needs_no_driver_state(tmp_path) -> None:
    """execute_after is a pure function of the ledger and its arguments: it writes nothing."""
    chain = EvidenceChain(tmp_path / "c")
    try:
        ts = chain.ledger.head_header().timestamp
        parent = execute(chain, notarizations(chain, "p", 10), ts + 1)
        before = dict(chain.ledger.kv.iterate(b""))
        after(chain, parent, notarizations(chain, "n", 10), ts + 2)
        assert dict(chain.ledger.kv.iterate(b"")) == before
        assert isinstance(chain.ledger, Ledger) and chain.ledger.height == 0
    finally:
        chain.close()
