"""The gateway's recovery paths and its metrics, with real parts: a 4-node cluster whose genesis has a
small block-limit window (12 blocks), a real gateway process beside node0, and a real Prometheus
scraping the gateway's /metrics with deploy/prometheus/gateway-alerts.yml loaded.

In order (module-scoped state):

* metrics: accepted items, refusals by reason, committed batches and the time-to-proof histogram
  are what the gateway did, as scraped by Prometheus;
* a batch whose block limit passes uncommitted (its node is down while the other three commit
  blocks) is signed again once the node is back, and commits once;
* a batch root that the gateway's own account already notarized under another signing (a standby
  gateway, an operator) is recognized as ours: its items get proofs of that transaction;
* a batch root front-run by another account fails for good: its items answer 502, the failed-batch
  alert fires in Prometheus, and submitting the items again gets them proofs in a new batch.

Not driven here: the 10 s retry of a batch whose receipt failed for another reason. The evidence
contract's notarize_batch can fail only for a malformed root or count (which the gateway never
sends) or "already notarized" (covered above), and no governance action changes that, so no real
chain produces that receipt.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.cluster.harness import ROOT, Cluster, eventually, evidence_args
from tests.gateway.gateway_proc import GatewayProcess, OfflineVerifier
from tests.gateway.test_gateway_cluster import fetch_proofs, new_items, post
from tests.ops.prom import Prometheus

from consortium.client.gateway import GatewayClient, GatewayRefused
from consortium.crypto.suite import KeyPair
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.evidence.item import EvidenceItem
from consortium.evidence.item_bundle import parse_item_bundle
from consortium.node.genesis import load_genesis

pytestmark = pytest.mark.slow

WINDOW = 12
ALERTS = ROOT / "deploy" / "prometheus" / "gateway-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "gateway-dashboard.json"


@dataclass
class Env:
    cluster: Cluster
    gateway: GatewayProcess
    prom: Prometheus
    verifier: OfflineVerifier
    accepted: int = 0
    """Items the gateway acknowledged so far (what items_accepted_total must say)."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("gateway-recovery")
    cluster = Cluster(root / "chain", 4)
    gateway: GatewayProcess | None = None
    prom: Prometheus | None = None
    try:
        cluster.build()
        for genesis in (root / "chain").rglob("genesis.toml"):  # before the first start: a small window
            text = genesis.read_text()
            assert "block_limit_window = 600" in text
            genesis.write_text(text.replace("block_limit_window = 600", f"block_limit_window = {WINDOW}"))
        cluster.start()
        gateway = GatewayProcess(cluster, root / "gw", extra_toml="batching.interval_ms = 200")
        gateway.start()
        prom = Prometheus(root / "prometheus", [f"127.0.0.1:{gateway.port}"], rule_files=[ALERTS],
                          job="consortium-gateway")
        prom.start()
        genesis = load_genesis(cluster.root / "node0" / "genesis.toml")
        assert genesis.block_limit_window == WINDOW
        yield Env(cluster, gateway, prom, OfflineVerifier(genesis))
    finally:
        try:
            if prom is not None:
                prom.stop()
        finally:
            try:
                if gateway is not None:
                    gateway.stop()
            finally:
                cluster.stop()


# -- helpers ---------------------------------------------------------------------------------------


