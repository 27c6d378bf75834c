"""The consensus driver: the one task that feeds the pure PBFT core and carries out its Ready.

Everything that changes the ledger goes through this task's bounded queue —
peer consensus messages, timer ticks, blocks fetched by sync — so the ledger
has one writer and the core sees events in one order. For each Ready the
driver does exactly what the core's docstrings require, in order:

1. persist the vote state (fsync) — before anything is sent;
2. send the messages;
3. answer requests: build a proposal (txpool + execution), or re-check and
   re-execute a peer's proposal;
4. commit decided blocks (one atomic batch each) and report them;

then ``advance()``, and only then feed the core the answers gathered in 3 and 4.
CPU-heavy work (execution, commit) runs in a worker thread so the event loop
keeps serving the network and RPC meanwhile; the driver awaits it, so there is
still one ledger writer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from consortium.chain.ledger import BlockRejected, ExecutedBlock, Ledger
from consortium.consensus.core import PbftCore
from consortium.consensus.errors import ConflictingCommit, ConsensusError
from consortium.consensus.events import (
    BlockCommitted,
    BlockValidated,
    LocalEvent,
    ProposalReady,
    ProposalRequest,
    Ready,
    ValidateRequest,
)
from consortium.consensus.messages import Message
from consortium.consensus.quorum import leader_index
from consortium.consensus.verify import verify_commit_certificate
from consortium.ledger.block import Block
from consortium.network.envelope import Envelope, MessageKind
from consortium.node.vote_store import VoteStore
from consortium.txpool.pool import MAX_BLOCK_TX_BYTES, TxPool

log = logging.getLogger("consortium.node.driver")

MAX_FUTURE_DRIFT_MS = 60_000
"""A proposal's timestamp may be at most this far ahead of this node's clock."""


class NodeHalted(RuntimeError):
    """The node stopped itself because continuing would be unsafe (the message says why)."""


@dataclass(frozen=True)
class _Tick:
    pass


@dataclass(frozen=True)
class _PeerMessage:
    sender: bytes
    message: Message


@dataclass(frozen=True)
class _SyncedBlocks:
    blocks: tuple[Block, ...]
    peer: bytes


@dataclass(frozen=True)
class _ProposeNow:
    """Wake-up: transactions arrived while a proposal was deferred for an empty pool."""


Event = _Tick | _PeerMessage | _SyncedBlocks | _ProposeNow


@dataclass
class _Speculation:
    """The next height's block, executing in a worker thread on top of a validated, undecided parent."""

    parent: bytes
    task: asyncio.Task[ExecutedBlock]


