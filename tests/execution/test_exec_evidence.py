"""contracts/evidence.py: every method, the happy path and the refusals."""

from __future__ import annotations

import hashlib

import pytest
from tests.execution.chainkit import ADMIN, ALICE, ARBITER, BOB, CAROL, DAVE, MALLORY, Chain

from consortium.encoding import canonical
from consortium.execution import EVIDENCE_ADDRESS, Executor, GenesisError, genesis_writes, name_address
from consortium.execution.genesis import evidence_address
from consortium.execution.governance import arbitrators_key
from consortium.execution.overlay import DictReader
from consortium.ledger import ReceiptStatus

S = ReceiptStatus
EV = name_address("evidence")
H1 = hashlib.sha256(b"contract.pdf").digest()
H2 = hashlib.sha256(b"photo.jpg").digest()
RULING = hashlib.sha256(b"ruling.pdf").digest()
META = {"case_id": "CASE-7", "file_name": "contract.pdf", "size": 52_133, "media_type": "application/pdf",
        "note": "signed original"}


def events(receipt) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.name for e in receipt.events]


def test_genesis_deploys_under_the_name_evidence(evidence_chain: Chain) -> None:
    assert evidence_chain.executor.resolve(evidence_chain.state, "evidence") == EVIDENCE_ADDRESS
    assert evidence_chain.view(EV, "arbitrators") == (ARBITER.address,)
    assert evidence_chain.view(EV, "is_arbitrator", ARBITER.address) is True
    assert evidence_chain.view(EV, "is_arbitrator", ALICE.address) is False


def test_genesis_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="20-byte"):
        genesis_writes(arbitrators=[b"short"])
    with pytest.raises(GenesisError, match="duplicate arbitrator"):
        genesis_writes(arbitrators=[ARBITER.address, ARBITER.address])
    assert genesis_writes() != genesis_writes(arbitrators=[ARBITER.address])


def test_genesis_contract_addresses_follow_the_chain_suite() -> None:
    """An address is a hash: on a chain of another suite the evidence contract lives elsewhere,
    and executing against that state under that suite finds it by name."""
    from tests.test_edge import OTHER

    writes = genesis_writes(arbitrators=[ARBITER.address], suite=OTHER)
    other_address = evidence_address(OTHER)
    assert other_address != EVIDENCE_ADDRESS
    state = DictReader(dict(writes))
    assert Executor(suite=OTHER).resolve(state, "evidence") == other_address
    assert writes != genesis_writes(arbitrators=[ARBITER.address])


# -- notarize / sign / get ---------------------------------------------------------------------------
def test_notarize_records_everything(evidence_chain: Chain) -> None:
    c = evidence_chain
    tx = c.tx(ALICE, EV, "notarize", H1, META, [ALICE.address, BOB.address])
    ctx = c.ctx
    receipt = c.block(tx).receipts[0]
    assert receipt.ok and receipt.output == "PENDING"
    assert events(receipt) == ["Notarized"]
    assert dict(receipt.events[0].fields) == {"hash": H1, "submitter": ALICE.address, "case_id": "CASE-7", "signers": 2}
    record = c.view(EV, "get", H1)
    assert record == {
        "hash": H1, "submitter": ALICE.address, "block": ctx.number, "timestamp": ctx.timestamp, "tx": tx.hash,
        "metadata": META, "signers": (ALICE.address, BOB.address), "signatures": (), "status": "PENDING",
    }


def test_notarizing_twice_names_the_first_block(evidence_chain: Chain) -> None:
    c = evidence_chain
    c.send(ALICE, EV, "notarize", H1, {}, [])
    first_block = c.number
    c.block()
    again = c.send(BOB, EV, "notarize", H1, META, [BOB.address])
    assert again.status == S.REVERTED and again.error == f"already notarized at block {first_block}"
    assert c.view(EV, "get", H1)["submitter"] == ALICE.address


def test_notarize_without_signers_is_complete_at_once(evidence_chain: Chain) -> None:
    receipt = evidence_chain.send(ALICE, EV, "notarize", H1, {"file_name": "x.txt"}, [])
    assert receipt.output == "COMPLETE" and events(receipt) == ["Notarized", "Completed"]


