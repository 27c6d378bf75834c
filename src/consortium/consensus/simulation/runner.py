"""Run one seeded simulation: a faulty (safety) phase, then a healed (liveness) phase."""

from __future__ import annotations

from dataclasses import dataclass

from consortium.consensus.simulation.plan import FaultPlan, PlanFactory, SimConfig, draw_plan
from consortium.consensus.simulation.world import Stats, World
from consortium.consensus.verify import header_hash


@dataclass(frozen=True)
class SimReport:
    seed: int
    config: SimConfig
    plan: FaultPlan
    violations: tuple[str, ...]
    heights: tuple[int, ...]
    """Ledger height of every process at the end (index = process id)."""
    honest: tuple[int, ...]
    target: int
    live: bool
    """Every honest process reached ``target`` and they agree on the block there."""
    ticks: int
    stats: Stats

    @property
    def ok(self) -> bool:
        return not self.violations and self.live

    def describe(self) -> str:
        lines = [f"seed {self.seed}: {'OK' if self.ok else 'FAILED'} after {self.ticks} ticks; "
                 f"heights {self.heights} (honest {self.honest}), target {self.target}",
                 f"  plan: {self.plan}"]
        lines += [f"  violation: {v}" for v in self.violations]
        if not self.live:
            lines.append("  liveness: not every honest process reached the target height after healing")
        lines.append(f"  replay: CONSORTIUM_SEED={self.seed} pytest tests/consensus -k seed")
        return "\n".join(lines)


def run_simulation(seed: int, cfg: SimConfig | None = None, plan_factory: PlanFactory = draw_plan) -> SimReport:
    cfg = cfg or SimConfig()
    world = World(cfg, seed, plan_factory)
    for _ in range(cfg.safety_ticks):
        world.step_tick()
    world.heal()
    honest = world.honest()
    target = max(p.ledger.height for p in honest) + cfg.liveness_blocks
    live = False
    for _ in range(cfg.liveness_ticks):
        if all(p.ledger.height >= target for p in honest):
            live = True
            break
        world.step_tick()
    if live:
        at_target = {header_hash(p.ledger.blocks[target].header, world.checker.suite) for p in honest}
        if len(at_target) != 1:
            world.checker.fail(f"honest processes hold different blocks at height {target}")
    for p in world.procs:
        if p.core is not None:
            c = p.core.status().counters
            for name, value in vars(c).items():
                world.stats.counters[name] = world.stats.counters.get(name, 0) + value
    return SimReport(
        seed=seed, config=cfg, plan=world.plan, violations=tuple(world.checker.violations),
        heights=tuple(p.ledger.height for p in world.procs), honest=tuple(p.pid for p in honest),
        target=target, live=live, ticks=world.now, stats=world.stats,
    )