class ConsensusDriver:
    def __init__(
        self,
        core: PbftCore,
        ledger: Ledger,
        txpool: TxPool,
        vote_store: VoteStore,
        send: Callable[[bytes | None, bytes], None],
        *,
        max_txs_per_block: int,
        empty_block_interval_s: float | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        queue_size: int = 10_000,
        speculate: bool = True,
    ) -> None:
        self.core = core
        self.ledger = ledger
        self.txpool = txpool
        self.votes = vote_store
        self._send = send
        self.max_txs = max_txs_per_block
        self.empty_interval = empty_block_interval_s
        self.clock_ms = clock_ms
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self._executed: dict[bytes, ExecutedBlock] = {}
        self._deferred: ProposalRequest | None = None
        self.speculate = speculate
        self._spec: _Speculation | None = None
        self._spec_parent: ExecutedBlock | None = None
        self.speculations = {"started": 0, "used": 0, "dropped": 0}
        self._deferred_since = 0.0
        self.dropped_messages = 0
        self.sync_rejections = 0
        self.committed_callbacks: list[Callable[[Block], None]] = []
        self.next_sealers: Callable[[], tuple[bytes, ...]] = lambda: tuple(self.core.sealers)
        """The sealer set in force for the next height, read from the just-committed state."""

    # -- inputs (called from other tasks; never block) -----------------------------------------
    def deliver(self, sender: bytes, message: Message) -> None:
        self._offer(_PeerMessage(sender, message))

    def deliver_synced(self, peer: bytes, blocks: tuple[Block, ...]) -> None:
        self._offer(_SyncedBlocks(blocks, peer))

    def tick(self) -> None:
        self._offer(_Tick())

    def transactions_arrived(self) -> None:
        if self._deferred is not None:
            self._offer(_ProposeNow())

    def _offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Consensus tolerates loss (view change, retransmission, sync); an
            # unbounded queue would turn a flood into memory exhaustion instead.
            self.dropped_messages += 1

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        await self._drain()  # a Ready may exist from construction (e.g. a proposal request)
        while True:
            event = await self.queue.get()
            if isinstance(event, _Tick):
                if not self._idle():
                    self.core.tick()
                if self._deferred is not None:
                    await self._maybe_propose_deferred()
            elif isinstance(event, _PeerMessage):
                result = self.core.step(event.message)
                if result.rejected:
                    log.warning("rejected %s from %s: %s", type(event.message).__name__,
                                event.sender.hex()[:12], result.reason)
            elif isinstance(event, _SyncedBlocks):
                await self._apply_synced(event)
            elif isinstance(event, _ProposeNow):
                await self._maybe_propose_deferred()
            await self._drain()

    async def _drain(self) -> None:
        while self.core.has_ready():
            rd = self.core.ready()
            feedback = await self._handle(rd)
            self.core.advance()
            for local in feedback:
                self._step_local(local)
        parent, self._spec_parent = self._spec_parent, None
        if parent is not None:  # after the votes it caused are sent
            self._speculate(parent)

    def _step_local(self, event: LocalEvent) -> None:
        try:
            self.core.step_local(event)
        except ConflictingCommit as exc:
            # More than f sealers signed two different blocks at one height: continuing would
            # build on a fork. Stop the node (the whole TaskGroup) and let an operator look.
            log.critical("HALTING: %s", exc)
            raise NodeHalted(str(exc)) from exc
        except ConsensusError as exc:  # a driver bug: say so loudly, keep serving
            log.error("consensus refused %s: %s", type(event).__name__, exc)

    async def _handle(self, rd: Ready) -> list[LocalEvent]:
        if rd.persist is not None:
            await asyncio.to_thread(self.votes.save, rd.persist)
        for out in rd.messages:
            self._send(out.to, Envelope(MessageKind.CONSENSUS, out.message.encode()).encode())
        feedback: list[LocalEvent] = []
        for request in rd.requests:
            if isinstance(request, ProposalRequest):
                if len(self.txpool) == 0 and request.view == 0 and (self.empty_interval is None or self.empty_interval > 0):
                    self._deferred, self._deferred_since = request, time.monotonic()
                    continue
                proposal = await self._propose(request)
                if proposal is not None:
                    feedback.append(proposal)
            elif isinstance(request, ValidateRequest):
                feedback.append(await self._validate(request.block))
        for block in rd.committed:
            committed = await self._commit(block)
            if committed is not None:
                feedback.append(committed)
        return feedback

    def _idle(self) -> bool:
        """Nothing to decide, so the view timer pauses (no empty blocks while idle, as FISCO BCOS v3).

        With no pending transaction and no view change under way, a leader has nothing to seal
        and a replica nothing to wait for: letting the view time out would only rotate leaders
        and seal empty blocks (~60 MB and 170,000 log lines a day). A transaction anywhere is
        gossiped to every pool within milliseconds, which restarts every timer, so a leader that
        then fails to propose is still replaced by a view change; a view above 0 must move, so its
        new leader seals even an empty block. ``empty_block_interval_s`` set restores the old way.
        """
        return self.empty_interval is None and len(self.txpool) == 0 and self.core.status().view_active

    # -- proposals ----------------------------------------------------------------------------
    async def _maybe_propose_deferred(self) -> None:
        request = self._deferred
        if request is None:
            return
        if request.height != self.ledger.height + 1:
            self._deferred = None  # the chain moved on (sync); the core will ask again
            return
        if len(self.txpool) == 0 and (self.empty_interval is None
                                      or time.monotonic() - self._deferred_since < self.empty_interval):
            return
        self._deferred = None
        proposal = await self._propose(request)
        if proposal is not None:
            self._step_local(proposal)

    def _speculate(self, parent: ExecutedBlock) -> None:
        """Start executing the next height's block now if this node will lead it (design.md §12.7).

        A validated block's votes take a fifth to a quarter of a height; its successor's leader
        spends them executing that successor, so the proposal can go out as soon as the parent is
        committed. Safety is untouched: the core still asks for the proposal only after the
        commit, and the result is used only if its parent is the block committed, in view 0,
        with the sealer set then in force (:meth:`_speculated`); replicas validate as always.
        """
        sealers = tuple(self.core.sealers)
        number = parent.block.number + 1
        me = self.core.node_id
        if not self.speculate or self._spec is not None or not sealers:
            return
        if sealers[leader_index(number, 0, len(sealers))] != me:
            return
        txs = self.txpool.take(self.max_txs, after=parent.block)
        if not txs:
            return
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(
            self.ledger.execute_after, parent, txs, timestamp=self.clock_ms(), proposer=me, view=0, sealers=sealers))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: never "never retrieved"
        self._spec = _Speculation(parent.block.hash, task)
        self.speculations["started"] += 1

    async def _speculated(self, request: ProposalRequest) -> ExecutedBlock | None:
        """The speculative block for ``request`` if there is one that fits it exactly."""
        spec, self._spec = self._spec, None
        if spec is None:
            return None
        try:
            executed = await spec.task
        except Exception as exc:  # e.g. a pooled transaction became invalid: build the usual way
            log.info("speculative block %d not used: %s", request.height, exc)
            self.speculations["dropped"] += 1
            return None
        header = executed.block.header
        if (request.view != 0 or spec.parent != request.parent_hash or header.number != request.height
                or header.sealers != tuple(self.core.sealers)):
            self.speculations["dropped"] += 1
            return None
        self.speculations["used"] += 1
        return executed

    async def _propose(self, request: ProposalRequest) -> ProposalReady | None:
        if request.height != self.ledger.height + 1 or request.parent_hash != self.ledger.head_header().hash:
            return None  # stale request: the core ignores late answers anyway
        early = await self._speculated(request)
        if early is not None:
            room = self.max_txs - len(early.block.transactions)
            size = sum(len(tx.encode()) for tx in early.block.transactions)  # cached wire bytes
            more = self.txpool.take(room, MAX_BLOCK_TX_BYTES - size, besides=early.block) if room > 0 else []
            try:
                executed = await asyncio.to_thread(self.ledger.extend, early, more)
            except BlockRejected as exc:
                log.info("proposal %d: %s; proposing without the %d late transactions", request.height, exc, len(more))
                executed = early
            self._executed[executed.block.hash] = executed
            log.info("proposing block %d view %d with %d txs (%d executed during the votes on its parent)",
                     request.height, request.view, len(executed.block.transactions), len(early.block.transactions))
            return ProposalReady(executed.block)
        txs = self.txpool.take(self.max_txs)
        sealers = self.core.sealers
        try:
            executed = await asyncio.to_thread(
                self.ledger.execute, txs, timestamp=self.clock_ms(), proposer=self.core.node_id,
                view=request.view, sealers=tuple(sealers),
            )
        except BlockRejected as exc:
            # A pooled transaction became invalid (e.g. committed via sync meanwhile): drop the batch.
            log.warning("proposal at height %d failed: %s; retrying without those transactions", request.height, exc)
            self.txpool.remove_invalid(txs)
            executed = await asyncio.to_thread(
                self.ledger.execute, [], timestamp=self.clock_ms(), proposer=self.core.node_id,
                view=request.view, sealers=tuple(sealers),
            )
        self._executed[executed.block.hash] = executed
        log.info("proposing block %d view %d with %d txs", request.height, request.view, len(txs))
        return ProposalReady(executed.block)

    async def _validate(self, block: Block) -> BlockValidated:
        if block.hash in self._executed:
            return BlockValidated(block.hash, True)
        if block.header.timestamp > self.clock_ms() + MAX_FUTURE_DRIFT_MS:
            return BlockValidated(block.hash, False, "timestamp is too far in the future")
        try:
            executed = await asyncio.to_thread(self._verify, block)
        except BlockRejected as exc:
            log.warning("refusing proposal %d (0x%s): %s", block.number, block.hash.hex()[:12], exc)
            return BlockValidated(block.hash, False, str(exc))
        self._executed[block.hash] = executed
        self._spec_parent = executed
        return BlockValidated(block.hash, True)

    def _verify(self, block: Block) -> ExecutedBlock:
        """Re-check and re-execute a proposal or a synced block.

        Its transactions pass the edge (``ledger.verify_block``), which reuses what this node's
        pool already verified only for identical wire bytes, signature included (design.md §12.3).
        """
        return self.ledger.verify_and_execute(self.ledger.verify_block(block, self.txpool.get))

    # -- commits ------------------------------------------------------------------------------
    async def _commit(self, block: Block) -> BlockCommitted | None:
        if block.number <= self.ledger.height:
            return None  # already have it (e.g. from sync)
        executed = self._executed.get(block.hash)
        try:
            if executed is None:
                executed = await asyncio.to_thread(self._verify, block)
            stored = await asyncio.to_thread(self.ledger.commit, executed, block.header.signatures, block.header.commit_view)
        except BlockRejected as exc:
            # A quorum decided a block this node cannot execute identically: a fork of state.
            # Refuse to store it and keep serving; an operator must look (the log says why).
            log.critical("cannot commit decided block %d: %s", block.number, exc)
            return None
        self._after_commit(stored)
        return self._committed(stored)

    def _committed(self, block: Block) -> BlockCommitted:
        """Tell the core; if governance changed the sealer set in this block, it applies from the next height."""
        nxt = self.next_sealers()
        if nxt != tuple(self.core.sealers):
            log.warning("sealer set changes after block %d: %d -> %d sealers", block.number,
                        len(self.core.sealers), len(nxt))
            return BlockCommitted(block.header, nxt)
        return BlockCommitted(block.header)

    def _after_commit(self, block: Block) -> None:
        self._executed.clear()
        if self._spec is not None and self._spec.parent != block.hash:
            self._spec = None  # built on a candidate that lost; its thread just finishes
            self.speculations["dropped"] += 1
        self.txpool.remove_committed(block)
        log.info("committed block %d (0x%s) with %d txs", block.number, block.hash.hex()[:12], len(block.transactions))
        for callback in self.committed_callbacks:
            callback(block)

    # -- block sync ---------------------------------------------------------------------------
    async def _apply_synced(self, event: _SyncedBlocks) -> None:
        for block in event.blocks:
            if block.number <= self.ledger.height:
                continue
            if block.number != self.ledger.height + 1:
                break
            try:
                expected = tuple(self.core.sealers)
                if block.header.sealers != expected:
                    raise BlockRejected(f"block {block.number} names a sealer set that is not the one in force")
                verify_commit_certificate(block.header, self.ledger.suite)
                executed = await asyncio.to_thread(self._verify, block)
                stored = await asyncio.to_thread(self.ledger.commit, executed, block.header.signatures, block.header.commit_view)
            except (BlockRejected, ConsensusError) as exc:

                self.sync_rejections += 1
                log.warning("sync: refusing block %d from %s: %s", block.number, event.peer.hex()[:12], exc)
                return
            self._after_commit(stored)
            self._step_local(self._committed(stored))
            await self._drain()
