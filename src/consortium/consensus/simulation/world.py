"""The simulated world: processes, a virtual clock, a faulty network, and the driver loop.

One process, one thread, one ``random.Random(seed)``. Each simulated process
plays the asyncio driver's part for its core: it persists ``Ready.persist``
before sending, serves proposal/validation requests through the fake
application (answers arrive a few ticks later), writes committed blocks to its
ledger and reports them with BlockCommitted, and runs a simple block sync
(status every few ticks; a peer that is ahead answers with blocks, which are
checked — certificate, parent, sealers, re-execution — before being applied).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from consortium.consensus.config import PbftConfig
from consortium.consensus.core import PbftCore
from consortium.consensus.errors import ConflictingCommit, InvalidCommitCertificate, MalformedMessage
from consortium.consensus.events import (
    BlockCommitted,
    BlockValidated,
    LocalEvent,
    Outbound,
    ProposalReady,
    ProposalRequest,
    Ready,
    ValidateRequest,
)
from consortium.consensus.messages import Message, decode_message
from consortium.consensus.persist import PersistedState
from consortium.consensus.quorum import leader_index
from consortium.consensus.simulation.app import CHAIN_ID, GROUP_ID, SimLedger, genesis
from consortium.consensus.simulation.byzantine import Behaviour, make_behaviour
from consortium.consensus.simulation.checker import SafetyChecker
from consortium.consensus.simulation.crypto import SIM_SUITE, sim_key
from consortium.consensus.simulation.plan import FaultPlan, PlanFactory, SimConfig
from consortium.consensus.verify import header_hash, verify_commit_certificate
from consortium.crypto.suite import KeyPair
from consortium.ledger.block import Block

_SYNC_BATCH = 4


@dataclass
class SimProcess:
    pid: int
    key: KeyPair
    honest: bool
    salt: int
    ledger: SimLedger
    behaviour: Behaviour | None = None
    core: PbftCore | None = None
    disk_state: PersistedState | None = None
    """The last persisted vote state. Kept as the (immutable) object and put through
    encode/decode only when the process restarts, which is when the bytes would be read."""
    durable: tuple[int, int] = (0, 0)
    incarnation: int = 0

    @property
    def up(self) -> bool:
        return self.core is not None


@dataclass(frozen=True)
class _Status:
    height: int


@dataclass(frozen=True)
class _Blocks:
    blocks: tuple[Block, ...]


@dataclass
class Stats:
    delivered: int = 0
    dropped: int = 0
    malformed: int = 0
    crashes: int = 0
    synced_blocks: int = 0
    events: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class World:
    def __init__(self, cfg: SimConfig, seed: int, plan_factory: PlanFactory) -> None:
        self.cfg = cfg
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0
        self.healed = False
        self.stats = Stats()
        self.checker = SafetyChecker(SIM_SUITE)
        self.sealer_keys = [sim_key("sealer", i) for i in range(cfg.n)]
        self.sealers = tuple(k.public_key for k in self.sealer_keys)
        self.genesis = genesis(self.sealers)
        self.pbft = PbftConfig(CHAIN_ID, GROUP_ID, base_timeout_ticks=cfg.base_timeout_ticks,
                               max_timeout_doublings=cfg.max_timeout_doublings)
        keys: list[tuple[KeyPair, bool]] = [(k, False) for k in self.sealer_keys]
        keys += [(self.sealer_keys[i], True) for i in cfg.twins]
        keys += [(sim_key("observer", i), False) for i in range(cfg.observers)]
        twin_ids = {self.sealers[i] for i in cfg.twins}
        self.procs: list[SimProcess] = []
        for pid, (key, _) in enumerate(keys):
            self.procs.append(SimProcess(pid, key, key.public_key not in twin_ids, pid, SimLedger(self.genesis)))
        sealer_pids = [p.pid for p in self.procs if p.key.public_key in self.sealers and p.honest]
        self.plan: FaultPlan = plan_factory(self.rng, cfg, sealer_pids, [p.pid for p in self.procs])
        for pid, kind in self.plan.byzantine.items():
            self.procs[pid].honest = False
            self.procs[pid].behaviour = make_behaviour(kind)
        self._decoded: dict[bytes, Message | None] = {}
        self._queue: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        for c in self.plan.crashes:
            self._schedule(c.at, "crash", c.pid)
            self._schedule(min(c.restart, cfg.safety_ticks), "restart", c.pid)
        for p in self.procs:
            self._start(p)

    # ------------------------------------------------------------------ helpers for behaviours

    def other_pids(self, pid: int) -> list[int]:
        return [p.pid for p in self.procs if p.pid != pid]

    def leader_key(self, height: int, view: int) -> KeyPair:
        return self.sealer_keys[leader_index(height, view, self.cfg.n)]

    # ------------------------------------------------------------------ scheduling and network

    def _schedule(self, at: int, kind: str, arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, arg))

    def _cut(self, src: int, dst: int) -> bool:
        if self.healed:
            return False
        if self.cfg.partition is not None:
            return not any(src in g and dst in g for g in self.cfg.partition)
        return any(p.start <= self.now < p.end and ((src in p.side) != (dst in p.side))
                   for p in self.plan.partitions)

    def _transmit(self, src: int, dst: int, payload: Any) -> None:
        plan, rng = self.plan, self.rng
        if self._cut(src, dst):
            self.stats.dropped += 1
            return
        if self.healed:
            self._schedule(self.now + rng.randint(1, 2), "deliver", (dst, src, payload))
            return
        if plan.loss_permille and rng.randrange(1000) < plan.loss_permille:
            self.stats.dropped += 1
            return
        copies = 2 if plan.dup_permille and rng.randrange(1000) < plan.dup_permille else 1
        for _ in range(copies):
            self._schedule(self.now + rng.randint(1, plan.max_delay), "deliver", (dst, src, payload))

    def send_bytes(self, src: int, dsts: list[int], payload: bytes) -> None:
        for dst in dsts:
            self._transmit(src, dst, payload)

    # ------------------------------------------------------------------ process lifecycle

    def _start(self, p: SimProcess) -> None:
        persisted = None if p.disk_state is None else PersistedState.decode(p.disk_state.encode(SIM_SUITE), SIM_SUITE)
        head = p.ledger.head
        p.core = PbftCore(self.pbft, p.key, sealers=head.header.sealers, height=p.ledger.height + 1,
                          parent_hash=p.ledger.head_hash(), persisted=persisted)
        self.checker.on_position(p.pid, p.core.height, p.core.view, restarted=p.incarnation > 0)
        self._drain(p)

    def _crash(self, p: SimProcess) -> None:
        if p.core is None:
            return
        p.core = None
        p.incarnation += 1
        self.stats.crashes += 1
        self.checker.forget_position(p.pid, p.durable)

    # ------------------------------------------------------------------ the driver's part

    def _drain(self, p: SimProcess) -> None:
        while p.core is not None and p.core.has_ready():
            core = p.core
            rd = core.ready()
            if not self._handle(p, rd):
                return  # crashed while handling
            core.advance()
        if p.core is not None:
            self.checker.on_position(p.pid, p.core.height, p.core.view)

    def _handle(self, p: SimProcess, rd: Ready) -> bool:
        if rd.persist is not None:
            p.disk_state = rd.persist
            p.durable = (rd.persist.height, rd.persist.view)
            if (not self.healed and self.plan.crash_in_ready_permille
                    and self.rng.randrange(1000) < self.plan.crash_in_ready_permille):
                self._crash(p)
                self._schedule(self.now + self.rng.randint(1, 20), "restart", p.pid)
                return False
        for out in rd.messages:
            self._send(p, out)
        for req in rd.requests:
            self._serve(p, req)
        for block in rd.committed:
            self._write_committed(p, block, "committed")
            if p.core is None:
                return False
        return True

    def _send(self, p: SimProcess, out: Outbound) -> None:
        msg = out.message
        if p.honest:
            self.checker.on_sent(p.pid, msg)
        if out.to is None:
            dsts = self.other_pids(p.pid)
        else:
            dsts = [q.pid for q in self.procs if q.key.public_key == out.to and q.pid != p.pid]
        if p.behaviour is not None:
            p.behaviour.outgoing(self, p, msg, dsts)
        else:
            self.send_bytes(p.pid, dsts, msg.encode())

    def _serve(self, p: SimProcess, req: ProposalRequest | ValidateRequest) -> None:
        event: LocalEvent
        if isinstance(req, ProposalRequest):
            if req.height != p.ledger.height + 1:
                return
            event = ProposalReady(p.ledger.build(req.view, p.key.public_key, p.salt))
            delay = self.rng.randint(1, self.cfg.block_interval)  # the txpool fills for a while
        else:
            ok, reason = p.ledger.validate(req.block)
            event = BlockValidated(header_hash(req.block.header, SIM_SUITE), ok, reason)
            delay = self.rng.randint(0, 2)
        self._schedule(self.now + delay, "app", (p.pid, p.incarnation, event))

    def _write_committed(self, p: SimProcess, block: Block, how: str) -> None:
        number = block.header.number
        if number <= p.ledger.height:
            have = header_hash(p.ledger.blocks[number].header, SIM_SUITE)
            if have != header_hash(block.header, SIM_SUITE) and p.honest:
                self.checker.fail(f"process {p.pid} {how} block {number} that differs from its ledger")
        else:
            p.ledger.append(block)
            self.checker.on_commit(p.pid, block, p.honest, how)
        assert p.core is not None
        try:
            p.core.step_local(BlockCommitted(block.header))
        except ConflictingCommit as exc:
            if p.honest:
                self.checker.fail(f"process {p.pid}: {exc}")
            self._crash(p)

    # ------------------------------------------------------------------ block sync

    def _sync_tick(self, p: SimProcess) -> None:
        if (self.now + p.pid) % self.cfg.sync_interval == 0:
            for dst in self.other_pids(p.pid):
                self._transmit(p.pid, dst, _Status(p.ledger.height))

    def _on_sync(self, p: SimProcess, src: int, payload: _Status | _Blocks) -> None:
        if isinstance(payload, _Status):
            if p.ledger.height > payload.height:
                blocks = p.ledger.blocks[payload.height + 1: payload.height + 1 + _SYNC_BATCH]
                self._transmit(p.pid, src, _Blocks(tuple(blocks)))
            return
        for block in payload.blocks:
            if block.header.number != p.ledger.height + 1:
                continue
            if not self._acceptable_synced(p, block):
                return
            self.stats.synced_blocks += 1
            self._write_committed(p, block, "synced")
            if p.core is None:
                return
        self._drain(p)

    def _acceptable_synced(self, p: SimProcess, block: Block) -> bool:
        header = block.header
        if header.parent_hash != p.ledger.head_hash() or header.sealers != p.ledger.head.header.sealers:
            return False
        try:
            verify_commit_certificate(header, SIM_SUITE)
        except InvalidCommitCertificate:
            return False
        ok, _ = p.ledger.validate(block)
        return ok

    # ------------------------------------------------------------------ the loop

    def _deliver(self, dst: int, src: int, payload: Any) -> None:
        p = self.procs[dst]
        if p.core is None:
            return
        self.stats.delivered += 1
        if isinstance(payload, (_Status, _Blocks)):
            self._on_sync(p, src, payload)
            return
        if p.behaviour is not None:
            p.behaviour.on_receive(self, p, payload)
        msg = self._decode(payload)
        if msg is None:
            self.stats.malformed += 1
            return
        p.core.step(msg)
        self._drain(p)

    def _decode(self, payload: bytes) -> Message | None:
        """decode_message, memoised per payload: every receiver of a broadcast decodes the same bytes.

        Decoding is a pure function and decoded messages are immutable, so
        sharing the result changes nothing but the run time.
        """
        if payload in self._decoded:
            return self._decoded[payload]
        try:
            msg: Message | None = decode_message(payload)
        except MalformedMessage:
            msg = None
        if len(self._decoded) > 4096:
            self._decoded.clear()
        self._decoded[payload] = msg
        return msg

    def _run_event(self, kind: str, arg: Any) -> None:
        self.stats.events += 1
        if kind == "deliver":
            self._deliver(*arg)
        elif kind == "app":
            pid, incarnation, event = arg
            p = self.procs[pid]
            if p.core is not None and p.incarnation == incarnation:
                p.core.step_local(event)
                self._drain(p)
        elif kind == "crash":
            self._crash(self.procs[arg])
        elif kind == "restart":
            p = self.procs[arg]
            if p.core is None:
                self._start(p)

    def step_tick(self) -> None:
        while self._queue and self._queue[0][0] <= self.now:
            _, _, kind, arg = heapq.heappop(self._queue)
            self._run_event(kind, arg)
        for p in self.procs:
            if p.core is None:
                continue
            p.core.tick()
            self._drain(p)
            if p.behaviour is not None:
                p.behaviour.on_tick(self, p)
            self._sync_tick(p)
        self.now += 1

    def heal(self) -> None:
        """End of the faulty phase: partitions and loss stop, crashed processes restart."""
        self.healed = True
        for p in self.procs:
            if p.core is None:
                p.incarnation += 1
                self._start(p)

    def honest(self) -> list[SimProcess]:
        return [p for p in self.procs if p.honest]
