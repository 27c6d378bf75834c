"""A replica's check of a proposal's transaction signatures (ConsensusDriver._verify, through the edge), in process.

Replicas skip re-verifying signatures of transactions they already pooled
(each was verified on entry). The transaction hash does not cover the
signature, so "already pooled" must mean the same signature too; otherwise a
Byzantine leader could put garbage signatures on transactions every replica
has pooled, and the chain would hold transactions that do not verify offline.

A real node object (real LevelDB ledger, genesis from ``chain new``), not
started: no sockets are needed to call its driver.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.cluster.harness import evidence_args
from tests.helpers.byzantine import unchecked
from tests.helpers.node import unstarted_node

from consortium.chain.ledger import BlockRejected
from consortium.crypto.suite import KeyPair
from consortium.execution import EVIDENCE_ADDRESS
from consortium.ledger.transaction import Transaction
from consortium.node.runtime import Node

CLIENT = KeyPair(b"\x21" * 32)


@pytest.fixture
def node(tmp_path: Path):
    with unstarted_node(tmp_path, 1) as n:
        yield n


def notarize(node: Node, n: int) -> Transaction:
    g = node.genesis
    return Transaction(g.chain_id, g.group_id, n, node.ledger.height + 100, b"", EVIDENCE_ADDRESS, "notarize",
                       tuple(evidence_args(f"sig-{n}"))).signed_by(CLIENT)


def leader_block(node: Node, txs: list[Transaction]):
    """The block a (Byzantine) leader would propose with exactly ``txs``, signatures unchecked."""
    return node.ledger.execute([unchecked(tx, node.ledger) for tx in txs],
                               timestamp=node.ledger.head_header().timestamp + 1, proposer=node.core.sealers[0],
                               view=0, sealers=tuple(node.core.sealers)).block


def test_a_proposal_of_pooled_transactions_is_accepted(node: Node) -> None:
    txs = [notarize(node, n) for n in range(5)]
    for tx in txs:
        node.admit(tx)
    executed = node.driver._verify(leader_block(node, txs))
    assert [r.status for r in executed.receipts] == [0] * 5


def test_a_pooled_transaction_with_a_swapped_signature_is_refused(node: Node) -> None:
    txs = [notarize(node, n) for n in range(5)]
    for tx in txs:
        node.admit(tx)
    forged = dataclasses.replace(txs[3], signature=bytes(64))
    assert forged.hash == txs[3].hash  # same hash: the signature is not covered by it
    with pytest.raises(BlockRejected, match="transaction 3 .*signature"):
        node.driver._verify(leader_block(node, [*txs[:3], forged, txs[4]]))


def test_an_unpooled_transaction_is_verified_and_a_bad_one_refused(node: Node) -> None:
    pooled = notarize(node, 0)
    node.admit(pooled)
    fresh = notarize(node, 1)  # not in this replica's pool yet (gossip still on its way)
    executed = node.driver._verify(leader_block(node, [pooled, fresh]))
    assert len(executed.receipts) == 2
    other = notarize(node, 2)
    bad = dataclasses.replace(other, signature=CLIENT.sign(b"\x00" * 32))
    with pytest.raises(BlockRejected, match="transaction 1 .*signature"):
        node.driver._verify(leader_block(node, [pooled, bad]))


@pytest.mark.parametrize("threshold", [0, 64])  # verified on the loop; batches of 64+ in a worker thread
async def test_gossip_admits_valid_transactions_and_drops_forged_and_duplicates(node: Node, threshold: int,
                                                                                  monkeypatch) -> None:
    monkeypatch.setattr("consortium.node.runtime.GOSSIP_VERIFY_IN_THREAD", threshold)
    count = 70
    txs = [notarize(node, n) for n in range(count)]
    forged = dataclasses.replace(notarize(node, 999), signature=bytes(64))
    node.admit(txs[0])  # already pooled: dropped before its signature is checked again
    await node._on_gossip((*txs, forged, txs[1]))
    assert len(node.txpool) == count
    assert all(tx.hash in node.txpool for tx in txs) and forged.hash not in node.txpool
