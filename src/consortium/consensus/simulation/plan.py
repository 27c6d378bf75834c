"""The run configuration and the fault plan a seed expands into.

Everything random in a run is drawn from one ``random.Random(seed)`` in a
fixed order, so a seed number is a complete, replayable description of the
run (network schedule, faults, Byzantine behaviour).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

BYZANTINE_KINDS = ("equivocate", "garbage", "replay", "silent")


@dataclass(frozen=True)
class SimConfig:
    n: int = 4
    """Sealers."""
    observers: int = 0
    twins: tuple[int, ...] = ()
    """Sealer indexes that run as two processes sharing one key (Twins)."""
    safety_ticks: int = 80
    """Length of the faulty phase."""
    liveness_ticks: int = 1500
    """Bound on the healed phase; the run stops as soon as the liveness target is met."""
    liveness_blocks: int = 2
    """New heights every honest node must reach after healing."""
    faults: bool = True
    """Draw network faults and crashes from the seed."""
    byzantine: bool = True
    """Draw up to f Byzantine sealers from the seed."""
    partition: tuple[tuple[int, ...], ...] | None = None
    """A fixed partition (groups of process ids) held for the whole safety phase (Twins scenarios)."""
    base_timeout_ticks: int = 12
    max_timeout_doublings: int = 3
    sync_interval: int = 10
    block_interval: int = 5
    """A leader's application answers a ProposalRequest 1..block_interval ticks later."""


@dataclass(frozen=True)
class Partition:
    start: int
    end: int
    side: frozenset[int]
    """Process ids on one side; messages between the sides are dropped."""


@dataclass(frozen=True)
class Crash:
    pid: int
    at: int
    restart: int


@dataclass(frozen=True)
class FaultPlan:
    max_delay: int = 2
    loss_permille: int = 0
    dup_permille: int = 0
    crash_in_ready_permille: int = 0
    """Chance, per persisted Ready, of crashing after the write and before sending."""
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    byzantine: dict[int, str] = field(default_factory=dict)
    """Process id -> behaviour."""


def draw_plan(rng: random.Random, cfg: SimConfig, sealer_pids: list[int], all_pids: list[int]) -> FaultPlan:
    byzantine: dict[int, str] = {}
    if cfg.byzantine:
        f = (cfg.n - 1) // 3
        count = rng.choice([0] + list(range(1, f + 1)) * 2)
        for pid in rng.sample(sealer_pids, count):
            byzantine[pid] = rng.choice(BYZANTINE_KINDS)
    if not cfg.faults:
        return FaultPlan(byzantine=byzantine)
    partitions = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        start = rng.randrange(cfg.safety_ticks)
        side = frozenset(rng.sample(all_pids, rng.randint(1, len(all_pids) - 1)))
        partitions.append(Partition(start, start + rng.randint(5, 60), side))
    honest = [p for p in all_pids if p not in byzantine]
    crashes = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        at = rng.randrange(cfg.safety_ticks)
        crashes.append(Crash(rng.choice(honest), at, at + rng.randint(1, 40)))
    return FaultPlan(
        max_delay=rng.choice([1, 2, 3, 5, 8]),
        loss_permille=rng.choice([0, 0, 20, 100, 300]),
        dup_permille=rng.choice([0, 50, 200]),
        crash_in_ready_permille=rng.choice([0, 0, 30]),
        partitions=tuple(partitions),
        crashes=tuple(crashes),
        byzantine=byzantine,
    )


PlanFactory = Callable[[random.Random, SimConfig, list[int], list[int]], FaultPlan]
"""Draws a run's faults: (rng, config, honest sealer process ids, all process ids) -> plan."""
