"""End to end: a real 4-node chain of separate processes, built and run with the project's scripts.

The tests share one cluster (module fixture) and run in file order; each
starts by bringing back any node a previous test left down (start_all skips
running nodes), so one failure does not cascade. Everything is checked through
the nodes' public JSON-RPC: same header (hash, state root) at every height on
every node, every acknowledged transaction on every live node, and through the
pid files that no process outlives stop_all.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from tests.cluster.harness import (
    Cluster,
    LoadGenerator,
    assert_same_chain,
    eventually,
    evidence_args,
    pid_alive,
    receipt_blocks,
)

from consortium.client import RpcCallError
from consortium.crypto.suite import KeyPair
from consortium.rpc.errors import APPLICATION_CODES

pytestmark = pytest.mark.slow
ALL = [0, 1, 2, 3]


@pytest.fixture(autouse=True)
def _all_nodes_up(cluster: Cluster) -> None:
    """Undo what an earlier (possibly failed) test left down."""
    if any(cluster.pid(i) is None or not pid_alive(cluster.pid(i)) for i in ALL):  # type: ignore[arg-type]
        cluster.start()


def node_id(cluster: Cluster, i: int) -> str:
    return cluster.client(i).request("getNodeInfo")["nodeId"]


def test_four_nodes_commit_notarizations_and_agree_on_every_block(cluster: Cluster) -> None:
    load = LoadGenerator(cluster, ALL, concurrency=16, tag="agree", limit=400)
    load.start()
    result = load.wait_done(timeout=90)
    assert len(result.submitted) == 400 and result.send_errors == 0
    assert set(result.acknowledged) == set(result.submitted), "a transaction accepted by a healthy cluster was lost"

    # Every node has every receipt, in the same block.
    blocks = receipt_blocks(cluster, ALL, result.submitted)
    for i in ALL:
        assert blocks[i] == result.acknowledged, f"node{i} disagrees on where the transactions are"
    assert len(set(result.acknowledged.values())) > 1  # spread over several blocks, not one lucky batch

    # The contract state is the same everywhere: a notarized record reads back from every node.
    sample = next(iter(result.submitted))
    records = [cluster.client(i).call("evidence", "get", [evidence_args("agree-0")[0]]) for i in ALL]
    assert records[0] is not None and records[0]["status"] == "COMPLETE"
    assert all(r == records[0] for r in records)
    assert sample in result.acknowledged

    top = min(cluster.height(i) for i in ALL)
    assert top >= max(result.acknowledged.values())
    assert_same_chain(cluster, ALL, top)
    assert cluster.client(0).request("getTotalTransactionCount")["transactionCount"] >= 400


def test_txpool_refuses_replayed_reused_and_out_of_window_transactions(cluster: Cluster) -> None:
    c = cluster.client(1)
    key = KeyPair(b"\x07" * 32)
    tx = c.build(key, "evidence", "notarize", evidence_args("replay-original"))
    c.send_transaction(tx)
    receipt = c.wait_receipt(tx.hash, timeout=30)
    assert receipt["status"] == 0
    cluster.wait_heights(ALL, receipt["blockNumber"])

    # The committed transaction, byte for byte, is refused by every node (not only the one that took it).
    for i in ALL:
        with pytest.raises(RpcCallError) as err:
            cluster.client(i).send_transaction(tx)
        assert err.value.code == APPLICATION_CODES["duplicate"], err.value
        assert err.value.data == {"transactionHash": "0x" + tx.hash.hex()}

    # Same sender and nonce, new content: replay protection by nonce inside the block_limit window.
    reused = c.build(key, "evidence", "notarize", evidence_args("replay-new-content"), nonce=tx.nonce)
    with pytest.raises(RpcCallError) as err:
        c.send_transaction(reused)
    assert err.value.code == APPLICATION_CODES["nonce_reused"], err.value
    # The same holds while the first user of a nonce is still pending (or already committed: same code).
    first = c.build(key, "evidence", "notarize", evidence_args("nonce-first"), nonce=tx.nonce + 1)
    second = c.build(key, "evidence", "notarize", evidence_args("nonce-second"), nonce=tx.nonce + 1)
    c.send_transaction(first)
    with pytest.raises(RpcCallError) as err:
        c.send_transaction(second)
    assert err.value.code == APPLICATION_CODES["nonce_reused"], err.value

    head = c.block_number()
    expired = c.build(key, "evidence", "notarize", evidence_args("replay-expired"), block_limit=head)
    with pytest.raises(RpcCallError) as err:
        c.send_transaction(expired)
    assert err.value.code == APPLICATION_CODES["expired_block_limit"], err.value
    assert "block_limit" in err.value.message

    too_far = c.build(key, "evidence", "notarize", evidence_args("replay-far"), block_limit=head + 10_000)
    with pytest.raises(RpcCallError) as err:
        c.send_transaction(too_far)
    assert err.value.code == APPLICATION_CODES["block_limit_too_far"], err.value

    # None of the refused transactions reaches the chain, even after a few more blocks.
    cluster.push_blocks(2, via=1)
    cluster.wait_heights([1], head + 2, timeout=30)
    for refused in (reused, second, expired, too_far):
        assert c.receipt(refused.hash) is None
    assert c.wait_receipt(first.hash, timeout=30)["status"] == 0


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_intruder_with_self_signed_certificate_is_refused_and_the_node_keeps_working(
        cluster: Cluster, tmp_path: Path) -> None:
    target = cluster.nodes[0]
    peers_before = {p["nodeId"] for p in cluster.client(0).request("getPeers")}
    assert len(peers_before) == 3
    key, crt = tmp_path / "intruder.key", tmp_path / "intruder.crt"
    # The intruder even copies a real sealer's id into its CN: only the chain CA's signature counts.
    victim = node_id(cluster, 1)[2:]
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ed25519", "-keyout", str(key), "-out", str(crt),
                    "-days", "30", "-nodes", "-subj", f"/O=consortium/CN={victim}"],
                   check=True, capture_output=True, timeout=30)
    log = target.dir / "node.log"
    log_offset = log.stat().st_size
    # -ign_eof: s_client exits only when the node closes the connection (a timeout kills it by pid).
    proc = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{target.p2p_port}", "-tls1_3",
         "-CAfile", str(target.dir / "ca.crt"), "-cert", str(crt), "-key", str(key), "-ign_eof", "-nocommands"],
        input=b"\x00\x00\x00\x05hello" * 4, capture_output=True, timeout=20)
    output = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert proc.returncode != 0, output  # the node ended the session, it was not a clean close by us
    assert "Verify return code: 0" in output  # the node's certificate was fine for the intruder; the reverse not

    def refusal_logged() -> bool:
        with log.open("rb") as f:
            f.seek(log_offset)
            text = f.read().decode(errors="replace")
        return bool(re.search(r"refused connection from 127\.0\.0\.1:\d+: TLS handshake failed: self-signed", text))

    eventually(refusal_logged, timeout=10, what="the node to log the refusal")

    # Still serving, with the same three peers (the intruder never became one), and still committing.
    assert {p["nodeId"] for p in cluster.client(0).request("getPeers")} == peers_before
    c = cluster.client(0)
    tx = c.build(KeyPair(b"\x09" * 32), "evidence", "notarize", evidence_args("after-intruder"))
    c.send_transaction(tx)
    assert c.wait_receipt(tx.hash, timeout=30)["status"] == 0


def test_node_restarted_after_sigterm_resumes_at_its_height_and_takes_part_again(cluster: Cluster) -> None:
    victim = 2
    vid = node_id(cluster, victim)
    before = cluster.height(victim)
    cluster.signal_node(victim, signal.SIGTERM)
    live = [0, 1, 3]

    # The other three go on without it.
    c = cluster.client(0)
    tx = c.build(KeyPair(b"\x0b" * 32), "evidence", "notarize", evidence_args("while-node2-is-down"))
    c.send_transaction(tx)
    committed_at = c.wait_receipt(tx.hash, timeout=30)["blockNumber"]
    cluster.push_blocks(2)
    cluster.wait_heights(live, max(before + 2, committed_at))

    cluster.start()
    assert cluster.height(victim) >= before  # its own ledger survived the restart

    # It catches up on the blocks it missed (block sync) ...
    eventually(lambda: cluster.client(victim).receipt(tx.hash), timeout=30, what="node2 to sync the missed block")
    # ... fetching only those: it resumed at its height instead of syncing the chain from genesis.
    assert cluster.client(victim).request("getSyncStatus")["blocksReceived"] < before
    # ... and participates: it proposes a block again when its turn as leader comes.
    restarted_at = cluster.height(victim)

    def proposed_again() -> bool:
        cluster.push_blocks(1, via=victim)  # leaders rotate per height; an idle chain seals nothing
        top = cluster.height(victim)
        return any(h["proposer"] == vid for h in cluster.headers(victim, top, start=restarted_at + 1))

    eventually(proposed_again, timeout=45, interval=0.5, what="node2 to propose a block after its restart")
    top = min(cluster.height(i) for i in ALL)
    assert_same_chain(cluster, ALL, top)


def test_sigkill_under_load_loses_no_acknowledged_transaction_and_the_node_catches_up(cluster: Cluster) -> None:
    victim = 3
    live = [0, 1, 2]
    load = LoadGenerator(cluster, ALL, concurrency=12, tag="kill")
    load.start()
    try:
        eventually(lambda: len(load.result.acknowledged) >= 100, timeout=60, what="100 transactions before the kill")
        cluster.signal_node(victim, signal.SIGKILL)
        acked_at_kill = len(load.result.acknowledged)
        height_at_kill = max(cluster.height(i) for i in live)
        # The three survivors keep committing the client's transactions.
        eventually(lambda: len(load.result.acknowledged) >= acked_at_kill + 150, timeout=60,
                   what="150 more acknowledged transactions after the kill")
        cluster.wait_heights(live, height_at_kill + 3)
    finally:
        result = load.stop()
    acknowledged = result.acknowledged
    after_kill = [h for h, n in acknowledged.items() if n > height_at_kill]
    assert len(after_kill) >= 100

    blocks = receipt_blocks(cluster, live, acknowledged)
    for i in live:
        missing = [h.hex() for h, n in blocks[i].items() if n != acknowledged[h]]
        assert not missing, f"node{i} lacks {len(missing)} acknowledged transactions, e.g. {missing[:3]}"

    cluster.start()  # start_all again: restarts only the killed node
    target = max(cluster.height(i) for i in live)
    eventually(lambda: cluster.height(victim) >= target, timeout=60, what=f"node3 to catch up to {target}")
    assert cluster.client(victim).request("getSyncStatus")["blocksReceived"] > 0  # it fetched what it missed
    assert_same_chain(cluster, ALL, target)
    blocks = receipt_blocks(cluster, [victim], acknowledged)[victim]
    assert blocks == acknowledged


def test_stop_all_leaves_no_process(cluster: Cluster) -> None:
    pids = [cluster.pid(i) for i in ALL]
    assert all(p is not None and pid_alive(p) for p in pids)
    seen = cluster.stop()  # fails if any pid this cluster ever had is still alive
    assert set(pids) <= set(seen)
    assert not any(pid_alive(p) for p in seen)  # type: ignore[arg-type]
    assert all(cluster.pid(i) is None for i in ALL)  # stop_all removed the pid files
    for node in cluster.nodes:  # and nothing listens on the node ports any more
        for port in (node.p2p_port, int(node.rpc_url.rsplit(":", 1)[1].rstrip("/"))):
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
