"""The tree's life on a store: versions, the caller-owned batch, reopening, pruning, corruption, suites."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.state.state_reference import KEY_POOL, WriteOnceStore, reference_root

from consortium.crypto.suite import Ed25519Sha256
from consortium.state import (
    EMPTY_ROOT,
    InvalidStateProof,
    StateCorrupted,
    StateTree,
    StateVersionError,
    verify_proof,
)
from consortium.state.nodes import (
    decode_internal,
    decode_root,
    decode_stale,
    decode_value,
    encode_internal,
    version_bytes,
)
from consortium.storage.kv import LevelDBStore, MemoryStore, WriteBatch

HISTORY: list[dict[bytes, bytes | None]] = [
    {b"a": b"1", b"b": b"2", b"c": b"3"},
    {b"a": b"1'", b"d": b"4"},
    {b"b": None, b"e": b"5"},
    {},
    {b"a": None, b"b": b"2''", b"zzz": None},
]


def models() -> list[dict[bytes, bytes]]:
    out, model = [], {}
    for updates in HISTORY:
        for k, v in updates.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        out.append(dict(model))
    return out


def commit_all(tree: StateTree, kv, history=HISTORY, start: int = 0) -> list[bytes]:
    roots = []
    for version, updates in enumerate(history, start):
        batch = WriteBatch()
        roots.append(tree.apply(version, updates, batch))
        kv.write(batch)
    return roots


def test_versions_must_be_consecutive_from_zero() -> None:
    kv = MemoryStore()
    tree = StateTree(kv)
    assert tree.latest_version is None
    with pytest.raises(StateVersionError, match="next version is 0"):
        tree.apply(1, {b"a": b"1"}, WriteBatch())
    batch = WriteBatch()
    tree.apply(0, {b"a": b"1"}, batch)
    # The tree never writes: until the caller writes the batch, version 0 does not exist.
    assert kv._data == {}
    with pytest.raises(StateVersionError, match="not committed"):
        tree.root(0)
    with pytest.raises(StateVersionError, match="next version is 0"):
        tree.apply(1, {b"a": b"2"}, WriteBatch())
    kv.write(batch)
    assert tree.latest_version == 0
    assert tree.get(b"a", 0) == b"1"
    for bad in (0, 2, -1, True, "1"):
        with pytest.raises(StateVersionError):
            tree.apply(bad, {}, WriteBatch())


def test_discarded_batch_can_be_recomputed_identically() -> None:
    kv = MemoryStore()
    tree = StateTree(kv)
    commit_all(tree, kv, HISTORY[:2])
    first, second = WriteBatch(), WriteBatch()
    root1 = tree.apply(2, HISTORY[2], first)
    root2 = tree.apply(2, HISTORY[2], second)  # first was discarded (never written)
    assert root1 == root2
    assert first.ops == second.ops


def test_reads_at_old_versions_and_bad_versions() -> None:
    kv = WriteOnceStore(MemoryStore())
    tree = StateTree(kv)
    roots = commit_all(tree, kv)
    for version, (root, model) in enumerate(zip(roots, models(), strict=True)):
        assert root == reference_root(model) == tree.root(version)
        for key in [b"a", b"b", b"c", b"d", b"e", b"zzz"]:
            assert tree.get(key, version) == model.get(key)
    assert tree.root(3) == tree.root(2)  # an empty block keeps the root
    assert tree.get(b"a", -1) is None and tree.get(b"a", None) is None
    for bad in (5, 100, -2, 1.0, "3"):
        with pytest.raises(StateVersionError):
            tree.root(bad)
        with pytest.raises(StateVersionError):
            tree.get(b"a", bad)
        with pytest.raises(StateVersionError):
            tree.get_with_proof(b"a", bad)


class CountingStore(MemoryStore):
    """Counts seeks (iterators) and point reads, to see which read path answered."""

    def __init__(self) -> None:
        super().__init__()
        self.seeks = 0
        self.point_reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.point_reads += 1
        return super().get(key)

    def iterate(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False):
        self.seeks += 1
        return super().iterate(prefix, start=start, reverse=reverse)


def test_newest_version_reads_are_point_reads_and_older_ones_seek() -> None:
    """A key's newest write answers reads at or after its version with one point read (also for a
    key never written); a read before that version, or of a deleted key's earlier value, seeks."""
    kv = CountingStore()
    tree = StateTree(kv)
    commit_all(tree, kv)
    latest = len(HISTORY) - 1
    model = models()
    for key in [b"a", b"b", b"c", b"d", b"e", b"zzz", b"never"]:
        kv.seeks = 0
        assert tree.get(key, latest) == model[latest].get(key)
        assert kv.seeks == 0, key
    kv.seeks = 0
    assert tree.get(b"a", 1) == b"1'" and tree.get(b"b", 1) == b"2"  # both rewritten at 4: seek
    assert kv.seeks == 2
    kv.seeks = 0
    assert tree.get(b"c", 1) == b"3" and tree.get(b"never", 0) is None  # newest write at 0, or none
    assert kv.seeks == 0


