"""A bounded in-memory map of decoded tree nodes.

Nodes are immutable once keyed (``version || path``), so a cache can never
serve a stale node; it only saves LevelDB reads and decoding. Correctness never
depends on it: a miss reads the store.
"""

from __future__ import annotations

from consortium.state.nodes import Node


class NodeCache:
    """Two generations of plain dicts, approximating LRU at dict speed.

    New and recently used nodes live in the young generation; when it reaches
    half the limit, the old generation is dropped whole and the young one
    becomes old. A hit in the old generation moves the node back to the young
    one. So anything used within the last ``limit / 2`` insertions survives, and
    eviction is O(1) with no per-entry bookkeeping. ``OrderedDict`` costs about
    three times as much per operation, and this sits on the block-commit hot path.

    Safe to read from another thread while one thread writes: every step is a
    single dict operation, and the worst a race can cause is a miss.
    """

    __slots__ = ("young", "old", "half")

    def __init__(self, limit: int) -> None:
        self.half = max(0, limit) // 2
        self.young: dict[bytes, Node] = {}
        self.old: dict[bytes, Node] = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def get(self, key: bytes) -> Node | None:
        node = self.young.get(key)
        if node is None:
            node = self.old.pop(key, None)
            if node is not None:
                self.put(key, node)
        return node

    def peek(self, key: bytes) -> Node | None:
        """``key``'s node without refreshing it: for readers that must not change the cache."""
        node = self.young.get(key)
        return self.old.get(key) if node is None else node

    def take(self, key: bytes) -> Node | None:
        """Remove and return ``key``'s node: the caller is about to supersede it."""
        node = self.young.pop(key, None)
        if node is None:
            node = self.old.pop(key, None)
        return node

    def put(self, key: bytes, node: Node) -> None:
        if not self.half:
            return
        young = self.young
        young[key] = node
        if len(young) >= self.half:
            self.old = young
            self.young = {}
