"""The authenticated, versioned key-value map every block's state lives in.

:class:`StateTree` computes; it never writes. :meth:`StateTree.apply` puts the
new version's nodes, values, root record, stale list and the new latest-version
marker into a :class:`WriteBatch` the caller owns, so the block store commits
state and block in one atomic LevelDB write (JMT's TreeWriter split, and the
lesson of Jepsen's Tendermint analysis). Until the caller writes that batch the
new version does not exist: the tree learns of it only by reading the store.

Every stored node is keyed by ``version || nibble path`` and never rewritten, so
any retained version can be read while later ones are written, and pruning is a
delete of keys listed per version (see :meth:`StateTree.prune`).

Reads of values do not walk the tree: a flat index ``key_hash || version ->
value`` answers :meth:`StateTree.get` with one reverse seek, because the contract
executor reads state far more often than anyone asks for a proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Protocol

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite, Ed25519Sha256
from consortium.state.nodes import (
    DELETED_RECORD,
    DEPTH_BYTE,
    EMPTY_PREIMAGE,
    ENTRIES_AT,
    HIGH_NIBBLE_BYTE,
    EMPTY_HASH,
    EMPTY_ROOT,
    FLOOR_KEY,
    HASH_SIZE,
    INTERNAL_ENTRY_SIZE,
    LATEST_KEY,
    LEAF_ENTRY_SIZE,
    LEAF_PREFIX,
    MAX_DEPTH,
    MAX_VERSION,
    NODE_KEY,
    PREIMAGE_SIZE,
    ROOT_KEY,
    SIZE_BYTE,
    SIZES_AT,
    STALE_KEY,
    VALUE_KEY,
    VALUE_PREFIX,
    VERSION_SIZE,
    Node,
    StateCorrupted,
    StateError,
    decode_node,
    child_entry,
    decode_stale,
    decode_root,
    decode_value,
    encode_internal,
    encode_internal,
    encode_node,
    encode_root,
    encode_stale,
    inverted_version,
    nibble,
    node_entries,
    node_path,
    value_key,
    version_bytes,
)
from consortium.state.cache import NodeCache
from consortium.state.proof import StateProof
from consortium.storage.kv import KVStore, WriteBatch

DEFAULT_CACHE_NODES = 200_000
"""Decoded internal nodes kept in memory (roughly 0.5-2 KB each). A 1M-key tree has ~330k."""


class StateVersionError(StateError, ValueError):
    """The version asked for is not committed, was pruned, or is not the next one to apply."""


class _Digest(Protocol):
    def digest(self) -> bytes: ...


def _hash_constructor(suite: CryptoSuite) -> Callable[[bytes], _Digest]:
    """A ``hashlib``-style constructor for the suite's hash.

    For SHA-256 this is ``hashlib.sha256`` itself, which saves a Python call per
    hash on the hot path (several per update); other suites get an adapter with
    the same shape. The bytes hashed are identical either way.
    """
    if type(suite) is Ed25519Sha256:
        return hashlib.sha256

    class _SuiteDigest:
        __slots__ = ("_digest",)

        def __init__(self, data: bytes) -> None:
            self._digest = suite.hash(data)

        def digest(self) -> bytes:
            return self._digest

    return _SuiteDigest


class StateTree:
    """A Jellyfish-style 16-ary sparse Merkle tree with versions, over a :class:`KVStore`.

    Versions are block numbers: the first applied version is 0, then each
    ``apply`` is the next integer. Version ``-1`` (or ``None``) names the empty
    state before version 0: its root is :data:`EMPTY_ROOT` and every key is absent.

    Not thread-safe for concurrent :meth:`apply`; reads may run beside one apply.
    """

    def __init__(self, kv: KVStore, *, suite: CryptoSuite = DEFAULT_SUITE,
                 cache_nodes: int = DEFAULT_CACHE_NODES) -> None:
        self._kv = kv
        self.suite = suite
        self._new_hash = _hash_constructor(suite)
        self._cache = NodeCache(cache_nodes)
        self._latest: int | None = None
        self._floor = 0
        self._refresh()

    # --- versions ---------------------------------------------------------------------------

    def _read_version(self, key: bytes) -> int | None:
        data = self._kv.get(key)
        if data is None:
            return None
        if len(data) != VERSION_SIZE:
            raise StateCorrupted(f"state meta record {key!r} is {len(data)} bytes, expected {VERSION_SIZE}")
        return int.from_bytes(data, "big")

    def _refresh(self) -> None:
        self._latest = self._read_version(LATEST_KEY)
        floor = self._read_version(FLOOR_KEY) or 0
        self._floor = max(self._floor, floor)

    @property
    def latest_version(self) -> int | None:
        """The newest committed version (read from the store), or None before version 0 is committed."""
        self._refresh()
        return self._latest

    @property
    def oldest_version(self) -> int:
        """The oldest version still readable (0 until something is pruned)."""
        self._refresh()
        return self._floor

    def _readable(self, version: int | None) -> bool:
        """False for the empty state before version 0; raise unless ``version`` is committed and retained."""
        if version is None or version == -1:
            return False
        if isinstance(version, bool) or not isinstance(version, int) or version < -1:
            raise StateVersionError(f"state version must be an integer >= -1 or None, got {version!r}")
        if self._latest is None or version > self._latest:
            self._refresh()
            if self._latest is None or version > self._latest:
                raise StateVersionError(
                    f"state version {version} is not committed (latest committed: {self._latest})"
                )
        if version < self._floor:
            raise StateVersionError(f"state version {version} was pruned (oldest retained: {self._floor})")
        return True

    def _root_record(self, version: int) -> tuple[bytes, bytes | None]:
        data = self._kv.get(ROOT_KEY + version_bytes(version))
        if data is None:
            raise StateCorrupted(f"state version {version} is committed but has no root record")
        return decode_root(data, version)

    # --- reads ------------------------------------------------------------------------------

    def root(self, version: int | None) -> bytes:
        """Root hash of the state at a committed version (:data:`EMPTY_ROOT` for -1/None)."""
        if not self._readable(version):
            return EMPTY_ROOT
        return self._root_record(version)[0]  # type: ignore[arg-type]

    def get(self, key: bytes, version: int | None) -> bytes | None:
        """The value ``key`` holds at ``version`` (set at or before it), or None if absent."""
        if not self._readable(version):
            return None
        prefix = VALUE_KEY + self._new_hash(key).digest()
        for _, record in self._kv.iterate(prefix, start=prefix + inverted_version(version)):  # type: ignore[arg-type]
            return decode_value(record)
        return None

    def get_with_proof(self, key: bytes, version: int | None) -> tuple[bytes | None, StateProof]:
        """The value at ``version`` and a proof of it (or of absence) against :meth:`root` of that version."""
        if not self._readable(version):
            return None, StateProof((), None)
        new = self._new_hash
        key_hash = new(key).digest()
        _, entry = self._root_record(version)  # type: ignore[arg-type]
        siblings: list[tuple[int, bytes]] = []
        depth = 0
        while len(entry) == INTERNAL_ENTRY_SIZE:
            if depth >= MAX_DEPTH:
                raise StateCorrupted(f"state path for key hash {key_hash.hex()} is deeper than {MAX_DEPTH}")
            record = self._node(NODE_KEY + entry + node_path(depth, key_hash))
            slot = nibble(key_hash, depth)
            bitmap = 0
            parts = []
            for i in range(16):
                if i != slot and record[SIZES_AT + i]:
                    bitmap |= 1 << i
                    parts.append(record[1 + HASH_SIZE * i:1 + HASH_SIZE * (i + 1)])
            siblings.append((bitmap, b"".join(parts)))
            entry = child_entry(record, slot)
            depth += 1
        if not entry:
            return None, StateProof(tuple(siblings), None)
        record = self._kv.get(value_key(entry[:HASH_SIZE], entry[HASH_SIZE:]))
        value = None if record is None else decode_value(record)
        if value is None:
            raise StateCorrupted(f"state leaf for key hash {entry[:HASH_SIZE].hex()} has no value record")
        leaf_key = entry[:HASH_SIZE]
        proof = StateProof(tuple(siblings), (leaf_key, new(value).digest()))
        return (value if leaf_key == key_hash else None), proof

    # --- node cache -------------------------------------------------------------------------

    def _node(self, node_key: bytes) -> Node:
        """The decoded node at ``node_key``, from the cache if there (reads only; apply takes nodes)."""
        node = self._cache.get(node_key)
        if node is None:
            node = self._read_node(node_key)
            self._cache.put(node_key, node)
        return node

    def _read_node(self, node_key: bytes) -> Node:
        data = self._kv.get(node_key)
        if data is None:
            raise StateCorrupted(f"state node {node_key.hex()} is missing")
        return decode_node(data, node_key)

    # --- writes -----------------------------------------------------------------------------

    def apply(self, version: int, updates: Mapping[bytes, bytes | None], batch: WriteBatch) -> bytes:
        """Compute ``version`` from the latest committed one plus ``updates``; return its root.

        ``version`` must be 0 for an empty store, else latest committed + 1. A value
        of None deletes the key. Everything the version needs goes into ``batch``;
        once the caller writes it, the version is readable. If this raises, discard
        the batch. Calling apply again for the same version (after discarding) is fine.
        """
        self._refresh()
        latest = self._latest
        expected = 0 if latest is None else latest + 1
        if isinstance(version, bool) or not isinstance(version, int) or version != expected:
            raise StateVersionError(
                f"cannot apply state version {version!r}: the next version is {expected} "
                "(was the previous version's batch written?)"
            )
        if version > MAX_VERSION:
            raise StateVersionError(f"state version {version} exceeds {MAX_VERSION}")
        root_hash, root_entry = (EMPTY_ROOT, b"") if latest is None else self._root_record(latest)

        vb = version_bytes(version)
        inv = inverted_version(version)
        new = self._new_hash
        add = batch.ops.append  # WriteBatch.put without the call
        items: list[tuple[bytes, bytes | None, bytes | None]] = []
        for key, value in updates.items():
            if not isinstance(key, bytes):
                raise TypeError(f"state keys must be bytes, got {type(key).__name__}")
            key_hash = new(key).digest()
            if value is None:
                items.append((key_hash, None, None))
            else:
                if not isinstance(value, bytes):
                    raise TypeError(f"state values must be bytes or None, got {type(value).__name__}")
                add((VALUE_KEY + key_hash + inv, VALUE_PREFIX + value))
                leaf_hash = new(LEAF_PREFIX + key_hash + new(value).digest()).digest()
                items.append((key_hash, leaf_hash, key_hash + vb))
        items.sort()  # key hashes are distinct, so only they are compared

        commit = _Commit(self, vb, inv, batch)
        if not items:
            new_root = None
        else:
            new_root = commit.slot(root_hash, root_entry, 0, items, 0, len(items))
        new_hash, new_entry = (root_hash, root_entry) if new_root is None else new_root
        new_hash = bytes(new_hash)
        batch.put(ROOT_KEY + vb, encode_root(new_hash, new_entry))
        if commit.stale:
            batch.put(STALE_KEY + vb, encode_stale(commit.stale))
        batch.put(LATEST_KEY, vb)
        return new_hash

    def prune(self, before_version: int, batch: WriteBatch) -> int:
        """Put into ``batch`` the deletes that drop every version older than ``before_version``.

        Versions >= ``before_version`` stay fully readable and provable. Returns the
        number of node and value records deleted. ``before_version`` may be at most
        the latest committed version. From this call on, the tree refuses reads
        of the dropped versions, even before the batch is written.
        """
        self._refresh()
        if self._latest is None or not isinstance(before_version, int) or isinstance(before_version, bool) \
                or not 0 <= before_version <= self._latest:
            raise StateVersionError(
                f"cannot prune before version {before_version!r}: must be in [0, latest committed "
                f"{self._latest}]"
            )
        if before_version <= self._floor:
            return 0
        deleted = 0
        for key, record in self._kv.iterate(STALE_KEY):
            if int.from_bytes(key[len(STALE_KEY):], "big") > before_version:
                break
            for stale_key in decode_stale(record, key):
                batch.delete(stale_key)
                deleted += 1
            batch.delete(key)
        for key, _ in self._kv.iterate(ROOT_KEY):
            if int.from_bytes(key[len(ROOT_KEY):], "big") >= before_version:
                break
            batch.delete(key)
        batch.put(FLOOR_KEY, version_bytes(before_version))
        self._floor = before_version
        return deleted


Slot = tuple[bytes, bytes]
"""A child slot: (hash, entry); entry b"" = empty, 8 bytes = internal node version, 40 = leaf."""

_EMPTY_SLOT: Slot = (EMPTY_HASH, b"")


class _Commit:
    """One apply's recursion over the sorted updates.

    Each touched node is visited once with every update below it (the updates
    are sorted by key hash, so a node's updates are a contiguous range), hence
    hashed and encoded once per version however many updates land under it.
    Every method returns the slot's new ``(hash, entry)``, or None when nothing
    below it changed (deleting absent keys), so untouched nodes are not rewritten.

    This is the hot path of block commit; helpers are inlined on purpose.
    Items are ``(key_hash, leaf_hash, leaf_entry)``, with ``(key_hash, None, None)``
    for a delete.
    """

    __slots__ = ("_tree", "_vb", "_inv", "_add", "_new", "_node_prefix", "_cache", "stale")

    def __init__(self, tree: StateTree, vb: bytes, inv: bytes, batch: WriteBatch) -> None:
        self._tree = tree
        self._vb = vb
        self._inv = inv
        # Appending (key, value) to the batch's op list is WriteBatch.put without a
        # Python call; it runs ~3 times per update.
        self._add = batch.ops.append
        self._new = tree._new_hash
        self._node_prefix = NODE_KEY + vb
        self._cache = tree._cache
        self.stale: list[bytes] = []

    def slot(self, h: bytes, e: bytes, depth: int, items: list, lo: int, hi: int) -> Slot | None:
        """The new content of a slot at ``depth`` given its old content and ``items[lo:hi]`` below it."""
        if not e:
            live = [it for it in items[lo:hi] if it[2] is not None]
            return self.build(depth, live, 0, len(live)) if live else None
        if len(e) == LEAF_ENTRY_SIZE:
            return self.merge_leaf(h, e, depth, items, lo, hi)
        if hi - lo == 1:
            return self.descend_one(e, depth, items[lo])
        return self.update_node(e, depth, items, lo, hi)

    def update_node(self, e: bytes, depth: int, items: list, lo: int, hi: int) -> Slot | None:
        """The internal node of version ``e`` at ``depth``, receiving ``items[lo:hi]`` (two or more)."""
        key_hash = items[lo][0]
        half = depth >> 1
        odd = depth & 1
        if odd:
            node_key = NODE_KEY + e + DEPTH_BYTE[depth] + key_hash[:half] + HIGH_NIBBLE_BYTE[key_hash[half]]
        else:
            node_key = NODE_KEY + e + DEPTH_BYTE[depth] + key_hash[:half]
        # The node is about to be superseded, so take it out of the cache rather than refresh it.
        record = self._cache.take(node_key) or self._tree._read_node(node_key)
        preimage = bytearray(record[:PREIMAGE_SIZE])
        sizes = bytearray(record[SIZES_AT:ENTRIES_AT])
        entries = node_entries(record)
        changed = False
        child_depth = depth + 1
        i = lo
        while i < hi:
            b = items[i][0][half]
            n = b & 15 if odd else b >> 4
            j = i + 1
            if odd:
                while j < hi and items[j][0][half] & 15 == n:
                    j += 1
            else:
                while j < hi and items[j][0][half] >> 4 == n:
                    j += 1
            child = entries[n]
            if not child:
                if j - i == 1:
                    it = items[i]
                    new = None if it[2] is None else (it[1], it[2])
                else:
                    live = [it for it in items[i:j] if it[2] is not None]
                    new = self.build(child_depth, live, 0, len(live)) if live else None
            elif len(child) == LEAF_ENTRY_SIZE:
                at = 1 + 32 * n
                new = self.merge_leaf(record[at:at + 32], child, child_depth, items, i, j)
            elif j - i == 1:
                new = self.descend_one(child, child_depth, items[i])
            else:
                new = self.update_node(child, child_depth, items, i, j)
            if new is not None:
                at = 1 + 32 * n
                preimage[at:at + 32] = new[0]
                entries[n] = new[1]
                sizes[n] = len(new[1])
                changed = True
            i = j
        if not changed:
            self._cache.put(node_key, record)
            return None
        self.stale.append(node_key)
        return self.finish(depth, key_hash, preimage, sizes, entries)

    def descend_one(self, e: bytes, depth: int, item: tuple) -> Slot | None:
        """:meth:`update_node` for a single item, as a loop: down to its slot, then back up.

        Below the top few levels of a large tree almost every node receives exactly
        one update per block. This path skips the grouping and the recursion, and
        rebuilds each node on the way up by splicing the one changed child into
        the old record.
        """
        key_hash = item[0]
        take = self._cache.take
        read = self._tree._read_node
        path = []
        while True:
            half = depth >> 1
            b = key_hash[half]
            if depth & 1:
                node_key = NODE_KEY + e + DEPTH_BYTE[depth] + key_hash[:half] + HIGH_NIBBLE_BYTE[b]
                n = b & 15
            else:
                node_key = NODE_KEY + e + DEPTH_BYTE[depth] + key_hash[:half]
                n = b >> 4
            record = take(node_key) or read(node_key)
            size = record[SIZES_AT + n]
            at = ENTRIES_AT + sum(record[SIZES_AT:SIZES_AT + n])
            path.append((node_key, record, n, at, size))
            e = record[at:at + size]
            if size != INTERNAL_ENTRY_SIZE:
                break
            depth += 1
        if not size:
            new = None if item[2] is None else (item[1], item[2])
        else:
            h = 1 + 32 * n
            new = self.merge_leaf(record[h:h + 32], e, depth + 1, [item], 0, 1)
        if new is None:
            put = self._cache.put
            for node_key, record, _, _, _ in path:
                put(node_key, record)
            return None
        stale = self.stale
        add = self._add
        cache_put = self._cache.put
        sha = self._new
        prefix = self._node_prefix
        vb = self._vb
        for node_key, record, n, at, size in reversed(path):
            new_hash, new_entry = new
            stale.append(node_key)
            h = 1 + 32 * n
            new_size = len(new_entry)
            if new_size == size:
                sizes = record[SIZES_AT:ENTRIES_AT]
            else:
                sizes = record[SIZES_AT:SIZES_AT + n] + SIZE_BYTE[new_size] + record[SIZES_AT + n + 1:ENTRIES_AT]
                if sizes.count(0) >= 15:  # may collapse into a leaf: the general path decides
                    preimage = bytearray(record[:PREIMAGE_SIZE])
                    preimage[h:h + 32] = new_hash
                    entries = node_entries(record)
                    entries[n] = new_entry
                    new = self.finish(depth, key_hash, preimage, bytearray(sizes), entries)
                    depth -= 1
                    continue
            new_record = b"".join((
                record[:h], new_hash, record[h + 32:SIZES_AT], sizes, record[ENTRIES_AT:at], new_entry,
                record[at + size:],
            ))
            new_key = prefix + node_key[_PATH_AT:]
            add((new_key, encode_node(new_record)))
            cache_put(new_key, new_record)
            new = sha(new_record[:PREIMAGE_SIZE]).digest(), vb
            depth -= 1
        return new

    def merge_leaf(self, h: bytes, e: bytes, depth: int, items: list, lo: int, hi: int) -> Slot | None:
        """A slot holding one leaf, receiving ``items[lo:hi]``: rebuild the subtree from both."""
        old_key = e[:HASH_SIZE]
        live = []
        replaced = False
        for k in range(lo, hi):
            it = items[k]
            if it[0] == old_key:
                replaced = True
                self.stale.append(value_key(old_key, e[HASH_SIZE:]))  # the old value record
                if it[2] is None:
                    tombstone = VALUE_KEY + old_key + self._inv
                    self._add((tombstone, DELETED_RECORD))
                    # Needed only while the old value is kept; dropped with it.
                    self.stale.append(tombstone)
                else:
                    live.append(it)
            elif it[2] is not None:
                live.append(it)
        if not replaced:
            if not live:
                return None
            live.append((old_key, h, e))
            live.sort()
        if not live:
            return _EMPTY_SLOT
        return self.build(depth, live, 0, len(live))

    def build(self, depth: int, live: list, lo: int, hi: int) -> Slot:
        """A fresh subtree at ``depth`` holding exactly the leaves ``live[lo:hi]`` (non-empty, sorted)."""
        if hi - lo == 1:
            it = live[lo]
            return it[1], it[2]
        preimage = bytearray(EMPTY_PREIMAGE)
        sizes = bytearray(16)
        entries = [b""] * 16
        half = depth >> 1
        odd = depth & 1
        if hi - lo == 2:
            # The common case of an insert splitting a leaf: place both, if they part here.
            a = live[lo]
            b = live[lo + 1]
            na = a[0][half]
            nb = b[0][half]
            if odd:
                na &= 15
                nb &= 15
            else:
                na >>= 4
                nb >>= 4
            if na != nb:
                at = 1 + 32 * na
                preimage[at:at + 32] = a[1]
                entries[na] = a[2]
                sizes[na] = LEAF_ENTRY_SIZE
                at = 1 + 32 * nb
                preimage[at:at + 32] = b[1]
                entries[nb] = b[2]
                sizes[nb] = LEAF_ENTRY_SIZE
                return self.finish(depth, a[0], preimage, sizes, entries)
        i = lo
        while i < hi:
            b = live[i][0][half]
            n = b & 15 if odd else b >> 4
            j = i + 1
            if odd:
                while j < hi and live[j][0][half] & 15 == n:
                    j += 1
            else:
                while j < hi and live[j][0][half] >> 4 == n:
                    j += 1
            h, e = self.build(depth + 1, live, i, j)
            at = 1 + 32 * n
            preimage[at:at + 32] = h
            entries[n] = e
            sizes[n] = len(e)
            i = j
        return self.finish(depth, live[lo][0], preimage, sizes, entries)

    def finish(self, depth: int, key_hash: bytes, preimage: bytearray, sizes: bytearray,
               entries: list[bytes]) -> Slot:
        """Store the node at ``depth`` on ``key_hash``'s path, unless it collapses (empty, or one leaf)."""
        empty = sizes.count(0)
        if empty >= 15:
            if empty == 16:
                return _EMPTY_SLOT
            i = 0
            while not sizes[i]:
                i += 1
            if sizes[i] == LEAF_ENTRY_SIZE:
                return bytes(preimage[1 + 32 * i:33 + 32 * i]), entries[i]
        half = depth >> 1
        if depth & 1:
            node_key = self._node_prefix + DEPTH_BYTE[depth] + key_hash[:half] + HIGH_NIBBLE_BYTE[key_hash[half]]
        else:
            node_key = self._node_prefix + DEPTH_BYTE[depth] + key_hash[:half]
        self._add((node_key, encode_internal(preimage, sizes, entries)))
        self._cache.put(node_key, b"".join((preimage, sizes, *entries)))
        return self._new(preimage).digest(), self._vb


_PATH_AT = len(NODE_KEY) + VERSION_SIZE
