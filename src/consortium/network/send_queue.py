"""A per-peer send queue bounded in frames and in bytes.

``put`` never blocks: consensus hands a message to every peer and moves on, so
one slow peer can delay nobody. When the queue is full the policy decides:
drop the oldest frame (the default; later consensus messages supersede older
ones, and PBFT recovers lost ones by view change and block sync) or raise
:class:`QueueOverflow` so the transport disconnects the peer.
"""

from __future__ import annotations

import asyncio
from collections import deque

from consortium.network.config import QueuePolicy
from consortium.network.errors import NetworkError


class QueueOverflow(NetworkError):
    """The queue is full under the disconnect policy."""


class SendQueue:
    def __init__(self, max_frames: int, max_bytes: int, policy: QueuePolicy = QueuePolicy.DROP_OLDEST) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("a send queue needs room for at least one frame and one byte")
        self._items: deque[bytes] = deque()
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._policy = policy
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, payload: bytes) -> None:
        """Enqueue; under drop-oldest make room first, under disconnect raise when full."""
        if self._closed:
            raise QueueOverflow("send queue is closed")
        if len(payload) > self._max_bytes:
            raise ValueError(f"payload of {len(payload)} bytes can never fit a queue of {self._max_bytes} bytes")
        while len(self._items) >= self._max_frames or self._bytes + len(payload) > self._max_bytes:
            if self._policy is QueuePolicy.DISCONNECT:
                raise QueueOverflow(f"send queue full ({len(self._items)} frames, {self._bytes} bytes)")
            self._bytes -= len(self._items.popleft())
            self.dropped += 1
        self._items.append(payload)
        self._bytes += len(payload)
        self._ready.set()

    def extend_front(self, payloads: list[bytes]) -> None:
        """Put frames handed over from a replaced connection ahead of newer ones (bounds still apply)."""
        newer = list(self._items)
        self._items.clear()
        self._bytes = 0
        for p in [*payloads, *newer]:
            self._put_or_drop(p)

    def _put_or_drop(self, payload: bytes) -> None:
        try:
            self.put(payload)
        except QueueOverflow:
            self.dropped += 1

    def take_all(self) -> list[bytes]:
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        self._ready.clear()
        return items

    def close(self) -> None:
        """No more puts; ``get_batch`` drains what is queued and then returns ``[]``."""
        self._closed = True
        self._ready.set()

    async def get_batch(self, max_bytes: int) -> list[bytes]:
        """At least one frame (or ``[]`` once closed and empty), up to about ``max_bytes``."""
        while not self._items:
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        batch = [self._items.popleft()]
        size = len(batch[0])
        while self._items and size + len(self._items[0]) <= max_bytes:
            item = self._items.popleft()
            batch.append(item)
            size += len(item)
        self._bytes -= size
        return batch
