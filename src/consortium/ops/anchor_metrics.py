"""Prometheus metrics of RFC 3161 time anchoring (docs/design.md §14.1), read at scrape time.

A TSA that is down must be visible to whoever watches the dashboards, not only in the log:
``consortium_anchor_lag_blocks`` grows, ``consortium_anchor_consecutive_failures`` counts the rounds
since the last token, and ``consortium_anchor_tsa_failures_total{reason}`` says why each request
failed (timeout, unreachable, http_error, malformed, other_hash, other_tsa, bad_signature, policy,
no_trusted_tsa). The suggested alert is in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consortium.node.runtime import Node

NS = "consortium_anchor"


class AnchorCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        s = node.anchor_status
        height = node.ledger.height
        yield GaugeMetricFamily(f"{NS}_enabled", "1 if this node fetches RFC 3161 tokens ([anchor]), else 0.",
                                value=int(node.anchoring is not None))
        yield GaugeMetricFamily(f"{NS}_anchored_height", "Highest block covered by a stored time anchor.",
                                value=s.anchored_to)
        yield GaugeMetricFamily(f"{NS}_lag_blocks", "Committed blocks not yet covered by a time anchor.",
                                value=max(0, height - s.anchored_to))
        yield GaugeMetricFamily(f"{NS}_anchors", "Time anchors stored beside the ledger (fetched or from peers).",
                                value=s.anchors)
        if s.last_timestamp:
            yield GaugeMetricFamily(f"{NS}_last_tsa_time_seconds",
                                    "The TSA's time in the last anchor (Unix seconds).", value=s.last_timestamp)
        yield GaugeMetricFamily(f"{NS}_consecutive_failures",
                                "Anchoring rounds in a row in which no TSA gave a usable token.", value=s.failures)
        yield CounterMetricFamily(f"{NS}_fetched", "Time anchors this node obtained from a TSA since start.",
                                  value=s.fetched)
        failures = CounterMetricFamily(f"{NS}_tsa_failures", "Failed TSA requests since start, by reason.",
                                       labels=["reason"])
        for reason, count in sorted(s.tsa_failures.items()):
            failures.add_metric([reason], count)
        yield failures
        shared = CounterMetricFamily(f"{NS}_peer_anchors", "Anchors received from peers since start, by outcome "
                                     "(accepted, duplicate, ahead, or why refused).", labels=["outcome"])
        for outcome, count in sorted(s.from_peers.items()):
            shared.add_metric([outcome], count)
        yield shared
