"""A synchronous in-process network of PBFT cores for the per-rule tests (like etcd's raft_test.go network).

Messages cross the network as bytes (encode, then decode_message at the
receiver), so every rule test also exercises the wire format. The fake
application is the simulator's SimLedger: real blocks, real transactions, a
deterministic state root.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from consortium.consensus import (
    BlockCommitted,
    BlockValidated,
    Message,
    PbftConfig,
    PbftCore,
    PersistedState,
    PrePrepare,
    ProposalReady,
    ProposalRequest,
    StepResult,
    ValidateRequest,
    decode_message,
)
from consortium.consensus.simulation.app import CHAIN_ID, GROUP_ID, SimLedger, genesis
from consortium.consensus.simulation.crypto import SIM_SUITE, sim_key
from consortium.consensus.verify import header_hash
from consortium.crypto.suite import KeyPair
from consortium.ledger.block import Block

CFG = PbftConfig(CHAIN_ID, GROUP_ID, base_timeout_ticks=10, max_timeout_doublings=3)
Drop = Callable[[int, int, Message], bool]


@dataclass
class Node:
    index: int
    key: KeyPair
    ledger: SimLedger
    core: PbftCore
    disk: bytes | None = None
    sent: list[Message] = field(default_factory=list)
    requests: list[ProposalRequest | ValidateRequest] = field(default_factory=list)
    results: list[tuple[Message, StepResult]] = field(default_factory=list)
    committed: list[Block] = field(default_factory=list)


def assert_durable_before_sent(disk: bytes | None, msg: Message) -> None:
    """The Ready contract's core promise: what is sent was recorded on disk first.

    Either the message's (view, phase) digest is in the persisted vote state,
    or the persisted height or view is already past it (the node will never
    sign there again).
    """
    assert disk is not None, f"{msg.NAME} sent before any vote state was persisted"
    state = PersistedState.decode(disk, SIM_SUITE)
    if state.height > msg.height:
        return  # that height is decided and in the ledger: nothing is ever signed there again
    assert state.height == msg.height
    if state.view > msg.view and state.signed_view > msg.view:
        return
    assert state.signed_view == msg.view and state.signed_digest(msg.TAG) == msg.digest(SIM_SUITE), (
        f"{msg.NAME} for view {msg.view} sent without being recorded in the persisted vote state")


class Cluster:
    def __init__(self, n: int = 4, observers: int = 0, *, auto_app: bool = True, cfg: PbftConfig = CFG) -> None:
        self.cfg = cfg
        self.keys = [sim_key("sealer", i) for i in range(n)] + [sim_key("observer", i) for i in range(observers)]
        self.sealers = tuple(k.public_key for k in self.keys[:n])
        self.genesis = genesis(self.sealers)
        self.auto_app = auto_app
        self.queue: deque[tuple[int, int, bytes]] = deque()
        self.propose_up_to = 1
        """Leaders' proposal requests above this height are held, so a run stops at a chosen height."""
        self.held: list[tuple[int, ProposalRequest]] = []
        self._flushing = False
        self.nodes = [self._boot(i, SimLedger(self.genesis), None) for i in range(len(self.keys))]
        self.flush_all()

    # -- lifecycle ---------------------------------------------------------------------------------

    def _boot(self, i: int, ledger: SimLedger, disk: bytes | None) -> Node:
        persisted = None if disk is None else PersistedState.decode(disk, SIM_SUITE)
        core = PbftCore(self.cfg, self.keys[i], sealers=ledger.head.header.sealers, height=ledger.height + 1,
                        parent_hash=ledger.head_hash(), persisted=persisted)
        return Node(i, self.keys[i], ledger, core, disk)

    def restart(self, i: int) -> Node:
        """Crash node i (losing everything not persisted) and start it again from its disk and ledger."""
        old = self.nodes[i]
        self.queue = deque(item for item in self.queue if item[1] != i)
        self.nodes[i] = self._boot(i, old.ledger, old.disk)
        self.flush(i)
        return self.nodes[i]

    # -- the driver's part ---------------------------------------------------------------------------

    def flush(self, i: int) -> None:
        node = self.nodes[i]
        if self._flushing:
            return
        self._flushing = True
        try:
            self._flush(node)
        finally:
            self._flushing = False

    def _flush(self, node: Node) -> None:
        i = node.index
        while node.core.has_ready():
            rd = node.core.ready()
            if rd.persist is not None:
                node.disk = rd.persist.encode(SIM_SUITE)
            for out in rd.messages:
                assert_durable_before_sent(node.disk, out.message)
                node.sent.append(out.message)
                data = out.message.encode()
                for j, other in enumerate(self.nodes):
                    if j != i and (out.to is None or other.key.public_key == out.to):
                        self.queue.append((i, j, data))
            for req in rd.requests:
                node.requests.append(req)
                if isinstance(req, ProposalRequest) and req.height > self.propose_up_to:
                    self.held.append((i, req))
                elif self.auto_app:
                    self.answer(i, req)
            for block in rd.committed:
                node.committed.append(block)
                if block.header.number == node.ledger.height + 1:
                    node.ledger.append(block)
                node.core.step_local(BlockCommitted(block.header))
            node.core.advance()

    def flush_all(self) -> None:
        for i in range(len(self.nodes)):
            self.flush(i)

    def answer(self, i: int, req: ProposalRequest | ValidateRequest, *, ok: bool | None = None) -> None:
        node = self.nodes[i]
        if isinstance(req, ProposalRequest):
            node.core.step_local(ProposalReady(node.ledger.build(req.view, node.key.public_key, salt=i)))
        else:
            valid, reason = node.ledger.validate(req.block)
            node.core.step_local(BlockValidated(header_hash(req.block.header, SIM_SUITE),
                                                valid if ok is None else ok, reason))
        self.flush(i)

    def deliver(self, i: int, msg: Message | bytes) -> StepResult:
        """Hand one message (as bytes, decoded like the driver would) to node i."""
        data = msg if isinstance(msg, bytes) else msg.encode()
        decoded = decode_message(data)
        result = self.nodes[i].core.step(decoded)
        self.nodes[i].results.append((decoded, result))
        self.flush_all()
        return result

    def run(self, drop: Drop | None = None, *, height: int | None = None, max_steps: int = 100_000) -> None:
        """Deliver queued messages (FIFO) until the network is quiet; ``drop`` filters (src, dst, msg).

        ``height``: let leaders propose up to that height (default: one more than the highest ledger).
        """
        self.propose_up_to = max(self.heights()) + 1 if height is None else height
        held, self.held = self.held, []
        for i, req in held:
            if req.height > self.propose_up_to:
                self.held.append((i, req))
            elif self.auto_app and self.nodes[i].core.height == req.height:
                self.answer(i, req)
        self.flush_all()
        steps = 0
        while self.queue:
            steps += 1
            assert steps < max_steps, "network did not go quiet"
            src, dst, data = self.queue.popleft()
            msg = decode_message(data)
            if drop is not None and drop(src, dst, msg):
                continue
            result = self.nodes[dst].core.step(msg)
            self.nodes[dst].results.append((msg, result))
            self.flush_all()

    def tick(self, ticks: int = 1, only: list[int] | None = None) -> None:
        for _ in range(ticks):
            for node in self.nodes:
                if only is None or node.index in only:
                    node.core.tick()
            self.flush_all()

    # -- helpers ---------------------------------------------------------------------------------------

    def leader(self, height: int, view: int) -> int:
        return (height + view) % len(self.sealers)

    def heights(self) -> list[int]:
        return [n.ledger.height for n in self.nodes]

    def sent_of(self, i: int, kind: type) -> list[Message]:
        return [m for m in self.nodes[i].sent if isinstance(m, kind)]

    def other_block(self, proposer: int, height: int, view: int, salt: int = 999) -> Block:
        """A second valid block a (Byzantine) proposer could also build at this height."""
        ledger = self.nodes[proposer].ledger
        assert ledger.height + 1 == height
        return ledger.build(view, self.keys[proposer].public_key, salt=salt)

    def pre_prepare(self, proposer: int, block: Block, view: int = 0) -> PrePrepare:
        pp = PrePrepare(CHAIN_ID, GROUP_ID, block.header.number, view, b"", header_hash(block.header, SIM_SUITE),
                        block=block)
        return replace(pp.signed_by(self.keys[proposer]))
