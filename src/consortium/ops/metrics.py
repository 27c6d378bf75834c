"""Prometheus metrics of a running node, named after CometBFT's where one exists.

Gauges and totals that the node already keeps (height, view, sealers, peers, pool size,
counters of the consensus core, ...) are read when Prometheus scrapes, by one collector,
so nothing on the hot path pays for them. What only exists as an event — block interval,
execution and commit time, RPC requests — is observed as it happens. Every series is
prefixed ``consortium_``; each node has its own registry (tests run several in one
process). The alerts built on these are in docs/operations.md; a Grafana dashboard is in
deploy/grafana/consortium-dashboard.json.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from consortium import __version__
from consortium.ledger.block import Block
from consortium.node.runtime import Node
from consortium.ops.anchor_metrics import AnchorCollector
from consortium.ops.families import Families

NS = "consortium"
_FAMILIES = Families(NS)
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_INTERVAL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300, 900, 3600)


class NodeCollector(Collector):
    """Reads the node's own state at scrape time."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        status = node.core.status()
        quorum = node.liveness.view()
        sync = node.sync.status()

        gauge, total = _FAMILIES.gauge, _FAMILIES.total

        yield gauge("build_info", "Version and chain of this node (value 1).", 1,
                    {"version": __version__, "chain_id": node.genesis.chain_id, "group_id": node.genesis.group_id,
                     "node": node.config.name, "node_id": node.node_id.hex()})
        yield gauge("consensus_height", "Height the consensus core is deciding (last committed + 1).", status.height)
        yield gauge("consensus_latest_block_height", "Height of the last committed block.", node.ledger.height)
        yield gauge("consensus_view", "Current PBFT view at this height (0 when the first leader decides).", status.view)
        yield gauge("consensus_view_active", "1 in a view, 0 while waiting for a NEW-VIEW.", int(status.view_active))
        yield gauge("consensus_is_sealer", "1 if this node is a sealer at this height, 0 if an observer.",
                    int(status.is_sealer))
        yield gauge("consensus_validators", "Sealers in force at this height.", quorum.sealers)
        yield gauge("consensus_missing_validators", "Sealers not heard from in the last 5 s.", len(quorum.silent))
        yield gauge("consensus_quorum_needed", "Sealers needed to commit a block (n - f).", quorum.needed)
        yield gauge("consensus_quorum_ok", "1 while the sealers heard from make a quorum.", int(quorum.ok))
        yield total("consensus_quorum_losses", "Times the quorum of sealers was lost since start.", node.liveness.losses)
        c = status.counters
        yield total("consensus_view_changes", "View changes this node started.", c.view_changes_started)
        yield total("consensus_new_views", "New views installed.", c.new_views_installed)
        yield total("consensus_blocks_committed", "Blocks decided by consensus on this node.", c.blocks_committed)
        yield total("consensus_equivocations", "Conflicting signed messages seen from one sealer.", c.equivocations)
        yield total("consensus_proposals_refused", "Proposals this node found invalid.", c.proposals_refused)
        rejected = CounterMetricFamily(f"{NS}_consensus_messages_rejected", "Consensus messages refused, by reason.",
                                       labels=["reason"])
        rejected.add_metric(["invalid"], c.rejected_invalid)
        rejected.add_metric(["non_sealer"], c.rejected_non_sealer)
        yield rejected
        yield total("consensus_txs", "Transactions committed on this chain.", node.ledger.blocks.total_transactions())
        yield gauge("mempool_size", "Pending transactions in the pool.", len(node.txpool))
        yield gauge("mempool_limit", "Capacity of the pool.", node.txpool.limit)
        failed = CounterMetricFamily(f"{NS}_mempool_failed_txs", "Transactions refused by the pool, by reason.",
                                     labels=["reason"])
        for reason, count in sorted(node.txpool.rejections.items()):
            failed.add_metric([reason], count)
        yield failed
        yield gauge("p2p_peers", "Connected, admitted peers.", len(node.transport.peers()))
        yield total("p2p_bad_messages", "Malformed messages dropped.", node.bad_messages)
        yield total("consensus_dropped_messages", "Events dropped because the consensus queue was full.",
                    node.driver.dropped_messages)
        early = CounterMetricFamily(f"{NS}_consensus_speculative_proposals",
                                    "Next-height blocks executed during the votes on their parent, by outcome.",
                                    labels=["outcome"])
        for outcome, count in sorted(node.driver.speculations.items()):
            early.add_metric([outcome], count)
        yield early
        yield gauge("blocksync_syncing", "1 while a peer is ahead of this node.", int(sync["isSyncing"]))
        yield gauge("blocksync_behind_blocks", "Blocks the best peer is ahead by.",
                    max(0, sync["knownHighestNumber"] - sync["blockNumber"]))
        yield total("blocksync_blocks_received", "Blocks received by sync.", sync["blocksReceived"])
        data = node.config.data_dir
        try:
            yield gauge("storage_free_bytes", "Free bytes on the disk holding the data directory.",
                        shutil.disk_usage(data).free)
            yield gauge("storage_data_bytes", "Bytes used by the data directory (ledger, state, vote state).",
                        _tree_size(data))
        except OSError:
            pass  # the data directory vanished or is unreadable: /readyz says so; no series beats a wrong one


def _tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class NodeMetrics:
    """The registry of one node: collectors plus the event metrics, hooked into the node."""

    def __init__(self, node: Node) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(NodeCollector(node))
        self.registry.register(AnchorCollector(node))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self.block_interval = Histogram(f"{NS}_consensus_block_interval_seconds",
                                        "Time between consecutive blocks (block timestamps).",
                                        buckets=_INTERVAL_BUCKETS, registry=r)
        self.num_txs = Histogram(f"{NS}_consensus_block_txs", "Transactions per committed block.",
                                 buckets=(0, 1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000), registry=r)
        self.execute = Histogram(f"{NS}_state_block_execution_seconds",
                                 "Executing a block (proposing, validating or syncing it).",
                                 buckets=_DURATION_BUCKETS, registry=r)
        self.commit = Histogram(f"{NS}_state_block_commit_seconds", "Writing a block and its state (one atomic batch).",
                                buckets=_DURATION_BUCKETS, registry=r)
        self.rpc = Counter(f"{NS}_rpc_requests", "JSON-RPC requests by method and error code (0: success).",
                           ["method", "code"], registry=r)
        self._last_timestamp: int | None = None
        node.driver.committed_callbacks.append(self.on_commit)
        self._time_ledger(node)

    def _time_ledger(self, node: Node) -> None:
        """Time the ledger's execute/verify/commit calls, whoever makes them (driver, sync)."""
        ledger = node.ledger
        for name, hist in (("execute", self.execute), ("verify_and_execute", self.execute), ("commit", self.commit)):
            original = getattr(ledger, name, None)
            if original is not None:
                setattr(ledger, name, _timed(original, hist))

    def on_commit(self, block: Block) -> None:
        ts = block.header.timestamp
        if self._last_timestamp is not None and ts >= self._last_timestamp:
            self.block_interval.observe((ts - self._last_timestamp) / 1000)
        self._last_timestamp = ts
        self.num_txs.observe(len(block.transactions))

    def on_rpc(self, method: str, code: int) -> None:
        self.rpc.labels(method, str(code)).inc()


def _timed(fn: Callable[..., Any], hist: Histogram) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            hist.observe(time.perf_counter() - start)

    return wrapper
