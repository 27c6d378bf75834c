"""Why a proof does not verify, as typed errors with a stable code and a message for a person.

The verifier answers exactly one of three ways, and the CLI maps them to exit codes:

* it returns :class:`~consortium.evidence.verify.VerifiedEvidence` (exit 0);
* it raises :class:`NotVerified` (exit 1): the verifier did its job and the proof
  does not prove the claim — the file changed, the proof was edited, truncated or is
  not a proof at all, it is for another chain, too few sealers signed, ...;
* the caller could not let it do its job (exit 2): a file that cannot be read, a
  genesis file that does not parse, a proof format newer than this verifier
  (:class:`UnsupportedBundle`).

``code`` is for scripts (stable, kebab-case); the message says what is wrong in words.
"""

from __future__ import annotations

FILE_CHANGED = "file-changed"
"""The file's SHA-256 is not the hash the proof is about."""
MALFORMED_PROOF = "malformed-proof"
"""The proof file is not a well-formed proof bundle (not JSON, truncated, a field of the wrong shape)."""
ANOTHER_CHAIN = "another-chain"
"""The proof is for a chain other than the one the genesis file describes."""
NOT_A_NOTARIZATION = "not-a-notarization"
"""The proven transaction is not a notarize call of the evidence contract for this hash."""
TRANSACTION_FAILED = "transaction-failed"
"""The proven transaction's receipt is not OK: it changed nothing."""
PROOF_ALTERED = "proof-altered"
"""A Merkle proof does not lead to its block's root, or the proven objects contradict each other."""
SEALER_SET = "sealer-set-mismatch"
"""A block names a sealer set other than the one in force per the genesis file and its certified changes."""
TOO_FEW_SIGNATURES = "too-few-signatures"
"""Fewer than a quorum of distinct sealers' commit seals verify over a block."""
INVALID_SIGNATURE = "invalid-signature"
"""A signature does not verify although a quorum of seals does: a transaction or certificate was altered."""
NOT_NOTARIZED = "not-notarized"
"""Verifying against a live node (``--rpc``): the node has no record of this hash."""
INVALID_CALL = "invalid-call"
"""A signed call the evidence contract's rules would refuse (a co-signer it does not list, a co-signature
before the notarization, malformed arguments) is certified as having succeeded."""
CONTRADICTS_SIGNED = "contradicts-signed"
"""The certified state says something the parties' signed transactions do not (metadata, signers, status,
co-signatures, case fields): the sealers that certified it, or the proof, lie."""

ANCHOR_MISMATCH = "anchor-mismatch"
"""The time anchor's checkpoint does not contain the notarization block's certified hash (another history,
another chain, or an edited path)."""
TIMESTAMP_OTHER_HASH = "timestamp-other-hash"
"""The RFC 3161 token is over another hash than the anchor's checkpoint."""
TIMESTAMP_UNTRUSTED = "timestamp-untrusted-tsa"
"""The RFC 3161 token is signed by a time-stamping authority the chain does not trust (genesis/governance)."""
TIMESTAMP_INVALID = "timestamp-invalid"
"""The RFC 3161 token claims a trusted TSA but its signature, certificate chain or policy does not verify."""
ANCHOR_TOO_LATE = "anchor-too-late"
"""Verifier policy (``--max-anchor-lag``): the time-stamp is later than the block's time by more than allowed."""
NO_ANCHOR = "no-anchor"
"""Verifier policy (``--require-anchor``, ``--max-anchor-lag``): the proof has no time-stamp token."""

NO_OPENING = "no-opening"
"""The proof names evidence by its on-chain key only (inside a case proof): it proves a record, not a file."""

CODES = (NO_OPENING, FILE_CHANGED, MALFORMED_PROOF, ANOTHER_CHAIN, NOT_A_NOTARIZATION, TRANSACTION_FAILED, PROOF_ALTERED,
         SEALER_SET, TOO_FEW_SIGNATURES, INVALID_SIGNATURE, NOT_NOTARIZED, INVALID_CALL, CONTRADICTS_SIGNED,
         ANCHOR_MISMATCH, TIMESTAMP_OTHER_HASH, TIMESTAMP_UNTRUSTED, TIMESTAMP_INVALID, ANCHOR_TOO_LATE, NO_ANCHOR)


class NotVerified(Exception):
    """The proof does not establish the claim; ``code`` is one of :data:`CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MalformedBundle(NotVerified):
    """The proof file is not a well-formed version-1 proof bundle."""

    def __init__(self, message: str) -> None:
        super().__init__(MALFORMED_PROOF, message)


class UnsupportedBundle(Exception):
    """The proof declares a format version this verifier does not know: upgrade, do not conclude."""


class EvidenceNotFound(LookupError):
    """The node has no evidence record for that hash (never notarized there)."""


class ProofUnavailable(RuntimeError):
    """A node answered, but not with what a proof bundle needs (missing block, inconsistent answers)."""
