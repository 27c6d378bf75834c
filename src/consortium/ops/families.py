"""Metric families built at scrape time, under one name prefix.

The node's collector (ops/metrics.py) and the gateway's (gateway/metrics.py) read values
they already keep when Prometheus scrapes, and yield a family per value. Both build those
families the same way, so the way lives here once; ``ops`` sits below ``gateway`` in the
layering (tests/test_layers.py), and this module needs nothing but prometheus_client.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


@dataclass(frozen=True)
class Families:
    """Builds gauge and counter families named ``{prefix}_{name}``."""

    prefix: str

    def gauge(self, name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
        """One sample; ``labels`` (name → value, in order) label it, as a build_info gauge needs."""
        g = GaugeMetricFamily(f"{self.prefix}_{name}", doc, labels=list(labels) if labels else None)
        g.add_metric(list(labels.values()) if labels else [], value)
        return g

    def total(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        """A counter read from a running total; Prometheus exposes it as ``{prefix}_{name}_total``."""
        return CounterMetricFamily(f"{self.prefix}_{name}", doc, value=value)
