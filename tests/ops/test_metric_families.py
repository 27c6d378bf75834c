"""The families both scrape-time collectors (node and gateway) build, as Prometheus reads them."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from consortium.ops.families import Families


class _Collector(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def exposition(*metrics: Metric) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(list(metrics)))
    return generate_latest(registry).decode()


def test_gauge_is_prefixed_and_pairs_each_label_name_with_its_value() -> None:
    f = Families("acme_gateway")
    text = exposition(f.gauge("build_info", "Version.", 1, {"version": "1.2", "node": "http://n0/"}),
                      f.gauge("pending_items", "Items waiting.", 7))
    assert "# HELP acme_gateway_build_info Version.\n# TYPE acme_gateway_build_info gauge\n" in text
    assert 'acme_gateway_build_info{node="http://n0/",version="1.2"} 1.0\n' in text
    assert "acme_gateway_pending_items 7.0\n" in text


def test_total_is_a_counter_exposed_with_the_total_suffix() -> None:
    text = exposition(Families("acme").total("items_accepted", "Items acknowledged.", 12))
    assert "# TYPE acme_items_accepted_total counter\n" in text
    assert "acme_items_accepted_total 12.0\n" in text


def test_an_empty_label_set_is_no_labels() -> None:
    assert "acme_up 1.0\n" in exposition(Families("acme").gauge("up", "Up.", 1, {}))
