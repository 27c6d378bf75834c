"""The state tree against a plain dict, on a real LevelDB: roots, reads and proofs at every version."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.state.state_reference import KEY_POOL, WriteOnceStore, reference_root

from consortium.state import EMPTY_ROOT, StateProof, StateTree, verify_proof
from consortium.storage.kv import LevelDBStore, MemoryStore, WriteBatch

values = st.one_of(st.none(), st.binary(max_size=6))
update_sets = st.dictionaries(st.sampled_from(KEY_POOL), values, max_size=14)
histories = st.lists(update_sets, min_size=1, max_size=6)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_history(tree: StateTree, kv, history: list[dict[bytes, bytes | None]]) -> list[tuple[bytes, dict]]:
    """Apply each update set as the next version; return (root, model) per version."""
    model: dict[bytes, bytes] = {}
    out = []
    start = 0 if tree.latest_version is None else tree.latest_version + 1
    for offset, updates in enumerate(history):
        batch = WriteBatch()
        root = tree.apply(start + offset, updates, batch)
        kv.write(batch)
        for key, value in updates.items():
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        out.append((root, dict(model)))
    return out


def check_version(tree: StateTree, version: int, root: bytes, model: dict[bytes, bytes]) -> None:
    assert tree.root(version) == root
    for key in KEY_POOL:
        expected = model.get(key)
        assert tree.get(key, version) == expected
        value, proof = tree.get_with_proof(key, version)
        assert value == expected
        verify_proof(root, key, value, proof)
        again = StateProof.decode(proof.encode())
        assert again == proof
        verify_proof(root, key, value, again)


@SETTINGS
@given(histories)
def test_matches_dict_at_every_version_on_leveldb(history) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kv = WriteOnceStore(LevelDBStore(Path(tmp) / "db"))
        try:
            tree = StateTree(kv)
            versions = run_history(tree, kv, history)
            for version, (root, model) in enumerate(versions):
                assert root == reference_root(model)
                check_version(tree, version, root, model)
            assert tree.root(-1) == EMPTY_ROOT
        finally:
            kv.close()


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(KEY_POOL), st.binary(max_size=4), max_size=20), st.randoms(use_true_random=False),
       st.lists(st.sampled_from(KEY_POOL), max_size=8), st.integers(min_value=1, max_value=5))
def test_root_independent_of_order_and_batching(final, rnd, noise, n_batches) -> None:
    """The same final map reached by different orders, batchings and detours has one root."""
    expected = reference_root(final)

    # All at once.
    tree = StateTree(MemoryStore())
    assert tree.apply(0, final, WriteBatch()) == expected

    # Shuffled, split into versions, with keys that are written then deleted on the way.
    items = list(final.items())
    rnd.shuffle(items)
    detour = [k for k in noise if k not in final]
    batches: list[dict[bytes, bytes | None]] = [dict() for _ in range(n_batches)]
    for i, (k, v) in enumerate(items):
        batches[i % n_batches][k] = v
    for k in detour:
        batches[0][k] = b"temporary"
    batches.append({k: None for k in detour})
    # Overwrite some values twice: first a wrong value, then the right one.
    if items:
        k, v = items[0]
        batches[0][k] = v + b"-old"
        batches[-1][k] = v
    kv = MemoryStore()
    tree = StateTree(kv)
    roots = run_history(tree, kv, batches)
    assert roots[-1][0] == expected


@SETTINGS
@given(histories, st.data())
def test_prune_keeps_retained_versions_and_leaks_nothing(history, data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kv = WriteOnceStore(LevelDBStore(Path(tmp) / "db"))
        try:
            tree = StateTree(kv)
            versions = run_history(tree, kv, history)
            latest = len(versions) - 1
            cut = data.draw(st.integers(min_value=0, max_value=latest), label="prune before")
            batch = WriteBatch()
            tree.prune(cut, batch)
            kv.write(batch)
            for version in range(cut, latest + 1):
                check_version(tree, version, *versions[version])
            # Pruning up to the latest version leaves exactly what the latest tree reaches.
            batch = WriteBatch()
            tree.prune(latest, batch)
            kv.write(batch)
            check_version(tree, latest, *versions[latest])
            assert_only_reachable_records(tree, kv, latest)
        finally:
            kv.close()


def assert_only_reachable_records(tree: StateTree, kv, version: int) -> None:
    """Every node and value record left in the store is reachable from ``version``'s root."""
    from consortium.state.nodes import INTERNAL_ENTRY_SIZE, LEAF_ENTRY_SIZE, NODE_KEY, decode_root, node_entries, value_key

    reachable_nodes: set[bytes] = set()
    reachable_values: set[bytes] = set()
    _, entry = decode_root(kv.get(b"SR" + version.to_bytes(8, "big")), version)

    def walk(entry: bytes, depth: int, path_hash: bytes | None) -> None:
        if len(entry) == LEAF_ENTRY_SIZE:
            reachable_values.add(value_key(entry[:32], entry[32:]))
        elif len(entry) == INTERNAL_ENTRY_SIZE:
            # The node's path is any key hash below it; find one by descending first.
            node_key = find_node_key(entry, depth, path_hash)
            reachable_nodes.add(node_key)
            entries = node_entries(tree._node(node_key))
            for i, child in enumerate(entries):
                if child:
                    walk(child, depth + 1, nibble_prefix(path_hash, depth, i))

    def nibble_prefix(prefix: bytes | None, depth: int, i: int) -> bytes:
        nibbles = (prefix or b"").hex()[:depth] + "%x" % i
        return bytes.fromhex((nibbles + "0" * 64)[:64])

    def find_node_key(entry: bytes, depth: int, path_hash: bytes | None) -> bytes:
        from consortium.state.nodes import node_path
        return NODE_KEY + entry + node_path(depth, path_hash or bytes(32))

    walk(entry, 0, None)
    stored_nodes = {k for k, _ in kv.iterate(b"SN")}
    stored_values = {k for k, v in kv.iterate(b"SV")}
    assert stored_nodes == reachable_nodes
    # Values: the live ones, plus nothing else (old values and tombstones are gone).
    assert stored_values == reachable_values
    assert [k for k, _ in kv.iterate(b"SR")] == [b"SR" + version.to_bytes(8, "big")]
