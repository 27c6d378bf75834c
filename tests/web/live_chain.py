"""One real 4-node chain for the web tests, driven through the CLI as a person would run it.

The flow: Alice notarizes a chat log naming Bob as co-signer, Bob co-signs, the administrator
registers Carol as arbitrator, Alice opens a case and attaches the log, Carol rules; then the
committee removes node3 from the sealers (a certified sealer-set change every later proof
carries), and the proof bundle of the log is written at the latest block, from node1, which time-stamps
the chain with a real RFC 3161 TSA (``openssl ts`` behind tests/helpers/tsa.py) the genesis trusts, so
the bundle carries an anchor. Last, node0's organization
runs an evidence gateway (docs/gateway.md) just long enough to notarize three statements in one batch
and write their per-item proofs (protocol.md §12.4). Nodes keep running (the explorer tests need them);
``stop`` ends them by PID.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.cluster import ROOT, Cluster, free_port_block
from tests.helpers.tsa import TsaFiles, TsaServer, make_tsa

from consortium.client import SyncClient
from consortium.crypto import KeyPair, save_key
from consortium.crypto.timestamp import TrustedTsa
from consortium.encoding.hexbytes import to_hex
from consortium.node.genesis import load_genesis

CHAT_LOG = (b"2026-11-02 09:14 alice: the 40 chairs arrived, 6 have broken legs\n"
            b"2026-11-02 09:20 bob: sorry about that. I will refund the 6 chairs within 7 days.\n") * 20
CASE_ID = "CASE-2026-0042"
SUMMARY = "Bob refunds 6 chairs (EUR 270) within 14 days"


def cli(*args: str, key: Path | None = None, rpc: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT))))}
    env.pop("CONSORTIUM_KEY", None)
    if rpc:
        env["CONSORTIUM_RPC"] = rpc
    cmd = [sys.executable, "-m", "consortium", *args, *(["--key", str(key)] if key else [])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 or not ok, f"consortium {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


@dataclass
class LiveChain:
    cluster: Cluster
    root: Path
    doc: Path
    proof: Path
    genesis: Path
    other_genesis: Path
    evidence_hash: str
    """SHA-256 of the file."""
    evidence_key: str
    """What is on chain: the salted commitment."""
    notarize_tx: str
    notarize_block: int
    addresses: dict[str, str]
    removed_sealer: str
    proposal_id: int
    items: list[tuple[Path, Path]]
    """(statement file, its per-item proof from the gateway batch), salted commitments."""
    tsa: TsaFiles
    """The RFC 3161 TSA the genesis trusts ([[tsa]]); node1 anchors the chain with it (protocol.md §11.6)."""
    tsa_server: TsaServer
    case_proof: Path
    """``consortium case proof`` of the case the log is attached to and ruled in (protocol.md §13)."""

    def url(self, i: int = 0) -> str:
        return self.cluster.rpc_url(i)

    def stop(self) -> None:
        try:
            self.cluster.stop()
        finally:
            self.tsa_server.stop()


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def start(root: Path) -> LiveChain:
    tsa = make_tsa(root / "tsa", "Web Test TSA")
    server = TsaServer(tsa).start()
    cluster = Cluster(root / "chain")
    try:
        cluster.build()
        _trust_tsa(cluster, tsa, server.url)
        cluster.start()
        return _flow(cluster, root, tsa, server)
    except BaseException:
        try:
            cluster.stop()
        finally:
            server.stop()
        raise


ANCHOR_NODE = 1
"""The node that time-stamps the chain (and that the proof is fetched from, so it carries the anchor)."""


def _trust_tsa(cluster: Cluster, tsa: TsaFiles, url: str) -> None:
    """Genesis is written once before the chain first starts: trust the test TSA in it, on every node."""
    genesis = load_genesis(cluster.node_dir(0) / "genesis.toml")
    genesis = dataclasses.replace(genesis, tsas=(TrustedTsa(tsa.name, tsa.ca_der),))
    for path in [cluster.root / "genesis.toml", *(cluster.node_dir(i) / "genesis.toml" for i in range(cluster.nodes))]:
        if path.exists():
            path.write_text(genesis.to_toml())
    config = cluster.node_dir(ANCHOR_NODE) / "config.toml"
    config.write_text(config.read_text() + f'\n[anchor]\ntsa_urls = ["{url}"]\ninterval_s = 1\ntimeout_s = 5\n')


def _flow(cluster: Cluster, root: Path, tsa: TsaFiles, server: TsaServer) -> LiveChain:
    rpc = cluster.rpc_url(0)
    keys = {}
    for name, seed in (("alice", 0x31), ("bob", 0x32), ("carol", 0x33)):
        keys[name] = root / f"{name}.json"
        save_key(KeyPair(bytes([seed]) * 32), keys[name])
    addr = {n: to_hex(KeyPair(bytes([s]) * 32).address) for n, s in (("alice", 0x31), ("bob", 0x32), ("carol", 0x33))}
    admin = cluster.root / "accounts" / "admin0.json"
    doc = root / "delivery-chat-log.txt"
    doc.write_bytes(CHAT_LOG)
    ruling = root / "ruling.txt"
    ruling.write_text(f"Case {CASE_ID}: {SUMMARY}.\n")

    notarized = json.loads(cli("evidence", "notarize", str(doc), "--case", CASE_ID, "--signer", addr["bob"],
                               "--note", "delivery chat, exported from the shop's app", "--file-info", "--json",
                               key=keys["alice"], rpc=rpc).stdout)
    assert notarized["mode"] == "salted" and notarized["key"] != notarized["hash"]
    cli("evidence", "sign", notarized["key"], key=keys["bob"], rpc=rpc)
    cli("evidence", "register-arbitrator", addr["carol"], key=admin, rpc=rpc)
    cli("case", "open", CASE_ID, "--party", addr["alice"], "--party", addr["bob"], "--arbitrator", addr["carol"],
        key=keys["alice"], rpc=rpc)
    cli("case", "attach", CASE_ID, notarized["key"], key=keys["alice"], rpc=rpc)
    cli("case", "rule", CASE_ID, "--ruling", str(ruling), "--summary", SUMMARY, key=keys["carol"], rpc=rpc)

    with SyncClient(rpc) as c:
        sealers = c.request("getSealerList")
    removed = sealers[3]
    proposed = json.loads(cli("gov", "propose", "remove_node", removed, "--json", key=admin, rpc=rpc).stdout)
    for i in range(cluster.nodes):
        with SyncClient(cluster.rpc_url(i)) as c:
            wait_for(lambda c=c: removed not in c.request("getSealerList"), f"node{i} to drop the removed sealer")
    with SyncClient(rpc) as c:
        after = c.block_number()
    cluster.push_blocks(2)  # an idle chain seals no blocks
    cluster.wait_height(after + 2, nodes=[0, 1, 2])

    with SyncClient(cluster.rpc_url(ANCHOR_NODE)) as c:
        wait_for(lambda: c.request("getAnchorStatus")["anchoredTo"] >= notarized["block"], "the notarization anchored")
    proof = root / "delivery-chat-log.proof.json"
    cli("evidence", "proof", str(doc), "--from", notarized["proof"], "--out", str(proof), rpc=cluster.rpc_url(ANCHOR_NODE))
    assert json.loads(proof.read_text())["sealerChanges"], "the proof should carry the sealer-set change"
    assert "anchor" in json.loads(proof.read_text()), "the proof should carry the RFC 3161 time anchor"
    other = root / "other-chain"
    subprocess.run([str(ROOT / ".venv" / "bin" / "consortium"), "chain", "new", "--nodes", "4", "--dir", str(other),
                    "--p2p-port", "41000", "--rpc-port", "42000"], check=True, capture_output=True, timeout=120)
    case_proof = root / f"{CASE_ID}.proof.json"
    cli("case", "proof", CASE_ID, "--out", str(case_proof), "--evidence-proof", str(proof), rpc=cluster.rpc_url(ANCHOR_NODE))
    items = _gateway_batch(cluster, root)
    return LiveChain(cluster=cluster, root=root, doc=doc, proof=proof, genesis=cluster.root / "node0" / "genesis.toml",
                     other_genesis=other / "node0" / "genesis.toml", evidence_hash=notarized["hash"], evidence_key=notarized["key"],
                     notarize_tx=notarized["transaction"], notarize_block=notarized["block"], addresses=addr,
                     removed_sealer=removed, proposal_id=proposed["output"], items=items, tsa=tsa, tsa_server=server, case_proof=case_proof)


def _gateway_batch(cluster: Cluster, root: Path) -> list[tuple[Path, Path]]:
    """Three statements notarized through a real gateway process (started and stopped by PID here)."""
    folder, gw = root / "statements", root / "gateway"
    folder.mkdir()
    for i in range(3):
        (folder / f"statement-{i}.txt").write_text(f"account 6222-000{i}: closing balance {100 + i}.00 CNY\n")
    port = free_port_block(1)
    cli("gateway", "init", "--dir", str(gw), "--node-rpc", cluster.rpc_url(0).rstrip("/"),
        "--key", str(cluster.root / "accounts" / "admin0.json"), "--port", str(port))
    config = gw / "gateway.toml"
    config.write_text(config.read_text().replace("interval_ms = ", "interval_ms = 200 #", 1))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT))))}
    with open(gw / "gateway.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "consortium", "gateway", "start", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        def answers() -> bool:
            assert proc.poll() is None, (gw / "gateway.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(answers, "the gateway to answer")
        cli("evidence", "notarize-batch", str(folder), "--gateway", f"http://127.0.0.1:{port}",
            "--manifest", str(root / "statements.manifest.json"), "--wait", "60", "--json")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    items = [(f, f.with_name(f.name + ".proof.json")) for f in sorted(folder.glob("statement-*.txt"))]
    assert all(json.loads(p.read_text())["type"] == "consortium-evidence-item-proof" for _, p in items)
    return items
