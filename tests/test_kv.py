"""The in-memory store must behave exactly like LevelDB behind the KV interface."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consortium.storage import LevelDBStore, MemoryStore, WriteBatch

keys = st.binary(min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(keys, st.binary(max_size=3) | st.none()), max_size=30),
    st.binary(max_size=2), st.none() | keys, st.booleans(),
)
# plyvel's reverse iterator dropped a key equal to the prefix when it was the database's last key.
@example(ops=[(b"a", b"")], prefix=b"a", start=None, reverse=True)
@example(ops=[(b"\x00", b"")], prefix=b"\x00", start=None, reverse=True)
@example(ops=[(b"\xff", b"")], prefix=b"\xff", start=None, reverse=True)
@example(ops=[(b"\xff", b"")], prefix=b"", start=b"\xff", reverse=True)
@example(ops=[(b"a", b""), (b"ab", b""), (b"b", b"")], prefix=b"a", start=b"a", reverse=True)
def test_memory_store_matches_leveldb(ops, prefix, start, reverse) -> None:
    tmp = tempfile.mkdtemp()
    try:
        db, mem = LevelDBStore(tmp), MemoryStore()
        batch = WriteBatch()
        for k, v in ops:
            if v is None:
                batch.delete(k)
            else:
                batch.put(k, v)
        db.write(batch)
        mem.write(batch)
        assert list(db.iterate(prefix, start=start, reverse=reverse)) == list(mem.iterate(prefix, start=start, reverse=reverse))
        for k, _ in ops:
            assert db.get(k) == mem.get(k)
        db.close()
    finally:
        shutil.rmtree(tmp)


def test_empty_keys_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="non-empty"):
        WriteBatch().put(b"", b"v")


def test_a_database_reopens_with_other_table_settings(tmp_path) -> None:
    """The node's ledger switched from snappy and 4 KiB blocks to no table compression and 16 KiB blocks:
    a data directory written before must read back whole afterwards, and after (LevelDB records both
    per table)."""
    def batch(tag: bytes, n: int) -> WriteBatch:
        b = WriteBatch()
        for i in range(n):
            b.put(tag + i.to_bytes(4, "big"), (tag * 50) + bytes(i % 251 for _ in range(100)))
        return b

    expected: dict[bytes, bytes] = {}
    for compression, block_kb, tag in (("snappy", 4, b"a"), (None, 16, b"b"), ("snappy", 16, b"c"), (None, 4, b"d")):
        db = LevelDBStore(tmp_path / "db", compression=compression, block_kb=block_kb)
        b = batch(tag, 3000)
        db.write(b)
        expected.update(b.ops)  # type: ignore[arg-type]
        db.compact()  # rewrite every table under this setting
        assert dict(db.iterate(b"")) == expected
        db.close()
    db = LevelDBStore(tmp_path / "db")
    assert dict(db.iterate(b"")) == expected
    db.close()
