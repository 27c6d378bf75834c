"""End to end on a real 4-node cluster, through the CLI run as subprocesses: notarize -> co-sign ->
case open/attach/rule -> proof -> stop the cluster -> offline verification, then each tampering
case exits 1 with its reason."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.evidence.tamper import (
    at,
    header_edit,
    receipt_edit,
    reseal,
    state_proof_edit,
    tx_edit,
)
from tests.helpers.cluster import ROOT, SCRIPTS, Cluster

from consortium.crypto import KeyPair, save_key
from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex

EVIDENCE = b"2026-11-02 09:20 bob: I will refund the 6 broken chairs within 7 days.\n" * 50
OUTSIDERS = tuple(KeyPair(bytes([0x70 + i]) * 32) for i in range(3))

pytestmark = pytest.mark.slow


def run(*args: str, key: Path | None = None, rpc: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONSORTIUM_KEY", None)
    if rpc:
        env["CONSORTIUM_RPC"] = rpc
    cmd = [sys.executable, "-m", "consortium", *args, *(["--key", str(key)] if key else [])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    if ok:
        assert r.returncode == 0, f"{' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """Run the whole arbitration flow on a live cluster; stop it; hand over the files."""
    root = tmp_path_factory.mktemp("evidence-cluster")
    cluster = Cluster(root / "chain")
    try:
        subprocess.run([str(SCRIPTS / "build_chain.sh"), "-n", "4", "-o", str(cluster.root), "-p",
                        str(cluster.p2p_base), "-r", str(cluster.rpc_base)], check=True, capture_output=True, timeout=120)
        cluster.start()
        rpc = cluster.rpc_url(0)
        keys = {}
        for name, seed in (("alice", 0x31), ("bob", 0x32), ("carol", 0x33)):
            keys[name] = KeyPair(bytes([seed]) * 32)
            save_key(keys[name], root / f"{name}.json")
        addr = {n: to_hex(k.address) for n, k in keys.items()}
        admin = cluster.root / "accounts" / "admin0.json"
        doc = root / "chat-log.txt"
        doc.write_bytes(EVIDENCE)
        ruling = root / "ruling.txt"
        ruling.write_text("Bob refunds 6 chairs.\n")

        r = run("evidence", "notarize", str(doc), "--case", "C-7", "--signer", addr["bob"], "--json",
                key=root / "alice.json", rpc=rpc)
        notarized = json.loads(r.stdout)
        assert notarized["status"] == "PENDING" and Path(notarized["proof"]).exists()
        key = notarized["key"]  # private by default: the salted commitment is what the chain knows
        assert notarized["mode"] == "salted" and key != notarized["hash"]
        assert json.loads(run("evidence", "sign", key, "--json", key=root / "bob.json", rpc=rpc).stdout)[
            "output"] == "COMPLETE"
        run("evidence", "register-arbitrator", addr["carol"], key=admin, rpc=rpc)
        run("case", "open", "C-7", "--party", addr["alice"], "--party", addr["bob"], "--arbitrator", addr["carol"],
            key=root / "alice.json", rpc=rpc)
        run("case", "attach", "C-7", str(doc), key=root / "bob.json", rpc=rpc)
        refused = run("case", "rule", "C-7", "--ruling", str(ruling), "--summary", "refund", key=root / "bob.json",
                      rpc=rpc, ok=False)
        assert refused.returncode == 1 and "only the case's arbitrator" in refused.stderr
        run("case", "rule", "C-7", "--ruling", str(ruling), "--summary", "Bob refunds 6 chairs",
            key=root / "carol.json", rpc=rpc)
        case = json.loads(run("case", "show", "C-7", "--json", rpc=rpc).stdout)
        assert case["status"] == "CLOSED" and case["evidence"] == [{"$bytes": key}]
        assert case["ruling"]["summary"] == "Bob refunds 6 chairs"
        record = json.loads(run("evidence", "show", key, "--json", rpc=cluster.rpc_url(2)).stdout)
        assert record["status"] == "COMPLETE" and record["metadata"]["case_id"] == "C-7"

        proof = root / "chat-log.proof.json"
        run("evidence", "proof", str(doc), "--out", str(proof), rpc=cluster.rpc_url(3))
        genesis = cluster.root / "node0" / "genesis.toml"
        salt = json.loads(Path(notarized["proof"]).read_text())["evidence"]["salt"]
        live = run("evidence", "verify", str(doc), "--rpc", cluster.rpc_url(1), "--salt", salt, "--genesis",
                   str(genesis), "--json")
        assert json.loads(live.stdout)["verified"] is True
    finally:
        cluster.stop()
    for i in range(cluster.nodes):
        assert cluster.pid(i) is None  # stop_all removed every pid file: no node is running
    other = root / "other"
    subprocess.run([str(SCRIPTS / "build_chain.sh"), "-n", "4", "-o", str(other), "-p", "41000", "-r", "42000"],
                   check=True, capture_output=True, timeout=60)
    yield {"doc": doc, "proof": proof, "genesis": genesis, "other_genesis": other / "node0" / "genesis.toml",
           "root": root, "alice": addr["alice"], "bob": addr["bob"], "notarized_proof": Path(notarized["proof"])}


def verify(flow, *, doc=None, proof=None, genesis=None) -> subprocess.CompletedProcess:
    return run("evidence", "verify", str(doc or flow["doc"]), "--proof", str(proof or flow["proof"]),
               "--genesis", str(genesis or flow["genesis"]), ok=False)


def test_offline_verification_after_the_cluster_stopped(flow) -> None:
    r = verify(flow)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("VERIFIED") and flow["alice"] in r.stdout and flow["bob"] in r.stdout
    first = verify(flow, proof=flow["notarized_proof"])  # the bundle notarize wrote: Bob still pending
    assert first.returncode == 0 and "Not yet co-signed by" in first.stdout and "PENDING" in first.stdout


def _tampered(flow, name: str, edit) -> Path:
    path = flow["root"] / f"tampered-{name}.json"
    doc = json.loads(flow["proof"].read_text())
    path.write_text(json.dumps(edit(doc)))
    return path


N = ("notarization",)
CASES = {
    "tx edited": (lambda d: at(d, N + ("transaction",), tx_edit(
        lambda t: dataclasses.replace(t, args=(t.args[0], {"note": "edited"}, t.args[2])))), "proof-altered"),
    "receipt edited": (lambda d: at(d, N + ("receipt",), receipt_edit(
        lambda r: dataclasses.replace(r, gas_used=r.gas_used + 1))), "receipt is not proven"),
    "tx proof altered": (lambda d: at(d, N + ("transactionProof",), lambda t: to_hex(canonical.encode(
        [1] + canonical.decode(from_hex(t))[1:]))), "transaction is not proven"),
    "state proof altered": (lambda d: at(d, ("record", "proof"), state_proof_edit), "state proof of the evidence record"),
    "header edited": (lambda d: at(d, ("headers", 0), header_edit(lambda h: dataclasses.replace(h, view=h.view + 7))),
                      "too few valid signatures"),
    "seals dropped": (lambda d: at(d, ("headers", 0), header_edit(
        lambda h: dataclasses.replace(h, signatures=h.signatures[:2]))), "too few valid signatures"),
    "seals by non-sealers": (lambda d: at(d, ("headers", 0), header_edit(
        lambda h: reseal(h, dict(enumerate(OUTSIDERS))))), "0 of its 4"),
    "truncated": (None, "not valid JSON"),
    "not json": (None, "not valid JSON"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_tampering_exits_1_with_its_reason(flow, name: str) -> None:
    edit, words = CASES[name]
    if name == "truncated":
        proof = flow["root"] / "truncated.json"
        proof.write_text(flow["proof"].read_text()[:2000])
    elif name == "not json":
        proof = flow["doc"]  # the evidence file given as its own proof
    else:
        proof = _tampered(flow, name.replace(" ", "-"), edit)
    r = verify(flow, proof=proof)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("NOT VERIFIED") and words in r.stdout


def test_one_changed_byte_of_the_file(flow) -> None:
    changed = flow["root"] / "chat-log-changed.txt"
    data = bytearray(EVIDENCE)
    data[EVIDENCE.index(b"6")] = ord("5")
    changed.write_bytes(bytes(data))
    r = verify(flow, doc=changed)
    assert r.returncode == 1 and "file-changed" in r.stdout


def test_another_chains_genesis(flow) -> None:
    r = verify(flow, genesis=flow["other_genesis"])
    assert r.returncode == 1 and "another-chain" in r.stdout


def test_missing_proof_is_a_usage_error(flow) -> None:
    r = verify(flow, proof=flow["root"] / "no-such-proof.json")
    assert r.returncode == 2 and "cannot read the proof" in r.stderr
