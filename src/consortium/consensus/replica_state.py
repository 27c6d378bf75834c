"""State shared by the phases of the PBFT replica, and the helpers every phase uses.

:class:`~.core.PbftCore` is assembled from :class:`~.normal_case.NormalCase`
(PRE-PREPARE, PREPARE, COMMIT) and :class:`~.view_change.ViewChanges`
(VIEW-CHANGE, NEW-VIEW) over this base, so each file holds one phase of the
protocol. Signing goes through :meth:`ReplicaState._sign` only: that is where
the persisted vote state forbids a second, different signature.
"""

from __future__ import annotations

from typing import TypeVar

from consortium.consensus.config import PbftConfig
from consortium.consensus.events import Equivocation, Outbound, Request, StepResult, Verdict
from consortium.consensus.messages import (
    Commit,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from consortium.consensus.verify import HeightContext, header_hash
from consortium.consensus.votes import VoteLog
from consortium.crypto.suite import CryptoSuite, KeyPair
from consortium.ledger.block import Block

M = TypeVar("M", PrePrepare, Prepare, Commit, ViewChange, NewView)
MAX_EVIDENCE = 16
ACCEPTED = StepResult(Verdict.ACCEPTED)


def result(verdict: Verdict, reason: str = "") -> StepResult:
    return StepResult(verdict, reason)


class ReplicaState:
    """Fields of one replica at one height (reset by ``_enter_height``), plus the shared helpers."""

    _cfg: PbftConfig
    _key: KeyPair
    _suite: CryptoSuite
    _me: bytes
    _counts: dict[str, int]
    _evidence: list[Equivocation]
    _out_messages: list[Outbound]
    _out_requests: list[Request]
    _out_committed: list[Block]
    _dirty: bool
    """The persisted vote state changed: the next Ready must carry it."""

    # per height
    _ctx: HeightContext
    _my_index: int | None
    """This node's index in the sealer set; None for an observer."""
    _view: int
    _active: bool
    """View ``_view`` is open here (view 0, or its NEW-VIEW installed); False while changing view."""
    _elapsed: int
    _signed_view: int
    _signed: dict[int, bytes]
    """phase tag -> digest of what this node signed in ``_signed_view`` (persisted)."""
    _prepared: PreparedCertificate | None
    _prepared_block: Block | None
    _prepared_block_encoding: bytes | None
    _blocks: dict[bytes, Block]
    _validated: dict[bytes, bool]
    _validation_requested: dict[bytes, None]
    _proposal: PrePrepare | None
    """The accepted proposal of the current view (with its block)."""
    _pre_prepares: dict[int, PrePrepare]
    _new_views: dict[int, NewView]
    _prepares: VoteLog[Prepare]
    _commits: VoteLog[Commit]
    _view_changes: dict[int, ViewChange]
    """Latest VIEW-CHANGE per sender index."""
    _decided: Block | None
    _awaiting_proposal: bool
    _nv_set: tuple[ViewChange, ...] | None
    _my_new_view: NewView | None
    _nv_replied: dict[int, None]

    # -- implemented by the phase mixins (declared for the other phase's sake) ----------------------

    def _on_proposal(self) -> None:
        raise NotImplementedError

    def _check_prepared(self) -> None:
        raise NotImplementedError

    def _check_commit(self, block_hash: bytes) -> None:
        raise NotImplementedError

    def _start_view_change(self, new_view: int) -> None:
        raise NotImplementedError

    def _send_new_view(self, chosen: tuple[ViewChange, ...], block: Block) -> None:
        raise NotImplementedError

    # -- shared helpers -------------------------------------------------------------------------------

    def _equivocation(self, first: Message, second: Message) -> StepResult:
        self._evidence.append(Equivocation(second.sender, first, second))
        del self._evidence[:-MAX_EVIDENCE]
        return result(Verdict.REJECTED_EQUIVOCATION,
                      f"second, different {second.NAME} for height {second.height} view {second.view}")

    def _remember_block(self, block: Block) -> None:
        h = header_hash(block.header, self._suite)
        if h not in self._blocks and len(self._blocks) < self._cfg.max_blocks_per_height:
            self._blocks[h] = block

    def _sign(self, unsigned: M) -> M | None:
        """Sign only what the persisted vote state allows: never two different digests per phase and view."""
        view, phase = unsigned.view, unsigned.TAG
        signed = unsigned.signed_by(self._key)
        digest = signed.digest(self._suite)
        if view < self._signed_view:
            self._counts["double_signs_refused"] += 1
            return None
        if view > self._signed_view:
            self._signed_view, self._signed = view, {}
        held = self._signed.get(phase)
        if held is not None and held != digest:
            self._counts["double_signs_refused"] += 1
            return None
        if held is None:
            self._signed[phase] = digest
            self._dirty = True
        return signed

    def _broadcast(self, msg: Message) -> None:
        self._out_messages.append(Outbound(msg))
