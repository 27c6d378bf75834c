"""Evidence proofs: the bundle format, building it from a node, and the pure offline verifier.

* :mod:`~consortium.evidence.bundle`: the versioned JSON proof bundle and its strict parser;
* :mod:`~consortium.evidence.build`: :func:`fetch_bundle` from a node's JSON-RPC answers;
* :mod:`~consortium.evidence.verify`: :func:`verify_bundle` (genesis, bundle, file hash);
* :mod:`~consortium.evidence.filehash`: streaming SHA-256 of evidence files;
* :mod:`~consortium.evidence.commitment`: the salted commitment that goes on chain instead of the hash.

Layering: above ledger, state, execution (key layout), consensus (certificate
checks) and node.genesis; beside rpc and cli. The verifier imports no network code.
"""

from consortium.evidence.bundle import BUNDLE_TYPE, BUNDLE_VERSION, ProofBundle, load_bundle, parse_bundle
from consortium.evidence.errors import (
    EvidenceNotFound,
    MalformedBundle,
    NotVerified,
    ProofUnavailable,
    UnsupportedBundle,
)
from consortium.evidence.filehash import hash_file
from consortium.evidence.record import EvidenceRecord, record_key
from consortium.evidence.verify import VerifiedEvidence, verify_bundle

__all__ = [
    "BUNDLE_TYPE", "BUNDLE_VERSION", "EvidenceNotFound", "EvidenceRecord", "MalformedBundle", "NotVerified",
    "ProofBundle", "ProofUnavailable", "UnsupportedBundle", "VerifiedEvidence", "hash_file", "load_bundle",
    "parse_bundle", "record_key", "verify_bundle",
]
