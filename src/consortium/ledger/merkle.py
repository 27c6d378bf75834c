"""Merkle roots and inclusion proofs over an ordered list (a block's transactions or receipts).

The tree is the one of RFC 6962 / RFC 9162 (Certificate Transparency), chosen
because it is specified precisely enough to reimplement from the RFC alone,
handles any list length without padding, and separates leaves from inner nodes
(0x00 / 0x01 prefixes) so a leaf can never be passed off as an inner node.

    root([])        = H(b"")
    root([d])       = H(0x00 || d)
    root(D[0:n])    = H(0x01 || root(D[0:k]) || root(D[k:n]))   k = largest power of two < n

Verification is a pure function of its arguments with a loop bounded by the
proof length (itself bounded), so a hostile proof cannot make it expensive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consortium.crypto.suite import DEFAULT_SUITE, HASH_SIZE, Ed25519Sha256

Hasher = Callable[[bytes], bytes]

MAX_PROOF_DEPTH = 64
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class InvalidListProof(ValueError):
    """A list inclusion proof is malformed or does not lead to the expected root."""


def leaf_hash(data: bytes, hasher: Hasher = DEFAULT_SUITE.hash) -> bytes:
    return hasher(LEAF_PREFIX + data)


def _node(left: bytes, right: bytes, hasher: Hasher) -> bytes:
    return hasher(NODE_PREFIX + left + right)


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(items: Sequence[bytes], hasher: Hasher = DEFAULT_SUITE.hash) -> bytes:
    """Root over the given leaf data (each item is hashed as a leaf)."""
    if not items:
        return hasher(b"")
    if getattr(hasher, "__func__", None) is Ed25519Sha256.hash:
        # The default suite's hash is hashlib's SHA-256: call it directly, not through a Python
        # method per node (a block's two roots hash ~4 nodes per transaction). Same bytes hashed.
        sha = hashlib.sha256
        hashes = [sha(LEAF_PREFIX + item).digest() for item in items]
        while len(hashes) > 1:
            nxt = [sha(NODE_PREFIX + hashes[i] + hashes[i + 1]).digest() for i in range(0, len(hashes) - 1, 2)]
            if len(hashes) % 2:
                nxt.append(hashes[-1])
            hashes = nxt
        return hashes[0]
    level = [leaf_hash(item, hasher) for item in items]
    return _root_of_hashes(level, hasher)


def _root_of_hashes(hashes: list[bytes], hasher: Hasher) -> bytes:
    # Iterative RFC 6962 root: pairing left to right and promoting an odd last node
    # yields the same tree as the recursive "largest power of two" split.
    while len(hashes) > 1:
        nxt = [_node(hashes[i], hashes[i + 1], hasher) for i in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            nxt.append(hashes[-1])
        hashes = nxt
    return hashes[0]


@dataclass(frozen=True)
class ListProof:
    """Proof that the leaf at ``index`` is in a list of ``size`` leaves."""

    index: int
    size: int
    path: tuple[bytes, ...]

    def to_value(self) -> list:
        return [self.index, self.size, list(self.path)]

    @classmethod
    def from_value(cls, value: object) -> ListProof:
        if not isinstance(value, list) or len(value) != 3:
            raise InvalidListProof("list proof must be [index, size, path]")
        index, size, path = value
        if isinstance(index, bool) or isinstance(size, bool) or not isinstance(index, int) or not isinstance(size, int):
            raise InvalidListProof("list proof index and size must be integers")
        if not isinstance(path, list) or len(path) > MAX_PROOF_DEPTH:
            raise InvalidListProof(f"list proof path must be a list of at most {MAX_PROOF_DEPTH} hashes")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in path):
            raise InvalidListProof(f"every list proof path element must be {HASH_SIZE} bytes")
        return cls(index, size, tuple(path))


def prove(items: Sequence[bytes], index: int, hasher: Hasher = DEFAULT_SUITE.hash) -> ListProof:
    """Audit path (RFC 9162 §2.1.3.1) for ``items[index]``, bottom-up."""
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} outside a list of {len(items)}")
    hashes = [leaf_hash(item, hasher) for item in items]
    path: list[bytes] = []
    i = index
    while len(hashes) > 1:
        sibling = i ^ 1
        if sibling < len(hashes):
            path.append(hashes[sibling])
        nxt = [_node(hashes[j], hashes[j + 1], hasher) for j in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            nxt.append(hashes[-1])
        hashes = nxt
        i //= 2
    return ListProof(index, len(items), tuple(path))


def verify_inclusion(root: bytes, leaf_data: bytes, proof: ListProof, hasher: Hasher = DEFAULT_SUITE.hash) -> None:
    """Raise :class:`InvalidListProof` unless ``leaf_data`` sits at ``proof.index`` under ``root``.

    This is RFC 9162 §2.1.3.2 verbatim; it needs nothing but its arguments.
    """
    if not 0 <= proof.index < proof.size:
        raise InvalidListProof(f"index {proof.index} is outside a list of {proof.size}")
    if len(proof.path) > MAX_PROOF_DEPTH:
        raise InvalidListProof("proof path is too long")
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(leaf_data, hasher)
    for p in proof.path:
        if sn == 0:
            raise InvalidListProof("proof path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node(p, r, hasher)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p, hasher)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidListProof("proof path is shorter than the tree is deep")
    if r != root:
        raise InvalidListProof("the proof does not lead to the expected root")
