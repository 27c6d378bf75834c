"""Parameters of the PBFT core, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass, replace

from consortium.consensus.errors import ConsensusError


class InvalidConsensusConfig(ConsensusError):
    pass


@dataclass(frozen=True)
class PbftConfig:
    chain_id: str
    group_id: str
    base_timeout_ticks: int = 30
    """Ticks view 0 of a height lasts before a VIEW-CHANGE (with 100 ms ticks: 3 s, FISCO BCOS's default)."""
    max_timeout_doublings: int = 4
    """View v lasts base * 2**min(v, this) ticks, then one more base per view beyond the cap (see
    :meth:`timeout_ticks`); a commit resets it (the next height starts at view 0)."""
    future_heights: int = 2
    """Messages up to this many heights ahead are buffered and replayed on arrival there."""
    future_per_sender: int = 16
    """Bound on buffered future messages per sender (a Byzantine sealer cannot fill memory)."""
    view_window: int = 64
    """PREPAREs and COMMITs are kept for views up to current + this; further ones are ignored."""
    max_blocks_per_height: int = 64
    """Bound on distinct proposed blocks remembered at one height."""

    def __post_init__(self) -> None:
        if not self.chain_id or not self.group_id:
            raise InvalidConsensusConfig("chain_id and group_id must be non-empty")
        for name in ("base_timeout_ticks", "future_per_sender", "view_window", "max_blocks_per_height"):
            if getattr(self, name) < 1:
                raise InvalidConsensusConfig(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.max_timeout_doublings <= 16:
            raise InvalidConsensusConfig("max_timeout_doublings must be in [0, 16]")
        if self.future_heights < 0:
            raise InvalidConsensusConfig("future_heights must be non-negative")

    def timeout_ticks(self, view: int) -> int:
        """How long view ``view`` (or the wait for its NEW-VIEW) lasts, in ticks.

        Strictly increasing in the view, which is what liveness needs ([CL99] 4.5.2): sealers
        that fell one view behind time out sooner than those ahead, so they meet in one view
        within a few rounds. Doubling makes them meet fast; beyond the cap it grows by one
        base per view instead, so it keeps increasing without ever becoming absurd. (A flat
        cap would let two groups one view apart stay apart forever.)
        """
        cap = self.max_timeout_doublings
        base = self.base_timeout_ticks
        return (base << min(view, cap)) + base * max(0, view - cap)

    def with_view_timeout(self, base_ticks: int, max_ticks: int) -> PbftConfig:
        """This config with base timeout ``base_ticks`` and the doubling cap recomputed for it, so that
        the doubled timeout stays within ``max_ticks`` (the node's ``max_view_timeout_ms``).

        The cap depends on the base: keeping the cap computed for a 3 s base after governance
        raised it to 30 s would let view 4 last 480 s against a 60 s ceiling.
        """
        return replace(self, base_timeout_ticks=base_ticks, max_timeout_doublings=doublings_within(base_ticks, max_ticks))


def doublings_within(base_ticks: int, max_ticks: int) -> int:
    """The largest ``c <= 16`` with ``base_ticks * 2**c <= max_ticks`` (0 if even one doubling exceeds it)."""
    doublings = 0
    while doublings < 16 and base_ticks << (doublings + 1) <= max_ticks:
        doublings += 1
    return doublings

