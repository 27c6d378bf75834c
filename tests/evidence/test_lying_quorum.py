"""Bundles certified by a quorum of sealers that lies (test keys, the real contract, a rewritten result):
the offline verifier believes only what the parties signed, so each lie is NOT VERIFIED with its reason.

Every case here is a bundle whose blocks carry valid commit seals of a quorum of the genesis sealers,
whose Merkle proofs are sound, and whose transactions carry their signers' valid signatures. Only the
agreement between what was signed and what was certified is false.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.evidence.evidence_chain import ALICE, BOB, MALLORY, SEALERS, EvidenceChain, file_hash, make_genesis
from tests.evidence.lying_quorum import LyingExecutor, force_ok, rewrite_record
from tests.evidence.tamper import at, header_edit, reseal

from consortium.encoding.hexbytes import to_hex
from consortium.evidence import NotVerified, load_bundle, verify_bundle
from consortium.evidence import errors as E
from consortium.execution import Executor

GENESIS = make_genesis()
DOC = b"IOU: Bob owes Alice 5,000.00 CNY, due 2026-12-31\n"
KEY = file_hash(DOC)  # public-hash mode: the record's key is the file hash
META = {"case_id": "CASE-9", "note": "original IOU"}


@pytest.fixture
def chain(tmp_path: Path):
    c = EvidenceChain(tmp_path / "db", executor=LyingExecutor(Executor(suite=GENESIS.suite)))
    yield c
    c.close()


def lie(chain: EvidenceChain, fn: Callable[..., None]) -> None:
    chain.ledger.executor.lie = fn  # type: ignore[attr-defined]


def honest(chain: EvidenceChain) -> None:
    chain.ledger.executor.lie = None  # type: ignore[attr-defined]


def refusal(chain: EvidenceChain, doc: dict[str, Any] | None = None) -> NotVerified:
    doc = doc if doc is not None else chain.bundle(DOC).to_json()
    bundle = load_bundle(json.dumps(doc).encode())
    with pytest.raises(NotVerified) as info:
        verify_bundle(GENESIS, bundle, file_hash(DOC))
    return info.value


def notarize(chain: EvidenceChain, meta: dict, signers: list[bytes], change: Callable[[dict], None] | None = None,
             **kw: Any) -> Any:
    tx = chain.tx(ALICE, "notarize", [KEY, meta, signers])
    if change is not None:
        lie(chain, lambda ctx, txs, receipts, writes: rewrite_record(writes, KEY, change))
    chain.produce([tx], check_signatures=False, **kw)
    honest(chain)
    return tx


def test_the_honest_baseline_verifies(chain: EvidenceChain) -> None:
    notarize(chain, META, [BOB.address])
    chain.transact(BOB, "sign", [KEY])
    result = verify_bundle(GENESIS, chain.bundle(DOC), file_hash(DOC))
    assert result.metadata == META and result.signers == (BOB.address,) and result.status == "COMPLETE"


@pytest.mark.parametrize("name, change, field", [
    ("case id", lambda r: r["metadata"].__setitem__("case_id", "CASE-10"), "metadata"),
    ("note", lambda r: r["metadata"].__setitem__("note", "forged after the fact"), "metadata"),
    ("signer added", lambda r: r["signers"].append(MALLORY.address), "signers"),
    ("signer replaced", lambda r: r.__setitem__("signers", [MALLORY.address]), "signers"),
])
def test_record_metadata_or_signers_other_than_signed(chain: EvidenceChain, name: str, change, field: str) -> None:
    notarize(chain, META, [BOB.address], change)
    refused = refusal(chain)
    assert refused.code == E.CONTRADICTS_SIGNED, refused.message
    assert f"differs from what the parties signed, in: {field}" in refused.message


def test_complete_although_a_listed_signer_never_signed(chain: EvidenceChain) -> None:
    notarize(chain, META, [BOB.address], lambda r: r.__setitem__("status", "COMPLETE"))
    refused = refusal(chain)
    assert refused.code == E.CONTRADICTS_SIGNED and "in: status" in refused.message


def test_complete_with_a_co_signature_backed_by_another_transaction(chain: EvidenceChain) -> None:
    """The record claims Bob's co-signature and names a transaction Bob did sign, but not a sign of this evidence."""
    notarize(chain, META, [BOB.address])
    _, receipt = chain.transact(BOB, "notarize", [file_hash(b"Bob's own file"), {}, []])
    other = chain.ledger.head_header()

    def claim(ctx, txs, receipts, writes) -> None:
        writes.update(_with_signature(chain, BOB.address, other, receipt))
    lie(chain, claim)
    chain.produce([])
    honest(chain)
    refused = refusal(chain)
    assert refused.code == E.INVALID_CALL and "calls 'notarize' with 3 argument(s), not sign" in refused.message


def test_pending_with_no_signers(chain: EvidenceChain) -> None:
    notarize(chain, META, [], lambda r: r.__setitem__("status", "PENDING"))
    refused = refusal(chain)
    assert refused.code == E.CONTRADICTS_SIGNED and "in: status" in refused.message


def test_co_signature_from_an_address_the_notarization_does_not_list(chain: EvidenceChain) -> None:
    notarize(chain, META, [BOB.address])
    sign = chain.tx(MALLORY, "sign", [KEY])

    def accept_mallory(ctx, txs, receipts, writes) -> None:
        force_ok(receipts, sign, "COMPLETE")
        writes.update(_with_signature(chain, MALLORY.address, ctx, sign, signers=[BOB.address, MALLORY.address]))
    lie(chain, accept_mallory)
    chain.produce([sign], check_signatures=False)
    honest(chain)
    refused = refusal(chain)
    assert refused.code == E.INVALID_CALL and "whom the submitter did not list as a signer" in refused.message
    assert to_hex(MALLORY.address) in refused.message