def test_a_store_without_the_newest_value_index_keeps_seeking(tmp_path) -> None:
    """Stores written before the index existed lack it: reads seek, and later versions do not start
    an index that would miss the keys written before (it would answer "never written")."""
    kv = CountingStore()
    legacy = StateTree(kv)
    commit_all(legacy, kv, HISTORY[:2])
    for key in [k for k in kv._data if k.startswith(b"SL")] + [b"SM/newest-index"]:
        del kv._data[key]  # as a store made by the earlier code looks
    tree = StateTree(kv)
    commit_all(tree, kv, HISTORY[2:], start=2)
    assert not any(k.startswith(b"SL") for k in kv._data)
    model = models()
    kv.seeks = 0
    for version in range(len(HISTORY)):
        for key in [b"a", b"b", b"c", b"d", b"e"]:
            assert tree.get(key, version) == model[version].get(key)
    assert kv.seeks == 5 * len(HISTORY)


def test_keys_and_values_must_be_bytes() -> None:
    tree = StateTree(MemoryStore())
    with pytest.raises(TypeError, match="keys must be bytes"):
        tree.apply(0, {"a": b"1"}, WriteBatch())
    with pytest.raises(TypeError, match="values must be bytes"):
        tree.apply(0, {b"a": 1}, WriteBatch())


def test_reopen_leveldb_reads_proves_and_continues(tmp_path) -> None:
    path = tmp_path / "db"
    kv = LevelDBStore(path)
    roots = commit_all(StateTree(kv), kv, HISTORY[:3])
    kv.close()

    kv = LevelDBStore(path)
    try:
        tree = StateTree(kv)
        assert tree.latest_version == 2
        for version, (root, model) in enumerate(zip(roots, models()[:3], strict=True)):
            assert tree.root(version) == root
            for key in [b"a", b"b", b"c", b"d", b"e", b"nope"]:
                value, proof = tree.get_with_proof(key, version)
                assert value == model.get(key) == tree.get(key, version)
                verify_proof(root, key, value, proof)
        more = commit_all(tree, kv, HISTORY[3:], start=3)
        assert more[-1] == reference_root(models()[-1])
    finally:
        kv.close()


@pytest.mark.parametrize("cache_nodes", [0, 1, 3])
def test_results_do_not_depend_on_the_node_cache(cache_nodes: int, tmp_path) -> None:
    history = [{k: b"%d-%d" % (i, v) for i, k in enumerate(KEY_POOL) if (i + v) % 3} for v in range(4)]
    history.append({k: None for k in KEY_POOL[::2]})
    expected_kv = MemoryStore()
    expected = commit_all(StateTree(expected_kv), expected_kv, history)
    kv = LevelDBStore(tmp_path / "db")
    try:
        tree = StateTree(kv, cache_nodes=cache_nodes)
        assert commit_all(tree, kv, history) == expected
        reopened = StateTree(kv, cache_nodes=cache_nodes)
        for version, root in enumerate(expected):
            for key in KEY_POOL:
                value, proof = reopened.get_with_proof(key, version)
                verify_proof(root, key, value, proof)
    finally:
        kv.close()


