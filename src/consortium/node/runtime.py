"""A running node: the one place where ledger, txpool, consensus, network and RPC are wired.

Start-up order matters and is the same every time: open the ledger (refusing a
database of another chain), restore the vote state, build the consensus core at
the ledger's height, start P2P, then RPC (so that "answers RPC" means "fully
up", which scripts/start_all.sh relies on), then the tasks. Shutdown is the
reverse: stop RPC, cancel the tasks, close P2P, close the database. Every task
lives in one TaskGroup; a crash of any of them stops the node with the error
logged instead of leaving a half-alive process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consortium.chain.admission import ChainIdentity, TransactionRejected
from consortium.chain.edge import VerifiedTx, verify_transactions
from consortium.chain.ledger import Ledger
from consortium.consensus.config import PbftConfig
from consortium.consensus.core import PbftCore
from consortium.consensus.errors import ConsensusError
from consortium.consensus.messages import decode_message
from consortium.crypto.timestamp import TrustedTsa
from consortium.execution import Executor, genesis_writes, governance
from consortium.ledger.transaction import Transaction
from consortium.network.certs import load_node_keypair
from consortium.network.envelope import Envelope, MessageKind
from consortium.network.errors import NetworkError
from consortium.network.transport import Transport
from consortium.node import admission, wire
from consortium.node.anchor_exchange import AnchorExchange
from consortium.node.anchoring import AnchorService, AnchorStatus, AnchorStore
from consortium.node.config import NodeConfig
from consortium.node.driver import ConsensusDriver
from consortium.node.genesis import Genesis, GenesisError
from consortium.node.liveness import SealerLiveness
from consortium.node.sync import BlockSync, TxGossip
from consortium.node.vote_store import VoteStore
from consortium.storage.kv import LevelDBStore
from consortium.txpool.pool import TxPool

log = logging.getLogger("consortium.node")

TICK_S = 0.1
"""One consensus tick. Timeouts are counted in ticks, so the genesis view timeout
(ms) becomes ``view_timeout_ms / 100`` ticks."""
LEDGER_DIR = "ledger"
GOSSIP_VERIFY_IN_THREAD = 0
"""If positive, a gossip batch of at least this many new transactions is verified in a worker thread.
Off: on two cores shared by four nodes it cost CPU without gaining throughput (see _on_gossip)."""


def open_ledger(config: NodeConfig, genesis: Genesis, executor: Executor) -> Ledger:
    """Open (or create) the node's ledger and make sure it holds this genesis."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    # No table compression: the ledger is mostly hashes, keys and signatures, so snappy saves ~30 % of
    # disk but its compress/decompress in compaction cost ~20 µs of CPU per transaction per node
    # (benchmarks/pipeline_bench.py, performance.md "fourth round"), and the node is CPU-bound.
    # 16 KiB blocks: a quarter of the blocks (index entries, checksums) for compaction to handle,
    # ~2 µs less per transaction per node; point reads of absent keys stop at the bloom filter.
    kv = LevelDBStore(config.data_dir / LEDGER_DIR, compression=None, block_kb=16)
    chain = ChainIdentity(genesis.chain_id, genesis.group_id, genesis.block_limit_window)
    ledger = Ledger(kv, executor, chain, suite=genesis.suite)
    writes = genesis_writes(
        chain_id=genesis.chain_id, group_id=genesis.group_id,
        timestamp=genesis.timestamp_ms, suite=genesis.suite,
    )
    writes.update(governance.genesis_writes(governance.GovernanceGenesis(
        committee=tuple((m.address, m.weight) for m in genesis.committee),
        threshold=genesis.committee_threshold,
        sealers=genesis.sealer_ids,
        deployers=tuple(genesis.administrators),
        config={"tx_count_limit": genesis.max_txs_per_block, "consensus_timeout_ms": genesis.view_timeout_ms},
        tsas=tuple((t.name, t.certificate, t.policy) for t in genesis.tsas),
        organizations=tuple((o.name, o.ca_cert) for o in genesis.organizations),
        node_orgs=tuple((s.node_id, s.org) for s in genesis.sealers if s.org),
    )))
    ledger.ensure_genesis(timestamp=genesis.timestamp_ms, sealers=genesis.sealer_ids, writes=writes)
    return ledger


