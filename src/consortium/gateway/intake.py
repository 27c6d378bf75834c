"""Group commit: many concurrent requests, one synced LevelDB write.

Handlers hand their parsed items to :meth:`Intake.submit` and wait. One task takes
everything queued, makes it durable with a single ``sync`` write in the I/O thread
(``GatewayStore.append``), then answers every request of the group at once. While
that fsync runs, the next group forms, so the fsync rate stays near the disk's and
the item rate is bounded by CPU, not by fsyncs (the PostgreSQL / etcd WAL pattern).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from consortium.evidence.item import EvidenceItem
from consortium.gateway.store import Appended, Duplicate, GatewayStore

log = logging.getLogger("consortium.gateway.intake")

OnDurable = Callable[[int, Sequence[EvidenceItem]], None]
"""Called in sequence order with ``(first_seq, items)`` once items are durable, before they are acknowledged."""


@dataclass
class _Request:
    items: Sequence[EvidenceItem]
    future: asyncio.Future[Appended | list[Duplicate]]


class Intake:
    def __init__(self, store: GatewayStore, io: Executor, on_durable: OnDurable, *, max_group_items: int) -> None:
        self._store = store
        self._io = io
        self._on_durable = on_durable
        self._max_group = max_group_items
        self._queue: deque[_Request] = deque()
        self._wake = asyncio.Event()
        self.queued_items = 0
        """Items received but not yet durable (counted against the memory bound)."""
        self.groups = 0
        self.fsynced_items = 0

    async def submit(self, items: Sequence[EvidenceItem]) -> Appended | list[Duplicate]:
        """Durable and numbered (``Appended``), or refused whole because of the listed duplicates."""
        future: asyncio.Future[Appended | list[Duplicate]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(items, future))
        self.queued_items += len(items)
        self._wake.set()
        return await future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group: list[_Request] = []
                n = 0
                while self._queue and (not group or n + len(self._queue[0].items) <= self._max_group):
                    request = self._queue.popleft()
                    group.append(request)
                    n += len(request.items)
                try:
                    results = await loop.run_in_executor(self._io, self._store.append, [r.items for r in group])
                except Exception as exc:  # storage failure: these requests are not acknowledged
                    log.error("cannot make %d items durable: %s", n, exc)
                    for r in group:
                        if not r.future.done():
                            r.future.set_exception(exc)
                    results = None
                finally:
                    self.queued_items -= n
                if results is None:
                    continue
                self.groups += 1
                for request, result in zip(group, results, strict=True):
                    if isinstance(result, Appended):
                        self.fsynced_items += result.count
                        self._on_durable(result.first, request.items)
                    if not request.future.done():
                        request.future.set_result(result)

    def fail_pending(self, exc: BaseException) -> None:
        """At shutdown: requests never made durable are answered with ``exc`` (not acknowledged)."""
        while self._queue:
            request = self._queue.popleft()
            self.queued_items -= len(request.items)
            if not request.future.done():
                request.future.set_exception(exc)
