"""The executor's view of state: committed state below, the block's writes above, one tx on top.

The executor never touches storage. It reads committed state through a
:class:`StateReader` (the Merkle state tree at the parent block's version, or a
dict in tests) and accumulates the block's write set; the caller applies that
set to the tree. A transaction writes into its own layer, which is merged into
the block layer only if it ends OK — that merge is the whole of "rollback".
"""

from __future__ import annotations

from typing import Protocol

from consortium.execution.limits import MAX_BLOCK_CACHE


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None:
        """Committed value of ``key`` before this block, or None."""
        ...


class DictReader:
    """A StateReader over a plain dict (tests, genesis, read-only calls on a snapshot)."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data = data if data is not None else {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: dict[bytes, bytes | None]) -> None:
        for k, v in writes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v


class BlockState:
    """Committed state plus the writes of the block's transactions executed so far."""

    __slots__ = ("reader", "writes", "_cache")

    def __init__(self, reader: StateReader) -> None:
        self.reader = reader
        self.writes: dict[bytes, bytes | None] = {}
        self._cache: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        writes = self.writes
        if key in writes:
            return writes[key]
        cache = self._cache
        if key in cache:
            return cache[key]
        value = self.reader.get(key)
        if len(cache) < MAX_BLOCK_CACHE:
            cache[key] = value
        return value

    def write_set(self) -> dict[bytes, bytes | None]:
        """The block's writes in key order (None = delete)."""
        return {k: self.writes[k] for k in sorted(self.writes)}


class TxState:
    """One transaction's pending writes over a :class:`BlockState`."""

    __slots__ = ("block", "pending")

    def __init__(self, block: BlockState) -> None:
        self.block = block
        self.pending: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        pending = self.pending
        if key in pending:
            return pending[key]
        return self.block.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.pending[key] = value

    def commit(self) -> None:
        self.block.writes.update(self.pending)
        self.pending = {}
