"""/healthz and /readyz: what a load balancer or an orchestrator asks a node.

``/healthz`` (liveness) answers "should this process be restarted?": the event loop turns
(a heartbeat task measures its lag), every task of the node is still running, and the
consensus queue is not stuck full. ``/readyz`` (readiness) answers "should clients be sent
here?": healthy, and synced with its peers, hearing from a quorum of sealers (so
transactions sent here can commit), and its data directory writable with room to spare.
Each answers 200 or 503 with a JSON body naming every check, so the operator sees what
fails, not just that something does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

from consortium.node.runtime import Node

HEARTBEAT_S = 0.5
MAX_LOOP_LAG_S = 2.0
STUCK_QUEUE_S = 10.0
"""The consensus queue more than half full for this long means the consensus loop is not keeping up."""
MIN_FREE_BYTES = 256 * 1024 * 1024
MAX_LAG_BLOCKS = 1
"""Being one block behind the best peer is normal for a moment; two or more is syncing."""


@dataclass
class Check:
    ok: bool
    detail: str

    def json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


class Health:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.lag_s = 0.0
        self._queue_ok_since = time.monotonic()
        self._last_queue_ok = time.monotonic()

    async def heartbeat(self) -> None:
        """Measures how late the event loop wakes up, and when the consensus queue was last not backlogged."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(HEARTBEAT_S)
            self.lag_s = max(0.0, loop.time() - start - HEARTBEAT_S)
            q = self.node.driver.queue
            if q.qsize() < max(1, q.maxsize // 2):
                self._last_queue_ok = time.monotonic()

    def liveness(self) -> dict[str, Check]:
        tasks = getattr(self.node, "tasks", [])
        dead = [t.get_name() for t in tasks if t.done()]
        backlog_s = time.monotonic() - self._last_queue_ok
        return {
            "event_loop": Check(self.lag_s < MAX_LOOP_LAG_S, f"lag {self.lag_s * 1000:.0f} ms"),
            "tasks": Check(bool(tasks) and not dead,
                           f"stopped: {', '.join(dead)}" if dead else f"{len(tasks)} running" if tasks else "not started"),
            "consensus_queue": Check(backlog_s < STUCK_QUEUE_S,
                                     f"{self.node.driver.queue.qsize()} events queued"
                                     + (f", backlogged for {backlog_s:.0f}s" if backlog_s >= STUCK_QUEUE_S else "")),
        }

    def readiness(self) -> dict[str, Check]:
        checks = self.liveness()
        sync = self.node.sync.status()
        behind = max(0, sync["knownHighestNumber"] - sync["blockNumber"])
        liveness = self.node.liveness
        v = liveness.view()
        # Synced means: within a block of the best height known, and that knowledge comes from a quorum
        # of sealers (a node that has heard no one's height cannot claim to be caught up).
        me = self.node.node_id
        sealers = set(self.node.core.sealers)
        known = sum(1 for peer in self.node.sync.peer_heights if peer in sealers and peer != me)
        wanted = v.needed - (1 if me in sealers else 0)
        detail = f"height {sync['blockNumber']}, best known {sync['knownHighestNumber']}"
        if known < wanted:
            detail += f"; heights known from {known} sealer(s), {wanted} needed"
        checks["synced"] = Check(behind <= MAX_LAG_BLOCKS and known >= wanted, detail)
        detail = f"hears {len(v.heard)} of {v.sealers} sealers, {v.needed} needed"
        if v.silent:
            detail += "; silent: " + ", ".join(liveness.name(s) for s in v.silent)
        checks["quorum"] = Check(v.ok, detail)
        checks["storage"] = self._storage()
        return checks

    def _storage(self) -> Check:
        data = self.node.config.data_dir
        probe = data / ".ready-probe"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
            os.unlink(probe)
            free = shutil.disk_usage(data).free
        except OSError as exc:
            return Check(False, f"{data} is not writable: {exc.strerror or exc}")
        if free < MIN_FREE_BYTES:
            return Check(False, f"only {free // (1024 * 1024)} MiB free under {data} (at least "
                                f"{MIN_FREE_BYTES // (1024 * 1024)} MiB wanted)")
        return Check(True, f"{free // (1024 * 1024)} MiB free")


def report(checks: dict[str, Check]) -> tuple[int, dict[str, Any]]:
    ok = all(c.ok for c in checks.values())
    return (200 if ok else 503), {"status": "ok" if ok else "fail", "checks": {k: c.json() for k, c in checks.items()}}
