"""The PBFT state machine (Castro–Liskov, one instance per block height, as FISCO BCOS runs it).

Pure: no sockets, clocks, randomness, disk or threads. Like etcd raft's
RawNode, everything comes in through :meth:`PbftCore.step` (a decoded,
untrusted peer message), :meth:`PbftCore.tick` (time, counted in ticks) and
:meth:`PbftCore.step_local` (the application's answers and the ledger's news),
and everything goes out through one :class:`~.events.Ready` at a time:
:meth:`ready` then :meth:`advance`. See docs/notes/consensus.md.

Per height ``h`` and view ``v`` (leader ``sealers[(h + v) % n]``):

1. view 0: the leader asks the application for a block (ProposalRequest) and
   broadcasts PRE-PREPARE; in a view above 0 the proposal travels inside the
   NEW-VIEW that opens the view.
2. a sealer that accepts the proposal asks the application to re-execute it
   (ValidateRequest) and sends PREPARE only once told ok.
3. with a quorum of PREPAREs for the block in ``v`` it is *prepared*: it keeps
   the certificate (persisted) and sends COMMIT carrying its commit seal.
4. with a quorum of COMMITs for one block in one view (any view of this height)
   it decides; the block goes out in ``Ready.committed`` with the quorum's seals
   as its certificate, and the core waits for BlockCommitted before moving on.

A view that does not decide in ``timeout_ticks(v)`` ends: the sealer sends
VIEW-CHANGE for ``v + 1`` with its highest prepared certificate; the new
leader gathers a quorum of them and sends NEW-VIEW re-proposing the block of the
highest certificate (or a fresh block when there is none). A sealer joins a
higher view as soon as f + 1 others ask for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from consortium.crypto.suite import KeyPair
from consortium.ledger.block import Block, CommitSignature
from consortium.consensus.config import PbftConfig
from consortium.consensus.errors import (
    ConflictingCommit,
    CorruptPersistedState,
    DriverContractError,
    InvalidMessage,
    InvalidProposal,
)
from consortium.consensus.events import (
    BlockCommitted,
    BlockValidated,
    Counters,
    Equivocation,
    LocalEvent,
    Outbound,
    ProposalReady,
    ProposalRequest,
    Ready,
    Request,
    Status,
    StepResult,
    ValidateRequest,
    Verdict,
)
from consortium.consensus.messages import (
    TAG_VIEW_CHANGE,
    Commit,
    Message,
    NewView,
    PrePrepare,
    PreparedCertificate,
    Prepare,
    ViewChange,
)
from consortium.consensus.persist import PersistedState
from consortium.consensus.verify import (
    HeightContext,
    check_block,
    check_fresh_proposal,
    check_new_view,
    check_pre_prepare,
    check_prepared_certificate,
    check_signature,
    check_view_change,
    header_hash,
    highest_prepared,
    verify_commit_certificate,
)
from consortium.consensus.votes import AddResult, VoteLog

_MAX_EVIDENCE = 16
_COUNTER_OF = {
    Verdict.STALE: "stale",
    Verdict.DUPLICATE: "duplicates",
    Verdict.BUFFERED: "buffered",
    Verdict.IGNORED: "ignored",
    Verdict.REJECTED_INVALID: "rejected_invalid",
    Verdict.REJECTED_NON_SEALER: "rejected_non_sealer",
    Verdict.REJECTED_EQUIVOCATION: "equivocations",
}
ACCEPTED = StepResult(Verdict.ACCEPTED)


def _result(verdict: Verdict, reason: str = "") -> StepResult:
    return StepResult(verdict, reason)


class PbftCore:
    """One node's PBFT replica. Not thread-safe; the driver calls it from one task."""

    def __init__(
        self,
        config: PbftConfig,
        key: KeyPair,
        *,
        sealers: Sequence[bytes],
        height: int,
        parent_hash: bytes,
        persisted: PersistedState | None = None,
    ) -> None:
        """Start deciding block ``height`` on top of ``parent_hash`` (the ledger head).

        ``sealers`` is the sealer set in force at ``height`` (node ids, on-chain
        order). A node whose key is not among them is an observer: it follows
        proposals and commits but never signs. ``persisted`` is the last state
        the driver made durable (``PersistedState.decode`` of its file); it is
        used only if it is for ``height`` (an older one is simply stale).
        """
        self._cfg = config
        self._key = key
        self._suite = key.suite
        self._me = key.public_key
        self._counts: dict[str, int] = dict.fromkeys(Counters.__dataclass_fields__, 0)
        self._evidence: list[Equivocation] = []
        self._out_messages: list[Outbound] = []
        self._out_requests: list[Request] = []
        self._out_committed: list[Block] = []
        self._dirty = False
        self._inflight = False
        self._future: list[Message] = []
        self._future_count: dict[bytes, int] = {}
        if len(set(sealers)) != len(sealers) or not sealers:
            raise DriverContractError("the sealer set must be non-empty and list each node once")
        self._enter_height(height, parent_hash, tuple(sealers), persisted)

    # ------------------------------------------------------------------ public API

    def tick(self) -> None:
        """Advance time by one tick; a view that outlives ``timeout_ticks`` ends in a VIEW-CHANGE."""
        if self._my_index is None or self._decided is not None:
            return
        self._elapsed += 1
        if self._elapsed >= self._cfg.timeout_ticks(self._view):
            self._start_view_change(self._view + 1)

    def step(self, msg: Message) -> StepResult:
        """Take one decoded message from a peer; never raises for bad input (it is rejected and counted)."""
        result = self._step(msg)
        counter = _COUNTER_OF.get(result.verdict)
        if counter is not None:
            self._counts[counter] += 1
        return result

    def step_local(self, event: LocalEvent) -> None:
        """Take an answer from the application or news from the ledger (trusted, local)."""
        if isinstance(event, ProposalReady):
            self._on_proposal_ready(event.block)
        elif isinstance(event, BlockValidated):
            self._on_block_validated(event)
        elif isinstance(event, BlockCommitted):
            self._on_block_committed(event)
        else:
            raise DriverContractError(f"step_local does not take {type(event).__name__}")

    def has_ready(self) -> bool:
        return self._dirty or bool(self._out_messages or self._out_requests or self._out_committed)

    def ready(self) -> Ready:
        """Everything to do now. Handle it fully (see :class:`Ready`), then call :meth:`advance`."""
        if self._inflight:
            raise DriverContractError("ready() called again before advance(): finish the previous Ready first")
        rd = Ready(
            persist=self._snapshot() if self._dirty and self._my_index is not None else None,
            messages=tuple(self._out_messages),
            requests=tuple(self._out_requests),
            committed=tuple(self._out_committed),
        )
        self._out_messages, self._out_requests, self._out_committed = [], [], []
        self._dirty = False
        self._inflight = True
        return rd

    def advance(self) -> None:
        """The last Ready has been persisted, sent, handed over and written."""
        if not self._inflight:
            raise DriverContractError("advance() without a Ready in flight")
        self._inflight = False

    def status(self) -> Status:
        return Status(
            height=self._ctx.height, view=self._view, view_active=self._active,
            leader=self._ctx.leader(self._view), is_sealer=self._my_index is not None,
            decided=None if self._decided is None else self._decided.hash,
            timeout_ticks=self._cfg.timeout_ticks(self._view),
            counters=Counters(**self._counts), recent_equivocations=tuple(self._evidence),
        )

    @property
    def node_id(self) -> bytes:
        return self._me

    @property
    def height(self) -> int:
        """The height being decided (ledger head + 1)."""
        return self._ctx.height

    @property
    def sealers(self) -> tuple[bytes, ...]:
        """The sealer set in force at the height being decided."""
        return self._ctx.sealers

    @property
    def view(self) -> int:
        return self._view

    # ------------------------------------------------------------------ heights and restart

    def _enter_height(self, height: int, parent_hash: bytes, sealers: tuple[bytes, ...],
                      persisted: PersistedState | None) -> None:
        cfg = self._cfg
        self._ctx = HeightContext(cfg.chain_id, cfg.group_id, height, parent_hash, sealers, self._suite)
        self._my_index = self._ctx.index.get(self._me)
        self._view = 0
        self._active = True
        self._elapsed = 0
        self._signed_view = 0
        self._signed: dict[int, bytes] = {}
        self._prepared: PreparedCertificate | None = None
        self._prepared_block: Block | None = None
        self._prepared_block_encoding: bytes | None = None
        self._blocks: dict[bytes, Block] = {}
        self._validated: dict[bytes, bool] = {}
        self._validation_requested: dict[bytes, None] = {}
        self._proposal: PrePrepare | None = None
        self._pre_prepares: dict[int, PrePrepare] = {}
        self._new_views: dict[int, NewView] = {}
        self._prepares: VoteLog[Prepare] = VoteLog()
        self._commits: VoteLog[Commit] = VoteLog()
        self._view_changes: dict[int, ViewChange] = {}
        self._decided: Block | None = None
        self._awaiting_proposal = False
        self._nv_set: tuple[ViewChange, ...] | None = None
        self._my_new_view: NewView | None = None
        self._nv_replied: dict[int, None] = {}
        if persisted is not None:
            self._restore(persisted)
        self._maybe_request_proposal()
        self._replay_future()

    def _restore(self, p: PersistedState) -> None:
        if p.chain_id != self._cfg.chain_id or p.group_id != self._cfg.group_id:
            raise CorruptPersistedState(f"persisted consensus state is for {p.chain_id!r}/{p.group_id!r}")
        if p.height > self._ctx.height:
            raise DriverContractError(
                f"persisted consensus state is at height {p.height} but the ledger's next height is "
                f"{self._ctx.height}: the ledger lost a block this node had already moved past")
        if p.height < self._ctx.height:
            return  # stale: the ledger moved on since
        self._view = p.view
        self._active = p.view == 0
        self._signed_view = p.signed_view
        self._signed = dict(p.signed)
        if p.prepared is not None and p.prepared_block is not None:
            try:
                check_prepared_certificate(p.prepared, self._ctx, before_view=p.view + 1)
                check_block(p.prepared_block, p.prepared.block_hash, self._ctx)
            except InvalidMessage as exc:
                raise CorruptPersistedState(f"persisted prepared certificate is invalid: {exc}") from None
            self._prepared, self._prepared_block = p.prepared, p.prepared_block
            self._prepared_block_encoding = p.prepared_block_encoding
            self._remember_block(p.prepared_block)
            self._validated[p.prepared.block_hash] = True
        if not self._active and self._signed_view == p.view and TAG_VIEW_CHANGE in self._signed:
            # Re-send the VIEW-CHANGE we made durable (identical bytes), so the new leader can count us.
            self._send_view_change()

    def _on_block_committed(self, ev: BlockCommitted) -> None:
        header = ev.header
        h = self._ctx.height
        if header.number < h:
            return
        block_hash = header_hash(header, self._suite)
        if self._decided is not None and header.number == h:
            if block_hash != self._decided.hash:
                raise ConflictingCommit(
                    f"the ledger reports block {block_hash.hex()} at height {h}, but this node committed "
                    f"{self._decided.hash.hex()}: more than f sealers are faulty; stop the node")
        else:
            verify_commit_certificate(header, self._suite)
            if header.number == h and (header.sealers != self._ctx.sealers or header.parent_hash != self._ctx.parent_hash):
                raise DriverContractError(
                    f"synced block {h} does not extend this node's chain with its sealer set; "
                    "the driver must check parent hash and sealer set before reporting it")
        sealers = ev.next_sealers if ev.next_sealers is not None else header.sealers
        if len(set(sealers)) != len(sealers) or not sealers:
            raise DriverContractError("next_sealers must be non-empty and list each node once")
        self._enter_height(header.number + 1, block_hash, tuple(sealers), None)

    def _replay_future(self) -> None:
        pending, self._future, self._future_count = self._future, [], {}
        for msg in pending:
            if msg.height > self._ctx.height:
                self._future.append(msg)
                self._future_count[msg.sender] = self._future_count.get(msg.sender, 0) + 1
        for msg in pending:
            if msg.height == self._ctx.height:
                self.step(msg)

    # ------------------------------------------------------------------ inbound messages

    def _step(self, msg: Message) -> StepResult:
        ctx = self._ctx
        if msg.chain_id != ctx.chain_id or msg.group_id != ctx.group_id:
            return _result(Verdict.REJECTED_INVALID, "message for another chain or group")
        if msg.height < ctx.height:
            return _result(Verdict.STALE, f"height {msg.height} is below {ctx.height}")
        if msg.height > ctx.height:
            return self._buffer(msg)
        idx = ctx.index.get(msg.sender)
        if idx is None:
            return _result(Verdict.REJECTED_NON_SEALER, f"{msg.NAME} from a node that is not a sealer")
        if self._decided is not None:
            return _result(Verdict.STALE, f"height {ctx.height} is already decided")
        try:
            if isinstance(msg, PrePrepare):
                return self._on_pre_prepare(msg)
            if isinstance(msg, Prepare):
                return self._on_prepare(msg, idx)
            if isinstance(msg, Commit):
                return self._on_commit(msg, idx)
            if isinstance(msg, ViewChange):
                return self._on_view_change(msg, idx)
            if isinstance(msg, NewView):
                return self._on_new_view(msg)
        except InvalidMessage as exc:
            return _result(Verdict.REJECTED_INVALID, str(exc))
        raise DriverContractError(f"step() does not take {type(msg).__name__}")

    def _buffer(self, msg: Message) -> StepResult:
        if msg.height > self._ctx.height + self._cfg.future_heights:
            return _result(Verdict.IGNORED, f"height {msg.height} is too far ahead")
        if msg.sender not in self._ctx.index:
            return _result(Verdict.IGNORED, "future message from a node outside the current sealer set")
        count = self._future_count.get(msg.sender, 0)
        if count >= self._cfg.future_per_sender:
            return _result(Verdict.IGNORED, "future-message buffer for this sender is full")
        self._future_count[msg.sender] = count + 1
        self._future.append(msg)
        return _result(Verdict.BUFFERED)

    def _on_pre_prepare(self, pp: PrePrepare) -> StepResult:
        if pp.view > 0:
            raise InvalidMessage("a PRE-PREPARE for a view above 0 is only valid inside that view's NEW-VIEW")
        if self._view > 0:
            return _result(Verdict.STALE, "PRE-PREPARE for view 0, which this node has left")
        if pp.block is None:
            raise InvalidMessage("PRE-PREPARE carries no block")
        check_pre_prepare(pp, self._ctx)
        held = self._pre_prepares.get(0)
        if held is not None:
            if held.block_hash == pp.block_hash:
                return _result(Verdict.DUPLICATE)
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
            return _result(Verdict.STALE, f"PREPARE for view {p.view}, this node is in view {self._view}")
        if p.view > self._view + self._cfg.view_window:
            return _result(Verdict.IGNORED, f"PREPARE for view {p.view} is too far ahead")
        if self._my_index is None:
            return _result(Verdict.IGNORED, "observers do not count prepares")
        check_signature(p, self._ctx)
        added, held = self._prepares.add(p.view, idx, p)
        if added is AddResult.DUPLICATE:
            return _result(Verdict.DUPLICATE)
        if added is AddResult.CONFLICT:
            assert held is not None
            return self._equivocation(held, p)
        if p.view == self._view:
            self._check_prepared()
        return ACCEPTED

    def _on_commit(self, c: Commit, idx: int) -> StepResult:
        if c.view > self._view + self._cfg.view_window:
            return _result(Verdict.IGNORED, f"COMMIT for view {c.view} is too far ahead")
        check_signature(c, self._ctx)
        added, held = self._commits.add(c.view, idx, c)
        if added is AddResult.DUPLICATE:
            return _result(Verdict.DUPLICATE)
        if added is AddResult.CONFLICT:
            assert held is not None
            return self._equivocation(held, c)
        self._check_commit(c.block_hash)
        return ACCEPTED

    def _on_view_change(self, vc: ViewChange, idx: int) -> StepResult:
        if self._my_index is None:
            return _result(Verdict.IGNORED, "observers do not take part in view changes")
        if vc.view < self._view or (vc.view == self._view and self._active):
            self._reply_new_view(vc, idx)
            return _result(Verdict.STALE, f"VIEW-CHANGE to view {vc.view}, this node is in view {self._view}")
        held = self._view_changes.get(idx)
        if held is not None and held.view > vc.view:
            return _result(Verdict.STALE, "older than this sender's latest VIEW-CHANGE")
        check_view_change(vc, self._ctx)
        if held is not None and held.view == vc.view:
            if held.signing_bytes == vc.signing_bytes:
                return _result(Verdict.DUPLICATE)
            return self._equivocation(held, vc)
        self._view_changes[idx] = vc
        if vc.block is not None:
            self._remember_block(vc.block)
        self._check_join()
        self._try_new_view()
        return ACCEPTED

    def _on_new_view(self, nv: NewView) -> StepResult:
        if nv.view < self._view:
            return _result(Verdict.STALE, f"NEW-VIEW for view {nv.view}, this node is in view {self._view}")
        held = self._new_views.get(nv.view)
        if held is not None and held.signing_bytes == nv.signing_bytes:
            return _result(Verdict.DUPLICATE)
        check_new_view(nv, self._ctx)
        if held is not None:
            if held.pre_prepare.block_hash == nv.pre_prepare.block_hash:
                return _result(Verdict.DUPLICATE)
            return self._equivocation(held, nv)
        if nv.view == self._view and self._active:
            return _result(Verdict.STALE, f"view {nv.view} is already open here")
        self._install_new_view(nv)
        return ACCEPTED

    def _equivocation(self, first: Message, second: Message) -> StepResult:
        self._evidence.append(Equivocation(second.sender, first, second))
        del self._evidence[:-_MAX_EVIDENCE]
        return _result(Verdict.REJECTED_EQUIVOCATION,
                       f"second, different {second.NAME} for height {second.height} view {second.view}")

    # ------------------------------------------------------------------ local events

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

    # ------------------------------------------------------------------ normal case

    def _remember_block(self, block: Block) -> None:
        h = header_hash(block.header, self._suite)
        if h not in self._blocks and len(self._blocks) < self._cfg.max_blocks_per_height:
            self._blocks[h] = block

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
                self._decided = Block(block.header.with_signatures(seals), block.transactions)
                self._out_committed.append(self._decided)
                self._counts["blocks_committed"] += 1
                return

    # ------------------------------------------------------------------ view change

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

    # ------------------------------------------------------------------ signing and output

    def _sign(self, unsigned: Message) -> Message | None:  # type: ignore[type-var]
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
        return signed  # type: ignore[no-any-return]

    def _broadcast(self, msg: Message) -> None:
        self._out_messages.append(Outbound(msg))

    def _snapshot(self) -> PersistedState:
        return PersistedState(
            chain_id=self._cfg.chain_id, group_id=self._cfg.group_id, height=self._ctx.height, view=self._view,
            signed_view=self._signed_view, signed=tuple(sorted(self._signed.items())),
            prepared=self._prepared, prepared_block=self._prepared_block,
            prepared_block_encoding=self._prepared_block_encoding,
        )
