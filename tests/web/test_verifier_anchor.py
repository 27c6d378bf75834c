"""RFC 3161 time anchors (protocol.md §11.6) in the offline verifier page: a real cluster anchored by node1 with a
real test TSA (`openssl ts`, tests/helpers/tsa.py) that the genesis trusts ([[tsa]]). The page says VERIFIED with
"existed no later than <TSA time> (time-stamping authority <name>)" exactly as `consortium evidence verify`, and
NOT VERIFIED with the Python verifier's reason codes for a token from another TSA, over another hash, and with a
broken signature; pkijs + asn1js (bundled) read the CMS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.helpers.tsa import make_tsa, stamp
from tests.web import crosscheck as cc
from tests.web.test_verifier_crosscheck import check
from tests.web.test_verifier_page import page_verdict, python_verdict

from consortium.crypto.timestamp import build_request, parse_response
from consortium.encoding.hexbytes import from_hex, to_hex

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pages(live_chain, tmp_path_factory):
    from consortium.report.page import verifier_page

    out = tmp_path_factory.mktemp("anchor-page") / "verify.html"
    out.write_text(verifier_page(live_chain.genesis.read_text()), encoding="utf-8")
    return out, out


def restamped(live_chain, tsa, *, data: bytes | None = None) -> str:
    """The real bundle with its token replaced by one ``tsa`` makes over the checkpoint (or over ``data``)."""
    doc = json.loads(live_chain.proof.read_text())
    checkpoint = from_hex(doc["anchor"]["checkpoint"])
    reply = stamp(tsa, build_request(checkpoint if data is None else data).der)
    doc["anchor"]["reply"] = to_hex(parse_response(reply, normalize=True).der)
    return cc.dumps(doc)


def broken_signature(live_chain) -> str:
    doc = json.loads(live_chain.proof.read_text())
    der = bytearray(from_hex(doc["anchor"]["reply"]))
    der[-3] ^= 0x01  # inside the SignerInfo's signature value, the last field of the token
    doc["anchor"]["reply"] = to_hex(bytes(der))
    return cc.dumps(doc)


def test_anchored_bundle_verified_with_the_tsa_time(live_chain, pages, open_page, tmp_path) -> None:
    py = python_verdict(live_chain, live_chain.doc, live_chain.proof, live_chain.genesis)
    anchor = py["timeAnchor"]
    assert py["verified"] is True and anchor["tsa"] == live_chain.tsa.name
    w = open_page(offline=True)
    w.page.goto(pages[0].as_uri())
    w.page.set_input_files("#file", str(live_chain.doc))
    w.page.set_input_files("#proof", str(live_chain.proof))
    w.page.click("#verify")
    w.page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    assert w.page.locator("#verdict").inner_text() == "VERIFIED"
    details = w.page.locator("#details").inner_text()
    line = f"existed no later than {anchor['existedNoLaterThan']} (time-stamping authority {anchor['tsa']})"
    assert line in details, details
    assert f"TSA time {anchor['tsaTime']} ± {anchor['accuracyMs']} ms, policy {anchor['policy']}" in details
    assert f"checkpoint of blocks {anchor['checkpoint'][0]}-{anchor['checkpoint'][1]}, TSA trusted per {anchor['trustedBy']}" in details
    w.page.screenshot(path=str(tmp_path / "anchored.png"), full_page=True)
    assert not w.errors and all(u.startswith("file:") for u in w.requests)


def test_refusals_match_the_python_reason_codes(live_chain, pages, open_page, tmp_path) -> None:
    other = make_tsa(tmp_path / "other-tsa", "Another TSA")
    cases = {
        "a token from another TSA": (restamped(live_chain, other), "timestamp-untrusted-tsa"),
        "a token over another hash": (restamped(live_chain, live_chain.tsa, data=b"another checkpoint"), "timestamp-other-hash"),
        "a broken signature": (broken_signature(live_chain), "timestamp-invalid"),
    }
    for name, (text, code) in cases.items():
        proof = tmp_path / f"{name.replace(' ', '-')}.proof.json"
        proof.write_text(text)
        py = python_verdict(live_chain, live_chain.doc, proof, live_chain.genesis)
        verdict, got, reason, _ = page_verdict(open_page, pages[0], live_chain.doc, proof)
        assert (py["verified"], py.get("code")) == (False, code), (name, py)
        assert (verdict, got) == ("NOT VERIFIED", code), (name, reason)


def test_anchor_variants_agree(live_chain, verifier_js) -> None:
    """Every member of the anchor (checkpoint, path, reply, a governance TSA list) replaced, removed or its decoded
    elements changed: the page and Python agree on every verdict and code."""
    doc = json.loads(live_chain.proof.read_text())
    genesis, file_hash = live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])
    anchor_only = {"anchor": doc["anchor"]}
    variants = [(name, {**doc, **d}) for name, d in cc.json_variants(anchor_only) if isinstance(d, dict) and "anchor" in d]
    variants += [(name, {**doc, **d}) for name, d in cc.deep_variants(anchor_only)]
    cases = [(name, genesis, cc.dumps(d), file_hash) for name, d in variants]
    tally = check(cc.run_all(cases, verifier_js.page))
    assert len(cases) >= 60
    reached = {code for verified, code in tally if verified is False}
    assert {"malformed-proof", "anchor-mismatch", "timestamp-invalid"} <= reached, tally


def test_reply_der_fuzz_agrees(live_chain, verifier_js) -> None:
    """Bytes of the DER reply changed all along it (three bit masks, strided; every byte with every mask when
    DER_FUZZ_FULL=1, ~4,300 cases, ~10 min): the page and Python give the same verdict and code on every one —
    the strict-DER rule of protocol.md §11.6 (the whole reply, embedded certificates included, is DER under its
    ASN.1 types) is what makes two ASN.1 libraries agree outside the signed data — and the page never fails
    internally, never gives a blank or unknown code."""
    doc = json.loads(live_chain.proof.read_text())
    genesis, file_hash = live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])
    reply = from_hex(doc["anchor"]["reply"])
    plan = ((0x01, 0, 1), (0x04, 0, 1), (0x80, 0, 1)) if os.environ.get("DER_FUZZ_FULL") else \
        ((0x04, 0, 5), (0x80, 1, 11), (0x01, 2, 23))  # ~470 of the ~4,300 (suite time)
    cases = []
    for mask, start, stride in plan:
        for i in range(start, len(reply), stride):
            der = bytearray(reply)
            der[i] ^= mask
            cases.append((f"reply byte {i} ^ {mask:#x}", genesis, cc.dumps(cc.replaced(doc, ("anchor", "reply"), to_hex(bytes(der)))), file_hash))
    tally = check(cc.run_all(cases, verifier_js.page))
    assert tally[(True, "")] and tally[(False, "malformed-proof")] and tally[(False, "timestamp-invalid")], tally
    assert not verifier_js.errors, verifier_js.errors


@pytest.fixture(scope="module")
def rsa_reply(live_chain, tmp_path_factory) -> dict:
    """The real bundle with its token replaced by one from an RSA TSA (RSA-2048 root and signer, as most public
    TSAs) that the chain does not trust: the reply itself is timestamp-untrusted-tsa in both verifiers."""
    return json.loads(restamped(live_chain, make_tsa(tmp_path_factory.mktemp("rsa-tsa"), "RSA TSA", use_rsa=True)))


def _reply_flips(live_chain, doc: dict, flips: dict[str, tuple[int, int]]) -> list:
    genesis, file_hash = live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])
    reply = from_hex(doc["anchor"]["reply"])
    cases = []
    for name, (i, mask) in flips.items():
        der = bytearray(reply)
        der[i] ^= mask
        cases.append((name, genesis, cc.dumps(cc.replaced(doc, ("anchor", "reply"), to_hex(bytes(der)))), file_hash))
    return cases


def test_rsa_tsa_reply_der_fuzz_agrees(live_chain, verifier_js, rsa_reply) -> None:
    """The same over the RSA TSA's reply: the strict-DER rule reads RSA keys, signatures and their algorithm
    parameters alike in both (every disagreement fails: each run makes a new key, so the strided flips land on
    new bytes; the fields a flip found are pinned in test_rsa_reply_must_be_der_in_both)."""
    genesis, file_hash = live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])
    reply = from_hex(rsa_reply["anchor"]["reply"])
    flips = {f"RSA reply byte {i} ^ {mask:#x}": (i, mask) for mask, start, stride in ((0x04, 0, 17), (0x80, 1, 37), (0x01, 2, 41))
             for i in range(start, len(reply), stride)}
    cases = [("the RSA TSA's reply", genesis, cc.dumps(rsa_reply), file_hash), *_reply_flips(live_chain, rsa_reply, flips)]
    results = cc.run_all(cases, verifier_js.page)
    tally = check(results)
    assert results[0][1].key == (False, "timestamp-untrusted-tsa"), results[0][1]
    assert tally[(False, "malformed-proof")], tally


def test_rsa_reply_must_be_der_in_both(live_chain, verifier_js, rsa_reply) -> None:
    """Flips of an RSA reply the page once read as DER while Python refused them (the page then stopped at the
    untrusted TSA): an RSA key that is not an RSAPublicKey {INTEGER, INTEGER}, and AlgorithmIdentifier parameters
    not of the type the algorithm defines (cryptography's AlgorithmParameters: rsaEncryption and
    sha256WithRSAEncryption take NULL or nothing, RSASSA-PSS its RSASSA-PSS-params). Found by sweeping every byte
    of fresh RSA replies with three masks."""
    reply = from_hex(rsa_reply["anchor"]["reply"])
    rsa, sha256_rsa = bytes.fromhex("2a864886f70d0101010500"), bytes.fromhex("2a864886f70d01010b0500")
    flips = {
        "the RSA key is not a SEQUENCE": (reply.index(bytes.fromhex("3082010a0282010100")), 0x80),
        "the RSA modulus is an OID": (reply.index(bytes.fromhex("3082010a0282010100")) + 4, 0x04),
        "the RSA public exponent is an OID": (reply.index(bytes.fromhex("0203010001")), 0x04),
        "the RSA public exponent is context-tagged": (reply.index(bytes.fromhex("0203010001")), 0x80),
        "rsaEncryption parameters an empty OCTET STRING": (reply.index(rsa) + 9, 0x01),
        "rsaEncryption parameters context-tagged": (reply.index(rsa) + 9, 0x80),
        "sha256WithRSAEncryption parameters context-tagged": (reply.index(sha256_rsa) + 9, 0x80),
        "sha256WithRSAEncryption parameters an empty OCTET STRING": (reply.index(sha256_rsa) + 9, 0x01),
        "RSASSA-PSS with NULL parameters": (reply.index(sha256_rsa) + 8, 0x01),
        "the signer's rsaEncryption parameters an empty OCTET STRING": (reply.rindex(rsa) + 9, 0x01),
    }
    results = cc.run_all(_reply_flips(live_chain, rsa_reply, flips), verifier_js.page)
    check(results)
    assert all(py.key == (False, "malformed-proof") for _, py, _, _ in results), [(n, py.key, py.text) for n, py, _, _ in results]


def test_reply_must_be_der_in_both(live_chain, verifier_js) -> None:
    """Pinned cases of the strict-DER rule where rfc3161-client/OpenSSL and pkijs read alike-looking bytes
    differently (all outside what the TSA signed): each is malformed-proof in both verifiers."""
    doc = json.loads(live_chain.proof.read_text())
    genesis, file_hash = live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])
    reply = from_hex(doc["anchor"]["reply"])

    def at(pattern: str, skip: int = 0) -> int:
        return reply.index(bytes.fromhex(pattern), 20) + skip

    edits = {  # before the rule, the first two were VERIFIED by the page, the last two by Python
        "the SignedData version negative": (at("020103", 2), 0x80),
        "the EC key's curve parameter not an OID": (at("06082a8648ce3d030107"), 0x01),
        "the root copy's BasicConstraints cA not a DER BOOLEAN": (at("0101ff020100", 2), 0x01),
        "the root copy's KeyUsage with padding bits set": (at("040403020106", 4), 0x04),
    }
    cases = []
    for name, (i, mask) in edits.items():
        der = bytearray(reply)
        der[i] ^= mask
        cases.append((name, genesis, cc.dumps(cc.replaced(doc, ("anchor", "reply"), to_hex(bytes(der)))), file_hash))
    results = cc.run_all(cases, verifier_js.page)
    check(results)
    assert all(py.key == (False, "malformed-proof") for _, py, _, _ in results), [(n, py.text) for n, py, _, _ in results]


def test_anchor_genesis_has_the_tsa(live_chain) -> None:
    assert "[[tsa]]" in Path(live_chain.genesis).read_text()
