"""Which sealers this node hears from, and whether they still make a quorum — said once, not every second.

Every admitted peer sends at least a STATUS each second (node/sync.py), so a sealer that
has sent nothing for :data:`SILENCE_S` is down, partitioned away or hung. When the sealers
heard from (this node included) fall below the PBFT quorum, no block can commit; the log
then names the silent sealers once, at ERROR, and says so again once when the quorum is
back — an operator reading the log sees one line at each change, not one per second.
The same state feeds ``getConsensusStatus`` (``consortium status``), /readyz and the
``consensus_missing_validators`` metric.

Wall-clock reads here are for reporting only; nothing consensus decides depends on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from consortium.consensus.quorum import quorum_size

log = logging.getLogger("consortium.node.liveness")

SILENCE_S = 5.0
"""A sealer not heard from for this long counts as silent (5 missed STATUS announcements)."""
CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class QuorumView:
    sealers: int
    needed: int
    heard: tuple[bytes, ...]
    """Sealers heard from within SILENCE_S, this node included if it is a sealer."""
    silent: tuple[bytes, ...]
    """Sealers not heard from within SILENCE_S (never this node)."""

    @property
    def ok(self) -> bool:
        return len(self.heard) >= self.needed


class SealerLiveness:
    def __init__(self, me: bytes, sealers: Callable[[], Sequence[bytes]], names: Mapping[bytes, str] | None = None,
                 *, clock: Callable[[], float] = time.monotonic, silence_s: float = SILENCE_S) -> None:
        self.me = me
        self._sealers = sealers
        self.names = dict(names or {})
        self._clock = clock
        self._silence = silence_s
        self._last: dict[bytes, float] = {}
        self._started = clock()
        self.quorum_ok: bool | None = None
        """The state last reported (None before the first report)."""
        self.losses = 0
        """Times the quorum was lost since start."""

    def heard(self, peer: bytes) -> None:
        self._last[peer] = self._clock()

    def view(self) -> QuorumView:
        now = self._clock()
        sealers = tuple(self._sealers())
        heard, silent = [], []
        for s in sealers:
            if s == self.me or now - self._last.get(s, float("-inf")) <= self._silence:
                heard.append(s)
            else:
                silent.append(s)
        return QuorumView(len(sealers), quorum_size(len(sealers)) if sealers else 1, tuple(heard), tuple(silent))

    def name(self, node_id: bytes) -> str:
        label = self.names.get(node_id)
        return f"{label} (0x{node_id.hex()[:12]})" if label else f"0x{node_id.hex()[:12]}"

    def report(self) -> QuorumView:
        """Log a change of quorum state (only a change); returns the current view."""
        v = self.view()
        if self._clock() - self._started < self._silence:
            return v  # peers are still connecting after start: nothing to report yet
        if v.ok != self.quorum_ok:
            if not v.ok:
                self.losses += 1
                log.error(
                    "quorum lost: heard from %d of %d sealers, %d needed to commit; silent for %.0fs or more: %s",
                    len(v.heard), v.sealers, v.needed, self._silence, ", ".join(self.name(s) for s in v.silent))
            elif self.quorum_ok is False:
                log.warning("quorum restored: heard from %d of %d sealers (%d needed)%s", len(v.heard), v.sealers,
                            v.needed, "; still silent: " + ", ".join(self.name(s) for s in v.silent) if v.silent else "")
            self.quorum_ok = v.ok
        return v

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            self.report()
