"""Every evidence, case and contract command against a real JSON-RPC server over one in-process ledger
(tests/evidence/rpc_node.py): outputs, refusals with exit 1, usage errors with exit 2."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from tests.evidence.evidence_chain import ADMIN, ALICE, ARBITER, BOB, MALLORY, make_genesis
from tests.evidence.rpc_node import InstantNode

from consortium.crypto import save_key
from consortium.encoding import canonical
from consortium.encoding.hexbytes import to_hex
from consortium.execution import EVIDENCE_ADDRESS
from consortium.execution.governance import arbitrators_key
from consortium.node.genesis import CommitteeMember

COUNTER = '''class Counter:
    def constructor(self, start):
        storage["n"] = start

    def bump(self, by):
        storage["n"] = storage["n"] + by
        return storage["n"]

    def get(self):
        return storage["n"]
'''


@pytest.fixture
def node(tmp_path: Path):
    n = InstantNode(tmp_path / "db")
    try:
        with n.serve() as url:
            yield n, url
    finally:
        n.close()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, key in (("admin", ADMIN), ("alice", ALICE), ("bob", BOB), ("carol", ARBITER), ("mallory", MALLORY)):
        save_key(key, tmp_path / f"{name}.json")
        out[name] = str(tmp_path / f"{name}.json")
    return out


def test_the_arbitration_flow(cli, node, keys, tmp_path: Path) -> None:
    _, url = node
    rpc = ("--rpc", url)
    doc = tmp_path / "chat.txt"
    doc.write_bytes(b"bob: I will refund the 6 chairs\n")
    genesis = tmp_path / "genesis.toml"
    genesis.write_text(make_genesis().to_toml())
    digest = "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()

    code, out, err = cli("evidence", "notarize", str(doc), "--signer", to_hex(BOB.address), "--case", "C-1",
                         "--note", "exported chat", "--key", keys["alice"], "--json", *rpc)
    assert code == 0, err
    notarized = json.loads(out)
    assert notarized["hash"] == digest and notarized["status"] == "PENDING" and notarized["mode"] == "salted"
    key = notarized["key"]
    assert key != digest and notarized["onChainMetadata"] == {"case_id": "C-1", "note": "exported chat"}
    assert notarized["proof"] == str(tmp_path / "chat.txt.proof.json")
    code, out, _ = cli("evidence", "verify", str(doc), "--proof", notarized["proof"], "--genesis", str(genesis))
    assert code == 0 and f"Not yet co-signed by {to_hex(BOB.address)}" in out

    # private by default: the file's hash finds nothing on chain; the file (with its proof beside it) does
    code, _, err = cli("evidence", "show", digest, *rpc)
    assert code == 1 and "is not notarized" in err
    code, out, err = cli("evidence", "show", str(doc), *rpc)
    assert code == 0 and key in out and "file_name" not in out, err
    code, _, err = cli("evidence", "notarize", str(doc), "--key", keys["bob"], *rpc)
    assert code == 2 and "already exists" in err  # never overwrites a proof (it holds a salt)

    code, _, err = cli("evidence", "sign", notarized["proof"], "--key", keys["mallory"], *rpc)
    assert code == 1 and "is not a listed signer" in err
    code, out, _ = cli("evidence", "sign", key, "--key", keys["bob"], "--json", *rpc)
    assert code == 0 and json.loads(out)["output"] == "COMPLETE"

    code, _, err = cli("evidence", "register-arbitrator", to_hex(ARBITER.address), "--key", keys["alice"], *rpc)
    assert code == 1 and "not a committee member" in err
    code, out, err = cli("evidence", "register-arbitrator", to_hex(ARBITER.address), "--key", keys["admin"], *rpc)
    assert code == 0 and "registered: the committee's threshold (1) is met" in out, err

    parties = ("--party", to_hex(ALICE.address), "--party", to_hex(BOB.address))
    code, _, err = cli("case", "open", "C-1", *parties, "--arbitrator", to_hex(MALLORY.address),
                       "--key", keys["alice"], *rpc)
    assert code == 1 and "is not a registered arbitrator" in err
    code, _, err = cli("case", "open", "C-1", *parties, "--arbitrator", to_hex(ARBITER.address),
                       "--key", keys["alice"], *rpc)
    assert code == 0, err
    code, _, err = cli("case", "attach", "C-1", notarized["proof"], "--key", keys["bob"], *rpc)
    assert code == 0, err
    ruling = tmp_path / "ruling.txt"
    ruling.write_text("refund 6 chairs")
    code, _, err = cli("case", "rule", "C-1", "--ruling", str(ruling), "--summary", "refund", "--key", keys["bob"], *rpc)
    assert code == 1 and "only the case's arbitrator" in err
    code, _, err = cli("case", "rule", "C-1", "--ruling", str(ruling), "--summary", "refund 6 chairs",
                       "--key", keys["carol"], *rpc)
    assert code == 0, err
    code, out, _ = cli("case", "show", "C-1", *rpc)
    assert code == 0 and "CLOSED" in out and key in out and "refund 6 chairs" in out
    code, out, _ = cli("case", "show", "C-1", "--json", *rpc)
    case = json.loads(out)
    assert case["evidence"] == [{"$bytes": key}] and case["ruling"]["hash"] == {
        "$bytes": "0x" + hashlib.sha256(b"refund 6 chairs").hexdigest()}
    code, _, err = cli("case", "show", "C-2", *rpc)
    assert code == 1 and "no case 'C-2'" in err

    code, out, _ = cli("evidence", "show", key, *rpc)
    assert code == 0 and "COMPLETE" in out and "exported chat" in out and "signed in block" in out
    proof = tmp_path / "after.proof.json"
    code, _, err = cli("evidence", "proof", key, "--out", str(proof), *rpc)
    assert code == 2 and "a bare key does not say which file" in err
    code, out, err = cli("evidence", "proof", str(doc), "--out", str(proof), "--json", *rpc)
    assert code == 0 and json.loads(out)["cosignatures"] == 1 and json.loads(out)["key"] == key, err
    code, out, _ = cli("evidence", "verify", str(doc), "--proof", str(proof), "--genesis", str(genesis), "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "COMPLETE" and result["cosigners"][0]["address"] == to_hex(BOB.address)
    salt = json.loads(proof.read_text())["evidence"]["salt"]
    code, out, _ = cli("evidence", "verify", str(doc), "--rpc", url, "--salt", salt, "--genesis", str(genesis))
    assert code == 0 and out.startswith("VERIFIED")
    code, out, _ = cli("evidence", "verify", str(doc), "--rpc", url, "--genesis", str(genesis))
    assert code == 1 and "not-notarized" in out  # without the salt the node is asked for the bare hash

    other = tmp_path / "other.txt"
    other.write_bytes(b"never notarized")
    code, out, _ = cli("evidence", "verify", str(other), "--rpc", url, "--genesis", str(genesis))
    assert code == 1 and "not-notarized" in out
    code, _, err = cli("evidence", "show", str(other), *rpc)
    assert code == 1 and "is not notarized" in err and "--from FILE.proof.json" in err
    code, _, err = cli("evidence", "proof", str(other), "--out", str(tmp_path / "x.json"), *rpc)
    assert code == 1 and "is not notarized" in err and not (tmp_path / "x.json").exists()


def test_public_hash_mode_and_file_info_are_explicit(cli, node, keys, tmp_path: Path) -> None:
    _, url = node
    rpc = ("--rpc", url)
    doc = tmp_path / "ruling-template.pdf"
    doc.write_bytes(b"%PDF-1.7 a public template\n")
    digest = "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()
    code, out, err = cli("evidence", "notarize", str(doc), "--public", "--file-info", "--key", keys["alice"],
                         "--out", str(tmp_path / "a.json"), "--json", *rpc)
    assert code == 0, err
    notarized = json.loads(out)
    assert notarized["mode"] == "public" and notarized["key"] == digest
    assert notarized["onChainMetadata"] == {"file_name": "ruling-template.pdf", "size": 27,
                                            "media_type": "application/pdf"}
    code, out, _ = cli("evidence", "show", digest, *rpc)
    assert code == 0 and "ruling-template.pdf" in out
    code, _, err = cli("evidence", "notarize", str(doc), "--public", "--key", keys["bob"],
                       "--out", str(tmp_path / "b.json"), *rpc)
    assert code == 1 and "already notarized" in err and not (tmp_path / "b.json").exists()
    code, out, err = cli("evidence", "proof", digest, "--public", "--out", str(tmp_path / "c.json"), "--json", *rpc)
    assert code == 0 and json.loads(out)["mode"] == "public", err


def test_a_refused_notarization_leaves_no_salt_file(cli, node, keys, tmp_path: Path) -> None:
    _, url = node
    doc = tmp_path / "x.txt"
    doc.write_bytes(b"x")
    code, _, err = cli("evidence", "notarize", str(doc), "--note", "n" * 2000, "--key", keys["alice"], "--rpc", url)
    assert code == 1 and "note" in err and not (tmp_path / "x.txt.proof.json").exists()


def test_contract_commands(cli, node, keys, tmp_path: Path) -> None:
    _, url = node
    rpc = ("--rpc", url)
    source = tmp_path / "counter.py"
    source.write_text(COUNTER)
    code, _, err = cli("contract", "deploy", str(source), "--name", "counter", "--args", "[5]",
                       "--key", keys["alice"], *rpc)
    assert code == 1 and "may not deploy" in err
    code, out, err = cli("contract", "deploy", str(source), "--name", "counter", "--args", "[5]",
                         "--key", keys["admin"], "--json", *rpc)
    assert code == 0, err
    address = json.loads(out)["contractAddress"]
    code, out, _ = cli("contract", "call", "counter", "bump", "[3]", "--key", keys["alice"], "--json", *rpc)
    assert code == 0 and json.loads(out)["output"] == 8
    code, out, _ = cli("contract", "query", address, "get", *rpc)
    assert code == 0 and out.split() == ["output", "8"]
    code, out, _ = cli("contract", "query", "evidence", "is_arbitrator", json.dumps([{"$bytes": to_hex(BOB.address)}]),
                       "--json", *rpc)
    assert code == 0 and json.loads(out) is False
    code, out, _ = cli("contract", "code", "counter", *rpc)
    assert code == 0 and out == COUNTER

    code, out, err = cli("contract", "call", "counter", "bump", '["x"]', "--key", keys["alice"], *rpc)
    assert code == 1 and "REVERTED" in err and "TypeError" in err
    code, _, err = cli("contract", "call", "counter", "nosuch", "--key", keys["alice"], *rpc)
    assert code == 1 and "has no public method 'nosuch'" in err
    code, _, err = cli("contract", "query", "nosuchname", "get", *rpc)
    assert code == 1 and "no contract is registered under the name 'nosuchname'" in err
    code, _, err = cli("contract", "call", "counter", "bump", "[3", "--key", keys["alice"], *rpc)
    assert code == 2 and "JSON array" in err
    code, _, err = cli("contract", "deploy", str(tmp_path / "missing.py"), "--key", keys["admin"], *rpc)
    assert code == 2 and "cannot read the contract source" in err


def registry(n: InstantNode) -> list[bytes]:
    raw = n.ledger.state_reader().get(arbitrators_key(EVIDENCE_ADDRESS))
    return canonical.decode(raw) if raw is not None else []  # type: ignore[return-value]


def test_one_administrator_cannot_register_an_arbitrator_where_the_committee_needs_two(cli, tmp_path: Path,
                                                                                        keys) -> None:
    """Committee of the administrator and Bob, threshold 2: the administrator alone only proposes."""
    genesis = dataclasses.replace(make_genesis(), committee=(CommitteeMember(ADMIN.address), CommitteeMember(BOB.address)),
                                  committee_threshold=2)
    n = InstantNode(tmp_path / "db", genesis)
    try:
        with n.serve() as url:
            rpc = ("--rpc", url)
            code, out, err = cli("evidence", "register-arbitrator", to_hex(ARBITER.address), "--key", keys["admin"],
                                 "--json", *rpc)
            assert code == 0, err
            proposed = json.loads(out)
            assert proposed["registered"] is False and proposed["status"] == "open"
            assert (proposed["approvingWeight"], proposed["threshold"]) == (1, 2)
            assert ARBITER.address not in registry(n)
            # the evidence contract itself has no administrator to go around the committee
            code, _, err = cli("contract", "call", "evidence", "add_arbitrator",
                               json.dumps([{"$bytes": to_hex(ARBITER.address)}]), "--key", keys["admin"], *rpc)
            assert code != 0 and "no public method 'add_arbitrator'" in err
            parties = ("--party", to_hex(ALICE.address), "--party", to_hex(BOB.address))
            code, _, err = cli("case", "open", "C-2", *parties, "--arbitrator", to_hex(ARBITER.address),
                               "--key", keys["alice"], *rpc)
            assert code == 1 and "is not a registered arbitrator" in err
            code, _, err = cli("gov", "vote", str(proposed["proposal"]), "yes", "--key", keys["bob"], *rpc)
            assert code == 0, err
            assert ARBITER.address in registry(n)
            code, _, err = cli("case", "open", "C-2", *parties, "--arbitrator", to_hex(ARBITER.address),
                               "--key", keys["alice"], *rpc)
            assert code == 0, err
    finally:
        n.close()