def scrape(env: Env) -> dict[str, float]:
    """The gateway's /metrics as {"name{label=value,...}": value}."""
    with urllib.request.urlopen(env.gateway.url + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def submit(env: Env, items: list[EvidenceItem]) -> None:
    async def go() -> None:
        async with GatewayClient(env.gateway.url) as c:
            assert (await c.submit(items)).count == len(items)
    asyncio.run(go())
    env.accepted += len(items)


def item_doc(env: Env, commitment: bytes) -> dict:
    async def go() -> dict:
        async with GatewayClient(env.gateway.url) as c:
            doc = await c.item(commitment)
            assert doc is not None
            return doc
    return asyncio.run(go())


def verify_all(env: Env, items: list[EvidenceItem]) -> list[dict]:
    proofs = asyncio.run(fetch_proofs(env.gateway.url, [i.commitment for i in items], timeout=60))
    for item in items:
        bundle = env.verifier.verify(proofs[item.commitment], item.commitment)
        assert bundle.item == item
    return [proofs[i.commitment] for i in items]


def batch_tx(doc: dict) -> Any:
    """The transaction that anchored an item proof's batch."""
    return parse_item_bundle(doc).batch.notarization.transaction


def push_blocks_via(env: Env, node: int, until: int) -> int:
    """Commit blocks through ``node`` until its height is at least ``until`` (an idle chain seals none)."""
    c = env.cluster.client(node)
    key = KeyPair.generate()
    n = 0
    while (height := c.block_number()) < until:
        tx = c.build(key, "evidence", "notarize", evidence_args(f"push-{key.address.hex()}-{n}"),
                     block_limit=height + WINDOW // 2)
        c.send_transaction(tx)
        assert c.wait_receipt(tx.hash, timeout=30)["status"] == 0
        n += 1
    return height


def notarize_root(env: Env, key: KeyPair, root: bytes, size: int, via: int) -> dict:
    c = env.cluster.client(via)
    tx = c.build(key, "evidence", "notarize_batch", [root, size], block_limit=c.block_number() + WINDOW // 2)
    c.send_transaction(tx)
    receipt = c.wait_receipt(tx.hash, timeout=30)
    assert receipt["status"] == 0, receipt
    return receipt | {"txHash": tx.hash}


def sealed_batch(env: Env, item: EvidenceItem) -> dict:
    """Wait until ``item`` is sealed into a batch (not yet committed); its batch as GET /items/{c} says."""
    doc = eventually(lambda: (d := item_doc(env, item.commitment))["status"] == "sealed" and d,
                     timeout=30, what="the items to be sealed")
    return doc["batch"]


def get_proof(env: Env, commitment: bytes) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{env.gateway.url}/items/{to_hex(commitment)}/proof", timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def stop_node0(env: Env) -> None:
    env.cluster.signal_node(0, signal.SIGTERM)


def start_node0(env: Env) -> None:
    env.cluster.start()  # start_all.sh starts the nodes that are not running


# -- tests -----------------------------------------------------------------------------------------


def test_metrics_count_what_the_gateway_did(env: Env) -> None:
    items = new_items(300, "m")
    submit(env, items[:200])
    submit(env, items[200:])
    status, doc = post(env.gateway.url, b'{"items": [{"commitment": "0x12"}]}', "application/json")
    assert (status, doc["code"]) == (400, "bad-item")
    dup = [items[0], *new_items(4, "dup")]
    with pytest.raises(GatewayRefused) as refused:
        submit(env, dup)
    assert refused.value.status == 409
    verify_all(env, items)

    m = scrape(env)
    assert m["consortium_gateway_items_accepted_total"] == 300
    assert m["consortium_gateway_requests_refused_total{reason=bad-item}"] == 1
    assert m["consortium_gateway_requests_refused_total{reason=duplicate}"] == 1
    assert m["consortium_gateway_items_refused_total{reason=duplicate}"] == len(dup)
    assert m["consortium_gateway_items_committed_total"] == 300
    assert m["consortium_gateway_batches_committed_total"] == m["consortium_gateway_batches_sealed_total"] >= 1
    assert m["consortium_gateway_batches_failed_total"] == 0
    assert m["consortium_gateway_pending_items"] == 0 and m["consortium_gateway_oldest_pending_seconds"] == 0
    # Every committed item was observed once in the time-to-proof histogram, none under 0 s.
    assert m["consortium_gateway_time_to_proof_seconds_count"] == 300
    assert m["consortium_gateway_time_to_proof_seconds_bucket{le=+Inf}"] == 300
    assert 0 < m["consortium_gateway_time_to_proof_seconds_sum"] < 300 * 60
    assert m["consortium_gateway_chain_height"] >= 1
    assert 0 < m["consortium_gateway_anonymous_memory_bytes"] < m["process_resident_memory_bytes"]

    # Prometheus scrapes the same, and loads every alert rule.
    eventually(lambda: env.prom.query("consortium_gateway_items_committed_total") == {
        f"127.0.0.1:{env.gateway.port}": 300.0}, timeout=30, what="Prometheus to scrape the gateway")
    rules = [r for g in env.prom.api("rules")["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} >= {"ConsortiumGatewayDown", "ConsortiumGatewayBatchFailed",
                                          "ConsortiumGatewayNoProgress"}
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    assert not [a for a in env.prom.api("alerts")["alerts"] if a["labels"]["alertname"].startswith("ConsortiumGateway")]
    # Every series the alert rules and the Grafana dashboard use is exposed, and each dashboard query
    # is one Prometheus accepts.
    exposed = set(m) | {name.split("{")[0] for name in m}
    dashboard = json.loads(DASHBOARD.read_text())
    used = set(re.findall(r"\b((?:consortium_gateway|process)_[a-z_]+)", DASHBOARD.read_text() + ALERTS.read_text()))
    missing = {n for n in used if n not in exposed and n.removesuffix("_bucket") + "_count" not in exposed}
    assert not missing, f"used by deploy/ but not exposed: {sorted(missing)}"
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            env.prom.api("query", query=target["expr"])


def test_a_batch_whose_block_limit_passed_is_signed_again(env: Env) -> None:
    start_height = env.cluster.height(1)
    stop_node0(env)  # the gateway's node: its transaction goes nowhere
    items = new_items(50, "bl")
    submit(env, items)
    batch = sealed_batch(env, items[0])
    # The gateway signed with a block limit at most WINDOW - 2 past the height it last read. The other
    # three sealers are a quorum: they commit blocks past that limit.
    push_blocks_via(env, 1, start_height + WINDOW + 1)
    assert item_doc(env, items[0].commitment)["status"] == "sealed"
    start_node0(env)

    docs = verify_all(env, items)
    tx = batch_tx(docs[0])
    assert tx.block_limit > start_height + WINDOW  # the new signing, not the expired one
    assert {to_hex(parse_item_bundle(d).batch.notarization.transaction.hash) for d in docs} == {to_hex(tx.hash)}
    assert parse_item_bundle(docs[0]).path.size == batch["size"]
    log = env.gateway.log.read_text()
    assert re.search(rf"batch {batch['first']} signed again \(its block limit \d+ passed uncommitted\)", log), \
        env.gateway.log_tail()
    m = scrape(env)
    assert m["consortium_gateway_batches_signed_again_total{reason=block_limit}"] >= 1
    assert m["consortium_gateway_node_errors_total"] >= 1
    assert m["consortium_gateway_batches_failed_total"] == 0
    assert m["consortium_gateway_items_committed_total"] == m["consortium_gateway_items_accepted_total"] == env.accepted


def test_our_root_notarized_under_another_signing_is_ours(env: Env) -> None:
    stop_node0(env)
    items = new_items(40, "ours")
    submit(env, items)
    batch = sealed_batch(env, items[0])
    # The same account signs the same batch once more (as a standby gateway holding a copy of the log
    # would) and that signing commits first, through another node.
    mine = notarize_root(env, env.cluster.admin_key(), from_hex(batch["root"]), batch["size"], via=1)
    start_node0(env)

    docs = verify_all(env, items)  # the gateway's own transaction fails "already notarized": it finds ours
    tx = batch_tx(docs[0])
    assert tx.hash == mine["txHash"] and tx.sender == env.cluster.admin_key().public_key
    assert "already notarized by this account under another signing" in env.gateway.log.read_text()
    doc = item_doc(env, items[0].commitment)
    assert doc["status"] == "committed" and doc["batch"]["block"] == mine["blockNumber"]
    m = scrape(env)
    assert m["consortium_gateway_batches_failed_total"] == 0
    assert m["consortium_gateway_items_committed_total"] == m["consortium_gateway_items_accepted_total"] == env.accepted


def test_a_front_run_root_fails_and_its_items_can_be_submitted_again(env: Env) -> None:
    stop_node0(env)
    items = new_items(30, "front")
    submit(env, items)
    batch = sealed_batch(env, items[0])
    notarize_root(env, KeyPair.generate(), from_hex(batch["root"]), batch["size"], via=2)  # someone else's account
    start_node0(env)

    def failed() -> bool:
        return item_doc(env, items[0].commitment)["status"] == "failed"
    eventually(failed, timeout=60, what="the front-run batch to be recognized as failed")
    status, doc = get_proof(env, items[5].commitment)
    assert (status, doc["code"]) == (502, "batch-failed") and doc["batch"]["root"] == batch["root"]
    assert "already notarized" in doc["batch"]["error"]
    assert "can never be anchored: someone else notarized its root first" in env.gateway.log.read_text()
    m = scrape(env)
    assert m["consortium_gateway_batches_failed_total"] == 1
    assert m["consortium_gateway_items_failed_total"] == len(items)
    assert m["consortium_gateway_pending_items"] == 0
    eventually(lambda: any(a["labels"]["alertname"] == "ConsortiumGatewayBatchFailed" and a["state"] == "firing"
                           for a in env.prom.api("alerts")["alerts"]),
               timeout=30, what="the ConsortiumGatewayBatchFailed alert to fire in Prometheus")

    # "Submit the item again" works: failed items are not duplicates. Sent with a new item, they form
    # a new root, and get proofs.
    again = [*reversed(items), *new_items(1, "fresh")]
    submit(env, again)
    verify_all(env, again)
    doc = item_doc(env, items[0].commitment)
    assert doc["status"] == "committed" and doc["batch"]["root"] != batch["root"]
    # A commitment whose batch committed is still a duplicate.
    with pytest.raises(GatewayRefused) as refused:
        submit(env, [items[0]])
    assert refused.value.status == 409


def test_the_sdk_signs_within_a_small_block_limit_window(env: Env) -> None:
    """The SDK's default block limit (head + 500) was refused as too far on this 12-block chain."""
    c = env.cluster.client(1)
    head = c.block_number()
    assert head < c.block_limit() <= head + WINDOW
    receipt = c.transact(env.cluster.admin_key(), "evidence", "notarize", evidence_args("sdk-small-window"))
    assert receipt["status"] == 0, receipt
