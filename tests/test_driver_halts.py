"""The consensus driver stops the node on a conflicting commit instead of building on a fork."""

from __future__ import annotations

import pytest
from tests.helpers.chainmaker import make_block

from consortium.consensus.errors import ConflictingCommit, DriverContractError
from consortium.consensus.events import BlockCommitted
from consortium.node.driver import ConsensusDriver, NodeHalted


class CoreReporting:
    """Stands in for PbftCore's step_local: raises what the real core raises in each case."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def step_local(self, event) -> None:
        raise self.error


def driver_with(core) -> ConsensusDriver:
    return ConsensusDriver(core, ledger=None, txpool=None, vote_store=None, send=lambda to, b: None,  # type: ignore[arg-type]
                           max_txs_per_block=10)


def test_conflicting_commit_halts() -> None:
    block, _ = make_block(1, bytes(32))
    d = driver_with(CoreReporting(ConflictingCommit("block 1 differs from the one this core committed")))
    with pytest.raises(NodeHalted, match="differs"):
        d._step_local(BlockCommitted(block.header))


def test_other_driver_contract_errors_are_logged_and_survived(caplog) -> None:
    block, _ = make_block(1, bytes(32))
    d = driver_with(CoreReporting(DriverContractError("late answer")))
    d._step_local(BlockCommitted(block.header))
    assert "late answer" in caplog.text
