"""Prometheus metrics of a running gateway, served at ``GET /metrics`` on its own port.

Like the node's (ops/metrics.py): what the gateway already counts — items accepted,
batches sealed, committed, failed, signed again, the pending backlog, the chain height it
sees — is read when Prometheus scrapes, by one collector, so the intake path pays
nothing for it. What only exists as an event is recorded as it happens: refused requests
by reason, and each item's time from acknowledgement to proof. Series are prefixed
``consortium_gateway_``; the alerts built on them are in deploy/prometheus/gateway-alerts.yml
and docs/operations.md.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from consortium import __version__
from consortium.ops.families import Families

if TYPE_CHECKING:
    from consortium.gateway.service import Gateway

NS = "consortium_gateway"
_FAMILIES = Families(NS)
TIME_TO_PROOF_BUCKETS = (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 1800)


class WeightedHistogram(Collector):
    """A histogram fed ``(value, count)`` pairs: all items of a group commit share one time to proof.

    prometheus_client's Histogram observes one value at a time; calling it once per item would
    cost a lock and a bucket search per item at 12,000 items a second. Same exposition.
    """

    def __init__(self, name: str, doc: str, buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.bounds = name, doc, buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe_many(self, pairs: Iterable[tuple[float, int]]) -> None:
        for value, n in pairs:
            self.counts[bisect.bisect_left(self.bounds, value)] += n
            self.sum += value * n

    def collect(self) -> Iterator[Metric]:
        cumulative, acc = [], 0
        for bound, count in zip((*(str(float(b)) for b in self.bounds), "+Inf"), self.counts, strict=True):
            acc += count
            cumulative.append((bound, acc))
        yield HistogramMetricFamily(self.name, self.doc, buckets=cumulative, sum_value=self.sum)


class GatewayCollector(Collector):
    """Reads the gateway's own counters and state at scrape time."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gw = self.gateway
        a = gw.anchor

        gauge, total = _FAMILIES.gauge, _FAMILIES.total

        yield gauge("build_info", "Version, account and node of this gateway (value 1).", 1,
                    {"version": __version__, "account": "0x" + gw.key.address.hex(), "node": gw.config.node_rpc})
        yield total("items_accepted", "Items acknowledged (durable) since start.", gw.accepted_items)
        yield total("group_commits", "Synced log writes (one per group of concurrent requests).", gw.intake.groups)
        yield gauge("pending_items", "Items received or acknowledged and not yet in a committed batch "
                                     "(what the 503 limit counts).", gw.held_items())
        yield gauge("pending_items_limit", "limits.max_pending_items: beyond it intake answers 503.",
                    gw.config.max_pending_items)
        yield gauge("unsealed_items", "Acknowledged items waiting to be sealed into a batch.", len(a.unsealed))
        yield gauge("open_batches", "Sealed batches not yet committed.", len(a.flights))
        yield gauge("open_batches_limit", "batching.max_inflight: beyond it sealing waits.", gw.config.max_inflight)
        yield gauge("oldest_pending_seconds", "Age of the oldest acknowledged item still without a proof "
                                              "(counted from the restart for items recovered from the log).",
                    a.oldest_open_age())
        yield total("batches_sealed", "Batches sealed and signed since start.", a.sealed_batches)
        yield total("batches_committed", "Batches committed on chain with their proof stored, since start.",
                    a.committed_batches)
        yield total("items_committed", "Items of committed batches, since start.", a.committed_items)
        yield total("batches_failed", "Batches the chain refused for good (root notarized by another account); "
                                      "their items have no proof.", a.failed_batches)
        yield total("items_failed", "Items of failed batches, since start.", a.failed_items)
        again = CounterMetricFamily(f"{NS}_batches_signed_again", "Batches signed again: block_limit (passed "
                                    "without a receipt) or refused (a failed receipt, retried).", labels=["reason"])
        for reason, count in sorted(a.signed_again.items()):
            again.add_metric([reason], count)
        yield again
        yield total("transactions_resent", "Batch transactions sent again after no receipt for 5 s.", a.resent)
        yield total("node_errors", "Failed calls to the node (unreachable, timed out).", a.node_errors)
        yield gauge("chain_height", "The chain height the gateway last read from its node.", a.height)
        yield gauge("last_commit_timestamp_seconds", "Unix time the last batch was committed (0: none since start).",
                    a.last_commit_at)
        yield gauge("log_items", "Items in the durable log (next sequence number).", gw.store.next_seq)
        yield gauge("tree_cache_items", "Items in the cached trees of recent batches.", gw.proofs.trees.weight)
        yield gauge("bundle_cache_bytes", "Bytes of cached batch proof bundles.", gw.proofs.bundles.weight)
        mem = gw.store.memory_bytes()
        if mem is not None:
            yield gauge("leveldb_memory_bytes", "LevelDB's own estimate of its memory (memtables, block cache).", mem)
        anon = _anonymous_rss()
        if anon is not None:
            yield gauge("anonymous_memory_bytes", "Private resident memory (RssAnon). The rest of "
                        "process_resident_memory_bytes is LevelDB's memory-mapped table files: page cache "
                        "the kernel reclaims, growing with the database.", anon)


def _anonymous_rss() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


class GatewayMetrics:
    """The registry of one gateway: the collector, process metrics and the event metrics."""

    def __init__(self, gateway: Gateway) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        r.register(GatewayCollector(gateway))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.time_to_proof = WeightedHistogram(
            f"{NS}_time_to_proof_seconds", "Seconds from an item's acknowledgement to its proof being available.",
            TIME_TO_PROOF_BUCKETS)
        r.register(self.time_to_proof)
        self.requests_refused = Counter(f"{NS}_requests_refused", "POST /items requests refused, by reason "
                                        "(the error code of the answer).", ["reason"], registry=r)
        self.items_refused = Counter(f"{NS}_items_refused", "Items of refused requests, by reason, where the "
                                     "request could be parsed (duplicate, overloaded, storage-failed).",
                                     ["reason"], registry=r)

    def refused(self, reason: str, items: int | None) -> None:
        self.requests_refused.labels(reason).inc()
        if items:
            self.items_refused.labels(reason).inc(items)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
