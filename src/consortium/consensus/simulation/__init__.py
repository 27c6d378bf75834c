"""Deterministic simulation of PBFT cores (test infrastructure, but pure: no clock, no I/O).

``run_simulation(seed, SimConfig(...))`` builds n sealers (optionally twins and
observers), draws a fault plan from ``random.Random(seed)`` — message delay,
loss, duplication, reordering, partitions, crashes with restart from the
persisted vote state, Byzantine sealers — runs a faulty phase, heals, runs
until every honest node has gained ``liveness_blocks`` heights, and returns a
:class:`SimReport` listing any invariant violation. The same seed always
replays the same run.
"""

from consortium.consensus.simulation.plan import BYZANTINE_KINDS, FaultPlan, SimConfig, draw_plan
from consortium.consensus.simulation.runner import SimReport, run_simulation

__all__ = ["BYZANTINE_KINDS", "FaultPlan", "SimConfig", "SimReport", "draw_plan", "run_simulation"]
