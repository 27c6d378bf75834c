"""The committee that registered a case's arbitrator, followed from the genesis file by signatures.

A case proof carries every committee change (add_member, remove_member, set_threshold) executed before the
registration, each with the signed proposal and approving votes that passed it; the verifier applies them
with the contract's own rules from the genesis committee, and the sealers' certified gv/committee and
gv/threshold must agree. A lying quorum that writes itself onto the committee, or a courier that drops a
change, is refused.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tests.evidence.case_chain import CASE_ID, MEMBER, CaseChain, gov, run_case
from tests.evidence.evidence_chain import ADMIN, MALLORY
from tests.evidence.test_case_proof import drop_header, header_fields

from consortium.crypto import KeyPair
from consortium.encoding import canonical
from consortium.evidence import NotVerified
from consortium.evidence import errors as E
from consortium.evidence.case_build import fetch_case_bundle
from consortium.evidence.case_bundle import load_case_bundle
from consortium.evidence.case_verify import VerifiedCase, verify_case
from consortium.execution.governance import KEY_COMMITTEE

NEW_MEMBER = KeyPair(b"\x59" * 32)
Doc = dict[str, Any]


def grow_committee(chain) -> None:
    """Genesis committee {ADMIN, MEMBER}, threshold 1: add NEW_MEMBER (#1), then raise the threshold to 2 (#2)."""
    gov(chain, ADMIN, "propose", ["add_member", [NEW_MEMBER.address, 1], 1000])
    gov(chain, MEMBER, "propose", ["set_threshold", [2], 1000])


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    c = run_case(tmp_path_factory.mktemp("committee") / "db", threshold=1, before_register=grow_committee,
                 proposer=NEW_MEMBER, voters=(MEMBER,))
    doc = fetch_case_bundle(c.chain.request, CASE_ID, [c.chat]).to_json()
    yield c, doc
    c.chain.close()


def verify_doc(c: CaseChain, doc: Doc) -> VerifiedCase:
    return verify_case(c.genesis, load_case_bundle(json.dumps(doc).encode()))


def refusal(c: CaseChain, doc: Doc) -> NotVerified:
    with pytest.raises(NotVerified) as info:
        verify_doc(c, pruned(doc))
    return info.value


def pruned(doc: Doc) -> Doc:
    """Drop the headers nothing uses any more (an edited proof that still parses)."""
    used = {node[k] for node, k in header_fields(doc)}
    for index in sorted(set(range(len(doc["headers"]))) - used, reverse=True):
        doc = drop_header(doc, index)
    return doc


def test_the_committee_is_followed_through_its_signed_changes(changed) -> None:
    c, doc = changed
    assert doc["version"] == 2 and [ch["id"] for ch in doc["committeeChanges"]] == [1, 2]
    reg = verify_doc(c, doc).registration
    assert reg.proposal == 3 and reg.threshold == 2
    assert dict(reg.approvals) == {NEW_MEMBER.address: 1, MEMBER.address: 1}  # NEW_MEMBER: by change #1
    assert reg.committee_from.startswith("genesis and the signed committee changes #1, #2; the certified state")


def test_a_courier_that_drops_a_committee_change_is_refused(changed) -> None:
    """Without #2 the threshold would be genesis's 1; the certified state (threshold 2) disagrees."""
    c, doc = changed
    refused = refusal(c, {**doc, "committeeChanges": doc["committeeChanges"][:1]})
    assert refused.code == E.CONTRADICTS_SIGNED and "differs from the one the genesis file" in refused.message
    # without #1, NEW_MEMBER's approval counts for nothing (not a member) and #2 is still there: refused too
    refused = refusal(c, {**doc, "committeeChanges": doc["committeeChanges"][1:]})
    assert refused.code == E.CONTRADICTS_SIGNED


def test_a_change_without_its_signed_proposal_is_refused(changed) -> None:
    c, doc = changed
    d = copy.deepcopy(doc)
    first = d["committeeChanges"][0]
    assert len(first["transactions"]) == 1  # threshold 1: the proposal alone passed it
    first["transactions"] = []
    refused = refusal(c, d)
    assert refused.code == E.INVALID_CALL and "lacks its signed proposal" in refused.message


def test_a_version_1_case_proof_cannot_take_the_committee_from_certified_state(changed) -> None:
    c, doc = changed
    v1 = {k: v for k, v in doc.items() if k != "committeeChanges"} | {"version": 1}
    refused = refusal(c, v1)
    assert refused.code == E.MALFORMED_PROOF and "version-1 case proof" in refused.message


def test_a_version_1_case_proof_with_the_genesis_committee_still_verifies(tmp_path: Path) -> None:
    c = run_case(tmp_path / "db", threshold=1, first_empty=False)  # registered in block 1: the genesis committee
    try:
        doc = fetch_case_bundle(c.chain.request, CASE_ID, [c.chat]).to_json()
    finally:
        c.chain.close()
    v1 = {k: v for k, v in doc.items() if k != "committeeChanges"} | {"version": 1}
    assert doc["registration"]["committee"] is None and doc["committeeChanges"] == []
    assert verify_doc(c, v1).registration.committee_from == "genesis"


def _lying_chain(path: Path, *, then_change: bool):
    """A quorum writes MALLORY onto the committee (weight 2) without any signed proposal; MALLORY alone then
    registers the arbitrator (and, with ``then_change``, first lowers the threshold with a proposal of its own)."""
    from tests.evidence.lying_quorum import LyingExecutor

    from consortium.execution import Executor

    lying = LyingExecutor(Executor())

    def lie(ctx, txs, receipts, writes) -> None:
        writes[KEY_COMMITTEE] = canonical.encode(sorted([[ADMIN.address, 1], [MEMBER.address, 1],
                                                         [MALLORY.address, 2]]))

    def before(chain) -> None:
        lying.lie = lie
        chain.produce([])
        lying.lie = None
        if then_change:
            gov(chain, MALLORY, "propose", ["set_threshold", [1], 1000])

    return run_case(path, threshold=2, executor=lying, before_register=before, proposer=MALLORY, voters=())


def _lying_refusal(path: Path, *, then_change: bool, changes: list[int]) -> NotVerified:
    c = _lying_chain(path, then_change=then_change)
    try:
        bundle = fetch_case_bundle(c.chain.request, CASE_ID, [c.chat])
    finally:
        c.chain.close()
    assert [ch.id for ch in bundle.committee_changes] == changes
    with pytest.raises(NotVerified) as info:
        verify_case(c.genesis, bundle)
    return info.value


def test_a_quorum_that_writes_itself_onto_the_committee_is_refused(tmp_path: Path) -> None:
    refused = _lying_refusal(tmp_path / "db", then_change=False, changes=[])
    assert refused.code == E.CONTRADICTS_SIGNED and "misstate the committee" in refused.message


def test_a_committee_change_signed_by_an_invented_member_is_refused(tmp_path: Path) -> None:
    refused = _lying_refusal(tmp_path / "db", then_change=True, changes=[1])
    assert refused.code == E.INVALID_CALL
    assert "committee change #1 (set_threshold): the signed approvals weigh 0, below the threshold 2" in \
        refused.message


def test_a_forged_vote_on_a_committee_change_is_refused(tmp_path: Path) -> None:
    """The sealers include a vote 'from' MEMBER that MEMBER never signed: it passes add_member(MALLORY, 5), and
    MALLORY alone registers the arbitrator. Certified, consistent state — refused on the vote's signature."""
    import dataclasses

    from consortium.execution.governance import GOVERNANCE_ADDRESS

    def before(chain) -> None:
        pid = gov(chain, ADMIN, "propose", ["add_member", [MALLORY.address, 5], 1000])
        honest = chain.tx(MEMBER, "vote", [pid, True], to=GOVERNANCE_ADDRESS)
        chain.produce([dataclasses.replace(honest, signature=MALLORY.sign(honest.hash))], check_signatures=False)

    c = run_case(tmp_path / "db", threshold=2, before_register=before, proposer=MALLORY, voters=())
    try:
        bundle = fetch_case_bundle(c.chain.request, CASE_ID, [c.chat])
    finally:
        c.chain.close()
    assert [(ch.id, len(ch.transactions)) for ch in bundle.committee_changes] == [(1, 2)]
    with pytest.raises(NotVerified) as info:
        verify_case(c.genesis, bundle)
    assert info.value.code == E.INVALID_SIGNATURE and "committee change #1: vote 1" in info.value.message
