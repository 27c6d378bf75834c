"""Which member organizations' sealers certified a block, as the offline verifier proves it.

A chain of four organizations (bank, customers, arbitration, notary; one sealer each, from the genesis file)
adds a fifth, "auditor", the way issue 9 requires (add_org, add_observer, the node's own join, add_sealer);
then Alice notarizes a file and all five seal it. The proof's sealer-set change carries gv/node_orgs proven in
the same certified state, so the verifier names the auditor's sealer too; without it the verifier says that
sealer's organization is not proven (never guesses); a rewritten organization list is refused.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from tests.evidence.evidence_chain import ADMIN, ALICE, OTHER_SEALERS, SEALERS, EvidenceChain, file_hash, make_genesis

from consortium.cli.evidence_cmd import verified_json
from consortium.cli.evidence_report import verified_sentences
from consortium.encoding import canonical
from consortium.encoding.hexbytes import to_hex
from consortium.evidence import NotVerified, load_bundle, verify_bundle
from consortium.evidence import errors as E
from consortium.execution.governance import GOVERNANCE_ADDRESS
from consortium.network.certs import cert_der, issue_org_ca
from consortium.node.genesis import Genesis, Organization

ORGS = ("bank", "customers", "arbitration", "notary")
DOC = b"loan agreement, signed 2026-11-30"
NEW = OTHER_SEALERS[0]


def organized_genesis() -> Genesis:
    base = make_genesis()
    cas = [Organization(name, cert_der(issue_org_ca(name, base.chain_id)[1])) for name in ORGS]
    sealers = tuple(dataclasses.replace(s, org=ORGS[i]) for i, s in enumerate(base.sealers))
    return dataclasses.replace(base, organizations=tuple(cas), sealers=sealers)


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    genesis = organized_genesis()
    chain = EvidenceChain(tmp_path_factory.mktemp("orgs") / "db", genesis)

    def send(key, method, args):
        tx = chain.tx(key, method, args, to=GOVERNANCE_ADDRESS)
        chain.produce([tx])
        receipt, _ = chain.ledger.receipt(tx.hash)
        assert receipt.ok, receipt.error
        return receipt

    send(ADMIN, "propose", ["add_org", ["auditor", cert_der(issue_org_ca("auditor", genesis.chain_id)[1])], 100])
    send(ADMIN, "propose", ["add_observer", [NEW.public_key, "auditor"], 100])
    send(NEW, "join", [chain.ledger.height])  # the node's own key: it runs and has synced
    receipt = send(ADMIN, "propose", ["add_sealer", [NEW.public_key], 100])
    assert [e.name for e in receipt.events][-1] == "Executed"
    chain.sealer_keys = (*SEALERS, NEW)
    chain.sealers = tuple(k.public_key for k in chain.sealer_keys)
    chain.notarize(ALICE, DOC, seal_with=(0, 1, 2, 3, 4))
    doc = chain.bundle(DOC).to_json()
    yield genesis, doc
    chain.close()


def verify(genesis, doc):
    return verify_bundle(genesis, load_bundle(json.dumps(doc).encode()), file_hash(DOC))


def test_genesis_sealers_and_the_added_sealer_are_named(grown) -> None:
    genesis, doc = grown
    assert len(doc["sealerChanges"]) == 1 and "organizations" in doc["sealerChanges"][0]
    result = verify(genesis, doc)
    named = dict(zip(result.sealed_by, result.sealed_orgs, strict=True))
    assert named == {**{k.public_key: ORGS[i] for i, k in enumerate(SEALERS)}, NEW.public_key: "auditor"}
    out = verified_json(result)
    assert out["organizations"] == [*ORGS, "auditor"]
    assert {c["node"]: c["organization"] for c in out["certifiedBy"]}[to_hex(NEW.public_key)] == "auditor"
    first = verified_sentences("DOC", out)[0]
    assert "by 5 of the 5 sealers, of organizations bank, customers, arbitration, notary and auditor (" in first


def test_without_the_organizations_the_added_sealer_is_not_guessed(grown) -> None:
    genesis, doc = grown
    change = {k: v for k, v in doc["sealerChanges"][0].items() if k != "organizations"}
    result = verify(genesis, {**doc, "sealerChanges": [change]})
    named = dict(zip(result.sealed_by, result.sealed_orgs, strict=True))
    assert named[NEW.public_key] is None and named[SEALERS[2].public_key] == "arbitration"
    first = verified_sentences("DOC", verified_json(result))[0]
    assert "of organizations bank, customers, arbitration and notary and 1 sealer whose organization is not " \
           "proven by this proof" in first
    assert f"{to_hex(NEW.public_key)[:10]}" in first and "organization not proven" in first


def test_a_rewritten_organization_list_is_refused(grown) -> None:
    genesis, doc = grown
    change = doc["sealerChanges"][0]
    lie = canonical.encode(sorted([[k.public_key, "bank"] for k in (*SEALERS, NEW)]))
    forged = {**change, "organizations": {**change["organizations"], "value": to_hex(lie)}}
    with pytest.raises(NotVerified) as info:
        verify(genesis, {**doc, "sealerChanges": [forged]})
    assert info.value.code == E.PROOF_ALTERED and "organizations' state proof" in info.value.message


def test_a_chain_without_organizations_names_node_ids_only(tmp_path) -> None:
    chain = EvidenceChain(tmp_path / "db")
    try:
        chain.notarize(ALICE, DOC)
        result = verify(chain.genesis, chain.bundle(DOC).to_json())
    finally:
        chain.close()
    out = verified_json(result)
    assert out["organizations"] is None and all(c["organization"] is None for c in out["certifiedBy"])
    first = verified_sentences("DOC", out)[0]
    assert "organization" not in first and to_hex(SEALERS[0].public_key)[:10] in first


def test_case_verify_names_the_organizations_that_sealed_the_opening_and_the_ruling(tmp_path, capsys) -> None:
    from tests.evidence.case_chain import CASE_ID, run_case

    from consortium.cli.case_proof_cmd import case_json, print_case
    from consortium.evidence.case_build import fetch_case_bundle
    from consortium.evidence.case_verify import verify_case

    c = run_case(tmp_path / "db", base=organized_genesis())
    try:
        bundle = fetch_case_bundle(c.chain.request, CASE_ID)
    finally:
        c.chain.close()
    result = verify_case(c.genesis, bundle)
    doc = case_json(result)
    for part in (doc["opened"], doc["ruling"]):
        assert part["organizations"] == list(ORGS)
        assert [e["organization"] for e in part["certifiedBy"]] == list(ORGS)
    assert doc["attachments"][0]["evidence"]["organizations"] == list(ORGS)
    print_case(result)
    out = capsys.readouterr().out
    assert "the block is sealed by 4 of its 4 sealers, of organizations bank, customers, arbitration and notary" in out
    assert "sealed by 4 sealers, of organizations bank, customers, arbitration and notary" in out.split("Ruling:")[1]
    assert "], sealed by 4 sealers, of organizations bank, customers, arbitration and notary (" in \
        out.split("Evidence 1:")[1]


def test_gov_show_state_prints_the_organizations_in_words(tmp_path, cli) -> None:
    """``consortium gov show state`` against a real RPC server: members with their CA fingerprints, each node
    with its organization and role, joins; --json keeps the typed gv/ values."""
    import hashlib

    from tests.evidence.rpc_node import InstantNode

    genesis = organized_genesis()
    node = InstantNode(tmp_path / "db", genesis)
    try:
        node.produce([node.tx(ADMIN, "propose", ["add_observer", [NEW.public_key, "notary"], 100],
                              to=GOVERNANCE_ADDRESS)])
        node.produce([node.tx(NEW, "join", [node.ledger.height], to=GOVERNANCE_ADDRESS)])
        with node.serve() as url:
            code, out, err = cli("gov", "show", "state", "--rpc", url)
            assert code == 0, err
            code, raw, err = cli("gov", "show", "state", "--rpc", url, "--json")
            assert code == 0, err
    finally:
        node.close()
    lines = out.splitlines()
    bank_ca = hashlib.sha256(genesis.organizations[0].ca_cert).hexdigest()[:16]
    assert any(line.startswith("organizations") and f"bank (CA certificate SHA-256 {bank_ca}…)" in line
               for line in lines)
    assert sum(1 for line in lines if "(CA certificate SHA-256" in line) == 4
    assert any(line.startswith("nodes") for line in lines)
    assert f"{to_hex(SEALERS[0].public_key)} of bank (sealer)" in out
    assert f"{to_hex(NEW.public_key)} of notary (observer)" in out
    assert any(line.startswith("joined") and f"{to_hex(NEW.public_key)} at block 2" in line for line in lines)
    assert "$bytes" not in out
    doc = json.loads(raw)
    assert [o[0] for o in doc["orgs"]] == list(ORGS) and len(doc["node_orgs"]) == 5 and len(doc["joins"]) == 1
