"""One version's update of the state tree: the recursion that turns sorted updates into new nodes.

Split from :mod:`consortium.state.tree` because it is the hot path of block
commit and reads differently: helpers are inlined, nodes are spliced as bytes,
and every line was measured (see docs/design.md §7 and docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consortium.state.cache import NodeCache
from consortium.state.nodes import (
    DELETED_RECORD,
    DEPTH_BYTE,
    EMPTY_HASH,
    EMPTY_PREIMAGE,
    ENTRIES_AT,
    HASH_SIZE,
    HIGH_NIBBLE_BYTE,
    INTERNAL_ENTRY_SIZE,
    LEAF_ENTRY_SIZE,
    NODE_KEY,
    PREIMAGE_SIZE,
    SIZE_BYTE,
    SIZES_AT,
    VALUE_KEY,
    VERSION_SIZE,
    encode_internal,
    encode_node,
    node_entries,
    value_key,
)
from consortium.storage.kv import WriteBatch

Slot = tuple[bytes, bytes]
"""A child slot: (hash, entry); entry b"" = empty, 8 bytes = internal node version, 40 = leaf."""

_EMPTY_SLOT: Slot = (EMPTY_HASH, b"")


class Commit:
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

    __slots__ = ("_read_node", "_vb", "_inv", "_add", "_new", "_node_prefix", "_cache", "stale")

    def __init__(self, cache: NodeCache, read_node: Callable[[bytes], bytes], new_hash: Callable[..., Any],
                 vb: bytes, inv: bytes, batch: WriteBatch) -> None:
        self._cache = cache
        self._read_node = read_node
        self._new = new_hash
        self._vb = vb
        self._inv = inv
        # Appending (key, value) to the batch's op list is WriteBatch.put without a
        # Python call; it runs ~3 times per update.
        self._add = batch.ops.append
        self._node_prefix = NODE_KEY + vb
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
        record = self._cache.take(node_key) or self._read_node(node_key)
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
        read = self._read_node
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
