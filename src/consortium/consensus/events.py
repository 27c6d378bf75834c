"""What goes into and comes out of the PBFT core, besides peer messages.

In: ``tick()``, ``step(message)`` and, through ``step_local``, the
application's answers (:class:`ProposalReady`, :class:`BlockValidated`) and the
ledger's news (:class:`BlockCommitted`). Out: one :class:`Ready` at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, TypeAlias

from consortium.consensus.messages import Message
from consortium.ledger.block import Block, BlockHeader

if TYPE_CHECKING:
    from consortium.consensus.persist import PersistedState


# --- requests to the application (out) ---------------------------------------------------------


@dataclass(frozen=True)
class ProposalRequest:
    """This node leads ``(height, view)`` and needs a fresh block on top of ``parent_hash``.

    Answer with ``step_local(ProposalReady(block))``. The block header must
    carry number = height, parent_hash, view = view, proposer = this node's id
    and the sealer set in force; the driver has executed it (its state root is
    the one it will commit). A late answer for a view the core has left is
    ignored, so the driver need not cancel anything.
    """

    height: int
    view: int
    parent_hash: bytes


@dataclass(frozen=True)
class ValidateRequest:
    """A leader proposed ``block``: re-check every transaction and re-execute it.

    Answer with ``step_local(BlockValidated(block.hash, ok, reason))``; ok is
    False when any transaction is invalid or the re-executed state root (or
    receipt root) differs from the header's. The core sends no PREPARE for the
    block before ok=True.
    """

    block: Block


Request: TypeAlias = ProposalRequest | ValidateRequest


# --- feedback from the application (in) --------------------------------------------------------


@dataclass(frozen=True)
class ProposalReady:
    """The answer to a :class:`ProposalRequest`: a block this node built and executed."""

    block: Block


@dataclass(frozen=True)
class BlockValidated:
    """The answer to a :class:`ValidateRequest`."""

    block_hash: bytes
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class BlockCommitted:
    """The ledger now durably holds block ``header.number`` (with its commit certificate).

    Sent by the driver after it has written a block from ``Ready.committed``,
    and also for a block obtained by block sync. The core then moves to height
    ``header.number + 1`` with ``next_sealers`` (None = unchanged). For a block
    the core did not commit itself, the certificate is verified again and a
    contradiction with what the core committed raises ConflictingCommit.
    """

    header: BlockHeader
    next_sealers: tuple[bytes, ...] | None = None


LocalEvent: TypeAlias = ProposalReady | BlockValidated | BlockCommitted


# --- the Ready value (out) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outbound:
    """A message to send: to every peer (``to`` None) or to the one node ``to``."""

    message: Message
    to: bytes | None = None


@dataclass(frozen=True)
class Ready:
    """Everything the driver must do, in field order, before calling ``advance()``.

    The driver handles one Ready completely (persist, send, hand requests to
    the application, write committed blocks) and then calls ``advance()``; only
    then may it ask for the next Ready.
    """

    persist: PersistedState | None
    """The vote state to make durable (encode it and fsync it, e.g. write a temp
    file, fsync, rename, fsync the directory) BEFORE any message of this Ready
    leaves the process. It records every signature in ``messages``; sending
    first and crashing could make the node sign a conflicting vote after restart.
    None: nothing changed since the last Ready."""

    messages: tuple[Outbound, ...]
    """Send after ``persist`` is durable. Loss, duplication and reordering are
    tolerated; there is no need to retry."""

    requests: tuple[Request, ...]
    """Hand to the application (may be answered asynchronously, via ``step_local``)."""

    committed: tuple[Block, ...]
    """Blocks decided by consensus, each carrying its commit certificate
    (``header.signatures``), in height order. Execute and write each in one
    atomic batch, then report it with ``step_local(BlockCommitted(header))``;
    the core stays at this height until then."""

    def is_empty(self) -> bool:
        return self.persist is None and not self.messages and not self.requests and not self.committed


# --- step results and status --------------------------------------------------------------------


class Verdict(Enum):
    """What ``step`` did with a message (tests assert on it; the driver may log it)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    """For an older height or view, or a view this node has already left."""
    BUFFERED = "buffered"
    """For a height just ahead; kept (bounded) and replayed on reaching that height."""
    IGNORED = "ignored"
    """Well-formed but of no use to this node (too far ahead, a vote an observer does not need, buffer full)."""
    REJECTED_INVALID = "rejected-invalid"
    REJECTED_NON_SEALER = "rejected-non-sealer"
    REJECTED_EQUIVOCATION = "rejected-equivocation"


@dataclass(frozen=True)
class StepResult:
    verdict: Verdict
    reason: str = ""

    @property
    def rejected(self) -> bool:
        return self.verdict in (Verdict.REJECTED_INVALID, Verdict.REJECTED_NON_SEALER,
                                Verdict.REJECTED_EQUIVOCATION)


@dataclass(frozen=True)
class Counters:
    """Cumulative counts since the core was constructed (exposed by ``status()``)."""

    rejected_invalid: int = 0
    rejected_non_sealer: int = 0
    equivocations: int = 0
    stale: int = 0
    duplicates: int = 0
    buffered: int = 0
    ignored: int = 0
    view_changes_started: int = 0
    new_views_installed: int = 0
    blocks_committed: int = 0
    proposals_refused: int = 0
    """Blocks the application reported invalid (BlockValidated ok=False)."""
    double_signs_refused: int = 0
    """Times the core declined to sign because its vote state says it already signed something else
    for that view and phase (only after a restart; the proof that double signing is prevented)."""


@dataclass(frozen=True)
class Equivocation:
    """Two validly signed messages from one sender for the same height, view and phase."""

    sender: bytes
    first: Message
    second: Message


@dataclass(frozen=True)
class Status:
    height: int
    view: int
    view_active: bool
    """False while this node waits for a NEW-VIEW for ``view``."""
    leader: bytes
    is_sealer: bool
    decided: bytes | None
    """Hash of the block committed at ``height`` and not yet acknowledged by BlockCommitted."""
    timeout_ticks: int
    """Ticks the current view (or view change) lasts before the next view change."""
    counters: Counters
    recent_equivocations: tuple[Equivocation, ...]
