"""Anchoring is visible where operators look: ``consortium status`` (text and --json) and Prometheus.

A real node process on a one-node chain that trusts a real test TSA (openssl ts over HTTP) and anchors every
second; a real Prometheus scrapes its ops port. The TSA is taken down: status says DELAYED with since when, how
many blocks wait and why; the metrics show the lag, the failed rounds and their reason; the TSA comes back and
both say so. A restarted node still reports its last anchor (read back from data/anchors).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.cluster.harness import eventually, evidence_args, free_port_block
from tests.helpers.tsa import TsaFiles, TsaServer
from tests.ops.opskit import CLI, start_node, stop_process, wait_port
from tests.ops.prom import Prometheus

from consortium.client import SyncClient
from consortium.crypto.suite import KeyPair

pytestmark = pytest.mark.slow


def status(rpc: str, *extra: str) -> str:
    r = subprocess.run([CLI, "status", "--rpc", rpc, *extra], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env={k: v for k, v in os.environ.items() if k != "CONSORTIUM_RPC"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def anchoring_row(rpc: str) -> str:
    return next(line for line in status(rpc).splitlines() if line.startswith("anchoring"))


def notarize(c: SyncClient, count: int) -> int:
    key = KeyPair(os.urandom(32))
    block = 0
    for n in range(count):
        tx = c.build(key, "evidence", "notarize", evidence_args(f"status-{key.address.hex()}-{n}"))
        c.send_transaction(tx)
        block = c.wait_receipt(tx.hash, timeout=30)["blockNumber"]
    return block


def test_status_and_metrics_show_anchoring_and_a_tsa_outage(tmp_path: Path, tsa: TsaFiles) -> None:
    (tmp_path / "ca.pem").write_text(tsa.ca_pem)
    p2p = free_port_block(1)
    rpc_port = free_port_block(1, exclude=[p2p])
    ops = free_port_block(1, exclude=[p2p, rpc_port])
    chain = tmp_path / "chain"
    subprocess.run([CLI, "chain", "new", "--nodes", "1", "--dir", str(chain), "--p2p-port", str(p2p),
                    "--rpc-port", str(rpc_port), "--ops-port", str(ops), "--tsa", f"{tsa.name}={tmp_path / 'ca.pem'}"],
                   check=True, capture_output=True, timeout=120)
    server = TsaServer(tsa).start()
    config = chain / "node0" / "config.toml"
    config.write_text(config.read_text() + f'\n[anchor]\ntsa_urls = ["{server.url}"]\ninterval_s = 1\ntimeout_s = 2\n')
    rpc = f"http://127.0.0.1:{rpc_port}/"
    node = start_node(config, stderr=tmp_path / "node.stderr")
    prom = Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{ops}"])
    c = SyncClient(rpc, timeout=10)
    try:
        wait_port(rpc_port)
        prom.start()
        assert "nothing anchored yet" in anchoring_row(rpc)
        block = notarize(c, 2)
        eventually(lambda: c.request("getAnchorStatus")["anchoredTo"] >= block, timeout=30, what="blocks anchored")

        row = anchoring_row(rpc)
        assert row.split(None, 1)[1].startswith("ok, lag 0 blocks; last anchored blocks ") and tsa.name in row, row
        doc = json.loads(status(rpc, "--json"))["anchoring"]
        assert doc["enabled"] is True and doc["anchoredTo"] == block and doc["pendingBlocks"] == 0
        assert doc["lastTsa"] == tsa.name and doc["lastTime"].endswith("Z") and doc["failures"] == 0
        assert doc["lastCheckpoint"]["last"] == block and doc["failingSince"] == ""

        eventually(lambda: prom.query("consortium_anchor_anchored_height").get(f"127.0.0.1:{ops}") == block,
                   timeout=30, what="Prometheus to see the anchored height")
        assert prom.query("consortium_anchor_lag_blocks")[f"127.0.0.1:{ops}"] == 0
        assert prom.query("consortium_anchor_last_tsa_time_seconds")[f"127.0.0.1:{ops}"] > 1.7e9

        # The TSA goes down: blocks still commit, and everything that watches the node says anchoring waits.
        server.stop()
        later = notarize(c, 2)
        eventually(lambda: c.request("getAnchorStatus")["failures"] >= 1, timeout=30, what="a failed round")
        row = anchoring_row(rpc)
        assert "DELAYED since 20" in row and f"lag {later - block} blocks" in row and "127.0.0.1" in row, row
        assert "last anchored blocks " in row and tsa.name in row
        doc = json.loads(status(rpc, "--json"))["anchoring"]
        assert doc["failingSince"].endswith("Z") and doc["pendingBlocks"] == later - block
        assert doc["tsaFailures"].get("unreachable", 0) >= 1, doc
        eventually(lambda: prom.query("consortium_anchor_lag_blocks").get(f"127.0.0.1:{ops}") == later - block,
                   timeout=30, what="Prometheus to see the lag")
        eventually(lambda: prom.query('consortium_anchor_tsa_failures_total{reason="unreachable"}')
                   .get(f"127.0.0.1:{ops}", 0) >= 1, timeout=30, what="Prometheus to see the failures by reason")
        assert prom.query("consortium_anchor_consecutive_failures")[f"127.0.0.1:{ops}"] >= 1

        server.restart()
        eventually(lambda: c.request("getAnchorStatus")["anchoredTo"] >= later, timeout=60, what="anchoring resumed")
        assert anchoring_row(rpc).split(None, 1)[1].startswith("ok, lag 0 blocks")
        log = (tmp_path / "node.stderr").read_text()
        assert "anchoring delayed" in log and "anchoring resumed after" in log

        # Restarted, the node reports its last anchor before it makes another.
        stop_process(node)
        server.stop()
        node = start_node(config, stderr=tmp_path / "node.stderr")
        wait_port(rpc_port)
        doc = json.loads(status(rpc, "--json"))["anchoring"]
        assert doc["anchoredTo"] == later and doc["lastTsa"] == tsa.name and doc["lastTime"].endswith("Z")
    finally:
        c.close()
        stop_process(node)
        prom.stop()
        server.stop()
