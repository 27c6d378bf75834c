"""What a state tree node is: how it hashes, and how it and its neighbours are laid out in the KV store.

The tree is a 16-ary Jellyfish-style sparse Merkle tree over ``key_hash = H(key)``,
walked one nibble (4 bits) of the key hash per level, high nibble first.

Hashing (``H`` is the suite's hash, SHA-256 by default)::

    empty subtree    = 32 zero bytes                       (also the root of the empty tree)
    leaf             = H(0x21 || key_hash || value_hash)    value_hash = H(value)
    internal node    = H(0x20 || child_0 || ... || child_15) each child a 32-byte hash, empty = zeros

Leaf shortcut: a subtree holding exactly one leaf *is* that leaf, at the shallowest
depth where its key hash is unique, so the shape of the tree depends only on the set
of keys, never on the order they were written in. An internal node therefore
always has two or more leaves below it (it may have a single child if that child is
internal).

The domain bytes 0x20 and 0x21 (tags 32 and 33 from ledger/tags.py) differ from the
RFC 6962 list tree's 0x00/0x01 and from the first byte of any canonical ledger object
(a msgpack array, 0x9X), and the two preimages have different lengths (513 vs 65
bytes), so no hash of one kind can be passed off as another.

Storage layout (all keys of the state store begin with ``b"S"``)::

    b"SN" || version(8, BE) || depth(1) || packed nibble path -> internal node record
    b"SV" || key_hash(32) || ~version(8, BE)                  -> value record
    b"SR" || version(8, BE)                                   -> root record
    b"SS" || version(8, BE)                                   -> stale record (keys no version >= it needs)
    b"SM/latest"                                              -> latest version (8, BE)
    b"SM/floor"                                               -> oldest retained version (8, BE)

A value key holds the version bitwise inverted (2**64 - 1 - version), so the record
in force at version v is the first key at or after ``b"SV" || key_hash || ~v``: one
forward seek, the cheapest LevelDB read after a point get.

Leaves are not stored as records of their own: a leaf lives in its parent's record
as ``key_hash || value_version`` (its value version says which value record holds
its value). This saves one put per update and one get per leaf split, and a leaf's
value hash is still available to a prover by reading that value record.
"""

from __future__ import annotations

from itertools import compress

from consortium.ledger.tags import TAG_STATE_NODE

TAG_INTERNAL = TAG_STATE_NODE
"""First byte of an internal node's hash preimage and of its stored record."""
TAG_LEAF = TAG_STATE_NODE + 1
"""First byte of a leaf's hash preimage."""
TAG_ROOT = TAG_STATE_NODE + 2
"""First byte of a root record."""
TAG_PROOF = TAG_STATE_NODE + 3
"""First element of an encoded :class:`~consortium.state.proof.StateProof`."""
TAG_STALE = TAG_STATE_NODE + 4
"""First byte of a stale record."""
TAG_VALUE = TAG_STATE_NODE + 5
"""First byte of a value record holding a value."""
TAG_DELETED = TAG_STATE_NODE + 6
"""The whole of a value record saying the key was deleted at that version (a tombstone)."""

HASH_SIZE = 32
VERSION_SIZE = 8
MAX_DEPTH = 2 * HASH_SIZE
"""A key hash has 64 nibbles, so no path is longer."""
MAX_VERSION = 2**63 - 1

EMPTY_HASH = bytes(HASH_SIZE)
EMPTY_ROOT = EMPTY_HASH
"""Root hash of the empty tree (the state before version 0)."""

INTERNAL_ENTRY_SIZE = VERSION_SIZE
LEAF_ENTRY_SIZE = HASH_SIZE + VERSION_SIZE

INTERNAL_PREFIX = bytes((TAG_INTERNAL,))
LEAF_PREFIX = bytes((TAG_LEAF,))
ROOT_PREFIX = bytes((TAG_ROOT,))
VALUE_PREFIX = bytes((TAG_VALUE,))
DELETED_RECORD = bytes((TAG_DELETED,))

NODE_KEY = b"SN"
VALUE_KEY = b"SV"
ROOT_KEY = b"SR"
STALE_KEY = b"SS"
STALE_PREFIX = b"\x24"
LATEST_KEY = b"SM/latest"
FLOOR_KEY = b"SM/floor"
NEWEST_VALUE_KEY = b"SL"
"""``"SL" || key_hash -> version || value record``: the newest write of each key (see StateTree.get)."""
NEWEST_INDEX_KEY = b"SM/newest-index"
"""Present iff every version of this store wrote its ``SL`` records (stores created before the
index existed lack it, and their reads keep the seek)."""
NAMESPACE = b"S"

DEPTH_BYTE = [bytes((d,)) for d in range(MAX_DEPTH + 1)]
HIGH_NIBBLE_BYTE = [bytes((b & 0xF0,)) for b in range(256)]