@pytest.mark.parametrize(("args", "error"), [
    ((b"short", {}, []), "evidence hash must be 32 bytes"),
    (("not bytes", {}, []), "evidence hash must be 32 bytes"),
    ((H1, [], []), "metadata must be a map"),
    ((H1, {"colour": "red"}, []), "unknown metadata field 'colour'"),
    ((H1, {"size": -1}, []), "metadata.size must be a non-negative int"),
    ((H1, {"size": "big"}, []), "metadata.size must be a non-negative int"),
    ((H1, {"file_name": "f" * 256}, []), "metadata.file_name must be a string of at most 255"),
    ((H1, {"note": "n" * 1025}, []), "metadata.note must be a string of at most 1024"),
    ((H1, {"media_type": 5}, []), "metadata.media_type must be a string"),
    ((H1, {"case_id": "c" * 65}, []), "metadata.case_id must be a string of at most 64"),
    ((H1, {}, "alice"), "signers must be a list"),
    ((H1, {}, [b"x" * 20] * 17), "signers must be a list of at most 16"),
    ((H1, {}, [b"x" * 19]), "signer must be a 20-byte address"),
    ((H1, {}, [ALICE.address, ALICE.address]), "duplicate signer"),
])
def test_notarize_refusals(evidence_chain: Chain, args: tuple, error: str) -> None:
    receipt = evidence_chain.send(ALICE, EV, "notarize", *args)
    assert receipt.status == S.REVERTED and error in receipt.error
    assert evidence_chain.view(EV, "get", H1) is None


def test_co_signing_to_complete(evidence_chain: Chain) -> None:
    c = evidence_chain
    c.send(CAROL, EV, "notarize", H1, META, [ALICE.address, BOB.address])
    first = c.send(ALICE, EV, "sign", H1)
    assert first.ok and first.output == "PENDING" and events(first) == ["Signed"]
    signed_at = c.number
    second = c.send(BOB, EV, "sign", H1)
    assert second.ok and second.output == "COMPLETE" and events(second) == ["Signed", "Completed"]
    record = c.view(EV, "get", H1)
    assert record["status"] == "COMPLETE"
    assert [s["signer"] for s in record["signatures"]] == [ALICE.address, BOB.address]
    assert record["signatures"][0]["block"] == signed_at
    twice = c.send(ALICE, EV, "sign", H1)
    assert twice.status == S.REVERTED and twice.error == f"already signed at block {signed_at}"


def test_sign_refusals(evidence_chain: Chain) -> None:
    c = evidence_chain
    unknown = c.send(ALICE, EV, "sign", H2)
    assert unknown.status == S.REVERTED and "is not notarized" in unknown.error
    c.send(CAROL, EV, "notarize", H1, {}, [ALICE.address])
    outsider = c.send(MALLORY, EV, "sign", H1)
    assert outsider.status == S.PERMISSION_DENIED
    assert outsider.error == f"0x{MALLORY.address.hex()} is not a listed signer of this evidence"
    submitter = c.send(CAROL, EV, "sign", H1)
    assert submitter.status == S.PERMISSION_DENIED, "submitting is not co-signing"
    bad = c.send(ALICE, EV, "sign", b"123")
    assert bad.status == S.REVERTED and "32 bytes" in bad.error


def test_co_signing_in_the_notarization_block_is_refused(evidence_chain: Chain) -> None:
    """A block proves which transactions it holds, not their order: the offline verifier requires a later block."""
    c = evidence_chain
    notarize, same = c.block(c.tx(CAROL, EV, "notarize", H1, {}, [ALICE.address]), c.tx(ALICE, EV, "sign", H1)).receipts
    assert notarize.ok and same.status == S.REVERTED
    assert same.error == f"co-sign in a block after the notarization (block {c.ctx.number - 1}); retry shortly"
    assert c.send(ALICE, EV, "sign", H1).output == "COMPLETE"