def _with_signature(chain: EvidenceChain, signer: bytes, at_block: Any, sign_tx: Any, *,
                    signers: list[bytes] | None = None) -> dict[bytes, bytes | None]:
    """The record as of the head, with ``signer``'s co-signature appended (and ``signers`` if given)."""
    from consortium.encoding import canonical
    from consortium.evidence.record import record_key
    writes: dict[bytes, bytes | None] = {}
    current = chain.ledger.state_reader().get(record_key(KEY))
    assert current is not None

    def add(r: dict) -> None:
        if signers is not None:
            r["signers"] = signers
        r["signatures"].append({"signer": signer, "block": at_block.number, "timestamp": at_block.timestamp,
                                "tx": sign_tx.tx_hash if hasattr(sign_tx, "tx_hash") else sign_tx.hash})
        r["status"] = "COMPLETE" if len(r["signatures"]) == len(r["signers"]) else "PENDING"
    writes[record_key(KEY)] = canonical.encode(canonical.decode(current))
    rewrite_record(writes, KEY, add)
    return writes


def test_co_signature_in_a_block_before_the_notarization(chain: EvidenceChain) -> None:
    early = chain.tx(BOB, "sign", [KEY])
    lie(chain, lambda ctx, txs, receipts, writes: force_ok(receipts, early, "COMPLETE"))
    chain.produce([early], check_signatures=False)  # block 1: the contract reverted it, the quorum says OK
    honest(chain)
    first = chain.ledger.head_header()

    def backdate(r: dict) -> None:
        r["signatures"] = [{"signer": BOB.address, "block": first.number, "timestamp": first.timestamp,
                            "tx": early.hash}]
        r["status"] = "COMPLETE"
    notarize(chain, META, [BOB.address], backdate)  # block 2
    refused = refusal(chain)
    assert refused.code == E.INVALID_CALL
    assert "co-signature 0 by" in refused.message and "is in block 1, not after the notarization in block 2" \
        in refused.message


def test_co_signature_in_the_notarization_block(chain: EvidenceChain) -> None:
    """The contract refuses it (a block does not prove the order of its transactions); a lying quorum does not."""
    tx = chain.tx(ALICE, "notarize", [KEY, META, [BOB.address]])
    sign = chain.tx(BOB, "sign", [KEY])

    def same_block(ctx, txs, receipts, writes) -> None:
        assert not receipts[1].ok and "after the notarization" in receipts[1].error  # the honest contract's answer
        force_ok(receipts, sign, "COMPLETE")
        rewrite_record(writes, KEY, lambda r: (r["signatures"].append(
            {"signer": BOB.address, "block": ctx.number, "timestamp": ctx.timestamp, "tx": sign.hash}),
            r.__setitem__("status", "COMPLETE")))
    lie(chain, same_block)
    chain.produce([tx, sign], check_signatures=False)
    honest(chain)
    refused = refusal(chain)
    assert refused.code == E.INVALID_CALL and "is in block 1, not after the notarization in block 1" in refused.message


@pytest.mark.parametrize("field, value", [("chain_id", "chain9"), ("group_id", "group9")])
def test_notarize_signed_for_another_chain_or_group(chain: EvidenceChain, field: str, value: str) -> None:
    """Alice signed this notarization for another chain; a quorum replays it here."""
    tx = dataclasses.replace(chain.tx(ALICE, "notarize", [KEY, META, []]), **{field: value}).signed_by(ALICE)

    def accept(ctx, txs, receipts, writes) -> None:
        force_ok(receipts, tx, "COMPLETE")  # the executor refused a transaction of another chain
        rewrite_record(writes, KEY, lambda r: None, base={
            "hash": KEY, "submitter": ALICE.address, "block": ctx.number, "timestamp": ctx.timestamp,
            "tx": tx.hash, "metadata": META, "signers": [], "signatures": [], "status": "COMPLETE"})
    lie(chain, accept)
    chain.produce([tx], check_signatures=False)
    honest(chain)
    refused = refusal(chain)
    assert refused.code == E.ANOTHER_CHAIN and "signed for chain" in refused.message and repr(value) in \
        refused.message


def test_notarization_in_block_0(chain: EvidenceChain) -> None:
    """The quorum re-numbers the notarization block as 0 and re-seals it: block 0 is genesis, never provable."""
    notarize(chain, META, [], lambda r: r.__setitem__("block", 0))
    doc = chain.bundle(DOC).to_json()
    assert len(doc["headers"]) == 1
    doc = at(doc, ("headers", 0), header_edit(lambda h: reseal(dataclasses.replace(h, number=0),
                                                               {i: SEALERS[i] for i in range(3)})))
    refused = refusal(chain, doc)
    assert refused.code == E.PROOF_ALTERED and "block 0 is the genesis block" in refused.message


def test_the_lies_would_pass_a_verifier_that_believes_the_record(chain: EvidenceChain) -> None:
    """Guard for the tests above: the lying bundles are otherwise sound (seals, proofs, signatures)."""
    notarize(chain, META, [BOB.address], lambda r: r.__setitem__("status", "COMPLETE"))
    bundle = chain.bundle(DOC)
    from consortium.evidence.verify import check_certificate, check_transaction_signature
    for h in bundle.headers:
        check_certificate(h, GENESIS.suite)
    check_transaction_signature(bundle.notarization.transaction, "notarization", GENESIS.suite)
