"""Typed errors of the consensus layer.

Two families, kept apart on purpose:

* errors about *untrusted input* (bytes from the network, a certificate from a
  peer): :class:`MalformedMessage` from the decoder, :class:`InvalidMessage` and
  its subclasses from verification, :class:`InvalidCommitCertificate`. The core
  never raises these out of ``step``: it rejects the message and counts it.
* errors about the *driver breaking the contract* (a proposal for the wrong
  parent, a synced block that contradicts what this node committed, a
  persisted state that does not belong to this chain): raised to the caller,
  because they mean a bug or a corrupted disk, not a hostile peer.
"""

from __future__ import annotations

from consortium.encoding.canonical import DecodeError


class ConsensusError(ValueError):
    """Base class of every error raised by consortium.consensus."""


class MalformedMessage(ConsensusError, DecodeError):
    """Bytes are not the canonical encoding of a consensus message (the only error the decoder raises)."""


class InvalidMessage(ConsensusError):
    """A well-formed message fails verification; ``reason`` says which rule it broke."""


class WrongChain(InvalidMessage):
    """The message names another chain or group."""


class NotASealer(InvalidMessage):
    """The sender (or a signer embedded in the message) is not in the sealer set."""


class BadSignature(InvalidMessage):
    """A signature or commit seal does not verify against the claimed signer."""


class BadBlock(InvalidMessage):
    """An attached block does not hash to the signed hash, or does not extend this node's chain."""


class InvalidCertificate(InvalidMessage):
    """A prepared certificate, VIEW-CHANGE set or NEW-VIEW choice does not prove what it claims."""


class InvalidCommitCertificate(ConsensusError):
    """A block header's commit signatures are not a quorum of distinct valid seals of its sealers."""


class TooFewSeals(InvalidCommitCertificate):
    pass


class DuplicateSealer(InvalidCommitCertificate):
    pass


class UnknownSealer(InvalidCommitCertificate):
    """A seal names an index outside the header's sealer list."""


class BadSeal(InvalidCommitCertificate):
    pass


class CorruptPersistedState(ConsensusError, DecodeError):
    """The persisted vote state cannot be decoded, fails its checksum, or belongs to another chain."""


class DriverContractError(ConsensusError):
    """The driver called the core in a way the Ready/advance contract forbids."""


class InvalidProposal(DriverContractError):
    """``ProposalReady`` carried a block that does not fit the request (parent, proposer, sealers)."""


class ConflictingCommit(DriverContractError):
    """The driver reports a committed block that differs from the one this core committed.

    This means more than f sealers are Byzantine (or the driver is broken); the
    node must stop rather than continue on a forked chain.
    """