class StateError(RuntimeError):
    """Base of the state store's operational errors."""


class StateCorrupted(StateError):
    """A record the tree needs is missing or malformed: the database is damaged or was pruned under us."""


def version_bytes(version: int) -> bytes:
    return version.to_bytes(VERSION_SIZE, "big")


_ALL_ONES = 2 ** (8 * VERSION_SIZE) - 1


def value_key(key_hash: bytes, version: bytes) -> bytes:
    """Key of the value record of ``key_hash`` written at ``version`` (8 bytes, BE)."""
    return VALUE_KEY + key_hash + (_ALL_ONES ^ int.from_bytes(version, "big")).to_bytes(VERSION_SIZE, "big")


def inverted_version(version: int) -> bytes:
    return (_ALL_ONES ^ version).to_bytes(VERSION_SIZE, "big")


def node_path(depth: int, key_hash: bytes) -> bytes:
    """The first ``depth`` nibbles of ``key_hash`` as ``depth || packed nibbles`` (odd tail padded with 0).

    Same shape as JMT's NibblePath: the count byte keeps a path distinct from a
    longer one that happens to share its packed bytes.
    """
    half = depth >> 1
    if depth & 1:
        return DEPTH_BYTE[depth] + key_hash[:half] + HIGH_NIBBLE_BYTE[key_hash[half]]
    return DEPTH_BYTE[depth] + key_hash[:half]


def nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return b & 0x0F if depth & 1 else b >> 4


# --- internal node records ------------------------------------------------------------------
#
# Stored (compact):
#
#   tag 0x20 | entry sizes (16 bytes, one per child: 0 empty, 8 internal, 40 leaf)
#   | child hashes (32 each, present children only, in nibble order)
#   | entries (present children, in nibble order): internal child -> its version (8, BE);
#                                                   leaf child -> key_hash (32) || value version (8, BE)
#
# In memory (expanded), what the tree works on and caches:
#
#   tag 0x20 | 16 child hashes (32 each, empty = zeros) | entry sizes (16) | entries
#
# The first 513 bytes of the expanded form are exactly the node's hash preimage, so
# hashing a node is hashing a prefix, reading a child is a slice, changing one child is
# a splice of slices, and a cache of nodes is a dict of bytes, which the garbage collector
# never scans (a cache of per-node lists cost ~20% of commit time in full collections).
# Stored records drop the empty children's zero hashes: block commits write ~1-2 KB of
# nodes per update, and at a million keys LevelDB's compaction, not Python, sets the
# pace, so bytes written matter more than the ~1 us it costs to squeeze them out.
# Fixed layouts rather than canonical msgpack because this is the hot path; records are
# never hashed as a whole, so their layout can change under a new tag without changing
# any root.

PREIMAGE_SIZE = 1 + 16 * HASH_SIZE
SIZES_AT = PREIMAGE_SIZE
ENTRIES_AT = PREIMAGE_SIZE + 16
EMPTY_PREIMAGE = INTERNAL_PREFIX + bytes(16 * HASH_SIZE)
SIZE_BYTE = {size: bytes((size,)) for size in (0, INTERNAL_ENTRY_SIZE, LEAF_ENTRY_SIZE)}
_HASH_AT = tuple(1 + HASH_SIZE * i for i in range(16))

Node = bytes
"""An internal node in memory: its expanded record."""

_SIZES_OK = frozenset((0, INTERNAL_ENTRY_SIZE, LEAF_ENTRY_SIZE))


def encode_node(node: bytes) -> bytes:
    """The stored (compact) record of an expanded node."""
    sizes = node[SIZES_AT:ENTRIES_AT]
    if sizes.count(0):
        hashes = b"".join([node[at:at + HASH_SIZE] for at in compress(_HASH_AT, sizes)])
    else:
        hashes = node[1:PREIMAGE_SIZE]
    return b"".join((INTERNAL_PREFIX, sizes, hashes, node[ENTRIES_AT:]))


def encode_internal(preimage: bytes | bytearray, sizes: bytes | bytearray, entries: list[bytes]) -> bytes:
    """The stored record of a node given as parts (``preimage`` is the expanded hash preimage)."""
    hashes: bytes | bytearray
    if sizes.count(0):

        hashes = b"".join([preimage[at:at + HASH_SIZE] for at in compress(_HASH_AT, sizes)])
    else:
        hashes = preimage[1:]
    return b"".join((INTERNAL_PREFIX, sizes, hashes, *entries))


