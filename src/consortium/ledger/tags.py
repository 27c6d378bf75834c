"""Type tags: the first element of every encoded ledger object.

A tag names the object type and its format version in one small integer. Because
it is inside every hashed payload, the bytes hashed for one kind of object can
never be mistaken for those of another (domain separation). A new format of an
object gets a new tag; old tags stay readable.
"""

TAG_TRANSACTION = 1
TAG_BLOCK_HEADER = 2
TAG_RECEIPT = 3
TAG_BLOCK = 4
TAG_COMMIT_SEAL = 5
"""Prefix of what a sealer signs to commit a block: ``[5, block_hash, view]``."""
TAG_CONSENSUS = 16
"""Consensus messages use tags from 16 up (see consortium.consensus.messages)."""
TAG_STATE_NODE = 32
"""Merkle state tree nodes use tags from 32 up (see consortium.state)."""
TAG_EVIDENCE_ITEM = 48
"""An evidence item notarized through a gateway batch: ``[48, commitment, metadata]`` (docs/protocol.md §12)."""
TAG_CHECKPOINT = 64
"""A time-anchor checkpoint: a Merkle root over a range of block hashes (consortium.ledger.checkpoint)."""
TAG_ANCHOR = 65
"""A checkpoint with the RFC 3161 time-stamp reply over it."""
