"""The normal case of one height: proposal, validation, PREPARE, COMMIT, decision ([CL99] 4.2).

A sealer accepts one proposal per view (view 0: a bare PRE-PREPARE from the
leader; later views: the one inside the NEW-VIEW), has the application
re-execute it, and only then sends PREPARE. With a quorum of PREPAREs in its
view it is prepared (the certificate is persisted) and sends COMMIT with its
commit seal; a quorum of COMMITs of one view for a block it holds decides the
block. Unlike [CL99], a sealer that is not itself prepared may still decide
on a COMMIT quorum: that quorum already contains f + 1 honest prepared
sealers, which is what "committed" means.
"""

from __future__ import annotations

from consortium.consensus.errors import InvalidMessage, InvalidProposal
from consortium.consensus.events import BlockValidated, ProposalRequest, StepResult, ValidateRequest, Verdict
from consortium.consensus.messages import Commit, Prepare, PreparedCertificate, PrePrepare
from consortium.consensus.replica_state import ACCEPTED, ReplicaState, result
from consortium.consensus.verify import (
    check_block,
    check_fresh_proposal,
    check_pre_prepare,
    check_signature,
    header_hash,
)
from consortium.consensus.votes import AddResult
from consortium.ledger.block import Block, CommitSignature


class NormalCase(ReplicaState):
    def _on_pre_prepare(self, pp: PrePrepare) -> StepResult:
        if pp.view > 0:
            raise InvalidMessage("a PRE-PREPARE for a view above 0 is only valid inside that view's NEW-VIEW")
        if self._view > 0:
            return result(Verdict.STALE, "PRE-PREPARE for view 0, which this node has left")
        if pp.block is None:
            raise InvalidMessage("PRE-PREPARE carries no block")
        check_pre_prepare(pp, self._ctx)
        held = self._pre_prepares.get(0)
        if held is not None:
            if held.block_hash == pp.block_hash:
                return result(Verdict.DUPLICATE)
            return self._equivocation(held, pp)
        check_block(pp.block, pp.block_hash, self._ctx)
        check_fresh_proposal(pp.block.header, 0, self._ctx)
        self._pre_prepares[0] = pp
        self._remember_block(pp.block)
        self._proposal = pp
        self._on_proposal()
        return ACCEPTED

    def _on_prepare(self, p: Prepare, idx: int) -> StepResult:
        if p.view < self._view:
            return result(Verdict.STALE, f"PREPARE for view {p.view}, this node is in view {self._view}")
        if p.view > self._view + self._cfg.view_window:
            return result(Verdict.IGNORED, f"PREPARE for view {p.view} is too far ahead")
        if self._my_index is None:
            return result(Verdict.IGNORED, "observers do not count prepares")
        check_signature(p, self._ctx)
        added, held = self._prepares.add(p.view, idx, p)
        if added is AddResult.DUPLICATE:
            return result(Verdict.DUPLICATE)
        if added is AddResult.CONFLICT:
            assert held is not None
            return self._equivocation(held, p)
        if p.view == self._view:
            self._check_prepared()
        return ACCEPTED

    def _on_commit(self, c: Commit, idx: int) -> StepResult:
        if c.view > self._view + self._cfg.view_window:
            return result(Verdict.IGNORED, f"COMMIT for view {c.view} is too far ahead")
        check_signature(c, self._ctx)
        added, held = self._commits.add(c.view, idx, c)
        if added is AddResult.DUPLICATE:
            return result(Verdict.DUPLICATE)
        if added is AddResult.CONFLICT:
            assert held is not None
            return self._equivocation(held, c)
        self._check_commit(c.block_hash)
        return ACCEPTED

    def _maybe_request_proposal(self) -> None:
        if (self._my_index is None or self._view != 0 or not self._active or self._decided is not None
                or self._ctx.leader(0) != self._me or self._awaiting_proposal or 0 in self._pre_prepares):
            return
        if self._signed_view == 0 and PrePrepare.TAG in self._signed:
            return  # proposed before a restart; that block is gone, so wait for the view to time out
        self._awaiting_proposal = True
        self._out_requests.append(ProposalRequest(self._ctx.height, 0, self._ctx.parent_hash))

    def _on_proposal_ready(self, block: Block) -> None:
        header = block.header
        if not self._awaiting_proposal or header.number != self._ctx.height or header.view != self._view:
            self._counts["ignored"] += 1
            return  # an answer to a request for a view (or height) this node has left
        block_hash = header_hash(header, self._suite)
        try:
            check_block(block, block_hash, self._ctx)
            check_fresh_proposal(header, self._view, self._ctx)
        except InvalidMessage as exc:
            raise InvalidProposal(f"ProposalReady for height {self._ctx.height} view {self._view}: {exc}") from None
        self._awaiting_proposal = False
        self._validated[block_hash] = True
        self._remember_block(block)
        if self._view == 0:
            pp = self._sign(PrePrepare(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, 0, self._me,
                                       block_hash, block=block))
            if pp is None:
                return
            self._broadcast(pp)
            self._pre_prepares[0] = pp
            self._proposal = pp
            self._on_proposal()
        elif self._nv_set is not None:
            self._send_new_view(self._nv_set, block)

    def _on_block_validated(self, ev: BlockValidated) -> None:
        if ev.block_hash not in self._validation_requested or ev.block_hash in self._validated:
            return
        self._validated[ev.block_hash] = ev.ok
        current = self._proposal is not None and self._proposal.block_hash == ev.block_hash and self._active
        if not ev.ok:
            self._counts["proposals_refused"] += 1
            if current and self._decided is None and self._my_index is not None:
                self._start_view_change(self._view + 1)
        elif current:
            self._send_prepare()

    def _on_proposal(self) -> None:
        """A proposal for the current view was accepted: validate it, or prepare if already validated."""
        assert self._proposal is not None
        h = self._proposal.block_hash
        if self._my_index is not None:
            ok = self._validated.get(h)
            if ok:
                self._send_prepare()
            elif ok is None and h not in self._validation_requested:
                self._validation_requested[h] = None
                block = self._proposal.block if self._proposal.block is not None else self._blocks[h]
                self._out_requests.append(ValidateRequest(block))
        self._check_commit(h)

    def _send_prepare(self) -> None:
        assert self._proposal is not None and self._my_index is not None
        if self._decided is not None or self._prepares.has_vote(self._view, self._my_index):
            return
        p = self._sign(Prepare(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, self._view, self._me,
                               self._proposal.block_hash))
        if p is None:
            return
        self._broadcast(p)
        self._prepares.add(self._view, self._my_index, p)
        self._check_prepared()

    def _check_prepared(self) -> None:
        pp = self._proposal
        if pp is None or not self._active or self._my_index is None or self._decided is not None:
            return
        if self._prepared is not None and self._prepared.view >= self._view:
            return
        if not self._validated.get(pp.block_hash) or not self._prepares.has_vote(self._view, self._my_index):
            return
        voters = self._prepares.voters(self._view, pp.block_hash)
        if len(voters) < self._ctx.quorum:
            return
        self._prepared = PreparedCertificate(pp.without_block(), tuple(v for _, v in voters[: self._ctx.quorum]))
        if self._prepared_block is None or self._prepared.block_hash != header_hash(self._prepared_block.header,
                                                                                      self._suite):
            self._prepared_block = self._blocks[pp.block_hash]
            self._prepared_block_encoding = self._prepared_block.encode()
        self._dirty = True
        c = self._sign(Commit(self._cfg.chain_id, self._cfg.group_id, self._ctx.height, self._view, self._me,
                              pp.block_hash))
        if c is None:
            return
        self._broadcast(c)
        self._commits.add(self._view, self._my_index, c)
        self._check_commit(pp.block_hash)

    def _check_commit(self, block_hash: bytes) -> None:
        if self._decided is not None:
            return
        block = self._blocks.get(block_hash)
        if block is None:
            return
        q = self._ctx.quorum
        for view in self._commits.views():
            voters = self._commits.voters(view, block_hash)
            if len(voters) >= q:
                seals = [CommitSignature(i, c.seal) for i, c in voters[:q]]
                self._decided = Block(block.header.with_signatures(seals, view), block.transactions)
                self._out_committed.append(self._decided)
                self._counts["blocks_committed"] += 1
                return