# -- arbitrator registry ---------------------------------------------------------------------------------
def test_no_single_key_can_change_the_registry(evidence_chain: Chain) -> None:
    """The registry is governance's alone (committee proposals): the contract has no administrator role."""
    c = evidence_chain
    for who in (ADMIN, MALLORY, ARBITER):
        for method, arg in (("add_arbitrator", MALLORY.address), ("remove_arbitrator", ARBITER.address),
                            ("add_admin", MALLORY.address), ("remove_admin", ADMIN.address)):
            receipt = c.send(who, EV, method, arg)
            assert not receipt.ok and f"has no public method {method!r}" in receipt.error, method
    assert c.view(EV, "arbitrators") == (ARBITER.address,)
    assert c.call(EV, "admins").ok is False


def set_arbitrators(c: Chain, *arbitrators: bytes) -> None:
    """What an executed register_arbitrator / unregister_arbitrator proposal writes (execution/governance.py)."""
    c.state.apply({arbitrators_key(EVIDENCE_ADDRESS): canonical.encode(list(arbitrators))})


# -- cases -------------------------------------------------------------------------------------------------
def _open(c: Chain) -> None:
    receipt = c.send(ALICE, EV, "open_case", "CASE-7", [ALICE.address, BOB.address], ARBITER.address)
    assert receipt.ok, receipt.error


def test_case_lifecycle(evidence_chain: Chain) -> None:
    c = evidence_chain
    c.send(ALICE, EV, "notarize", H1, META, [BOB.address])
    c.send(BOB, EV, "notarize", H2, {}, [])
    opened_at = c.ctx
    opened = c.send(ALICE, EV, "open_case", "CASE-7", [ALICE.address, BOB.address], ARBITER.address)
    assert opened.ok and events(opened) == ["CaseOpened"]
    first = c.send(ALICE, EV, "attach", "CASE-7", H1)
    second = c.send(BOB, EV, "attach", "CASE-7", H2)
    assert (first.output, second.output) == (0, 1) and events(first) == ["EvidenceAttached"]
    assert c.view(EV, "case_evidence", "CASE-7") == (H1, H2)
    assert c.view(EV, "case_evidence", "CASE-7", 1, 1) == (H2,)
    ruled = c.send(ARBITER, EV, "rule", "CASE-7", RULING, "Claim upheld in part.")
    assert ruled.ok and events(ruled) == ["CaseRuled"]
    case = c.view(EV, "get_case", "CASE-7")
    assert case["status"] == "CLOSED" and case["evidence_count"] == 2 and case["arbitrator"] == ARBITER.address
    assert case["opened_block"] == opened_at.number and case["opened_by"] == ALICE.address
    assert case["ruling"]["hash"] == RULING and case["ruling"]["summary"] == "Claim upheld in part."
    opened_tx = c.block(c.tx(ALICE, EV, "open_case", "CASE-8", [ALICE.address, BOB.address], ARBITER.address))
    assert c.view(EV, "get_case", "CASE-8")["opened_tx"] == opened_tx.receipts[0].tx_hash
    late = c.send(ALICE, EV, "attach", "CASE-7", H1)
    assert late.status == S.REVERTED and late.error == "case 'CASE-7' is closed; nothing more can be attached"
    again = c.send(ARBITER, EV, "rule", "CASE-7", RULING, "again")
    assert again.status == S.REVERTED and "already closed" in again.error
    assert c.view(EV, "get_case", "NOPE") is None


def test_the_ruling_comes_in_a_block_after_the_last_attachment(evidence_chain: Chain) -> None:
    """A block proves which transactions it holds, not their order: an offline verifier must know what was
    attached before the ruling."""
    c = evidence_chain
    c.send(ALICE, EV, "notarize", H1, {}, [])
    _open(c)
    attach, rule = c.block(c.tx(ALICE, EV, "attach", "CASE-7", H1), c.tx(ARBITER, EV, "rule", "CASE-7", RULING, "x")).receipts
    assert attach.ok and rule.status == S.REVERTED
    assert rule.error == f"rule in a block after the case's last change (block {c.ctx.number - 1}); retry shortly"
    case = c.view(EV, "get_case", "CASE-7")
    assert case["updated_block"] == c.ctx.number - 1 and case["status"] == "OPEN"
    assert c.send(ARBITER, EV, "rule", "CASE-7", RULING, "x").ok


