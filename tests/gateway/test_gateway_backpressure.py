"""Backpressure and durability with no chain at all: a real gateway process whose node is unreachable.

Items are acknowledged only once durable; when ``max_pending_items`` are waiting, intake answers 503
with Retry-After instead of queueing (memory stays bounded) and keeps serving everything else; a
SIGTERM stops it cleanly, and after a restart every acknowledged item is still there, waiting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.cluster.harness import ROOT, eventually, free_port_block, pid_alive

from consortium.crypto import KeyPair, save_key
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.item import BINARY_CONTENT_TYPE, EvidenceItem, encode_items_binary

pytestmark = pytest.mark.slow


def request(url: str, body: bytes | None = None) -> tuple[int, dict[str, str], dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": BINARY_CONTENT_TYPE} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def metrics(url: str) -> dict[str, float]:
    """GET /metrics as {"name{labels}": value}, straight from the exposition text."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        lines = r.read().decode().splitlines()
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in lines if line[:1] not in ("#", ""))}


class Proc:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, url: str) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "consortium", "gateway", "start", "--config",
                                          str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                return request(url + "/status")[0] == 200
            except OSError:
                return False
        eventually(up, timeout=30, what="the gateway to answer")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        assert not pid_alive(self.proc.pid)
        return code


def test_overload_is_503_and_acknowledged_items_survive_a_restart(tmp_path: Path) -> None:
    key = tmp_path / "gateway-account.json"
    save_key(KeyPair.generate(), key)
    port, dead = free_port_block(1), free_port_block(1)
    gw = tmp_path / "gw"
    subprocess.run([sys.executable, "-m", "consortium", "gateway", "init", "--dir", str(gw), "--node-rpc",
                    f"http://127.0.0.1:{dead}", "--key", str(key), "--port", str(port)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    config = gw / "gateway.toml"
    text = config.read_text().replace("max_pending_items = 400000", "max_pending_items = 3000")
    config.write_text(text.replace("max_request_items = 10000", "max_request_items = 1000"))
    url = f"http://127.0.0.1:{port}"
    proc = Proc(config, gw / "gateway.log")
    proc.start(url)
    try:
        items = [EvidenceItem.create(os.urandom(32)) for _ in range(3000)]
        for i in range(3):
            status, _, doc = request(url + "/items", encode_items_binary(items[1000 * i:1000 * (i + 1)]))
            assert (status, doc["first"]) == (200, 1000 * i)
        status, headers, doc = request(url + "/items", encode_items_binary([EvidenceItem.create(os.urandom(32))]))
        assert status == 503 and doc["code"] == "overloaded" and "3000 items not yet anchored" in doc["error"]
        assert int(headers["Retry-After"]) >= 1
        # Everything else still works: status, lookups, other refusals.
        status, _, doc = request(f"{url}/items/{to_hex(items[1234].commitment)}")
        assert status == 200 and doc["seq"] == 1234 and doc["status"] == "queued"
        assert request(url + "/items", b"CEI9")[0] == 400
        status, _, doc = request(url + "/status")
        assert doc["openItems"] == 3000 and doc["refusedOverloaded"] >= 1
        m = metrics(url)  # what an operator's alerts see: at the limit, refusing, nothing committed
        assert m["consortium_gateway_pending_items"] == m["consortium_gateway_pending_items_limit"] == 3000
        assert m['consortium_gateway_requests_refused_total{reason="overloaded"}'] == 1
        assert m['consortium_gateway_items_refused_total{reason="overloaded"}'] == 1
        assert m['consortium_gateway_requests_refused_total{reason="bad-item"}'] == 1
        assert m["consortium_gateway_items_accepted_total"] == 3000
        assert m["consortium_gateway_items_committed_total"] == 0
        eventually(lambda: "cannot reach" in request(url + "/status")[2]["lastError"], timeout=20,
                   what="the gateway to report the unreachable node")
        assert proc.stop(signal.SIGTERM) == 0
        assert "gateway stopped" in (gw / "gateway.log").read_text()

        proc.start(url)
        status, _, doc = request(url + "/status")
        assert doc["nextSeq"] == 3000 and doc["openItems"] == 3000
        for i in (0, 1999, 2999):
            assert request(f"{url}/items/{to_hex(items[i].commitment)}")[2]["seq"] == i
        assert request(url + "/items", encode_items_binary([EvidenceItem.create(os.urandom(32))]))[0] == 503
        status, _, doc = request(url + "/items", encode_items_binary(items[:1]))
        assert status == 503  # overload is judged before duplicates: nothing is looked at when full
        status, _, doc = request(f"{url}/items/{to_hex(items[5].commitment)}/proof?wait=0.2")
        assert status == 202 and doc["code"] == "not-yet" and doc["status"] == "queued"
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.stop(signal.SIGKILL)
