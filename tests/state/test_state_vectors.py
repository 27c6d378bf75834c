"""Fixed vectors: known roots and stored bytes, so an accidental format change fails loudly.

The hashing rule, so a reader can recompute every root here by hand
(H = SHA-256, key_hash = H(key), nibbles of key_hash high-first):

    empty subtree  = 32 zero bytes (the empty tree's root too)
    one key        = H(0x21 || key_hash || H(value))
    2+ keys        = H(0x20 || child_0 || ... || child_15), child i = subtree of the keys
                     whose key_hash has nibble i at this depth

The roots below were computed once with tests/state/state_reference.py (the rule
above as a ten-line recursive function) and are pinned as hex.
"""

from __future__ import annotations

import pytest
from tests.state.state_reference import DEEP_PAIR, reference_root, sha

from consortium.state import EMPTY_ROOT, StateTree
from consortium.state.nodes import version_bytes
from consortium.storage.kv import LevelDBStore, MemoryStore, WriteBatch

VECTORS = [
    ({b"a": b"1"}, "038bcf7bde3ae99c9f04b2c189a2adc8500887ec67423a26ec27bed17324d1e6"),
    ({b"a": b"1", b"b": b"2"}, "dbf339e766ee4c8ff4f342c3315a0b481ae00edc34acce2afdf3bf6b6842fb61"),
    ({b"k%d" % i: b"v%d" % i for i in range(5)}, "20d6cdce55d11e58d34dbf112638eacfc9f46db2fadca11ba9911325ffe29517"),
    ({b"": b""}, "f164e1addb3c64432c080a8e7d27e61d396ed47a9f36d7f59a68c1bb909d276c"),
    # Two keys whose hashes share 4 nibbles (f690...): a chain of single-child nodes.
    ({DEEP_PAIR[0]: b"x", DEEP_PAIR[1]: b"y"}, "f8a9f4479f412f30648ee58f65e6e2fa0d5528b481128c605a260ac20ba0c4aa"),
]


def _root_of(state: dict[bytes, bytes], kv=None) -> bytes:
    tree = StateTree(kv or MemoryStore())
    batch = WriteBatch()
    root = tree.apply(0, state, batch)
    return root


def test_empty_tree_root_is_zero_hash() -> None:
    assert EMPTY_ROOT == bytes(32)
    tree = StateTree(MemoryStore())
    assert tree.root(-1) == EMPTY_ROOT
    assert tree.root(None) == EMPTY_ROOT
    assert _root_of({}) == EMPTY_ROOT


def test_single_leaf_by_hand() -> None:
    expected = sha(bytes([0x21]) + sha(b"a") + sha(b"1"))
    assert _root_of({b"a": b"1"}) == expected


def test_two_leaves_by_hand() -> None:
    # H("a") = ca97..., H("b") = 3e23...: the root is an internal node with leaves at 0xc and 0x3.
    children = [bytes(32)] * 16
    children[0xC] = sha(bytes([0x21]) + sha(b"a") + sha(b"1"))
    children[0x3] = sha(bytes([0x21]) + sha(b"b") + sha(b"2"))
    expected = sha(bytes([0x20]) + b"".join(children))
    assert _root_of({b"a": b"1", b"b": b"2"}) == expected


@pytest.mark.parametrize(("state", "root_hex"), VECTORS)
def test_pinned_roots(state: dict[bytes, bytes], root_hex: str, tmp_path) -> None:
    assert reference_root(state).hex() == root_hex
    assert _root_of(state).hex() == root_hex
    kv = LevelDBStore(tmp_path / "db")
    try:
        assert _root_of(state, kv).hex() == root_hex
    finally:
        kv.close()


def test_stored_layout_of_a_two_leaf_tree() -> None:
    """The byte layout of docs/protocol.md §5: node, value, root and meta records."""
    kv = MemoryStore()
    tree = StateTree(kv)
    batch = WriteBatch()
    root = tree.apply(0, {b"a": b"1", b"b": b"2"}, batch)
    kv.write(batch)
    v0 = version_bytes(0)
    inv0 = b"\xff" * 8  # value keys hold ~version

    leaf_a = sha(bytes([0x21]) + sha(b"a") + sha(b"1"))
    leaf_b = sha(bytes([0x21]) + sha(b"b") + sha(b"2"))
    preimage = bytearray(bytes([0x20]) + bytes(512))
    preimage[1 + 32 * 0x3:1 + 32 * 0x4] = leaf_b
    preimage[1 + 32 * 0xC:1 + 32 * 0xD] = leaf_a
    assert sha(bytes(preimage)) == root
    # Stored: tag, 16 entry sizes, hashes of the present children, their entries.
    sizes = bytearray(16)
    sizes[0x3] = sizes[0xC] = 40
    node = bytes([0x20]) + bytes(sizes) + leaf_b + leaf_a + sha(b"b") + v0 + sha(b"a") + v0
    assert kv.get(b"SN" + v0 + b"\x00") == node

    assert kv.get(b"SV" + sha(b"a") + inv0) == b"\x25" + b"1"
    assert kv.get(b"SV" + sha(b"b") + inv0) == b"\x25" + b"2"
    assert kv.get(b"SR" + v0) == b"\x22" + root + v0
    assert kv.get(b"SM/latest") == v0
    # The newest-value index: version of the key's newest write, then its value record.
    assert kv.get(b"SL" + sha(b"a")) == v0 + b"\x25" + b"1"
    assert kv.get(b"SL" + sha(b"b")) == v0 + b"\x25" + b"2"
    assert kv.get(b"SM/newest-index") == b"\x01"
    assert sorted(kv._data) == sorted([
        b"SN" + v0 + b"\x00", b"SV" + sha(b"a") + inv0, b"SV" + sha(b"b") + inv0, b"SR" + v0, b"SM/latest",
        b"SL" + sha(b"a"), b"SL" + sha(b"b"), b"SM/newest-index",
    ])


def test_stored_layout_of_delete_and_stale_record() -> None:
    kv = MemoryStore()
    tree = StateTree(kv)
    for version, updates in enumerate([{b"a": b"1", b"b": b"2"}, {b"b": None}]):
        batch = WriteBatch()
        tree.apply(version, updates, batch)
        kv.write(batch)
    v0, v1 = version_bytes(0), version_bytes(1)
    inv1 = (2**64 - 2).to_bytes(8, "big")
    # b is deleted at version 1: a tombstone, and the root collapses to a's leaf.
    assert kv.get(b"SV" + sha(b"b") + inv1) == b"\x26"
    leaf_a = sha(bytes([0x21]) + sha(b"a") + sha(b"1"))
    assert kv.get(b"SR" + v1) == b"\x22" + leaf_a + sha(b"a") + v0
    # Stale since 1, children before parents: b's old value, b's tombstone (dropped
    # together with it), then the old root node.
    assert kv.get(b"SS" + v1) == (
        b"\x24" + b"SV" + sha(b"b") + b"\xff" * 8 + b"SV" + sha(b"b") + inv1 + b"SN" + v0 + b"\x00"
    )
