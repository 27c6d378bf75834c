"""The whole case, provable offline: built from a real chain, verified from genesis alone, and refused
with a reason for each way a lying quorum or an edited file could make it say something else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.evidence.case_chain import CASE_ID, CHAT, MEMBER, PHOTO, RULING, CaseChain, run_case
from tests.evidence.evidence_chain import ADMIN, ALICE, ARBITER, BOB, MALLORY, file_hash
from tests.evidence.tamper import tx_edit
from tests.evidence.test_evidence_fuzz import paths

from consortium.evidence import MalformedBundle, NotVerified, UnsupportedBundle
from consortium.evidence import errors as E
from consortium.evidence.case_build import fetch_case_bundle
from consortium.evidence.case_bundle import load_case_bundle
from consortium.evidence.case_verify import VerifiedCase, verify_case

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    c = run_case(tmp_path_factory.mktemp("case") / "db")
    yield c
    c.chain.close()


@pytest.fixture(scope="module")
def doc(case: CaseChain) -> Doc:
    return fetch_case_bundle(case.chain.request, CASE_ID, [case.chat, case.photo]).to_json()


def verify_doc(case: CaseChain, doc: Doc, files=()) -> VerifiedCase:
    return verify_case(case.genesis, load_case_bundle(json.dumps(doc).encode()), files)


def refusal(case: CaseChain, doc: Doc, files=()) -> NotVerified:
    with pytest.raises(NotVerified) as info:
        verify_doc(case, doc, files)
    return info.value


def test_the_whole_case_verifies_from_genesis(case: CaseChain, doc: Doc) -> None:
    result = verify_doc(case, doc, [("chat.txt", file_hash(CHAT)), ("photo.png", file_hash(PHOTO))])
    assert result.case_id == CASE_ID and result.status == "CLOSED"
    assert result.parties == (ALICE.address, BOB.address) and result.arbitrator == ARBITER.address
    assert result.opened_by == ALICE.address
    assert [(a.by, a.key) for a in result.attachments] == [(ALICE.address, case.chat.key), (BOB.address, case.photo.key)]
    chat, photo = result.attachments
    assert chat.file == "chat.txt" and chat.evidence.mode == "salted" and chat.evidence.status == "COMPLETE"
    assert [c.signer for c in chat.evidence.cosignatures] == [BOB.address]
    assert photo.file == "photo.png" and photo.evidence.mode == "public"
    assert result.ruling is not None and result.ruling.hash == file_hash(RULING)
    assert result.ruling.summary == "Bob refunds 6 chairs" and result.ruling.block > chat.block
    reg = result.registration
    assert reg.proposal == 1 and reg.threshold == 2 and reg.committee_from == "genesis; the certified state after block 2 agrees"
    assert dict(reg.approvals) == {ADMIN.address: 1, MEMBER.address: 1}
    assert reg.registered_at == (result.opened_block, result.ruling.block)


def test_an_unopened_attachment_is_proven_as_a_record(case: CaseChain) -> None:
    """Without the chat's salt the prover can still prove the case; the chat is then a record, not a file."""
    doc = fetch_case_bundle(case.chain.request, CASE_ID).to_json()
    result = verify_doc(case, doc, [("photo.png", file_hash(PHOTO))])
    assert result.attachments[0].evidence.mode == "unopened" and result.attachments[0].evidence.evidence_hash is None
    assert result.attachments[0].evidence.submitter == ALICE.address
    refused = refusal(case, doc, [("chat.txt", file_hash(CHAT))])
    assert refused.code == E.FILE_CHANGED and "chat.txt" in refused.message


def test_genesis_committee_path(tmp_path: Path) -> None:
    """Threshold 1, registration in block 2 (after block 1's state): still from certified governance state."""
    c = run_case(tmp_path / "db", threshold=1, rule=False)
    try:
        result = verify_case(c.genesis, fetch_case_bundle(c.chain.request, CASE_ID, [c.chat]))
        assert result.status == "OPEN" and result.ruling is None
        assert dict(result.registration.approvals) == {ADMIN.address: 1} and result.registration.threshold == 1
    finally:
        c.chain.close()


def test_a_quorum_that_rewrites_the_ruling_is_refused(tmp_path: Path) -> None:
    """The sealers certify a ruling summary the arbitrator never signed."""
    from tests.evidence.lying_quorum import LyingExecutor

    from consortium.encoding import canonical
    from consortium.execution import EVIDENCE_ADDRESS, Executor
    from consortium.execution.keys import storage_prefix

    key = storage_prefix(EVIDENCE_ADDRESS) + canonical.encode(["case", CASE_ID])

    def rewrite(ctx, txs, receipts, writes) -> None:
        if writes.get(key) is not None:
            case = canonical.decode(writes[key])
            if case["ruling"] is not None:
                case["ruling"]["summary"] = "Alice pays Bob"
                writes[key] = canonical.encode(case)

    lying = LyingExecutor(Executor())
    c = run_case(tmp_path / "db", executor=lying, before_rule=lambda chain: setattr(lying, "lie", rewrite))
    try:
        bundle = fetch_case_bundle(c.chain.request, CASE_ID, [c.chat])
        with pytest.raises(NotVerified) as info:
            verify_case(c.genesis, bundle)
        assert info.value.code == E.CONTRADICTS_SIGNED and "in: ruling" in info.value.message
    finally:
        c.chain.close()


