"""The key-value interface every persistent part of the node writes through.

Two implementations: :class:`LevelDBStore` (plyvel), the only one a node uses,
and :class:`MemoryStore`, for unit tests of logic above storage. Writes happen
only through a :class:`WriteBatch` applied in one call, because everything a
block commits (block, receipts, indexes, state nodes, head pointer) must land
atomically or not at all.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import plyvel


class StorageError(RuntimeError):
    """The database cannot be opened or written (locked, corrupted, disk full)."""


class WriteBatch:
    """An ordered list of puts and deletes, applied atomically by :meth:`KVStore.write`."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[tuple[bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes) -> None:
        if not key:
            # LevelDB accepts b"", but plyvel's reverse iteration skips it: keys are non-empty by contract.
            raise ValueError("KV keys must be non-empty")
        self.ops.append((key, value))

    def delete(self, key: bytes) -> None:
        self.ops.append((key, None))

    def __len__(self) -> int:
        return len(self.ops)


class KVStore(ABC):
    @abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    @abstractmethod
    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        """Apply every operation of ``batch`` atomically; with ``sync`` it is durable on return."""

    @abstractmethod
    def iterate(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with ``prefix``, in key order (descending with ``reverse``),
        beginning at ``start`` (inclusive) if given: keys >= start forwards, keys <= start in reverse."""

    @abstractmethod
    def close(self) -> None: ...

    def put(self, key: bytes, value: bytes, *, sync: bool = True) -> None:
        batch = WriteBatch()
        batch.put(key, value)
        self.write(batch, sync=sync)

    def __enter__(self) -> KVStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryStore(KVStore):
    """A dict behind the KV interface. For tests of logic above storage only."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        with self._lock:
            for key, value in batch.ops:
                if value is None:
                    self._data.pop(key, None)
                else:
                    self._data[key] = value
            self.writes += 1

    def iterate(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        keys = sorted(k for k in self._data if k.startswith(prefix))
        if reverse:
            keys = [k for k in reversed(keys) if start is None or k <= start]
        elif start is not None:
            keys = [k for k in keys if k >= start]
        for k in keys:
            yield k, self._data[k]

    def close(self) -> None:
        pass


class LevelDBStore(KVStore):
    """LevelDB through plyvel. One process may hold a database at a time (LevelDB's LOCK file)."""

    def __init__(self, path: Path | str, *, create: bool = True, cache_mb: int = 64, write_buffer_mb: int = 64,
                 compression: str | None = "snappy", block_kb: int = 4) -> None:
        """``compression`` ("snappy" or None) and ``block_kb`` (the size of a table's blocks) apply to the
        tables LevelDB writes from now on; tables already written keep theirs (each table and block
        records them), so a database can be reopened with other settings."""
        self.path = Path(path)
        try:
            # Larger memtable and files keep compaction from stalling Merkle-heavy write loads
            # (benchmarks/state_bench.py --tuned-leveldb); the bloom filter saves disk reads on
            # lookups of absent keys (new state keys, tx-hash duplicate checks).
            self._db = plyvel.DB(
                str(self.path),
                create_if_missing=create,
                lru_cache_size=cache_mb * 1024 * 1024,
                write_buffer_size=write_buffer_mb * 1024 * 1024,
                max_file_size=16 * 1024 * 1024,
                bloom_filter_bits=10,
                paranoid_checks=True,
                compression=compression,
                block_size=block_kb * 1024,
            )
        except plyvel.IOError as exc:
            raise StorageError(
                f"cannot open database {self.path}: {_text(exc)} "
                "(is another node process using this data directory?)"
            ) from None
        except plyvel.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {_text(exc)}") from None
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def compact(self) -> None:
        """Compact the whole key space now (what LevelDB otherwise does in the background), e.g. to
        measure the settled size of a data directory."""
        self._db.compact_range()

    def property(self, name: str) -> str | None:
        """A LevelDB property such as ``leveldb.stats`` or ``leveldb.approximate-memory-usage``."""
        value = self._db.get_property(name.encode())
        return None if value is None else value.decode(errors="replace")

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        try:
            with self._db.write_batch(sync=sync) as wb:
                for key, value in batch.ops:
                    if value is None:
                        wb.delete(key)
                    else:
                        wb.put(key, value)
        except plyvel.Error as exc:
            raise StorageError(f"write to {self.path} failed: {_text(exc)}") from None

    def iterate(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        if reverse:
            yield from self._iterate_reverse(prefix, start)
            return
        with self._db.iterator(start=prefix if start is None else max(start, prefix), stop=_prefix_end(prefix)) as it:
            for k, v in it:
                if k.startswith(prefix):
                    yield k, v

    def _iterate_reverse(self, prefix: bytes, start: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Descending iteration with explicit seeks.

        plyvel's own reverse iterator (1.5.1) drops the first key of a range when that key is
        the last key of the database and equals the range's lower bound (only key b"a", prefix
        b"a" gave []), so the bounds are applied here on a raw iterator instead: seek to the
        exclusive upper bound, step back once, then walk back while keys keep the prefix.
        """
        upper = _prefix_end(prefix)  # exclusive
        if start is not None:
            inclusive_stop = start + b"\x00"  # smallest key greater than start
            upper = inclusive_stop if upper is None else min(upper, inclusive_stop)
        it = self._db.raw_iterator()
        try:
            if upper is None:
                it.seek_to_last()
            else:
                it.seek(upper)
                if it.valid():
                    it.prev()
                else:
                    it.seek_to_last()
            while it.valid():
                key = it.key()
                if not key.startswith(prefix):
                    return  # below the range: every key in [prefix, upper) has the prefix
                yield key, it.value()
                it.prev()
        finally:
            it.close()

    def snapshot_copy(self, dest: Path | str, *, batch_bytes: int = 4 * 1024 * 1024) -> int:
        """Copy one consistent snapshot of this database into a new LevelDB at ``dest`` (for backups,
        while the node keeps writing); returns the number of keys copied."""
        snapshot = self._db.snapshot()
        try:
            out = plyvel.DB(str(dest), create_if_missing=True, error_if_exists=True)
        except plyvel.Error as exc:
            snapshot.close()
            raise StorageError(f"cannot create {dest}: {_text(exc)}") from None
        copied = 0
        try:
            batch, size = out.write_batch(sync=False), 0
            with snapshot.iterator() as it:
                for key, value in it:
                    batch.put(key, value)
                    copied += 1
                    size += len(key) + len(value)
                    if size >= batch_bytes:
                        batch.write()
                        batch, size = out.write_batch(sync=False), 0
            batch.write()
            out.compact_range()
        except plyvel.Error as exc:
            raise StorageError(f"copying {self.path} to {dest} failed: {_text(exc)}") from None
        finally:
            out.close()
            snapshot.close()
        return copied

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()


def _text(exc: Exception) -> str:
    """plyvel's messages are bytes (``b'IO error: ...'``); people should read text."""
    arg = exc.args[0] if exc.args else ""
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(exc)


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key with ``prefix`` (None: no upper bound)."""
    b = bytearray(prefix)
    while b:
        if b[-1] != 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return None
