"""End to end on a real 4-node cluster with a real TSA: node3 (the notary's node, say) anchors the chain while it
runs under load; a proof bundle fetched from it verifies offline with "existed no later than <TSA time>"; so does
one fetched from node0, which does not anchor but verified and stored the anchors node3 shared; a forged anchor
sent by a peer is dropped with a log line; with the TSA down the chain keeps committing and the delay shows in
getAnchorStatus and the log."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tests.cluster.harness import Cluster, LoadGenerator, eventually
from tests.helpers.cluster import ROOT
from tests.helpers.tsa import TsaFiles, TsaServer

from consortium.crypto.timestamp import TrustedTsa
from consortium.encoding.hexbytes import from_hex
from consortium.ledger.checkpoint import Anchor, Checkpoint
from consortium.network.config import PeerAddress
from consortium.network.envelope import Envelope, MessageKind
from consortium.network.transport import Transport
from consortium.node.config import load_config
from consortium.node.genesis import Genesis, load_genesis

pytestmark = pytest.mark.slow
ANCHOR_NODE = 3


def cli(*args: str, rpc: str | None = None, key: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"CONSORTIUM_RPC": rpc} if rpc else {})}
    env.pop("CONSORTIUM_KEY", None)
    cmd = [sys.executable, "-m", "consortium", *args, *(["--key", str(key)] if key else [])]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def send_as(node_dir: Path, genesis: Genesis, port: int, to: bytes, payloads: list[bytes]) -> None:
    """Connect with ``node_dir``'s key and certificate (its node stopped) to the node on ``port`` and send frames."""
    config = load_config(node_dir / "config.toml").transport_config(genesis)

    async def inbox(peer: bytes, payload: bytes) -> None:
        pass

    async def go() -> None:
        t = Transport(dataclasses.replace(config, listen_port=0, peers=(PeerAddress("127.0.0.1", port),)), inbox)
        await t.start()
        try:
            async with asyncio.timeout(20):
                await t.wait_for_peers(1)
                for payload in payloads:
                    assert t.send(to, payload)
                await asyncio.sleep(1)  # let the frames leave before closing
        finally:
            await t.close()
    asyncio.run(go())


