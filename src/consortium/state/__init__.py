"""The authenticated state store: a versioned Jellyfish-style sparse Merkle tree in the KV store.

See :mod:`consortium.state.nodes` for the hashing rule and the storage layout,
:mod:`consortium.state.tree` for :class:`StateTree`, and
:mod:`consortium.state.proof` for proofs and their pure verifier.
"""

from consortium.state.nodes import EMPTY_ROOT, NAMESPACE, StateCorrupted, StateError
from consortium.state.proof import InvalidStateProof, MalformedStateProof, StateProof, verify_proof
from consortium.state.tree import StateTree, StateVersionError

__all__ = [
    "EMPTY_ROOT",
    "NAMESPACE",
    "InvalidStateProof",
    "MalformedStateProof",
    "StateCorrupted",
    "StateError",
    "StateProof",
    "StateTree",
    "StateVersionError",
    "verify_proof",
]