@pytest.mark.parametrize(("sender", "args", "status", "error"), [
    ("alice", ("", ["alice", "bob"], "arbiter"), S.REVERTED, "case id must be a string of 1 to 64"),
    ("alice", ("C", ["alice"], "arbiter"), S.REVERTED, "a case has 2 to 16 parties"),
    ("alice", ("C", ["alice", "alice"], "arbiter"), S.REVERTED, "duplicate party"),
    ("alice", ("C", ["alice", "bob"], "dave"), S.REVERTED, "is not a registered arbitrator"),
    ("alice", ("C", ["alice", "arbiter"], "arbiter"), S.REVERTED, "the arbitrator cannot be a party"),
    ("mallory", ("C", ["alice", "bob"], "arbiter"), S.PERMISSION_DENIED, "only a party or the arbitrator"),
])
def test_open_case_refusals(evidence_chain: Chain, sender: str, args: tuple, status: S, error: str) -> None:
    who = {"alice": ALICE, "bob": BOB, "arbiter": ARBITER, "dave": DAVE, "mallory": MALLORY}
    case_id, parties, arbitrator = args
    receipt = evidence_chain.send(who[sender], EV, "open_case", case_id, [who[p].address for p in parties],
                                  who[arbitrator].address)
    assert receipt.status == status and error in receipt.error


def test_open_case_twice_and_by_arbitrator(evidence_chain: Chain) -> None:
    c = evidence_chain
    assert c.send(ARBITER, EV, "open_case", "C", [ALICE.address, BOB.address], ARBITER.address).ok
    dup = c.send(ALICE, EV, "open_case", "C", [ALICE.address, BOB.address], ARBITER.address)
    assert dup.status == S.REVERTED and dup.error == "case 'C' already exists"


def test_attach_refusals(evidence_chain: Chain) -> None:
    c = evidence_chain
    c.send(ALICE, EV, "notarize", H1, {}, [])
    _open(c)
    assert c.send(ALICE, EV, "attach", "NOPE", H1).error == "no case 'NOPE'"
    outsider = c.send(MALLORY, EV, "attach", "CASE-7", H1)
    assert outsider.status == S.PERMISSION_DENIED and "is not a party to case 'CASE-7'" in outsider.error
    arbiter = c.send(ARBITER, EV, "attach", "CASE-7", H1)
    assert arbiter.status == S.PERMISSION_DENIED
    unknown = c.send(ALICE, EV, "attach", "CASE-7", H2)
    assert unknown.status == S.REVERTED and "is not notarized" in unknown.error
    assert c.send(ALICE, EV, "attach", "CASE-7", H1).ok
    dup = c.send(BOB, EV, "attach", "CASE-7", H1)
    assert dup.status == S.REVERTED and dup.error == "evidence already attached to this case"


def test_only_the_case_arbitrator_rules(evidence_chain: Chain) -> None:
    c = evidence_chain
    _open(c)
    set_arbitrators(c, ARBITER.address, DAVE.address)
    for who in (ALICE, DAVE, ADMIN):
        receipt = c.send(who, EV, "rule", "CASE-7", RULING, "x")
        assert receipt.status == S.PERMISSION_DENIED and "only the case's arbitrator" in receipt.error
    bad_hash = c.send(ARBITER, EV, "rule", "CASE-7", b"short", "x")
    assert bad_hash.status == S.REVERTED and "ruling hash must be 32 bytes" in bad_hash.error
    long_summary = c.send(ARBITER, EV, "rule", "CASE-7", RULING, "s" * 2049)
    assert long_summary.status == S.REVERTED and "summary must be a string" in long_summary.error
    set_arbitrators(c, DAVE.address)
    removed = c.send(ARBITER, EV, "rule", "CASE-7", RULING, "x")
    assert removed.status == S.PERMISSION_DENIED and "no longer registered" in removed.error
    assert c.view(EV, "get_case", "CASE-7")["status"] == "OPEN"


def test_case_evidence_paging_refusals(evidence_chain: Chain) -> None:
    c = evidence_chain
    _open(c)
    assert c.view(EV, "case_evidence", "CASE-7") == ()
    for args, error in (((-1, 10), "start must be"), ((0, 0), "limit must be 1 to 100"), ((0, 101), "limit must be")):
        result = c.call(EV, "case_evidence", "CASE-7", *args)
        assert result.status == S.REVERTED and error in result.error
