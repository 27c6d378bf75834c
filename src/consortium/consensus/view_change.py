"""View changes ([CL99] 4.4): leaving a view that does not decide, and opening the next one.

On timeout a sealer sends VIEW-CHANGE for ``v + 1`` carrying its highest
prepared certificate. The leader of ``v + 1`` waits for a quorum of them and
sends NEW-VIEW: the set, plus a PRE-PREPARE for the block of the highest
certificate in it (a block prepared in an older view is never replaced), or
for a fresh block when none carries one. Replicas re-check that choice from
the set (see :func:`~.verify.check_new_view`) before installing the view.
f + 1 VIEW-CHANGEs for higher views make a sealer join the lowest of them
([CL99] 4.5.2), so honest sealers cannot drift apart for long.
"""

from __future__ import annotations

from dataclasses import replace

from consortium.consensus.events import Outbound, ProposalRequest, StepResult, Verdict
from consortium.consensus.messages import NewView, PrePrepare, ViewChange
from consortium.consensus.replica_state import ACCEPTED, ReplicaState, result
from consortium.consensus.verify import check_new_view, check_view_change, header_hash, highest_prepared
from consortium.ledger.block import Block


class ViewChanges(ReplicaState):
    def _on_view_change(self, vc: ViewChange, idx: int) -> StepResult:
        if self._my_index is None:
            return result(Verdict.IGNORED, "observers do not take part in view changes")
        if vc.view < self._view or (vc.view == self._view and self._active):
            self._reply_new_view(vc, idx)
            return result(Verdict.STALE, f"VIEW-CHANGE to view {vc.view}, this node is in view {self._view}")
        held = self._view_changes.get(idx)
        if held is not None and held.view > vc.view:
            return result(Verdict.STALE, "older than this sender's latest VIEW-CHANGE")
        check_view_change(vc, self._ctx)
        if held is not None and held.view == vc.view:
            if held.signing_bytes == vc.signing_bytes:
                return result(Verdict.DUPLICATE)
            return self._equivocation(held, vc)
        self._view_changes[idx] = vc
        if vc.block is not None:
            self._remember_block(vc.block)
        self._check_join()
        self._try_new_view()
        return ACCEPTED

    def _on_new_view(self, nv: NewView) -> StepResult:
        if nv.view < self._view:
            return result(Verdict.STALE, f"NEW-VIEW for view {nv.view}, this node is in view {self._view}")
        held = self._new_views.get(nv.view)
        if held is not None and held.signing_bytes == nv.signing_bytes:
            return result(Verdict.DUPLICATE)
        check_new_view(nv, self._ctx)
        if held is not None:
            if held.pre_prepare.block_hash == nv.pre_prepare.block_hash:
                return result(Verdict.DUPLICATE)
            return self._equivocation(held, nv)
        if nv.view == self._view and self._active:
            return result(Verdict.STALE, f"view {nv.view} is already open here")
        self._install_new_view(nv)
        return ACCEPTED

    def _start_view_change(self, new_view: int) -> None:
        assert new_view > self._view, "views never go backwards"
        self._view = new_view
        self._active = False
        self._elapsed = 0
        self._proposal = None
        self._awaiting_proposal = False
        self._nv_set = None
        self._my_new_view = None
        self._nv_replied = {}
        self._prepares.prune_below(new_view)
        self._dirty = True
        self._counts["view_changes_started"] += 1
        self._send_view_change()
        self._check_join()
        self._try_new_view()

    def _send_view_change(self) -> None:
        assert self._my_index is not None
        vc = self._sign(ViewChange(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, self._view, self._me,
                                   self._prepared, block=self._prepared_block))
        if vc is None:
            return
        self._broadcast(vc)
        self._view_changes[self._my_index] = vc

    def _check_join(self) -> None:
        """f + 1 sealers asking for views above ours include an honest one: join the lowest of theirs."""
        if self._my_index is None:
            return
        higher = sorted((vc.view for i, vc in self._view_changes.items()
                         if vc.view > self._view and i != self._my_index), reverse=True)
        f = self._ctx.f
        if len(higher) >= f + 1:
            self._start_view_change(higher[f])

    def _try_new_view(self) -> None:
        if (self._my_index is None or self._active or self._view == 0 or self._decided is not None
                or self._ctx.leader(self._view) != self._me or self._nv_set is not None):
            return
        if self._signed_view == self._view and PrePrepare.TAG in self._signed:
            return  # opened this view before a restart; cannot rebuild that NEW-VIEW, so let it time out
        vcs = [vc for _, vc in sorted(self._view_changes.items()) if vc.view == self._view]
        if len(vcs) < self._ctx.quorum:
            return
        chosen = tuple(vc.without_block() for vc in vcs[: self._ctx.quorum])
        cert = highest_prepared(chosen)
        if cert is None:
            self._nv_set = chosen
            self._awaiting_proposal = True
            self._out_requests.append(ProposalRequest(self._ctx.height, self._view, self._ctx.parent_hash))
            return
        block = self._blocks.get(cert.block_hash)
        if block is not None:
            self._nv_set = chosen
            self._send_new_view(chosen, block)

    def _send_new_view(self, chosen: tuple[ViewChange, ...], block: Block) -> None:
        block_hash = header_hash(block.header, self._suite)
        pp = self._sign(PrePrepare(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, self._view,
                                   self._me, block_hash))
        if pp is None:
            return
        nv = self._sign(NewView(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, self._view, self._me,
                                chosen, pp, block=block))
        if nv is None:
            return
        self._broadcast(nv)
        self._my_new_view = nv
        self._install_new_view(nv)

    def _install_new_view(self, nv: NewView) -> None:
        assert nv.block is not None
        if nv.view > self._view:
            self._prepares.prune_below(nv.view)
        self._view = nv.view
        self._active = True
        self._elapsed = 0
        self._dirty = True
        self._awaiting_proposal = False
        self._new_views[nv.view] = nv
        pp = replace(nv.pre_prepare, block=nv.block)
        self._pre_prepares[nv.view] = pp
        self._remember_block(nv.block)
        self._proposal = pp
        self._counts["new_views_installed"] += 1
        self._on_proposal()
        self._check_prepared()

    def _reply_new_view(self, vc: ViewChange, idx: int) -> None:
        """A sealer still asks for a view we lead and opened: it missed our NEW-VIEW, send it again."""
        nv = self._my_new_view
        if nv is not None and nv.view == self._view and vc.view <= self._view and idx not in self._nv_replied:
            self._nv_replied[idx] = None
            self._out_messages.append(Outbound(nv, to=vc.sender))
