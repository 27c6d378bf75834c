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
value`` answers :meth:`StateTree.get` with one seek, because the contract
executor reads state far more often than anyone asks for a proof. Most reads are
of the newest version, so a second record per key, ``key_hash -> (version of its
newest write, value)``, answers those with one point read — which LevelDB's bloom
filters make nearly free for keys never written (an evidence hash not yet
notarized), where a seek builds an iterator over every table (4-6 % of a node's
CPU under load, performance.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Protocol

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite, Ed25519Sha256
from consortium.state.cache import NodeCache
from consortium.state.commit import Commit
from consortium.state.nodes import (
    DELETED_RECORD,
    EMPTY_ROOT,
    FLOOR_KEY,
    HASH_SIZE,
    INTERNAL_ENTRY_SIZE,
    LATEST_KEY,
    LEAF_PREFIX,
    MAX_DEPTH,
    MAX_VERSION,
    NEWEST_INDEX_KEY,
    NEWEST_VALUE_KEY,
    NODE_KEY,
    ROOT_KEY,
    SIZES_AT,
    STALE_KEY,
    VALUE_KEY,
    VALUE_PREFIX,
    VERSION_SIZE,
    Node,
    StateCorrupted,
    StateError,
    child_entry,
    decode_node,
    decode_root,
    decode_stale,
    decode_value,
    encode_root,
    encode_stale,
    inverted_version,
    nibble,
    node_path,
    value_key,
    version_bytes,
)
from consortium.state.proof import StateProof
from consortium.storage.kv import KVStore, WriteBatch

DEFAULT_CACHE_NODES = 400_000
"""Internal nodes kept in memory (0.6-1 KB each; up to ~300 MB once the state is that large).
A 1M-key tree has ~360k of them, so this holds all of them: at 1M keys the 200k cache of
earlier versions missed 0.35 times per update, and benchmarks/state_bench.py went from
56.5 to 44.1 µs of CPU per update with this size. Memory grows only with the state."""


class _PrivateCache:
    """The node cache as a speculative apply sees it: reads the shared cache without touching it,
    keeps what it takes and makes to itself. A candidate version that is later replaced thus
    never leaves nodes in the shared cache under a version another candidate will own."""

    __slots__ = ("_shared", "_own")

    def __init__(self, shared: NodeCache) -> None:
        self._shared = shared
        self._own: dict[bytes, Node] = {}

    def get(self, key: bytes) -> Node | None:
        node = self._own.get(key)
        return node if node is not None else self._shared.peek(key)

    take = get

    def put(self, key: bytes, node: Node) -> None:
        self._own[key] = node


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
        self._newest_index = False
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
        if not self._newest_index:
            self._newest_index = self._kv.get(NEWEST_INDEX_KEY) is not None

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

    def _root_record(self, version: int) -> tuple[bytes, bytes]:
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
        key_hash = self._new_hash(key).digest()
        if self._newest_index:
            # The newest write of the key, if it is at or before ``version``, is the value there:
            # no write after it exists. Versions only grow and a batch lands atomically, so a
            # write landing between this read and the seek below cannot change either answer.
            newest = self._kv.get(NEWEST_VALUE_KEY + key_hash)
            if newest is None:
                return None  # never written
            if int.from_bytes(newest[:VERSION_SIZE], "big") <= version:  # type: ignore[operator]
                return decode_value(newest[VERSION_SIZE:])
        prefix = VALUE_KEY + key_hash
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
        value_record = self._kv.get(value_key(entry[:HASH_SIZE], entry[HASH_SIZE:]))
        value = None if value_record is None else decode_value(value_record)

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

    def apply(self, version: int, updates: Mapping[bytes, bytes | None], batch: WriteBatch,
              *, parent: Mapping[bytes, bytes | None] | None = None) -> bytes:
        """Compute ``version`` from the latest committed one plus ``updates``; return its root.

        ``version`` must be 0 for an empty store, else latest committed + 1. A value
        of None deletes the key. Everything the version needs goes into ``batch``;
        once the caller writes it, the version is readable. If this raises, discard
        the batch. Calling apply again for the same version (after discarding) is fine.

        With ``parent`` (the batch of ``version - 1`` as a dict, computed by apply but
        perhaps not yet written), ``version`` may be latest committed + 2: the proposer's
        speculative next block (design.md §12.7). Its nodes are read from ``parent`` first,
        and it leaves the shared node cache untouched (:class:`_PrivateCache`), because
        ``version - 1`` may still be replaced by another candidate.
        """
        self._refresh()
        latest = self._latest
        if isinstance(version, bool) or not isinstance(version, int):
            raise StateVersionError(f"cannot apply state version {version!r}: not an integer")
        if version > MAX_VERSION:
            raise StateVersionError(f"state version {version} exceeds {MAX_VERSION}")
        cache: NodeCache | _PrivateCache = self._cache
        read_node = self._read_node
        if parent is None:
            expected = 0 if latest is None else latest + 1
            if version != expected:
                raise StateVersionError(
                    f"cannot apply state version {version!r}: the next version is {expected} "
                    "(was the previous version's batch written?)"
                )
            root_hash, root_entry = (EMPTY_ROOT, b"") if latest is None else self._root_record(latest)
        else:
            # The parent's batch may land while this runs; either way its records are the same.
            if latest is None or version - 1 not in (latest, latest + 1):
                raise StateVersionError(
                    f"cannot apply state version {version!r} on an uncommitted parent: the latest "
                    f"committed version is {latest}"
                )
            record = parent.get(ROOT_KEY + version_bytes(version - 1))
            if record is None:
                raise StateVersionError(f"the parent batch holds no root record for version {version - 1}")
            root_hash, root_entry = decode_root(record, version - 1)
            cache = _PrivateCache(self._cache)

            def read_node(node_key: bytes) -> Node:
                data = parent.get(node_key)
                return self._read_node(node_key) if data is None else decode_node(data, node_key)

        vb = version_bytes(version)
        inv = inverted_version(version)
        new = self._new_hash
        add = batch.ops.append  # WriteBatch.put without the call
        # A store gets the newest-value index from its first version on, or never (see get).
        newest_index = self._newest_index or latest is None
        items: list[tuple[bytes, bytes | None, bytes | None]] = []
        for key, value in updates.items():
            if not isinstance(key, bytes):
                raise TypeError(f"state keys must be bytes, got {type(key).__name__}")
            key_hash = new(key).digest()
            if value is None:
                items.append((key_hash, None, None))
                if newest_index:
                    add((NEWEST_VALUE_KEY + key_hash, vb + DELETED_RECORD))
            else:
                if not isinstance(value, bytes):
                    raise TypeError(f"state values must be bytes or None, got {type(value).__name__}")
                record = VALUE_PREFIX + value
                add((VALUE_KEY + key_hash + inv, record))
                if newest_index:
                    add((NEWEST_VALUE_KEY + key_hash, vb + record))
                leaf_hash = new(LEAF_PREFIX + key_hash + new(value).digest()).digest()
                items.append((key_hash, leaf_hash, key_hash + vb))
        items.sort()  # key hashes are distinct, so only they are compared

        commit = Commit(cache, read_node, self._new_hash, vb, inv, batch)  # type: ignore[arg-type]
        if not items:
            new_root = None
        else:
            new_root = commit.slot(root_hash, root_entry, 0, items, 0, len(items))
        new_hash, new_entry = (root_hash, root_entry) if new_root is None else new_root
        new_hash = bytes(new_hash)
        batch.put(ROOT_KEY + vb, encode_root(new_hash, new_entry))
        if commit.stale:
            batch.put(STALE_KEY + vb, encode_stale(commit.stale))
        if latest is None and newest_index:
            batch.put(NEWEST_INDEX_KEY, b"\x01")
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