def _ticks(ms: int) -> int:
    """Milliseconds as consensus ticks (at least one)."""
    return max(1, ms // int(TICK_S * 1000))


def check_interpreter(
genesis: Genesis, version: tuple[int, int] = sys.version_info[:2]) -> None:
    """Refuse to run a chain pinned to another CPython minor version (receipts could differ)."""
    running = f"{version[0]}.{version[1]}"
    if genesis.python and genesis.python != running:
        raise GenesisError(
            f"this chain's nodes run CPython {genesis.python} (genesis.toml [chain] python) but this is "
            f"CPython {running}: contract receipts (error texts) could differ from the other nodes'; "
            f"run the node with Python {genesis.python}"
        )


class Node:
    def __init__(self, config: NodeConfig, genesis: Genesis) -> None:
        check_interpreter(genesis)
        self.config = config
        self.genesis = genesis
        self.key = load_node_keypair(config.key_path)
        self.node_id = self.key.public_key
        self.executor = Executor(suite=genesis.suite)
        self.ledger = open_ledger(config, genesis, self.executor)
        self.txpool = TxPool(self.ledger, limit=config.txpool_limit)
        self.votes = VoteStore(config.data_dir, genesis.suite)
        head = self.ledger.head_header()
        # Governance may have changed the timeout since genesis; it applies from the node's start.
        timeout_ms = self.governance().config().get("consensus_timeout_ms", genesis.view_timeout_ms)
        self.core = PbftCore(
            PbftConfig(genesis.chain_id, genesis.group_id).with_view_timeout(
                _ticks(timeout_ms), _ticks(config.max_view_timeout_ms)),
            self.key, sealers=self.sealers_at(head.number + 1), height=head.number + 1,
            parent_hash=head.hash, persisted=self.votes.load(),
        )
        self.transport = Transport(config.transport_config(genesis), self._on_message)
        self.driver = ConsensusDriver(
            self.core, self.ledger, self.txpool, self.votes, self._send,
            max_txs_per_block=genesis.max_txs_per_block,
            # The next leader executes during the votes on its parent (design.md §12.7);
            # CONSORTIUM_SPECULATE=0 turns it off, to compare.
            speculate=os.environ.get("CONSORTIUM_SPECULATE", "1").strip() != "0",
            # No empty blocks while idle: the leader seals when it has transactions or when the
            # view must move (ConsensusDriver._idle).
        )
        self.sync = BlockSync(self.ledger, self._send, self.driver.deliver_synced)
        self.gossip = TxGossip(self._send)
        self.tasks: list[asyncio.Task[Any]] = []
        """The node's running tasks (for /healthz), set by :meth:`running`."""
        self.liveness = SealerLiveness(self.node_id, lambda: self.core.sealers,
                                       {s.node_id: f"{s.org} {s.endpoint}".strip() for s in genesis.sealers})
        self.driver.committed_callbacks.append(lambda block: self.sync.on_commit())
        self.driver.committed_callbacks.append(self._apply_governance)
        self.driver.next_sealers = lambda: self.sealers_at(self.ledger.height + 1)
        self._revoked: set[int] = set()
        self.certificate_warnings: list[str] = []
        self._expiry_checked_for: object = None
        self._expiry_checked_at = float("-inf")
        self._timeout_ms: int | None = None
        self._apply_governance(None)
        self.bad_messages = 0
        # Every node keeps time anchors beside its ledger: its own (with [anchor]) and those peers share.
        self.anchor_store = AnchorStore.open(config.data_dir)
        self.anchor_status = AnchorStatus.load(self.anchor_store, self.trusted_tsas)
        self.anchoring: AnchorService | None = None
        if config.anchor is not None:
            self.anchoring = AnchorService(config.anchor, self.ledger, self.anchor_store, self.trusted_tsas,
                                           self.anchor_status)
        self.anchor_exchange = AnchorExchange(self.ledger, self.anchor_store, self.anchor_status, self.trusted_tsas,
                                              self._send, lambda: [p.node_id for p in self.transport.peers()])
        if self.anchoring is not None:
            self.anchoring.stored_callbacks.append(self.anchor_exchange.share)

    def governance(self, version: int | None = None) -> governance.GovernanceState:
        return governance.GovernanceState(self.ledger.state_reader(version).get)

    def trusted_tsas(self, version: int | None = None) -> tuple[TrustedTsa, ...]:
        """The time-stamping authorities whose tokens anchor this chain (in the state after block ``version``,
        default the latest): governance's list, else genesis's."""
        entries = self.governance(version).tsa_entries()
        if entries is None:
            return self.genesis.tsas
        out = []
        for name, cert, policy in entries:
            try:
                out.append(TrustedTsa(name, cert, policy))
            except ValueError as exc:  # governance checks only the shape; skip an entry no verifier could use
                log.warning("ignoring time-stamping authority %r from governance: %s", name, exc)
        return tuple(out)

    def sealers_at(self, height: int) -> tuple[bytes, ...]:
        """The sealer set in force at ``height``: what governance state says after block ``height - 1``."""
        return self.governance(height - 1).sealers() or self.genesis.sealer_ids

    def system_config(self) -> dict[str, Any]:
        g = self.genesis
        return {
            **self.governance().config(), "block_limit_window": g.block_limit_window,
            "txpool_limit": self.config.txpool_limit, "crypto_suite": g.crypto_suite,
        }

    def _apply_governance(self, block: object) -> None:
        """After each commit: settings that governance may have changed take effect on this node."""
        gov = self.governance()
        config = gov.config()
        self.driver.max_txs = config.get("tx_count_limit", self.genesis.max_txs_per_block)
        self._apply_view_timeout(config.get("consensus_timeout_ms", self.genesis.view_timeout_ms))
        members = admission.membership(self.genesis, gov)
        if members is not None and members != self.transport.membership:
            closed = self.transport.set_membership(members)
            if closed:
                log.warning("membership changed by governance: %d connection(s) closed", closed)
        self._check_expiry(members)
        for serial in gov.revoked():
            if serial not in self._revoked:
                self._revoked.add(serial)
                closed = self.transport.revoke(serial)
                log.warning("certificate serial %d revoked by governance (%d connection(s) closed)", serial, closed)

    def _apply_view_timeout(self, timeout_ms: int) -> None:
        """Governance's ``consensus_timeout_ms`` as the base view timeout, with the doubling cap
        recomputed for it so the doubled timeout stays within this node's ``max_view_timeout_ms``."""
        if timeout_ms == self._timeout_ms:
            return
        if self._timeout_ms is not None:
            log.info("consensus timeout set to %d ms by governance", timeout_ms)
        self._timeout_ms = timeout_ms
        self.core.set_view_timeout(_ticks(timeout_ms), max_ticks=_ticks(self.config.max_view_timeout_ms))

    def _check_expiry(self, members: object) -> None:
        """Certificates expiring within 30 days: logged at start, when membership changes, and hourly."""
        now = time.monotonic()
        if members is self._expiry_checked_for and now - self._expiry_checked_at < 3600:
            return
        self._expiry_checked_for, self._expiry_checked_at = members, now
        self.certificate_warnings = admission.expiry_warnings(
            self.config.cert_path, self.config.ca_cert_path, self.transport.membership)
        for line in self.certificate_warnings:
            log.warning("certificate: %s", line)

    # -- messaging ----------------------------------------------------------------------------
    def _send(self, to: bytes | None, payload: bytes) -> None:
        try:
            if to is None:
                self.transport.broadcast(payload)
            elif to != self.node_id:
                self.transport.send(to, payload)
        except NetworkError as exc:
            log.warning("cannot send %d bytes: %s", len(payload), exc)

    async def _on_message(self, peer: bytes, payload: bytes) -> None:
        """Dispatch one frame from an admitted peer; malformed input is counted and dropped."""
        self.liveness.heard(peer)
        try:
            env = Envelope.decode(payload)
            if env.kind == MessageKind.CONSENSUS:
                self.driver.deliver(peer, decode_message(env.body, self.ledger.suite))

            elif env.kind == MessageKind.TX_GOSSIP:
                await self._on_gossip(wire.decode_transactions(env.body, self.ledger.suite))
            elif env.kind == MessageKind.STATUS:
                self.sync.on_status(peer, env.body)
            elif env.kind == MessageKind.BLOCK_REQUEST:
                self.sync.on_request(peer, env.body)
            elif env.kind == MessageKind.BLOCK_RESPONSE:
                self.sync.on_response(peer, env.body)
            elif env.kind == MessageKind.ANCHOR:
                self.anchor_exchange.on_anchor(peer, env.body)
            elif env.kind == MessageKind.ANCHOR_REQUEST:
                self.anchor_exchange.on_request(peer, env.body)
        except (NetworkError, ConsensusError, wire.WireError, ValueError) as exc:
            self.bad_messages += 1
            log.warning("dropping a malformed message from %s: %s", peer.hex()[:12], exc)

    def admit(self, tx: Transaction) -> VerifiedTx:
        """A transaction from outside (RPC, gossip) into the pool: the pool's cheap checks, then the
        edge (chain identity, signature), then the ledger's rules. Raises :class:`TransactionRejected`."""
        return self.txpool.admit(tx, self.ledger.verify_transaction)

    async def _on_gossip(self, txs: tuple[Transaction, ...]) -> None:
        """Admit a peer's batch. Duplicates are normal with gossip (and dropped before any signature is
        checked); invalid transactions were refused at their origin too and are dropped silently.

        Signatures are verified here, on the event loop. Verifying large batches in a worker thread
        (libsodium releases the GIL) was measured on the 2-core reference machine and did not pay:
        node CPU per transaction rose 13 % for the same throughput (docs/performance.md), since four
        nodes and a client already keep both cores busy. ``GOSSIP_VERIFY_IN_THREAD`` keeps it
        available for machines with cores to spare; it is off by default."""
        fresh = []
        for tx in txs:
            try:
                self.txpool.check_room(tx)
                fresh.append(tx)
            except TransactionRejected:
                pass
        chain, suite = self.ledger.chain, self.ledger.suite
        if 0 < GOSSIP_VERIFY_IN_THREAD <= len(fresh):
            verified = await asyncio.to_thread(verify_transactions, fresh, chain, suite)
        else:
            verified = verify_transactions(fresh, chain, suite)
        added = 0
        for v in verified:
            if isinstance(v, VerifiedTx):
                try:
                    self.txpool.add(v)
                    added += 1
                except TransactionRejected:
                    pass
        if added:
            self.driver.transactions_arrived()

    # -- lifecycle ----------------------------------------------------------------------------
    @asynccontextmanager
    async def running(self) -> AsyncIterator[Node]:
        """P2P up and every task running inside the block; on exit, an ordered shutdown.

        The composition root (``consortium node start``) starts the RPC server
        inside this block, so the node is fully up before it answers RPC.
        """
        await self.transport.start()
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(self.driver.run(), name="consensus"),
                    tg.create_task(self._ticker(), name="ticker"),
                    tg.create_task(self.sync.run(), name="sync"),
                    tg.create_task(self.gossip.run(), name="gossip"),
                    tg.create_task(self.liveness.run(), name="liveness"),
                    tg.create_task(self.anchor_exchange.run(), name="anchor-exchange"),
                ]
                self.tasks = tasks
                if self.anchoring is not None:
                    tasks.append(tg.create_task(self.anchoring.run(), name="anchor"))
                log.info(
                    "node %s (%s) up: chain %s/%s height %d, %s, p2p %d", self.config.name,
                    self.node_id.hex()[:12], self.genesis.chain_id, self.genesis.group_id, self.ledger.height,
                    "sealer" if self.node_id in self.core.sealers else "observer", self.transport.listen_port,
                )
                try:
                    yield self
                finally:
                    log.info("shutting down")
                    for task in tasks:
                        task.cancel()
        finally:
            await self.transport.close()
            self.anchor_store.close()
            self.votes.close()
            self.ledger.kv.close()
            log.info("stopped at height %d", self.ledger.height)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.driver.tick()

