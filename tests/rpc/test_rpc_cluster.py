"""Every JSON-RPC method, bad input, and WebSocket subscriptions, against a real 4-node cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import aiohttp
import pytest
from tests.helpers.cluster import Cluster

from consortium.client import Client, RpcCallError, SyncClient
from consortium.consensus.verify import verify_commit_certificate
from consortium.crypto import KeyPair, load_key
from consortium.encoding import decode, from_hex
from consortium.execution import EVIDENCE_ADDRESS
from consortium.ledger import BlockHeader, Receipt, Transaction
from consortium.ledger.merkle import ListProof, verify_inclusion
from consortium.state import StateProof, verify_proof

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("rpc") / "chain", nodes=4)
    c.build()
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def admin(cluster) -> KeyPair:
    return load_key(cluster.root / "accounts" / "admin0.json")


@pytest.fixture(scope="module")
def notarized(cluster, admin):
    """One committed notarize transaction: (evidence hash, tx hash, receipt)."""
    h = hashlib.sha256(b"rpc test evidence").digest()
    with SyncClient(cluster.rpc_url(0)) as c:
        tx = c.build(admin, "evidence", "notarize", [h, {"case_id": "R-1"}, []])
        assert c.send_transaction(tx) == tx.hash
        receipt = c.wait_receipt(tx.hash, timeout=30)
    assert receipt["statusName"] == "OK", receipt
    return h, tx, receipt


def test_chain_reads(cluster, notarized) -> None:
    _, tx, receipt = notarized
    with SyncClient(cluster.rpc_url(1)) as c:
        height = c.request("getBlockNumber")
        assert height >= receipt["blockNumber"]
        b = c.request("getBlockByNumber", receipt["blockNumber"], True)
        assert b["transactions"][receipt["transactionIndex"]]["hash"] == "0x" + tx.hash.hex()
        bare = c.request("getBlockByNumber", receipt["blockNumber"], False)  # from the stored hash list
        assert bare["transactions"] == [t["hash"] for t in b["transactions"]]
        assert {k: v for k, v in bare.items() if k != "transactions"} == {k: v for k, v in b.items() if k != "transactions"}

        assert c.request("getBlockByHash", b["hash"])["number"] == b["number"]
        assert c.request("getBlockHeaderByNumber", b["number"])["stateRoot"] == b["stateRoot"]
        assert c.request("getBlockByNumber", "latest")["number"] >= b["number"]
        got = c.request("getTransaction", "0x" + tx.hash.hex())
        assert got["method"] == "notarize" and got["from"] == "0x" + tx.sender_address.hex()
        assert c.request("getTransactionReceipt", "0x" + tx.hash.hex())["status"] == 0
        assert c.request("getTransactionReceipt", "0x" + "00" * 32) is None
        assert c.request("getTotalTransactionCount")["transactionCount"] >= 1
        assert c.request("getPendingTxSize") >= 0
        genesis = c.request("getBlockByNumber", 0, False)
        assert genesis["parentHash"] == "0x" + "00" * 32 and genesis["signatures"] == []


def test_same_block_on_every_node(cluster, notarized) -> None:
    n = notarized[2]["blockNumber"]
    hashes = set()
    for i in range(cluster.nodes):
        with SyncClient(cluster.rpc_url(i)) as c:
            hashes.add(c.request("getBlockByNumber", n)["hash"])
    assert len(hashes) == 1


def test_contract_methods(cluster, notarized) -> None:
    h, _, _ = notarized
    with SyncClient(cluster.rpc_url(2)) as c:
        address = c.request("getContractAddress", "evidence")
        assert address == "0x" + EVIDENCE_ADDRESS.hex()
        assert "def notarize" in c.request("getCode", address)
        record = c.call("evidence", "get", [h])
        assert record["status"] == "COMPLETE" and record["metadata"] == {"case_id": "R-1"}
        assert c.request("getSystemConfigByKey", "tx_count_limit") > 0
        with pytest.raises(RpcCallError) as err:
            c.request("getSystemConfigByKey", "no_such_key")
        assert err.value.code == 10013


def test_consensus_and_network_views(cluster) -> None:
    with SyncClient(cluster.rpc_url(3)) as c:
        sealers = c.request("getSealerList")
        assert len(sealers) == 4
        assert c.request("getObserverList") == []
        status = c.request("getConsensusStatus")
        assert status["isSealer"] and status["leader"] in sealers
        assert c.request("getPbftView") == status["view"] or isinstance(c.request("getPbftView"), int)
        assert len(c.request("getPeers")) == 3
        info = c.request("getNodeInfo")
        assert info["role"] == "sealer" and info["nodeId"] in sealers and info["chainId"] == "chain0"
        sync = c.request("getSyncStatus")
        assert sync["blockNumber"] >= 0 and len(sync["peers"]) >= 1


def test_proofs_verify_client_side(cluster, notarized) -> None:
    h, tx, receipt = notarized
    with SyncClient(cluster.rpc_url(0)) as c:
        p = c.request("getTransactionProof", "0x" + tx.hash.hex())
        header = BlockHeader.decode(from_hex(p["blockHeader"]))
        verify_commit_certificate(header, KeyPair.generate().suite)
        proof = ListProof.from_value(decode(from_hex(p["proof"])))
        verify_inclusion(header.tx_root, Transaction.decode(from_hex(p["transaction"])).encode(), proof)
        r = c.request("getReceiptProof", "0x" + tx.hash.hex())
        verify_inclusion(header.receipt_root, Receipt.decode(from_hex(r["receipt"])).encode(),
                         ListProof.from_value(decode(from_hex(r["proof"]))))
        s = c.request("getStateProof", "evidence", ["ev", {"$bytes": "0x" + h.hex()}], receipt["blockNumber"])
        sheader = BlockHeader.decode(from_hex(s["blockHeader"]))
        verify_proof(sheader.state_root, from_hex(s["key"]), from_hex(s["value"]), StateProof.decode(from_hex(s["proof"])))
        assert decode(from_hex(s["value"]))["hash"] == h


@pytest.mark.parametrize(
    "body, code",
    [
        (b"{not json", -32700),
        (b'{"jsonrpc":"2.0","method":"getBlockByNumber","params":["abc"],"id":1}', -32602),
        (b'{"jsonrpc":"2.0","method":"getTransaction","params":["0xzz"],"id":1}', -32602),
        (b'{"jsonrpc":"2.0","method":"noSuchMethod","id":1}', -32601),
        (b'{"jsonrpc":"2.0","method":"getBlockByNumber","params":[99999999],"id":1}', 10009),
        (b'{"jsonrpc":"2.0","method":"sendTransaction","params":["0x00"],"id":1}', 10001),
        (b'[]', -32600),
    ],
)
def test_bad_requests_get_clear_errors(cluster, body, code) -> None:
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.post(cluster.rpc_url(0), data=body) as r:
                return await r.json()

    reply = asyncio.run(go())
    assert reply["error"]["code"] == code and reply["error"]["message"]


def test_refused_transactions_change_nothing(cluster, admin, notarized) -> None:
    _, tx, _ = notarized
    with SyncClient(cluster.rpc_url(0)) as c:
        before = c.request("getTotalTransactionCount")["transactionCount"]
        with pytest.raises(RpcCallError) as dup:
            c.send_transaction(tx)  # replay of a committed transaction
        assert dup.value.code == 10003
        fresh = c.build(admin, "evidence", "notarize", [hashlib.sha256(b"x").digest(), {}, []])
        forged = dataclasses.replace(fresh, sender=KeyPair.generate().public_key)
        with pytest.raises(RpcCallError) as bad:
            c.send_transaction(forged)
        assert bad.value.code == 10002 and "does not verify" in bad.value.message
        other_chain = dataclasses.replace(fresh, chain_id="other").signed_by(admin)
        with pytest.raises(RpcCallError) as wrong:
            c.send_transaction(other_chain)
        assert wrong.value.code == 10007
        expired = c.build(admin, "evidence", "notarize", [hashlib.sha256(b"y").digest(), {}, []], block_limit=1)
        with pytest.raises(RpcCallError) as old:
            c.send_transaction(expired)
        assert old.value.code == 10004
        assert c.request("getTotalTransactionCount")["transactionCount"] == before
        assert c.request("getBlockNumber") >= 0  # still serving


def test_oversize_body_is_refused(cluster) -> None:
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.post(cluster.rpc_url(0), data=b" " * (5 * 1024 * 1024)) as r:
                return r.status, await r.json()

    status, reply = asyncio.run(go())
    assert status == 413 and reply["error"]["code"] == -32600


def test_websocket_subscriptions(cluster, admin) -> None:
    h = hashlib.sha256(b"ws evidence").digest()

    async def go():
        url = cluster.rpc_url(1).replace("http", "ws") + "/ws"
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": ["newBlocks"]})
            blocks_id = (await ws.receive_json(timeout=10))["result"]
            await ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "subscribe",
                                "params": ["events", {"address": "evidence", "name": "Notarized"}]})
            events_id = (await ws.receive_json(timeout=10))["result"]
            await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "subscribe", "params": ["bogus"]})
            assert (await ws.receive_json(timeout=10))["error"]["code"] == -32602
            async with Client(cluster.rpc_url(0)) as c:
                tx = await c.build(admin, "evidence", "notarize", [h, {}, []])
                assert await c.send_transaction(tx) == tx.hash
            got_block = got_event = None
            while got_block is None or got_event is None:
                note = await ws.receive_json(timeout=30)
                sub = note["params"]["subscription"]
                if sub == blocks_id:
                    got_block = note["params"]["result"]
                elif sub == events_id:
                    got_event = note["params"]["result"]
            return got_block, got_event

    block, event = asyncio.run(go())
    assert block["number"] >= 1 and "hash" in block
    assert event["name"] == "Notarized" and event["fields"]["hash"] == {"$bytes": "0x" + h.hex()}


def test_batch_submission_through_the_sdk(cluster, admin) -> None:
    with SyncClient(cluster.rpc_url(2)) as c:
        txs = [c.build(admin, "evidence", "notarize", [hashlib.sha256(b"batch %d" % i).digest(), {}, []])
               for i in range(5)]
        results = c.send_transactions([*txs, txs[0]])  # the last one repeats the first: refused
        assert results[:5] == [t.hash for t in txs]
        assert isinstance(results[5], RpcCallError) and results[5].code == 10003
        for t in txs:
            assert c.wait_receipt(t.hash, timeout=30)["statusName"] == "OK"
        assert c.request("getConsensusStatus")["recentEquivocations"] == []
        # More calls than one batch holds (100): sent and awaited in batches, one result per call.
        calls = [("evidence", "notarize", [hashlib.sha256(b"many %d" % i).digest(), {}, []]) for i in range(130)]
        calls.append(calls[0])  # the same file twice: the contract refuses the second
        receipts = c.transact_many(admin, calls, timeout=60)
        assert [r["statusName"] for r in receipts[:130]] == ["OK"] * 130
        assert receipts[130]["statusName"] != "OK"  # its own receipt, not the first one's


