"""Answering "where is my item, and its proof?": status, and the per-item bundle once committed.

The per-item bundle is the item, its path in the batch tree and the batch's stored
ordinary bundle (evidence/item_bundle.py, protocol.md §12.4). The batch bundle is the
same for every item of a batch, so its JSON text is spliced in as stored, and trees
of recent batches stay in memory (an LRU bounded in items) so a path costs O(log n);
an older batch's tree is rebuilt from the item log when asked.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from consortium.encoding import canonical
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.item import EvidenceItem
from consortium.evidence.item_bundle import ITEM_BUNDLE_TYPE, ITEM_BUNDLE_VERSION
from consortium.gateway.anchor import Anchor
from consortium.gateway.store import BatchRecord, BatchState, GatewayStore
from consortium.gateway.tree import BatchTree

T = TypeVar("T")

QUEUED, SEALED, COMMITTED, FAILED = "queued", "sealed", "committed", "failed"


@dataclass(frozen=True)
class ItemStatus:
    commitment: bytes
    seq: int
    status: str
    """queued (durable, not yet in a batch), sealed (in a batch on its way to the chain),
    committed (proof available) or failed (the batch can never be anchored)."""
    batch: BatchRecord | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"commitment": to_hex(self.commitment), "seq": self.seq, "status": self.status}
        if self.batch is not None:
            doc["batch"] = {"first": self.batch.first, "size": self.batch.count, "root": to_hex(self.batch.root),
                            "index": self.seq - self.batch.first}
            if self.batch.block:
                doc["batch"]["block"] = self.batch.block
            if self.batch.error:
                doc["batch"]["error"] = self.batch.error
        return doc


class LruCache(OrderedDict[int, T]):
    def __init__(self, weigh: Callable[[T], int], budget: int) -> None:
        super().__init__()
        self._weigh = weigh
        self._budget = budget
        self.weight = 0

    def put(self, key: int, value: T) -> None:
        if key in self:
            self.weight -= self._weigh(self.pop(key))
        self[key] = value
        self.weight += self._weigh(value)
        while self.weight > self._budget and len(self) > 1:
            _, old = self.popitem(last=False)
            self.weight -= self._weigh(old)

    def hit(self, key: int) -> T | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


class Proofs:
    def __init__(self, store: GatewayStore, anchor: Anchor, reader: Executor, *, tree_budget_items: int) -> None:
        self.store = store
        self.anchor = anchor
        self._reader = reader
        self.trees: LruCache[BatchTree] = LruCache(lambda t: t.size, tree_budget_items)
        self.bundles: LruCache[str] = LruCache(len, 16 * 1024 * 1024)
        self._tick = asyncio.Event()

    def on_commit(self, record: BatchRecord, tree: BatchTree, bundle: bytes) -> None:
        """Called by the anchor when a batch becomes final (committed, or failed with an empty bundle)."""
        if bundle:
            self.trees.put(record.first, tree)
            self.bundles.put(record.first, bundle.decode())
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    async def status(self, commitment: bytes) -> ItemStatus | None:
        seq = self.store.seq_of(commitment)
        if seq is None:
            return None
        if seq >= self.anchor.unsealed_first:
            return ItemStatus(commitment, seq, QUEUED)
        flight = self.anchor.flight_of(seq)
        if flight is not None:
            return ItemStatus(commitment, seq, SEALED, flight.record)
        record = await self._read(self.store.batch_of, seq)
        if record is None:  # pragma: no cover - sealed items always have a batch record
            return ItemStatus(commitment, seq, QUEUED)
        if record.state == BatchState.SEALED:  # committed between the two looks: ask again
            return await self.status(commitment)
        return ItemStatus(commitment, seq, COMMITTED if record.state == BatchState.COMMITTED else FAILED, record)

    async def wait_final(self, commitment: bytes, timeout: float) -> ItemStatus | None:
        """The item's status once committed or failed, or as it is when ``timeout`` runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tick = self._tick
            status = await self.status(commitment)
            if status is None or status.status in (COMMITTED, FAILED):
                return status
            remaining = deadline - loop.time()
            if remaining <= 0:
                return status
            try:
                await asyncio.wait_for(tick.wait(), remaining)
            except TimeoutError:
                pass

    async def bundle_text(self, status: ItemStatus) -> str:
        """The per-item proof bundle (compact JSON) of a committed item."""
        record = status.batch
        assert record is not None and status.status == COMMITTED
        tree = self.trees.hit(record.first)
        if tree is None:
            tree = await self._read(lambda: BatchTree(self.store.items(record.first, record.count)))
            self.trees.put(record.first, tree)
        batch = self.bundles.hit(record.first)
        if batch is None:
            raw = await self._read(self.store.proof, record.first)
            if raw is None:
                raise RuntimeError(f"batch {record.first} is committed but its proof is missing: database damaged")
            batch = raw.decode()
            self.bundles.put(record.first, batch)
        index = status.seq - record.first
        item = await self._item(status.seq)
        path = canonical.encode(tree.path(index).to_value())
        return (f'{{"type":"{ITEM_BUNDLE_TYPE}","version":{ITEM_BUNDLE_VERSION},"item":"{to_hex(item)}",'
                f'"path":"{to_hex(path)}","batch":{batch}}}')

    async def _item(self, seq: int) -> bytes:
        raw = self.store.item(seq)
        if raw is None:
            raise RuntimeError(f"item {seq} is missing from the log: database damaged")
        return raw

    async def item(self, seq: int) -> EvidenceItem:
        return EvidenceItem.decode(await self._item(seq))