def test_a_file_not_in_the_case_is_named(case: CaseChain, doc: Doc) -> None:
    refused = refusal(case, doc, [("forged.txt", file_hash(CHAT + b" and 2 more"))])
    assert refused.code == E.FILE_CHANGED and "forged.txt" in refused.message


def _edit(doc: Doc, path: tuple, fn) -> Doc:
    d = copy.deepcopy(doc)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = fn(node[path[-1]])
    return d


def test_a_ruling_by_someone_else_is_refused(case: CaseChain, doc: Doc) -> None:
    d = _edit(doc, ("ruling", "transaction"), tx_edit(lambda t: t.signed_by(MALLORY)))
    refused = refusal(case, d)
    assert refused.code == E.INVALID_CALL and "not by the case's arbitrator" in refused.message


def header_fields(d: Doc) -> list[tuple[dict, str]]:
    """Every ``"header": i`` of the case proof itself (not inside its evidence bundles)."""
    found: list[tuple[dict, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "header" and isinstance(v, int):
                    found.append((node, k))
                elif k != "evidence":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(d)
    return found


def drop_header(doc: Doc, index: int) -> Doc:
    """Remove ``headers[index]`` and renumber the case proof's own header indexes."""
    d = copy.deepcopy(doc)
    del d["headers"][index]
    for node, k in header_fields(d):
        if node[k] > index:
            node[k] -= 1
    return d


def test_a_dropped_attachment_is_refused(case: CaseChain, doc: Doc) -> None:
    d = copy.deepcopy(doc)
    dropped = d["attachments"][1]["header"]
    del d["attachments"][1], d["evidence"][1]
    d = drop_header(d, dropped)
    refused = refusal(case, d)
    assert refused.code == E.CONTRADICTS_SIGNED and "evidence_count" in refused.message


def test_attachments_out_of_order_are_refused(case: CaseChain, doc: Doc) -> None:
    d = copy.deepcopy(doc)
    d["attachments"].reverse()
    d["evidence"].reverse()
    refused = refusal(case, d)
    assert refused.code in (E.PROOF_ALTERED, E.INVALID_CALL)


def test_a_missing_committee_vote_leaves_the_registration_unproven(case: CaseChain, doc: Doc) -> None:
    d = copy.deepcopy(doc)
    dropped = d["registration"]["transactions"].pop()["header"]
    if all(dropped != node[k] for node, k in header_fields(d)):
        d = drop_header(d, dropped)
    refused = refusal(case, d)
    assert refused.code == E.INVALID_CALL and "below the committee threshold 2" in refused.message


def test_an_evidence_bundle_for_another_key_is_refused(case: CaseChain, doc: Doc) -> None:
    d = copy.deepcopy(doc)
    d["evidence"][0], d["evidence"][1] = d["evidence"][1], d["evidence"][0]
    refused = refusal(case, d)
    assert refused.code == E.PROOF_ALTERED and "evidence bundle 0 is about" in refused.message


def test_round_trip_and_malformed_files(case: CaseChain, doc: Doc) -> None:
    text = json.dumps(doc)
    assert load_case_bundle(text.encode()).to_json() == doc
    for data, words in ((b"", "not valid JSON"), (b"[]", "not a consortium case proof"),
                        (json.dumps({**doc, "version": 3}).encode(), "upgrade"),
                        (json.dumps({**doc, "extra": 1}).encode(), "unknown fields"),
                        (text[: len(text) // 2].encode(), "not valid JSON")):
        with pytest.raises((MalformedBundle, UnsupportedBundle), match=words):
            load_case_bundle(data)


json_leaves = st.none() | st.booleans() | st.integers(-5, 2**64) | st.text(max_size=8) | \
    st.binary(max_size=40).map(lambda b: "0x" + b.hex())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_case_proofs_are_refused_with_a_type(case: CaseChain, doc: Doc, data) -> None:
    all_paths = [p for p in paths(doc) if p]
    path = data.draw(st.sampled_from(all_paths))
    value = data.draw(json_leaves | st.lists(json_leaves, max_size=3))
    edited = _edit(doc, path, lambda _: value)
    try:
        bundle = load_case_bundle(json.dumps(edited).encode())
    except (MalformedBundle, UnsupportedBundle):
        return
    try:
        verify_case(case.genesis, bundle)
    except NotVerified:
        return
