"""The PBFT state machine (Castro–Liskov, one instance per block height, as FISCO BCOS runs it).

Pure: no sockets, clocks, randomness, disk or threads. Like etcd raft's
RawNode, everything comes in through :meth:`PbftCore.step` (a decoded,
untrusted peer message), :meth:`PbftCore.tick` (time, counted in ticks) and
:meth:`PbftCore.step_local` (the application's answers and the ledger's news),
and everything goes out through one :class:`~.events.Ready` at a time:
:meth:`ready` then :meth:`advance`. See docs/design.md §10.

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

from consortium.consensus.config import PbftConfig
from consortium.consensus.errors import (
    ConflictingCommit,
    CorruptPersistedState,
    DriverContractError,
    InvalidMessage,
)
from consortium.consensus.events import (
    BlockCommitted,
    BlockValidated,
    Counters,
    LocalEvent,
    ProposalReady,
    Ready,
    Status,
    StepResult,
    Verdict,
)
from consortium.consensus.messages import (
    TAG_VIEW_CHANGE,
    Commit,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from consortium.consensus.normal_case import NormalCase
from consortium.consensus.persist import PersistedState
from consortium.consensus.replica_state import result
from consortium.consensus.verify import (
    HeightContext,
    check_block,
    check_prepared_certificate,
    check_signature,
    header_hash,
    verify_commit_certificate,
)
from consortium.consensus.view_change import ViewChanges
from consortium.consensus.votes import VoteLog
from consortium.crypto.suite import KeyPair
from consortium.ledger.block import Block

_COUNTER_OF = {
    Verdict.STALE: "stale",
    Verdict.DUPLICATE: "duplicates",
    Verdict.BUFFERED: "buffered",
    Verdict.IGNORED: "ignored",
    Verdict.REJECTED_INVALID: "rejected_invalid",
    Verdict.REJECTED_NON_SEALER: "rejected_non_sealer",
    Verdict.REJECTED_EQUIVOCATION: "equivocations",
}


class PbftCore(NormalCase, ViewChanges):
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
        self._evidence = []
        self._out_messages = []
        self._out_requests = []
        self._out_committed = []
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
        outcome = self._step(msg)
        counter = _COUNTER_OF.get(outcome.verdict)
        if counter is not None:
            self._counts[counter] += 1
        return outcome

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

    def set_view_timeout(self, base_ticks: int, *, max_ticks: int) -> None:
        """Change the base view timeout (governance's consensus_timeout_ms), effective at once, and
        recompute the doubling cap so the doubled timeout stays within ``max_ticks``.

        Timeouts decide only when to give up on a view, never what is safe to sign,
        so sealers may change them at slightly different moments without harm.
        """
        self._cfg = self._cfg.with_view_timeout(base_ticks, max_ticks)

    def view_timeout_ticks(self, view: int) -> int:
        """How long ``view`` lasts under the current configuration, in ticks."""
        return self._cfg.timeout_ticks(view)

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
            return result(Verdict.REJECTED_INVALID, "message for another chain or group")
        if msg.height < ctx.height:
            return result(Verdict.STALE, f"height {msg.height} is below {ctx.height}")
        if msg.height > ctx.height:
            return self._buffer(msg)
        idx = ctx.index.get(msg.sender)
        if idx is None:
            return result(Verdict.REJECTED_NON_SEALER, f"{msg.NAME} from a node that is not a sealer")
        if self._decided is not None:
            return result(Verdict.STALE, f"height {ctx.height} is already decided")
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
            return result(Verdict.REJECTED_INVALID, str(exc))
        raise DriverContractError(f"step() does not take {type(msg).__name__}")

    def _buffer(self, msg: Message) -> StepResult:
        if msg.height > self._ctx.height + self._cfg.future_heights:
            return result(Verdict.IGNORED, f"height {msg.height} is too far ahead")
        if msg.sender not in self._ctx.index:
            return result(Verdict.IGNORED, "future message from a node outside the current sealer set")
        # The signature before the slot: otherwise any admitted peer could fill an honest sealer's
        # slots with unsigned messages "from" it, and that sealer's real PRE-PREPARE would be
        # dropped. (Embedded certificates are checked when the message is replayed at its height.)
        try:
            check_signature(msg, self._ctx)
        except InvalidMessage as exc:
            return result(Verdict.REJECTED_INVALID, f"future {msg.NAME}: {exc}")
        count = self._future_count.get(msg.sender, 0)

        if count >= self._cfg.future_per_sender:
            return result(Verdict.IGNORED, "future-message buffer for this sender is full")
        self._future_count[msg.sender] = count + 1
        self._future.append(msg)
        return result(Verdict.BUFFERED)

    def _snapshot(self) -> PersistedState:
        return PersistedState(
            chain_id=self._cfg.chain_id, group_id=self._cfg.group_id, height=self._ctx.height, view=self._view,
            signed_view=self._signed_view, signed=tuple(sorted(self._signed.items())),
            prepared=self._prepared, prepared_block=self._prepared_block,
            prepared_block_encoding=self._prepared_block_encoding,
        )
