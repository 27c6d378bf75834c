"""Admission on chain, with real processes: a node joins as an observer, is voted in, a sealer is
removed, and a revoked certificate stops connecting — every node agreeing at every step."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from cryptography import x509
from tests.helpers.cluster import Cluster

from consortium.client import SyncClient
from consortium.crypto import load_key
from consortium.execution.governance import GOVERNANCE_ADDRESS
from consortium.network.certs import generate_key, load_private_key, node_id_of

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.3)


def rpc(cluster: Cluster, i: int, method: str, *params):
    with SyncClient(cluster.rpc_url(i)) as c:
        return c.request(method, *params)


def govern(cluster: Cluster, admins, kind: str, params: list) -> None:
    """Propose with the first admin, vote yes with the others until it executes."""
    with SyncClient(cluster.rpc_url(0)) as c:
        expires = c.block_number() + 500
        r = c.transact(admins[0], GOVERNANCE_ADDRESS, "propose", [kind, params, expires])
        assert r["statusName"] == "OK", r
        pid = r["output"]
        status = c.call(GOVERNANCE_ADDRESS, "get_proposal", [pid])["status"]
        for key in admins[1:]:
            if status == "executed":
                break
            r = c.transact(key, GOVERNANCE_ADDRESS, "vote", [pid, True])
            assert r["statusName"] == "OK", r
            status = r["output"]
        assert status == "executed"


def test_membership_changes_on_a_live_cluster(tmp_path) -> None:
    cluster = Cluster(tmp_path / "chain", nodes=4, admins=3)  # committee of 3, threshold 2
    cluster.build()
    try:
        cluster.start()
        admins = [load_key(cluster.root / "accounts" / f"admin{i}.json") for i in range(3)]
        ids = [rpc(cluster, i, "getNodeInfo")["nodeId"] for i in range(4)]

        # 1. A fifth node, issued by a member organization's CA, is admitted as an observer by the
        #    committee, then started: it connects and syncs.
        new = cluster.add_node()
        new_id = "0x" + node_id_of(load_private_key(cluster.node_dir(new) / "node.key")).hex()
        govern(cluster, admins, "add_observer", [bytes.fromhex(new_id[2:]), "org0"])  # chain add-node: org0's node
        cluster.start()  # starts only the node that is not running
        assert rpc(cluster, new, "getNodeInfo")["nodeId"] == new_id
        assert rpc(cluster, new, "getNodeInfo")["role"] == "observer"
        target = rpc(cluster, 0, "getBlockNumber")
        wait_for(lambda: rpc(cluster, new, "getBlockNumber") >= target, what="the observer to sync")

        # 2. A sealer no node runs cannot be voted in: an id that is no observer, or an observer that never
        #    joined, is refused when proposed (with the reason), and the chain goes on.
        ghost = node_id_of(generate_key())
        with SyncClient(cluster.rpc_url(0)) as c:
            for node, reason in ((ghost, "is not an observer"), (bytes.fromhex(new_id[2:]), "never joined")):
                r = c.transact(admins[0], GOVERNANCE_ADDRESS, "propose", ["add_sealer", [node], c.block_number() + 500])
                assert r["statusName"] != "OK" and reason in r["error"], r
        assert len(rpc(cluster, 0, "getSealerList")) == 4
        #    The observer proves it runs, holds its key and has synced: a join signed with its node key.
        joined = subprocess.run([sys.executable, "-m", "consortium", "node", "join", "--config",
                                 str(cluster.node_dir(new) / "config.toml")], capture_output=True, text=True, timeout=60)
        assert joined.returncode == 0, joined.stderr
        # 3. The committee votes it in: from the next block on, five sealers and a quorum of four.
        govern(cluster, admins, "add_sealer", [bytes.fromhex(new_id[2:])])
        wait_for(lambda: all(len(rpc(cluster, i, "getSealerList")) == 5 for i in range(5)), what="5 sealers everywhere")
        assert rpc(cluster, new, "getNodeInfo")["role"] == "sealer"
        start = rpc(cluster, 0, "getBlockNumber")
        cluster.push_blocks(6)  # an idle chain seals no blocks
        wait_for(lambda: rpc(cluster, 0, "getBlockNumber") >= start + 6, what="blocks under the new sealer set")
        proposers = set()
        for n in range(start + 1, start + 7):
            b = rpc(cluster, 0, "getBlockByNumber", n)
            assert len(b["sealerList"]) == 5 and len(b["signatures"]) >= 4
            proposers.add(b["proposer"])
            assert {rpc(cluster, i, "getBlockByNumber", n)["hash"] for i in range(5)} == {b["hash"]}
        assert new_id in proposers  # the new sealer takes its turn as leader

        # 4. A sealer is removed: blocks from then on neither list it nor carry its seal.
        govern(cluster, admins, "remove_node", [bytes.fromhex(ids[3][2:])])
        wait_for(lambda: ids[3] not in rpc(cluster, 0, "getSealerList"), what="sealer removal")
        after = rpc(cluster, 0, "getBlockNumber") + 1
        cluster.push_blocks(4)
        wait_for(lambda: rpc(cluster, 0, "getBlockNumber") >= after + 3, what="blocks without the removed sealer")
        for n in range(after, after + 3):
            assert ids[3] not in rpc(cluster, 0, "getBlockByNumber", n)["sealerList"]

        # 5. Its certificate is revoked: every node closes its connections and refuses it from then on.
        serial = x509.load_pem_x509_certificate((cluster.node_dir(3) / "node.crt").read_bytes()).serial_number
        govern(cluster, admins, "revoke_node_cert", [serial.to_bytes((serial.bit_length() + 7) // 8, "big")])
        wait_for(lambda: all(ids[3] not in {p["nodeId"] for p in rpc(cluster, i, "getPeers")} for i in (0, 1, 2, new)),
                 what="the revoked node to be disconnected everywhere")
        time.sleep(3)  # reconnect attempts happen meanwhile and must keep failing
        assert rpc(cluster, 3, "getPeers") == []

        # 6. Evidence notarized under the new membership, with the consortium CLI...
        evidence = tmp_path / "minutes.txt"
        evidence.write_text("board minutes, after the membership changes\n")
        proof = tmp_path / "minutes.proof.json"
        cli = [sys.executable, "-m", "consortium"]
        done = subprocess.run([*cli, "evidence", "notarize", str(evidence), "--out", str(proof), "--rpc",
                               cluster.rpc_url(new), "--key", str(cluster.root / "accounts" / "admin0.json")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        cluster.stop()
        # ...verifies offline, with every node stopped, from the ORIGINAL genesis file alone:
        # the bundle carries the certified sealer-set changes that lead from genesis to its block.
        genesis = cluster.node_dir(0) / "genesis.toml"
        ok = subprocess.run([*cli, "evidence", "verify", str(evidence), "--proof", str(proof), "--genesis", str(genesis)],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and "VERIFIED" in ok.stdout, ok.stdout + ok.stderr
        evidence.write_text("board minutes, after the membership changes!\n")
        bad = subprocess.run([*cli, "evidence", "verify", str(evidence), "--proof", str(proof), "--genesis", str(genesis)],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1 and "NOT VERIFIED" in bad.stdout + bad.stderr
    finally:
        cluster.stop()
