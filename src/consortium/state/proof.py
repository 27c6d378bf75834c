"""Proofs that a key holds a value, or holds none, in a state tree with a given root.

One proof shape serves membership and non-membership, as in JMT: the siblings of
every internal node on the key's nibble path, from the root down, then what the
path ends at — a leaf (the key's own, or another key's, which proves absence
because a subtree with one leaf is that leaf) or an empty slot (absence).

:func:`verify_proof` is a pure function of its arguments. It does every check
that costs no hashing first (sizes, counts, which key the leaf is for), and its
loop runs once per level, at most 64 times, so a hostile proof cannot make it
expensive.

Encoding (canonical msgpack, see docs/protocol.md §5)::

    [35, [[sibling_bitmap, sibling_hashes], ...], [leaf_key_hash, leaf_value_hash] | nil]

``sibling_bitmap`` (0..65535) has bit i set when child i of that node is a
non-empty sibling; ``sibling_hashes`` is their 32-byte hashes concatenated in
nibble order. The bit of the child on the path itself is never set.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite
from consortium.encoding import canonical
from consortium.state.nodes import (
    EMPTY_HASH,
    HASH_SIZE,
    INTERNAL_PREFIX,
    LEAF_PREFIX,
    MAX_DEPTH,
    TAG_PROOF,
    nibble,
)

MAX_PROOF_BYTES = 64 * (16 * HASH_SIZE + 8) + 256
"""No valid proof is larger (64 full levels), so decode refuses anything bigger before parsing."""


class InvalidStateProof(ValueError):
    """The proof does not show that the key holds that value (or no value) under that root."""


class MalformedStateProof(InvalidStateProof):
    """The bytes or value are not a well-formed state proof at all."""


@dataclass(frozen=True)
class StateProof:
    """Siblings along a key's path, root first, and the leaf the path ends at (None: an empty slot).

    ``siblings[d]`` is ``(bitmap, hashes)`` for the internal node at depth ``d``:
    ``bitmap`` marks which of its other 15 children are non-empty and ``hashes``
    holds their hashes concatenated in nibble order. ``leaf`` is
    ``(key_hash, value_hash)``.
    """

    siblings: tuple[tuple[int, bytes], ...]
    leaf: tuple[bytes, bytes] | None

    def to_value(self) -> list[canonical.Value]:
        leaf: canonical.Value = None if self.leaf is None else [self.leaf[0], self.leaf[1]]
        return [TAG_PROOF, [[bitmap, hashes] for bitmap, hashes in self.siblings], leaf]

    @classmethod
    def from_value(cls, value: canonical.Value) -> StateProof:
        """Check the shape of a decoded proof; raise :class:`MalformedStateProof` if it is wrong."""
        if not isinstance(value, list) or len(value) != 3:
            raise MalformedStateProof("a state proof is [35, siblings, leaf]")
        tag, levels, leaf = value
        if tag != TAG_PROOF or isinstance(tag, bool):
            raise MalformedStateProof(f"unknown state proof tag {tag!r} (expected {TAG_PROOF})")
        if not isinstance(levels, list) or len(levels) > MAX_DEPTH:
            raise MalformedStateProof(f"state proof siblings must be a list of at most {MAX_DEPTH} levels")
        siblings = []
        for depth, level in enumerate(levels):
            if not isinstance(level, list) or len(level) != 2:
                raise MalformedStateProof(f"state proof level {depth} must be [bitmap, hashes]")
            bitmap, hashes = level
            if isinstance(bitmap, bool) or not isinstance(bitmap, int) or not 0 <= bitmap <= 0xFFFF:
                raise MalformedStateProof(f"state proof level {depth}: bitmap must be an integer in [0, 65535]")
            if not isinstance(hashes, bytes) or len(hashes) != HASH_SIZE * bitmap.bit_count():
                raise MalformedStateProof(
                    f"state proof level {depth}: expected {bitmap.bit_count()} hashes of {HASH_SIZE} bytes"
                )
            siblings.append((bitmap, hashes))
        if leaf is not None:
            if (not isinstance(leaf, list) or len(leaf) != 2
                    or not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in leaf)):
                raise MalformedStateProof("state proof leaf must be nil or [key_hash, value_hash] of 32 bytes each")
        pair = None if leaf is None else (leaf[0], leaf[1])
        return cls(tuple(siblings), pair)  # type: ignore[arg-type]  # both checked to be bytes above

    def encode(self) -> bytes:
        return canonical.encode(self.to_value())

    @classmethod
    def decode(cls, data: bytes) -> StateProof:
        """Parse untrusted bytes; raises :class:`MalformedStateProof` (a ValueError) and nothing else."""
        try:
            value = canonical.decode(data, max_size=MAX_PROOF_BYTES)
        except canonical.DecodeError as exc:
            raise MalformedStateProof(f"state proof is not canonical msgpack: {exc}") from None
        return cls.from_value(value)


def verify_proof(
    root: bytes,
    key: bytes,
    value: bytes | None,
    proof: StateProof,
    suite: CryptoSuite = DEFAULT_SUITE,
) -> None:
    """Raise :class:`InvalidStateProof` unless ``key`` holds ``value`` in the tree whose root is ``root``.

    ``value=None`` asks for a proof that ``key`` is absent. Needs nothing but its
    arguments: no database, no tree.
    """
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise InvalidStateProof(f"root must be {HASH_SIZE} bytes")
    if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
        raise InvalidStateProof("key must be bytes and value bytes or None")
    if not isinstance(proof, StateProof):
        raise InvalidStateProof(f"expected a StateProof, got {type(proof).__name__}")
    siblings = proof.siblings
    if not isinstance(siblings, tuple) or len(siblings) > MAX_DEPTH:
        raise MalformedStateProof(f"state proof siblings must be a tuple of at most {MAX_DEPTH} levels")
    depth = len(siblings)
    for level in siblings:
        if not isinstance(level, tuple) or len(level) != 2:
            raise MalformedStateProof("state proof level must be (bitmap, hashes)")
        bitmap, hashes = level
        if (isinstance(bitmap, bool) or not isinstance(bitmap, int) or not isinstance(hashes, bytes)
                or not 0 <= bitmap <= 0xFFFF or len(hashes) != HASH_SIZE * bitmap.bit_count()):
            raise MalformedStateProof("state proof level has a bitmap that does not match its hashes")

    h = suite.hash
    key_hash = h(key)
    leaf = proof.leaf
    if leaf is not None:
        if (not isinstance(leaf, tuple) or len(leaf) != 2
                or not all(isinstance(x, bytes) and len(x) == HASH_SIZE for x in leaf)):
            raise MalformedStateProof("state proof leaf must be None or (key_hash, value_hash) of 32 bytes each")
        leaf_key = leaf[0]
        # The leaf sits where the key's path leads, so it shares the path's nibbles.
        for d in range(depth):
            if nibble(leaf_key, d) != nibble(key_hash, d):
                raise InvalidStateProof("the proof's leaf is not on the key's path")
    if value is None:
        if leaf is not None and leaf[0] == key_hash:
            raise InvalidStateProof("the proof shows the key present, not absent")
    else:
        if leaf is None or leaf[0] != key_hash:
            raise InvalidStateProof("the proof shows the key absent, not present")
        if h(value) != leaf[1]:
            raise InvalidStateProof("the value does not match the proof's value hash")

    current = EMPTY_HASH if leaf is None else h(LEAF_PREFIX + leaf[0] + leaf[1])
    for d in range(depth - 1, -1, -1):
        bitmap, hashes = siblings[d]
        slot = nibble(key_hash, d)
        if bitmap >> slot & 1:
            raise MalformedStateProof(f"state proof level {d} lists the path's own child as a sibling")
        if current == EMPTY_HASH and bitmap == 0:
            raise InvalidStateProof(f"state proof level {d} is an internal node with no children")
        children = []
        pos = 0
        for i in range(16):
            if i == slot:
                children.append(current)
            elif bitmap >> i & 1:
                children.append(hashes[pos:pos + HASH_SIZE])
                pos += HASH_SIZE
            else:
                children.append(EMPTY_HASH)
        current = h(INTERNAL_PREFIX + b"".join(children))
    if current != root:
        raise InvalidStateProof("the proof does not lead to the expected root")

