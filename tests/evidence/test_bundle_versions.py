"""Bundles made before salted commitments (format version 1) still verify; version 2 carries the opening.

fixtures/v1-* were written by the code of main at 8419dc7 (the proof builder of that day, a real
LevelDB ledger, the evidence contract of that day): a loan agreement notarized by Alice in public-hash
mode with Bob as co-signer, co-signed two blocks later.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evidence.evidence_chain import ALICE, BOB, EvidenceChain, file_hash

from consortium.evidence import MalformedBundle, NotVerified, load_bundle, verify_bundle
from consortium.evidence import errors as E
from consortium.evidence.commitment import commit, new_salt
from consortium.evidence.record import record_key
from consortium.node.genesis import load_genesis

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1_DOC = (FIXTURES / "v1-loan.txt").read_bytes()
V1_PROOF = (FIXTURES / "v1-loan.txt.proof.json").read_bytes()


def test_a_version_1_bundle_still_verifies() -> None:
    genesis = load_genesis(FIXTURES / "v1-genesis.toml")
    bundle = load_bundle(V1_PROOF)
    assert bundle.version == 1 and bundle.opening.is_public
    result = verify_bundle(genesis, bundle, file_hash(V1_DOC))
    assert result.mode == "public" and result.key == file_hash(V1_DOC) and result.bundle_version == 1
    assert result.submitter == ALICE.address and [c.signer for c in result.cosignatures] == [BOB.address]
    assert result.status == "COMPLETE" and result.metadata["case_id"] == "CASE-2023-117"


def test_a_version_1_bundle_is_written_back_unchanged() -> None:
    bundle = load_bundle(V1_PROOF)
    assert json.loads(bundle.dumps()) == json.loads(V1_PROOF)


def test_a_version_1_bundle_still_catches_a_changed_file() -> None:
    genesis = load_genesis(FIXTURES / "v1-genesis.toml")
    with pytest.raises(NotVerified) as info:
        verify_bundle(genesis, load_bundle(V1_PROOF), file_hash(V1_DOC.replace(b"5,000", b"9,000")))
    assert info.value.code == E.FILE_CHANGED


@pytest.mark.parametrize("version, member", [(1, "evidence"), (2, "evidenceHash")])
def test_each_version_has_its_own_evidence_member(version: int, member: str) -> None:
    doc = json.loads(V1_PROOF)
    doc["version"] = version
    if version == 2:
        doc["evidence"] = {"fileHash": doc["evidenceHash"], "salt": None}
    doc[member] = doc.get("evidenceHash")
    with pytest.raises(MalformedBundle, match="unknown fields"):
        load_bundle(json.dumps(doc).encode())


def test_a_salted_notarization_verifies_and_the_chain_holds_only_the_commitment(tmp_path: Path) -> None:
    chain = EvidenceChain(tmp_path / "db")
    try:
        doc = b"ID card number 110101199003074518\n"  # low entropy: must not be guessable from the chain
        salt = new_salt()
        key = commit(file_hash(doc), salt)
        chain.transact(ALICE, "notarize", [key, {}, [BOB.address]])
        chain.transact(BOB, "sign", [key])
        bundle = chain.bundle(doc, salt=salt)
        text = bundle.dumps()
        assert bundle.version == 2 and json.loads(text)["evidence"]["salt"] == "0x" + salt.hex()
        result = verify_bundle(chain.genesis, load_bundle(text.encode()), file_hash(doc))
        assert result.mode == "salted" and result.key == key and result.status == "COMPLETE"
        # the file hash appears nowhere in what the chain stores or the transactions carry
        state = chain.ledger.state_reader()
        assert state.get(record_key(file_hash(doc))) is None and state.get(record_key(key)) is not None
        assert file_hash(doc) not in state.get(record_key(key))
        block = chain.ledger.blocks.block(1)
        assert all(file_hash(doc) not in tx.encode() for tx in block.transactions)
        # a wrong salt opens nothing
        wrong = json.loads(text)
        wrong["evidence"]["salt"] = "0x" + new_salt().hex()
        with pytest.raises(NotVerified) as info:
            verify_bundle(chain.genesis, load_bundle(json.dumps(wrong).encode()), file_hash(doc))
        assert info.value.code == E.NOT_A_NOTARIZATION
    finally:
        chain.close()
