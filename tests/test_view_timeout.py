"""The view-timeout schedule follows governance's consensus_timeout_ms, cap included.

Views double up to a cap chosen so the doubled timeout stays within the node's
``max_view_timeout_ms`` (60 s by default), then grow by one base per view. The cap
depends on the base: computed once at start-up for 3 s, it let view 4 last 480 s
after governance raised the base to 30 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.node import unstarted_node

from consortium.consensus.config import PbftConfig, doublings_within
from consortium.node.runtime import Node


@pytest.mark.parametrize(("base", "ceiling", "cap"), [
    (30, 600, 4),    # 3 s base, 60 s ceiling: 3, 6, 12, 24, 48 s
    (300, 600, 1),   # 30 s base: 30, 60 s
    (700, 600, 0),   # a base above the ceiling: no doubling at all
    (1, 10**9, 16),  # never more than 16 doublings
])
def test_doublings_stay_within_the_ceiling(base: int, ceiling: int, cap: int) -> None:
    assert doublings_within(base, ceiling) == cap
    cfg = PbftConfig("c", "g").with_view_timeout(base, ceiling)
    doubled = [cfg.timeout_ticks(v) for v in range(cap + 1)]
    assert all(t <= max(ceiling, base) for t in doubled)
    assert cfg.timeout_ticks(cap + 1) == cfg.timeout_ticks(cap) + base  # then linear, still increasing


@pytest.fixture
def node(tmp_path: Path):
    with unstarted_node(tmp_path) as n:
        yield n


def test_a_governance_timeout_change_recomputes_the_cap(node: Node) -> None:
    assert node.config.max_view_timeout_ms == 60_000
    assert node.core.view_timeout_ticks(4) == 480  # 3 s doubled four times: 48 s
    node._apply_view_timeout(30_000)
    assert [node.core.view_timeout_ticks(v) for v in range(5)] == [300, 600, 900, 1200, 1500]
    node._apply_view_timeout(3_000)
    assert node.core.view_timeout_ticks(4) == 480