def test_prune_drops_old_versions_only() -> None:
    kv = WriteOnceStore(MemoryStore())
    tree = StateTree(kv)
    roots = commit_all(tree, kv)
    before = len(kv.keys())
    with pytest.raises(StateVersionError):
        tree.prune(5, WriteBatch())
    batch = WriteBatch()
    deleted = tree.prune(2, batch)
    assert deleted > 0
    # Refused at once (conservative), even before the batch is written.
    with pytest.raises(StateVersionError, match="pruned"):
        tree.get(b"a", 1)
    kv.write(batch)
    assert len(kv.keys()) < before
    assert tree.oldest_version == 2
    for version in (0, 1):
        with pytest.raises(StateVersionError, match="pruned"):
            tree.root(version)
        with pytest.raises(StateVersionError, match="pruned"):
            tree.get_with_proof(b"a", version)
    for version in (2, 3, 4):
        model = models()[version]
        for key in [b"a", b"b", b"c", b"d", b"e"]:
            value, proof = tree.get_with_proof(key, version)
            assert value == model.get(key) == tree.get(key, version)
            verify_proof(roots[version], key, value, proof)
    assert tree.prune(1, WriteBatch()) == 0  # already below the floor
    # A reopened tree knows the floor.
    with pytest.raises(StateVersionError, match="pruned"):
        StateTree(kv).get(b"a", 1)


def test_missing_or_corrupt_node_is_reported_as_corruption() -> None:
    kv = MemoryStore()
    tree = StateTree(kv, cache_nodes=0)
    commit_all(tree, kv, [{b"k%d" % i: b"v" for i in range(40)}])
    node_key = next(k for k in kv._data if k.startswith(b"SN"))
    kv._data[node_key] = b"\x20garbage"
    with pytest.raises(StateCorrupted, match=node_key.hex()):
        for i in range(40):
            tree.get_with_proof(b"k%d" % i, 0)
    with pytest.raises(StateCorrupted):
        tree.apply(1, {b"k%d" % i: b"w" for i in range(40)}, WriteBatch())
    del kv._data[node_key]
    with pytest.raises(StateCorrupted, match="missing"):
        tree.apply(1, {b"k%d" % i: b"w" for i in range(40)}, WriteBatch())
    kv._data[b"SR" + version_bytes(0)] = b"\x22short"
    with pytest.raises(StateCorrupted, match="root record"):
        tree.root(0)
    kv._data[b"SM/latest"] = b"\x00"
    with pytest.raises(StateCorrupted, match="meta"):
        StateTree(kv)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700))
def test_record_decoders_raise_only_state_corrupted(data) -> None:
    for decode in (decode_internal, lambda d: decode_root(d, 7), decode_value, decode_stale):
        try:
            decode(data)
        except StateCorrupted:
            pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([0, 8, 40]), min_size=16, max_size=16), st.binary(max_size=900),
       st.integers(min_value=-40, max_value=40))
def test_node_decoder_on_plausible_headers(sizes, tail, trim) -> None:
    n = 16 - sizes.count(0)
    body = (tail * (1 + (32 * n + sum(sizes)) // max(1, len(tail))))[:max(0, 32 * n + sum(sizes) + trim)]
    data = b"\x20" + bytes(sizes) + body
    try:
        preimage, got_sizes, entries = decode_internal(data)
    except StateCorrupted:
        assert trim != 0 or n == 0 or len(body) != 32 * n + sum(sizes)
        return
    assert [len(e) for e in entries] == sizes and len(preimage) == 513
    assert encode_internal(preimage, got_sizes, entries) == data


class Blake2Suite(Ed25519Sha256):
    """Same signatures, a different 32-byte hash: stands in for a second suite (e.g. SM3)."""

    name = "test-blake2"

    def hash(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=32).digest()


def test_another_suite_changes_every_hash_consistently() -> None:
    suite = Blake2Suite()
    kv = MemoryStore()
    tree = StateTree(kv, suite=suite)
    roots = commit_all(tree, kv)
    blake = lambda d: hashlib.blake2b(d, digest_size=32).digest()  # noqa: E731
    for version, (root, model) in enumerate(zip(roots, models(), strict=True)):
        assert root == reference_root(model, h=blake)
        assert root != reference_root(model) or not model
        for key in [b"a", b"b", b"e"]:
            value, proof = tree.get_with_proof(key, version)
            assert value == model.get(key)
            verify_proof(root, key, value, proof, suite)
            if model:
                with pytest.raises(InvalidStateProof):
                    verify_proof(root, key, value, proof)  # the default suite's hash
    assert tree.root(-1) == EMPTY_ROOT
