"""The offline verifier on bundles built from a real ledger: VERIFIED when honest, and each way of
tampering gives NOT VERIFIED with its own reason."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from tests.evidence.conftest import DOC, SOLO, Notarized
from tests.evidence.evidence_chain import (
    ALICE,
    BOB,
    MALLORY,
    OTHER_SEALERS,
    SEALERS,
    EvidenceChain,
    file_hash,
    make_genesis,
)
from tests.evidence.tamper import (
    at,
    corrupt_seal,
    drop_cosignature,
    flip_last_byte,
    header_edit,
    inject_sealer_change,
    list_proof_edit,
    receipt_edit,
    record_edit,
    reseal,
    state_proof_edit,
    tx_edit,
)

from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.evidence import (
    MalformedBundle,
    NotVerified,
    UnsupportedBundle,
    VerifiedEvidence,
    load_bundle,
    verify_bundle,
)
from consortium.evidence import errors as E
from consortium.execution import EVIDENCE_ADDRESS
from consortium.ledger.transaction import Transaction

GENESIS = make_genesis()
Doc = dict[str, Any]


def verify_doc(doc: Doc, data: bytes = DOC, genesis=GENESIS) -> VerifiedEvidence:
    """Exactly what the CLI does with a proof file: bytes -> parse -> verify."""
    return verify_bundle(genesis, load_bundle(json.dumps(doc).encode()), file_hash(data))


def refusal(doc: Doc, data: bytes = DOC, genesis=GENESIS) -> NotVerified:
    with pytest.raises(NotVerified) as info:
        verify_doc(doc, data, genesis)
    return info.value


# --- honest bundles ------------------------------------------------------------------------------


def test_cosigned_bundle_verifies_with_submitter_time_and_cosigner(notarized: Notarized) -> None:
    result = verify_doc(notarized.full.to_json())
    header = notarized.chain.ledger.blocks.header(1)
    assert result.evidence_hash == file_hash(DOC)
    assert result.block_number == 1 and result.block_hash == header.hash
    assert result.timestamp_ms == header.timestamp and result.time_iso == "2023-11-14T22:13:21.000Z"
    assert result.submitter == ALICE.address
    assert [c.signer for c in result.cosignatures] == [BOB.address] and result.cosignatures[0].block == 2
    assert result.pending == () and result.status == "COMPLETE"
    assert result.state_block == notarized.chain.ledger.height
    assert result.metadata == {"file_name": "contract.pdf", "size": len(DOC)}
    assert (result.sealers, result.quorum) == (4, 3)
    assert len(notarized.full.headers) == 3  # notarization block, co-signature block, state block


def test_bundle_at_notarization_block_shows_the_cosigner_pending(notarized: Notarized) -> None:
    result = verify_doc(notarized.pending.to_json())
    assert len(notarized.pending.headers) == 1
    assert result.status == "PENDING" and result.pending == (BOB.address,) and result.cosignatures == ()
    assert result.state_block == result.block_number == 1


def test_bundle_sealed_by_exactly_a_quorum_verifies(notarized: Notarized) -> None:
    result = verify_doc(notarized.solo.to_json(), SOLO)
    assert result.submitter == ALICE.address and result.status == "COMPLETE"


def test_bundle_survives_its_own_file_format(notarized: Notarized) -> None:
    assert load_bundle(notarized.full.dumps().encode()) == notarized.full


# --- tampering -----------------------------------------------------------------------------------


N = ("notarization",)
TAMPERING = {
    # name: (which bundle, path, edit, expected code, words the reason must contain)
    "tx metadata edited": ("full", N + ("transaction",),
                           tx_edit(lambda t: dataclasses.replace(t, args=(t.args[0], {"file_name": "x"}, t.args[2]))),
                           E.PROOF_ALTERED, "receipt is for transaction"),
    "tx readdressed": ("full", N + ("transaction",), tx_edit(lambda t: dataclasses.replace(t, to=b"\x07" * 20)),
                       E.NOT_A_NOTARIZATION, "not to the evidence contract"),
    "tx method changed": ("full", N + ("transaction",), tx_edit(lambda t: dataclasses.replace(t, method="sign")),
                          E.NOT_A_NOTARIZATION, "not notarize"),
    "receipt edited": ("full", N + ("receipt",), receipt_edit(lambda r: dataclasses.replace(r, gas_used=r.gas_used + 1)),
                       E.PROOF_ALTERED, "receipt is not proven in block 1"),
    "receipt of a failed call": ("full", N + ("receipt",),
                                 receipt_edit(lambda r: dataclasses.replace(r, status=1, error="reverted")),
                                 E.TRANSACTION_FAILED, "failed on chain"),
    "tx proof altered": ("full", N + ("transactionProof",), list_proof_edit,
                         E.PROOF_ALTERED, "transaction is not proven in block 1"),
    "tx proof moved": ("full", N + ("transactionProof",),
                       lambda t: to_hex(canonical.encode([1] + canonical.decode(from_hex(t))[1:])),
                       E.PROOF_ALTERED, "transaction is not proven"),
    "receipt proof altered": ("full", N + ("receiptProof",), list_proof_edit,
                              E.PROOF_ALTERED, "receipt is not proven"),
    "state proof altered": ("full", ("record", "proof"), state_proof_edit,
                            E.PROOF_ALTERED, "state proof of the evidence record"),
    "record edited (co-signature removed)": ("full", ("record", "value"), record_edit(lambda v: v["signatures"].clear()),
                                             E.PROOF_ALTERED, "state proof of the evidence record"),
    "record edited (submitter)": ("pending", ("record", "value"),
                                  record_edit(lambda v: v.__setitem__("submitter", MALLORY.address)),
                                  E.PROOF_ALTERED, "state proof of the evidence record"),
    "record proven in another block": ("pending", ("record", "value"), lambda t: flip_last_byte(t),
                                       E.PROOF_ALTERED, "evidence record"),
    "header edited (view)": ("full", ("headers", 0), header_edit(lambda h: dataclasses.replace(h, view=h.view + 1)),
                             E.TOO_FEW_SIGNATURES, "0 of its 4 sealers' commit seals verify"),
    "header edited (time)": ("pending", ("headers", 0),
                             header_edit(lambda h: dataclasses.replace(h, timestamp=h.timestamp - 3_600_000)),
                             E.CONTRADICTS_SIGNED, "differs from what the parties signed, in: timestamp"),
    "header edited (state root)": ("full", ("headers", 2),
                                   header_edit(lambda h: dataclasses.replace(h, state_root=b"\x01" * 32)),
                                   E.PROOF_ALTERED, "state proof"),
    "seals dropped below quorum": ("full", ("headers", 0),
                                   header_edit(lambda h: dataclasses.replace(h, signatures=h.signatures[:2])),
                                   E.TOO_FEW_SIGNATURES, "2 commit seals; 3 of 4 sealers are needed"),
    "one of a bare quorum's seals corrupted": ("solo", ("headers", 0), header_edit(lambda h: corrupt_seal(h, 1)),
                                               E.TOO_FEW_SIGNATURES, "2 of its 4 sealers' commit seals verify"),
    "one seal corrupted, a quorum still valid": ("full", ("headers", 0), header_edit(lambda h: corrupt_seal(h, 3)),
                                                 E.INVALID_SIGNATURE, "invalid commit seal"),
    "seals by non-sealers": ("full", ("headers", 1),
                             header_edit(lambda h: reseal(h, dict(enumerate(OTHER_SEALERS)))),
                             E.TOO_FEW_SIGNATURES, "0 of its 4"),
    "seal from outside the sealer set": ("full", ("headers", 1),
                                         header_edit(lambda h: reseal(h, {0: SEALERS[0], 1: SEALERS[1], 7: MALLORY})),
                                         E.TOO_FEW_SIGNATURES, "sealer index 7"),
    "sealer list edited": ("full", ("headers", 0),
                           header_edit(lambda h: dataclasses.replace(h, sealers=(*h.sealers[:3], MALLORY.public_key))),
                           E.SEALER_SET, "other than the 4 in force per the genesis file"),
    "co-signature dropped": ("full", (), drop_cosignature,
                             E.PROOF_ALTERED, "holds 1 co-signature(s) but the proof carries 0"),
    "co-signature by someone else": ("full", ("cosignatures", 0, "transaction"),
                                     tx_edit(lambda t: t.signed_by(MALLORY)),
                                     E.INVALID_CALL, "whom the submitter did not list as a signer"),
    "genesis hash edited": ("full", ("genesisHash",), lambda t: "0x" + "ab" * 32, E.ANOTHER_CHAIN, "genesis"),
    "chain id edited": ("full", ("chainId",), lambda t: "chain9", E.ANOTHER_CHAIN, "'chain9'"),
    "sealer change fabricated": ("full", (), inject_sealer_change, E.PROOF_ALTERED,
                                 "sealer-set change at block 1: the state proof does not lead"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_refused_with_its_reason(notarized: Notarized, name: str) -> None:
    which, path, edit, code, words = TAMPERING[name]
    doc = {"full": notarized.full, "pending": notarized.pending, "solo": notarized.solo}[which].to_json()
    tampered = at(doc, path, edit)
    assert tampered != doc
    refused = refusal(tampered, SOLO if which == "solo" else DOC)
    assert refused.code == code, refused.message
    assert words in refused.message


def test_a_changed_file_is_caught(notarized: Notarized) -> None:
    changed = bytearray(DOC)
    changed[100] ^= 0x20  # one byte
    refused = refusal(notarized.full.to_json(), bytes(changed))
    assert refused.code == E.FILE_CHANGED
    assert to_hex(file_hash(bytes(changed))) in refused.message and "changed" in refused.message


def test_another_file_with_its_hash_swapped_in_is_not_a_notarization(notarized: Notarized) -> None:
    other = b"a forged contract"
    doc = at(notarized.full.to_json(), ("evidence", "fileHash"), lambda _: to_hex(file_hash(other)))
    assert refusal(doc, other).code == E.NOT_A_NOTARIZATION


def test_failed_notarization_is_not_evidence(notarized: Notarized) -> None:
    """A bundle built around the reverted second notarize of DOC."""
    chain = notarized.chain
    failed = notarized.failed_tx.hash
    tp = chain.request("getTransactionProof", to_hex(failed))
    rp = chain.request("getReceiptProof", to_hex(failed))
    doc = notarized.full.to_json()
    assert tp["blockNumber"] == chain.ledger.height  # the failed call is in the state block, headers[2]
    doc["headers"] = doc["headers"][1:]  # [co-signature block, state block]; block 1 is no longer used
    doc["notarization"] = {"header": 1, "transaction": tp["transaction"], "transactionProof": tp["proof"],
                           "receipt": rp["receipt"], "receiptProof": rp["proof"]}
    doc["cosignatures"][0]["header"] = 0
    doc["record"]["header"] = 1
    refused = refusal(doc)
    assert refused.code == E.TRANSACTION_FAILED and "already notarized" in refused.message


@pytest.mark.parametrize("genesis, words", [
    (make_genesis(chain_id="chain1"), "'chain1'"),
    (make_genesis(OTHER_SEALERS), "with genesis"),
    (dataclasses.replace(GENESIS, timestamp_ms=GENESIS.timestamp_ms + 1), "with genesis"),
])
def test_proof_checked_against_another_chains_genesis(notarized: Notarized, genesis, words: str) -> None:
    refused = refusal(notarized.full.to_json(), genesis=genesis)
    assert refused.code == E.ANOTHER_CHAIN and words in refused.message


def test_a_chain_sealed_by_other_nodes_under_the_same_ids_is_refused(tmp_path) -> None:
    """Someone runs their own chain with the same chain and group ids and claims our genesis."""
    fake = EvidenceChain(tmp_path / "fake", make_genesis(OTHER_SEALERS), OTHER_SEALERS)
    try:
        fake.notarize(ALICE, DOC)
        doc = fake.bundle(DOC).to_json()
    finally:
        fake.close()
    assert verify_doc(doc, genesis=make_genesis(OTHER_SEALERS)).submitter == ALICE.address  # valid on its own chain
    doc["genesisHash"] = to_hex(GENESIS.hash())
    refused = refusal(doc)
    assert refused.code == E.SEALER_SET and "in force per the genesis file" in refused.message


def test_a_quorum_of_sealers_cannot_forge_a_submitter(tmp_path) -> None:
    """Sealers that include a transaction 'from' Alice that she never signed: certified, yet refused."""
    chain = EvidenceChain(tmp_path / "db")
    try:
        honest = chain.tx(ALICE, "notarize", [file_hash(DOC), {}, []])
        forged = dataclasses.replace(honest, signature=MALLORY.sign(honest.hash))
        chain.produce([forged], check_signatures=False)
        doc = chain.bundle(DOC).to_json()
    finally:
        chain.close()
    refused = refusal(doc)
    assert refused.code == E.INVALID_SIGNATURE and "notarization transaction's signature" in refused.message


# --- files that are not (whole) proofs ------------------------------------------------------------


@pytest.mark.parametrize("data, words", [
    (b"", "not valid JSON"),
    (b"%PDF-1.7 \xff\xfe binary", "not UTF-8"),
    (b"[1, 2, 3]", "JSON object"),
    (b'{"type": "something-else", "version": 1}', "not a consortium evidence proof"),
    (b'{"type": "consortium-evidence-proof", "version": "1"}', "version"),
    (b'{"type": "consortium-evidence-proof", "version": 0}', "unknown proof format version 0"),
    (b'{"type": "consortium-evidence-proof", "version": 1}', "lacks"),
    (b"[" * 100_000, "nested too deeply"),
    (b"1" * 10_000, "not valid JSON"),
])
def test_not_a_proof_bundle(data: bytes, words: str) -> None:
    with pytest.raises(MalformedBundle) as info:
        load_bundle(data)
    assert info.value.code == E.MALFORMED_PROOF and words in info.value.message


def test_truncated_proof_is_malformed(notarized: Notarized) -> None:
    text = notarized.full.dumps().encode()
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
        with pytest.raises(MalformedBundle, match="not valid JSON"):
            load_bundle(text[:cut])


def test_unknown_and_missing_fields_are_refused(notarized: Notarized) -> None:
    doc = notarized.full.to_json()
    with pytest.raises(MalformedBundle, match="unknown fields note"):
        load_bundle(json.dumps({**doc, "note": "trust me"}).encode())
    del doc["record"]["proof"]
    with pytest.raises(MalformedBundle, match="record lacks proof"):
        load_bundle(json.dumps(doc).encode())


def test_non_canonical_object_encoding_is_refused(notarized: Notarized) -> None:
    doc = notarized.full.to_json()
    # The same header as a msgpack array with a non-shortest integer (uint16 for a small number).
    raw = from_hex(doc["headers"][0])
    assert raw[0] == 0x9E and raw[1] == 0x02  # array of 14, tag 2 as a fixint
    doc["headers"][0] = to_hex(raw[:1] + b"\xcd\x00\x02" + raw[2:])
    with pytest.raises(MalformedBundle, match=r"headers\[0\] cannot be decoded"):
        load_bundle(json.dumps(doc).encode())


def test_newer_format_version_asks_for_an_upgrade(notarized: Notarized) -> None:
    doc = {**notarized.full.to_json(), "version": 3}
    with pytest.raises(UnsupportedBundle, match="upgrade"):
        load_bundle(json.dumps(doc).encode())


def test_oversize_proof_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedBundle, match="at most"):
        load_bundle(b" " * (16 * 1024 * 1024 + 1))


def test_evidence_address_is_the_genesis_contract(notarized: Notarized) -> None:
    tx = Transaction.decode(from_hex(notarized.full.to_json()["notarization"]["transaction"]))
    assert tx.to == EVIDENCE_ADDRESS
