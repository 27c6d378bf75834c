"""PBFT consensus: a pure state machine (no I/O), its messages, and commit-certificate verification.

The asyncio driver (consortium.node) owns sockets, timers and disk and talks to
:class:`PbftCore` only through ``step`` / ``tick`` / ``step_local`` /
``ready`` / ``advance``. See docs/design.md §10 and docs/protocol.md §7.
"""

from consortium.consensus.config import InvalidConsensusConfig, PbftConfig
from consortium.consensus.core import PbftCore
from consortium.consensus.errors import (
    BadBlock,
    BadSeal,
    BadSignature,
    ConflictingCommit,
    ConsensusError,
    CorruptPersistedState,
    DriverContractError,
    DuplicateSealer,
    InvalidCertificate,
    InvalidCommitCertificate,
    InvalidMessage,
    InvalidProposal,
    MalformedMessage,
    NotASealer,
    TooFewSeals,
    UnknownSealer,
    WrongChain,
)
from consortium.consensus.events import (
    BlockCommitted,
    BlockValidated,
    Counters,
    Equivocation,
    Outbound,
    ProposalReady,
    ProposalRequest,
    Ready,
    Status,
    StepResult,
    ValidateRequest,
    Verdict,
)
from consortium.consensus.messages import (
    Commit,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    decode_message,
)
from consortium.consensus.persist import PersistedState
from consortium.consensus.quorum import leader_index, max_faulty, quorum_size
from consortium.consensus.verify import verify_commit_certificate

__all__ = [
    "BadBlock", "BadSeal", "BadSignature", "BlockCommitted", "BlockValidated", "Commit", "ConflictingCommit",
    "ConsensusError", "CorruptPersistedState", "Counters", "DriverContractError", "DuplicateSealer",
    "Equivocation", "InvalidCertificate", "InvalidCommitCertificate", "InvalidConsensusConfig",
    "InvalidMessage", "InvalidProposal", "MalformedMessage", "Message", "NewView", "NotASealer", "Outbound",
    "PbftConfig", "PbftCore", "PersistedState", "PrePrepare", "Prepare", "PreparedCertificate",
    "ProposalReady", "ProposalRequest", "Ready", "Status", "StepResult", "TooFewSeals", "UnknownSealer",
    "ValidateRequest", "Verdict", "ViewChange", "WrongChain", "decode_message", "leader_index", "max_faulty",
    "quorum_size", "verify_commit_certificate",
]