def test_anchoring_under_load_offline_proof_and_a_tsa_outage(tmp_path: Path, tsa: TsaFiles) -> None:
    server = TsaServer(tsa).start()
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="consortium-anchor-", dir=tmp_path)) / "chain", size=4)
    try:
        cluster.build()
        # Genesis is written once before the chain first starts: trust the test TSA in it, on every node.
        genesis = load_genesis(cluster.nodes[0].dir / "genesis.toml")
        genesis = dataclasses.replace(genesis, tsas=(TrustedTsa(tsa.name, tsa.ca_der),))
        for node in cluster.nodes:
            (node.dir / "genesis.toml").write_text(genesis.to_toml())
        config = cluster.nodes[ANCHOR_NODE].dir / "config.toml"
        config.write_text(config.read_text() + f'\n[anchor]\ntsa_urls = ["{server.url}"]\ninterval_s = 1\ntimeout_s = 5\n')
        cluster.start()
        anchorer = cluster.client(ANCHOR_NODE)
        assert cluster.client(0).request("getAnchorStatus")["enabled"] is False

        load = LoadGenerator(cluster, [0, 1, 2], concurrency=8, tag="anchor")
        load.start()
        try:
            eventually(lambda: anchorer.request("getAnchorStatus")["anchors"] >= 3, timeout=60,
                       what="three anchors while the chain runs under load")
        finally:
            result = load.stop()
        assert result.acknowledged, "the load generator got no receipt"
        loaded_blocks = max(result.acknowledged.values())
        eventually(lambda: anchorer.request("getAnchorStatus")["anchoredTo"] >= loaded_blocks, timeout=60,
                   what="every loaded block anchored")
        status = anchorer.request("getAnchorStatus")
        assert status["lastTsa"] == tsa.name and status["failures"] == 0 and status["trustedTsas"] == [tsa.name]

        # Evidence notarized now is anchored within seconds; the bundle from the anchoring node carries the token.
        admin = cluster.root / "accounts" / "admin0.json"
        doc = tmp_path / "contract.pdf"
        doc.write_bytes(b"%PDF-1.7 anchored evidence\n" * 40)
        r = cli("evidence", "notarize", str(doc), "--json", rpc=cluster.nodes[0].rpc_url, key=admin)
        assert r.returncode == 0, r.stderr
        block = json.loads(r.stdout)["block"]
        eventually(lambda: anchorer.request("getAnchorStatus")["anchoredTo"] >= block, timeout=30,
                   what="the notarization block anchored")
        proof = tmp_path / "contract.proof.json"
        r = cli("evidence", "proof", str(doc), "--out", str(proof), rpc=cluster.nodes[ANCHOR_NODE].rpc_url)
        assert r.returncode == 0, r.stderr
        assert "anchor" in json.loads(proof.read_text())

        # node0 does not anchor, but holds node3's anchors once it verified them: its bundle carries one too.
        plain = cluster.client(0)
        eventually(lambda: plain.request("getAnchorStatus")["anchoredTo"] >= block, timeout=30,
                   what="node0 to hold an anchor shared by node3")
        shared = plain.request("getAnchorStatus")
        assert shared["enabled"] is False and shared["fromPeers"]["accepted"] >= 1 and shared["lastTsa"] == tsa.name
        proof0 = tmp_path / "contract.node0.proof.json"
        r = cli("evidence", "proof", str(doc), "--out", str(proof0), rpc=cluster.nodes[0].rpc_url)
        assert r.returncode == 0, r.stderr
        assert "anchor" in json.loads(proof0.read_text())

        # A peer (node2's key, its node stopped) sends node0 a forged anchor and garbage: dropped, logged, no harm.
        real = plain.request("getAnchor", block)
        cp = Checkpoint.decode(from_hex(real["checkpoint"]))
        forged = Anchor(dataclasses.replace(cp, root=bytes(32)), from_hex(real["reply"])).encode()
        cluster.signal_node(2, signal.SIGTERM)
        node0_id = from_hex(plain.request("getNodeInfo")["nodeId"])
        send_as(cluster.nodes[2].dir, genesis, cluster.nodes[0].p2p_port, node0_id,
                [Envelope(MessageKind.ANCHOR, forged).encode(), Envelope(MessageKind.ANCHOR, b"\x92\x41").encode()])
        eventually(lambda: plain.request("getAnchorStatus")["fromPeers"].get("malformed", 0) >= 1, timeout=30,
                   what="node0 to check the forged anchors")
        assert plain.request("getAnchorStatus")["fromPeers"]["anchor_mismatch"] >= 1
        log0 = (cluster.nodes[0].dir / "node.log").read_text()
        assert "dropping an anchor from peer" in log0 and "is not over this node's blocks" in log0
        assert plain.request("getAnchor", block)["reply"] == real["reply"]
        cluster.start()  # node2 back

        # The TSA goes down: commits go on, anchoring waits, and says so.
        server.stop()
        before = cluster.height(0)
        cluster.push_blocks(3)  # an idle chain seals no blocks, and anchoring has nothing to do then
        eventually(lambda: anchorer.request("getAnchorStatus")["failures"] >= 1, timeout=30, what="a failed round")
        cluster.wait_heights(range(4), before + 3, timeout=30)
        status = anchorer.request("getAnchorStatus")
        assert status["pendingBlocks"] > 0 and "127.0.0.1" in status["lastError"]
        assert "anchoring delayed" in (cluster.nodes[ANCHOR_NODE].dir / "node.log").read_text()
        server.restart()
        eventually(lambda: anchorer.request("getAnchorStatus")["failures"] == 0, timeout=60, what="anchoring resumed")
    finally:
        try:
            cluster.stop()
        finally:
            server.stop()

    # Offline, after the chain is gone: the arbitrator's check.
    genesis_file = tmp_path / "genesis.toml"
    genesis_file.write_text((cluster.nodes[0].dir / "genesis.toml").read_text())
    r = cli("evidence", "verify", str(doc), "--proof", str(proof), "--genesis", str(genesis_file))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout and "existed no later than" in r.stdout and f"(time-stamping authority {tsa.name})" in r.stdout
    r = cli("evidence", "verify", str(doc), "--proof", str(proof0), "--genesis", str(genesis_file))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "existed no later than" in r.stdout and f"(time-stamping authority {tsa.name})" in r.stdout