def decode_node(data: bytes, where: bytes = b"") -> bytes:
    """The expanded node of a stored record; raise :class:`StateCorrupted` if it is not one."""
    if len(data) < 17 or data[0] != TAG_INTERNAL:
        raise StateCorrupted(f"state node {where.hex()} is not an internal node record")
    sizes = data[1:17]
    if not _SIZES_OK.issuperset(sizes):
        raise StateCorrupted(f"state node {where.hex()} has an entry of impossible size")
    n = 16 - sizes.count(0)
    expected = 17 + n * HASH_SIZE + sum(sizes)
    if n == 0 or len(data) != expected:
        raise StateCorrupted(f"state node {where.hex()} is {len(data)} bytes, expected {expected}")
    entries_at = 17 + n * HASH_SIZE
    if n == 16:
        preimage = INTERNAL_PREFIX + data[17:entries_at]
    else:
        buf = bytearray(EMPTY_PREIMAGE)
        pos = 17
        for at in compress(_HASH_AT, sizes):
            buf[at:at + HASH_SIZE] = data[pos:pos + HASH_SIZE]
            pos += HASH_SIZE
        preimage = bytes(buf)
    return preimage + sizes + data[entries_at:]


def node_entries(node: bytes) -> list[bytes]:
    """The 16 entries of an expanded node (b"" for an empty child)."""
    entries = [b""] * 16
    pos = ENTRIES_AT
    for i in range(16):
        size = node[SIZES_AT + i]
        if size:
            entries[i] = node[pos:pos + size]
            pos += size
    return entries


def child_entry(node: bytes, i: int) -> bytes:
    size = node[SIZES_AT + i]
    if not size:
        return b""
    at = ENTRIES_AT + sum(node[SIZES_AT:SIZES_AT + i])
    return node[at:at + size]


def decode_internal(data: bytes, where: bytes = b"") -> tuple[bytes, bytes, list[bytes]]:
    """Check a stored record and split it: (hash preimage, entry sizes, 16 entries)."""
    node = decode_node(data, where)
    return node[:PREIMAGE_SIZE], node[SIZES_AT:ENTRIES_AT], node_entries(node)


# --- root records ---------------------------------------------------------------------------
#
#   tag 0x22 | root hash (32) | entry: nothing (empty tree), node version (8) or key_hash || value version (40)


def encode_root(root_hash: bytes, entry: bytes) -> bytes:
    return ROOT_PREFIX + root_hash + entry


def decode_root(data: bytes, version: int) -> tuple[bytes, bytes]:
    if data[:1] != ROOT_PREFIX or len(data) not in (33, 33 + INTERNAL_ENTRY_SIZE, 33 + LEAF_ENTRY_SIZE):
        raise StateCorrupted(f"root record of state version {version} is malformed")
    entry = data[33:]
    root_hash = data[1:33]
    if (not entry) != (root_hash == EMPTY_ROOT):
        raise StateCorrupted(f"root record of state version {version} is inconsistent")
    return root_hash, entry


# --- value records --------------------------------------------------------------------------
#
#   tag 0x25 | value bytes        (the key holds this value from that version on)
#   tag 0x26                      (the key was deleted at that version)


def decode_value(data: bytes) -> bytes | None:
    if data[:1] == VALUE_PREFIX:
        return data[1:]
    if data == DELETED_RECORD:
        return None
    raise StateCorrupted("state value record has an unknown tag")


# --- stale records --------------------------------------------------------------------------
#
#   tag 0x24 | the stale keys concatenated
#
# Self-delimiting without length prefixes: a node key's length follows from its depth
# byte (2 + 8 + 1 + ceil(depth / 2)), a value key is always 42 bytes.

_VALUE_KEY_SIZE = len(VALUE_KEY) + HASH_SIZE + VERSION_SIZE
_NODE_DEPTH_AT = len(NODE_KEY) + VERSION_SIZE


def encode_stale(keys: list[bytes]) -> bytes:
    return STALE_PREFIX + b"".join(keys)


def decode_stale(record: bytes, where: bytes = b"") -> list[bytes]:
    if record[:1] != STALE_PREFIX:
        raise StateCorrupted(f"stale record {where.hex()} has an unknown tag")
    keys = []
    pos = 1
    end = len(record)
    while pos < end:
        kind = record[pos:pos + 2]
        if kind == VALUE_KEY:
            size = _VALUE_KEY_SIZE
        elif kind == NODE_KEY and pos + _NODE_DEPTH_AT < end and record[pos + _NODE_DEPTH_AT] <= MAX_DEPTH:
            size = _NODE_DEPTH_AT + 1 + (record[pos + _NODE_DEPTH_AT] + 1) // 2
        else:
            raise StateCorrupted(f"stale record {where.hex()} holds a key of unknown kind at byte {pos}")
        if pos + size > end:
            raise StateCorrupted(f"stale record {where.hex()} is truncated")
        keys.append(record[pos:pos + size])
        pos += size
    return keys
