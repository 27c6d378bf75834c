"""Test helpers for the state tree: a naive reference root, a write-once store, awkward keys.

The reference is the hashing rule of docs/protocol.md §5 written as directly as
possible (a recursive function over a dict), sharing no code with
consortium.state, so the tree is checked against the specification rather than
against itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

from consortium.storage.kv import KVStore, WriteBatch

ZERO = bytes(32)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(state: Mapping[bytes, bytes], h=sha) -> bytes:
    """Root of the 16-ary sparse Merkle tree holding ``state``, straight from the rule.

    empty subtree = 32 zero bytes; one key = H(0x21 || H(key) || H(value));
    two or more keys = H(0x20 || child_0 .. child_15), child i holding the keys
    whose key hash has nibble i at this depth (high nibble of each byte first).
    """
    leaves = {h(k): h(v) for k, v in state.items()}

    def nib(kh: bytes, depth: int) -> int:
        return (kh[depth // 2] >> 4) if depth % 2 == 0 else (kh[depth // 2] & 0x0F)

    def subtree(key_hashes: list[bytes], depth: int) -> bytes:
        if not key_hashes:
            return ZERO
        if len(key_hashes) == 1:
            kh = key_hashes[0]
            return h(bytes([0x21]) + kh + leaves[kh])
        children = [subtree([kh for kh in key_hashes if nib(kh, depth) == i], depth + 1) for i in range(16)]
        return h(bytes([0x20]) + b"".join(children))

    return subtree(sorted(leaves), 0)


class OverwriteError(AssertionError):
    pass


class WriteOnceStore(KVStore):
    """Wraps a store and fails the test if a key is ever given a second, different value.

    The versioned-key design promises that every node and value record is
    written once and never changed; only the two meta records and the newest-value
    records (``"SL"``, one per key, replaced by each write of the key) move. A deleted
    key (pruning) must never come back either.
    """

    MUTABLE = (b"SM/latest", b"SM/floor")
    MUTABLE_PREFIX = b"SL"

    def __init__(self, inner: KVStore) -> None:
        self.inner = inner
        self.deleted: set[bytes] = set()
        self.puts = 0

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        for key, value in batch.ops:
            if key in self.MUTABLE or key.startswith(self.MUTABLE_PREFIX):
                continue
            if value is None:
                self.deleted.add(key)
                continue
            if key in self.deleted:
                raise OverwriteError(f"key {key.hex()} was deleted and is written again")
            old = self.inner.get(key)
            if old is not None and old != value:
                raise OverwriteError(f"key {key.hex()} overwritten with a different value")
            self.puts += 1
        self.inner.write(batch, sync=sync)

    def iterate(self, prefix: bytes, *, start: bytes | None = None, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return self.inner.iterate(prefix, start=start, reverse=reverse)

    def close(self) -> None:
        self.inner.close()

    def keys(self, prefix: bytes = b"") -> list[bytes]:
        return [k for k, _ in self.inner.iterate(prefix)]


def _nibbles(data: bytes, n: int) -> bytes:
    return data.hex()[:n].encode()


def _keys_sharing_prefix(nibbles: int, count: int, *, tag: bytes) -> list[bytes]:
    """``count`` keys whose hashes share their first ``nibbles`` nibbles (found by search, deterministic)."""
    seen: dict[bytes, list[bytes]] = {}
    i = 0
    while True:
        key = tag + b"%d" % i
        bucket = seen.setdefault(_nibbles(sha(key), nibbles), [])
        bucket.append(key)
        if len(bucket) == count:
            return bucket
        i += 1


# Keys that force deep paths: single-child internal chains, leaves splitting several
# levels down, and collapse back up on delete. Searched once at import (< 0.2 s).
DEEP_PAIR = _keys_sharing_prefix(4, 2, tag=b"pair")
DEEP_TRIPLE = _keys_sharing_prefix(3, 3, tag=b"trip")
KEY_POOL: list[bytes] = [b"", b"\x00", b"a", b"b", b"abc"] + [b"k%d" % i for i in range(20)] + DEEP_PAIR + DEEP_TRIPLE
