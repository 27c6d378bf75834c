"""Monitoring against real parts: a 4-node cluster with operations ports, scraped by a real Prometheus.

One cluster and one Prometheus for the whole module (the tests run in order and build on one
another's state): metrics the dashboard and alert rules use exist; Prometheus sees the height
advance on every node and a killed node's target go down; /readyz answers 503 when quorum is
lost (and the log says so once, naming the silent sealers; ``consortium status`` shows it),
and 200 again when it is back; a node that starts behind is not ready until it has synced.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster.harness import Cluster, LoadGenerator, NodeHandle, assert_same_chain, eventually
from tests.ops.opskit import cli, new_chain
from tests.ops.prom import Prometheus

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "consortium-dashboard.json"
ALL = [0, 1, 2, 3]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[int], Prometheus]]:
    root = tmp_path_factory.mktemp("ops-cluster")
    cluster = Cluster(root / "chain", size=4)
    bases = new_chain(cluster.root, 4, ops=True)
    cluster.p2p_base, cluster.rpc_base = bases["p2p"], bases["rpc"]
    cluster.nodes = [NodeHandle(i, cluster.root / f"node{i}", f"http://127.0.0.1:{bases['rpc'] + i}/", bases["p2p"] + i)
                     for i in ALL]
    ops = [bases["ops"] + i for i in ALL]
    prom = Prometheus(root / "prometheus", [f"127.0.0.1:{p}" for p in ops], rule_files=[ALERTS])
    try:
        cluster.start()
        prom.start()
        yield cluster, ops, prom
    finally:
        try:
            prom.stop()
        finally:
            cluster.stop()


def ops_url(ops: list[int], i: int, path: str) -> str:
    return f"http://127.0.0.1:{ops[i]}{path}"


def notarize(cluster: Cluster, count: int, tag: str, targets: list[int]) -> None:
    load = LoadGenerator(cluster, targets, concurrency=4, tag=tag, limit=count)
    load.start()
    result = load.wait_done(timeout=90)
    assert len(result.acknowledged) == count, f"{len(result.acknowledged)} of {count} acknowledged"


def test_metrics_cover_what_the_dashboard_and_the_alerts_use(setup) -> None:
    cluster, ops, _ = setup
    status, text = get(ops_url(ops, 0, "/metrics"))
    assert status == 200
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    for line in text.splitlines():  # families without samples yet (e.g. no refused transaction so far)
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            exposed |= {name, f"{name}_total"} if kind == "counter" else {name}
    assert "process_resident_memory_bytes" in exposed and "consortium_consensus_latest_block_height" in exposed
    wanted = set(re.findall(r"\b(consortium_[a-z0-9_]+|process_[a-z0-9_]+)", DASHBOARD.read_text() + ALERTS.read_text()))
    missing = {name for name in wanted if name not in exposed}
    assert not missing, f"used by deploy/ but not exposed: {sorted(missing)}"
    status, body = get(ops_url(ops, 0, "/version"))
    info = cluster.client(0).request("getNodeInfo")
    assert status == 200 and json.loads(body)["nodeId"] == info["nodeId"]
    for i in ALL:
        assert get(ops_url(ops, i, "/healthz"))[0] == 200
        eventually(lambda i=i: get(ops_url(ops, i, "/readyz"))[0] == 200, timeout=30, what=f"node{i} ready")


def test_an_idle_chain_seals_no_blocks_changes_no_views_and_stays_quiet(setup) -> None:
    cluster, _, _ = setup
    notarize(cluster, 1, "before-idle", [0])
    eventually(lambda: len({cluster.height(i) for i in ALL}) == 1, timeout=20, what="all nodes at one height")
    # Under load the last peer links of a young cluster may still be coming up (a "connected" line
    # each): that is start-up, not idleness. Measure once every node holds all three.
    eventually(lambda: all(len(cluster.client(i).request("getPeers")) == 3 for i in ALL), timeout=30,
               what="every node connected to its three peers")
    heights = [cluster.height(i) for i in ALL]
    views = [cluster.client(i).request("getConsensusStatus")["counters"]["view_changes_started"] for i in ALL]
    log_sizes = [len((cluster.nodes[i].dir / "node.log").read_text().splitlines()) for i in ALL]
    time.sleep(7)  # more than two view timeouts (3 s each): an idle chain once sealed ~7 empty blocks here
    assert [cluster.height(i) for i in ALL] == heights
    assert [cluster.client(i).request("getConsensusStatus")["counters"]["view_changes_started"] for i in ALL] == views
    new_lines = {i: (cluster.nodes[i].dir / "node.log").read_text().splitlines()[log_sizes[i]:] for i in ALL}
    assert not any(new_lines.values()), f"an idle chain logged: {new_lines}"
    # A transaction still commits at once (every timer restarts when it reaches the pools).
    notarize(cluster, 1, "after-idle", [3])
    assert max(cluster.height(i) for i in ALL) == heights[0] + 1


def test_prometheus_sees_the_height_advance_on_every_node(setup) -> None:
    cluster, ops, prom = setup
    eventually(lambda: len(prom.query("consortium_consensus_latest_block_height")) == 4, timeout=30,
               what="Prometheus to scrape all four nodes")
    before = prom.query("consortium_consensus_latest_block_height")
    notarize(cluster, 12, "prom", [0, 1])
    target = max(cluster.height(i) for i in ALL)
    eventually(lambda: all(v >= target for v in prom.query("consortium_consensus_latest_block_height").values()),
               timeout=30, what="Prometheus to see the new height everywhere")
    after = prom.query("consortium_consensus_latest_block_height")
    assert set(after) == {f"127.0.0.1:{p}" for p in ops}
    assert all(after[k] > before[k] for k in after), (before, after)
    assert sum(prom.query("consortium_consensus_txs_total").values()) >= 4 * 12
    groups = prom.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} >= {"ConsortiumNodeDown", "ConsortiumQuorumLost", "ConsortiumStalled"}
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_backup_under_load_restore_into_a_fresh_folder_and_the_node_rejoins(setup, tmp_path: Path) -> None:
    cluster, ops, _ = setup
    node1 = cluster.nodes[1].dir
    backup = tmp_path / "node1.backup"
    load = LoadGenerator(cluster, [0, 2, 3], concurrency=4, tag="backup-load")
    load.start()
    try:
        eventually(lambda: load.result.acknowledged, timeout=30, what="the load to commit")
        r = cli("node", "backup", "--config", str(node1 / "config.toml"), "--out", str(backup), "--json", timeout=300)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["height"] >= 1 and backup.stat().st_mode & 0o777 == 0o600
        assert info["sha256"] == hashlib.sha256(backup.read_bytes()).hexdigest()
        with tarfile.open(backup) as tar:
            assert not any(n.endswith("node.key") for n in tar.getnames())  # keys stay in key storage

        # node1's disk is lost; its key survives in the organization's key storage.
        cluster.signal_node(1, signal.SIGKILL)
        lost = tmp_path / "lost-node1"
        shutil.move(node1, lost)
        damaged = tmp_path / "damaged.backup"
        raw = bytearray(backup.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        damaged.write_bytes(bytes(raw))
        r = cli("node", "restore", str(damaged), "--dir", str(node1), "--key", str(lost / "node.key"))
        assert r.returncode == 2 and not node1.exists(), r.stderr
        r = cli("node", "restore", str(backup), "--dir", str(node1), "--key", str(lost / "node.key"), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["height"] == info["height"]
        assert (node1 / "node.key").stat().st_mode & 0o777 == 0o600
        cluster.start()  # node1 rejoins from the restored folder, behind, and syncs
        time.sleep(2)
    finally:
        result = load.stop()
    assert result.acknowledged
    cluster.push_blocks(2, via=1)  # it takes part: a transaction sent to it commits
    top = min(cluster.height(i) for i in ALL)
    assert top > info["height"]
    assert_same_chain(cluster, ALL, top)
    last = max(result.acknowledged.values())
    eventually(lambda: cluster.height(1) >= last, timeout=30, what="node1 to hold every acknowledged block")
    c = cluster.client(1)
    assert all(c.receipt(h) is not None for h in list(result.acknowledged)[:50])


def test_quorum_loss_is_reported_once_and_recovery_is_seen(setup) -> None:
    cluster, ops, prom = setup
    log0 = cluster.nodes[0].dir / "node.log"
    cluster.signal_node(3, signal.SIGKILL)
    eventually(lambda: prom.query(f'up{{instance="127.0.0.1:{ops[3]}"}}') == {f"127.0.0.1:{ops[3]}": 0.0},
               timeout=30, what="Prometheus to see node3's target down")
    assert all(v == 1.0 for k, v in prom.query("up").items() if k != f"127.0.0.1:{ops[3]}")
    # Three of four sealers are a quorum: the chain goes on, node3 falls behind.
    notarize(cluster, 6, "while-node3-down", [0, 1, 2])
    assert get(ops_url(ops, 0, "/readyz"))[0] == 200

    cluster.signal_node(2, signal.SIGTERM)
    silent = {cluster.client(0).request("getSealerList")[i] for i in (2, 3)}

    def not_ready() -> dict:
        status, body = get(ops_url(ops, 0, "/readyz"))
        doc = json.loads(body)
        return doc if status == 503 and not doc["checks"]["quorum"]["ok"] else {}

    doc = eventually(not_ready, timeout=30, what="node0's /readyz to report the lost quorum")
    assert "hears 2 of 4 sealers, 3 needed" in doc["checks"]["quorum"]["detail"]
    assert get(ops_url(ops, 0, "/healthz"))[0] == 200  # alive, just not useful: do not restart it

    def lost_lines() -> list[str]:
        return [line for line in log0.read_text().splitlines() if "quorum lost" in line]

    eventually(lambda: len(lost_lines()) == 1, timeout=30, what="node0 to log the quorum loss")
    line = lost_lines()[0]
    assert all(s[2:14] in line for s in silent), line
    time.sleep(3)  # the report is not repeated every second
    assert len(lost_lines()) == 1
    r = cli("status", "--rpc", cluster.nodes[0].rpc_url, "--json")
    quorum = json.loads(r.stdout)["consensus"]["quorum"]
    assert quorum["ok"] is False and {s["nodeId"] for s in quorum["silent"]} == silent
    r = cli("status", "--rpc", cluster.nodes[0].rpc_url)
    assert "LOST: hears 2 of 4 sealers, needs 3" in r.stdout
    eventually(lambda: prom.query("consortium_consensus_quorum_ok").get(f"127.0.0.1:{ops[0]}") == 0.0, timeout=20,
               what="Prometheus to see quorum_ok 0 on node0")

    # node3 comes back first, behind: it must sync before it is ready. Watch its /readyz from the start.
    cfg = cluster.nodes[3].dir / "config.toml"
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "consortium"), "node", "start", "--config", str(cfg),
                             "--log-file", str(cluster.nodes[3].dir / "node.log")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (cluster.nodes[3].dir / "node.pid").write_text(str(proc.pid))
    cluster.seen_pids.add(proc.pid)
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not seen or seen[-1] != 200):
        try:
            seen.append(get(ops_url(ops, 3, "/readyz"))[0])
        except OSError:
            pass  # not listening yet
        time.sleep(0.02)
    assert seen and seen[0] == 503 and seen[-1] == 200, seen[:5] + ["..."] + seen[-3:]
    eventually(lambda: get(ops_url(ops, 0, "/readyz"))[0] == 200, timeout=30, what="node0 ready again")
    eventually(lambda: any("quorum restored" in line for line in log0.read_text().splitlines()), timeout=20,
               what="node0 to log that the quorum is back")
    assert len(lost_lines()) == 1

    cluster.start()  # node2 (node3 runs, by its pid file)
    for i in ALL:
        eventually(lambda i=i: get(ops_url(ops, i, "/readyz"))[0] == 200, timeout=60, what=f"node{i} ready")
    notarize(cluster, 4, "after-recovery", [2, 3])
    top = min(cluster.height(i) for i in ALL)
    assert_same_chain(cluster, ALL, top)
