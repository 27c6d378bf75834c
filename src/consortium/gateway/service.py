"""The composition root: store, intake, anchor and proofs wired together, run until SIGTERM.

Threads: the event loop (HTTP, parsing, scheduling), one I/O thread (every LevelDB
write, serialized, so duplicate checks are race-free), one reader thread (rebuilding
old trees, batch lookups) and the anchor's fetcher thread (proof bundles from the node).
Shutdown on SIGTERM/SIGINT: stop accepting, let the group commit in progress finish,
then stop; whatever was acknowledged is in the log and is sealed on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from aiohttp import web

from consortium.client.sdk import Client
from consortium.crypto import load_key
from consortium.crypto.suite import KeyPair
from consortium.evidence.item import EvidenceItem
from consortium.gateway.anchor import Anchor
from consortium.gateway.config import GatewayConfig
from consortium.gateway.intake import Intake
from consortium.gateway.metrics import GatewayMetrics
from consortium.gateway.proofs import Proofs
from consortium.gateway.store import Appended, BatchRecord, Duplicate, GatewayStore
from consortium.gateway.tree import BatchTree

log = logging.getLogger("consortium.gateway")

TREE_CACHE_ITEMS = 1 << 18
"""Trees of the most recent batches kept for paths (~180 bytes an item: ~46 MiB); older ones are rebuilt
from the item log when asked. Most proofs are fetched within seconds of their batch's commit."""


class Overloaded(Exception):
    """The gateway holds as many open items as it may; the client should retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Gateway:
    def __init__(self, config: GatewayConfig, key: KeyPair | None = None) -> None:
        self.config = config
        self.key = key if key is not None else load_key(config.account_key)
        self.store = GatewayStore(config.data_dir)
        self.io = ThreadPoolExecutor(1, thread_name_prefix="gateway-io")
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="gateway-read")
        self.client = Client(config.node_rpc, timeout=10.0)
        self.anchor = Anchor(self.store, self.io, self.client, self.key, node_rpc=config.node_rpc,
                             interval_s=config.interval_ms / 1000, max_items=config.max_batch_items,
                             max_inflight=config.max_inflight, on_commit=self._on_commit,
                             on_proof_times=self._on_proof_times)
        self.proofs = Proofs(self.store, self.anchor, self.reader,
                             tree_budget_items=TREE_CACHE_ITEMS)
        self.intake = Intake(self.store, self.io, self._on_durable, max_group_items=max(config.max_request_items, 50_000))
        self.started = time.time()
        self.accepted_items = 0
        self.refused_overload = 0
        self.metrics = GatewayMetrics(self)

    def _on_durable(self, first: int, items: Sequence[EvidenceItem]) -> None:
        self.accepted_items += len(items)
        self.anchor.add_durable(first, [i.encoded for i in items])

    def _on_commit(self, record: BatchRecord, tree: BatchTree, bundle: bytes) -> None:
        self.proofs.on_commit(record, tree, bundle)

    def _on_proof_times(self, times: list[tuple[float, int]]) -> None:
        self.metrics.time_to_proof.observe_many(times)

    def held_items(self) -> int:
        """Items received or acknowledged and not yet in a committed batch: what the memory bound counts."""
        return self.anchor.open_items + self.intake.queued_items

    def admit(self, count: int) -> None:
        """Refuse a request of ``count`` items with :class:`Overloaded` if it would pass the memory bound."""
        held = self.held_items()
        if held + count > self.config.max_pending_items:
            self.refused_overload += 1
            behind = len(self.anchor.flights) >= self.config.max_inflight
            raise Overloaded(f"the gateway holds {held} items not yet anchored (limit "
                             f"{self.config.max_pending_items})" + ("; the chain is behind" if behind else ""),
                             retry_after=1 if not behind else 2)

    async def submit(self, items: list[EvidenceItem]) -> Appended | list[Duplicate]:
        self.admit(len(items))
        return await self.intake.submit(items)

    def status(self) -> dict[str, object]:
        a = self.anchor
        return {
            "gateway": self.config.url,
            "node": self.config.node_rpc,
            "account": "0x" + self.key.address.hex(),
            "uptimeSeconds": int(time.time() - self.started),
            "nextSeq": self.store.next_seq,
            "acceptedItems": self.accepted_items,
            "queuedItems": len(a.unsealed),
            "openBatches": len(a.flights),
            "openItems": a.open_items,
            "committedBatches": a.committed_batches,
            "committedItems": a.committed_items,
            "chainHeight": a.height,
            "groupCommits": self.intake.groups,
            "refusedOverloaded": self.refused_overload,
            "maxPendingItems": self.config.max_pending_items,
            "failedBatches": a.failed_batches,
            "signedAgain": dict(a.signed_again),
            "oldestPendingSeconds": round(a.oldest_open_age(), 3),
            "memory": {"treeCacheItems": self.proofs.trees.weight, "bundleCacheBytes": self.proofs.bundles.weight,
                       "leveldbBytes": self.store.memory_bytes()},
            "lastError": a.last_error,
        }

    async def run(self, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
        from consortium.gateway.http import make_app

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.io, self.anchor.recover)
        app = make_app(self)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
            log.info("gateway listening on %s for node %s as account 0x%s (%d items in the log)",
                     self.config.url, self.config.node_rpc, self.key.address.hex(), self.store.next_seq)
            if ready is not None:
                ready.set()
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self.intake.run(), name="intake"),
                         tg.create_task(self.anchor.seal_loop(), name="seal"),
                         tg.create_task(self.anchor.track_loop(), name="track")]
                await stop.wait()
                log.info("stopping: no new items; finishing the group commit in progress")
                await runner.shutdown()
                await self.intake.submit([])  # FIFO: answered once every earlier request is durable
                for t in tasks:
                    t.cancel()
        finally:
            await runner.cleanup()
            await self.client.close()
            self.anchor.close()
            self.io.shutdown(wait=True)
            self.reader.shutdown(wait=True)
            self.store.close()
            log.info("gateway stopped")


async def serve(config: GatewayConfig) -> int:
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        with suppress(asyncio.CancelledError):
            await gateway.run(stop)
    except OSError as exc:
        log.error("gateway failed: %s", exc)
        return 2
    return 0
