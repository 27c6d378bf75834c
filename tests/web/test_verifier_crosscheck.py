"""The large cross-check: hundreds of tampered variants of a real cluster's proof bundle and genesis file,
judged by the Python verifier and by the offline page's JavaScript in one Chromium session. The verdicts and
reason codes must agree, and the page must never fail in a way of its own (an uncaught exception, an internal
error, a blank result). This is also the fuzzing of the page's decoders (bundle JSON, canonical MessagePack,
ledger objects, proofs, genesis TOML): hypothesis drives the last part.

Each disagreement found was a bug in one implementation or in docs/protocol.md; each is pinned below in
:data:`REGRESSIONS` by name."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.web import crosscheck as cc

from consortium.evidence.errors import CODES
from consortium.evidence.filehash import hash_file

pytestmark = pytest.mark.slow

DEEP_LIMIT = 700
"""Deep (re-encoded) variants of the binary objects, sampled from a few thousand."""


@pytest.fixture(scope="module")
def real(live_chain):
    doc = json.loads(live_chain.proof.read_text())
    return doc, live_chain.genesis.read_text(), bytes.fromhex(live_chain.evidence_hash[2:])


def check(results, *, expect_all_disagreeing_none: bool = True) -> Counter:
    """Every case must get the same verdict and code from both, and a well-formed answer from the page."""
    bad = []
    tally: Counter = Counter()
    for name, py, js, internal in results:
        tally[py.key] += 1
        problem = ""
        if internal:
            problem = f"the page failed internally ({internal}): {js.text}"
        elif js.verified not in (True, False, None):
            problem = f"the page threw: {js.text}"
        elif js.key != py.key:
            problem = f"python {py.key} vs page {js.key}"
        elif js.verified is False and (js.code not in CODES or not js.text.strip()):
            problem = f"the page gave no reason or an unknown code: {js.key} {js.text!r}"
        elif js.verified is None and not js.text.strip():
            problem = "the page said CANNOT VERIFY without saying why"
        if problem:
            bad.append(f"{name}: {problem}\n    python: {py.text[:200]}\n    page:   {js.text[:200]}")
    if bad and os.environ.get("CROSSCHECK_REPORT"):
        with open(os.environ["CROSSCHECK_REPORT"], "a") as f:
            f.write("\n".join(bad) + "\n")
    assert not bad, f"{len(bad)} of {len(results)} cases disagree:\n" + "\n".join(bad[:40])
    return tally


def test_bundle_variants_agree(real, verifier_js) -> None:
    doc, genesis, file_hash = real
    text = cc.dumps(doc)
    variants = [("the real bundle", doc), *cc.json_variants(doc)]
    variants += cc.sample(list(cc.deep_variants(doc)), DEEP_LIMIT, seed=15)
    cases = [(name, genesis, cc.dumps(d) if not isinstance(d, str) else d, file_hash) for name, d in variants]
    cases += [(name, genesis, t, file_hash) for name, t in cc.text_variants(text, random.Random(15), 80)]
    results = cc.run_all(cases, verifier_js.page)
    tally = check(results)
    assert not verifier_js.errors, verifier_js.errors
    assert results[0][1].key == (True, "") and len(cases) >= 500
    # The corpus reaches deep into the algorithm, not only the parser:
    reached = {code for verified, code in tally if verified is False}
    assert {"malformed-proof", "file-changed", "another-chain", "proof-altered", "sealer-set-mismatch",
            "too-few-signatures", "not-a-notarization", "invalid-call"} <= reached, tally


def test_genesis_variants_agree(real, verifier_js) -> None:
    doc, genesis, file_hash = real
    proof = cc.dumps(doc)
    cases = [(name, g, proof, file_hash) for name, g in [("the real genesis", genesis), *cc.genesis_variants(genesis)]]
    results = cc.run_all(cases, verifier_js.page)
    tally = check(results)
    assert results[0][1].key == (True, "")
    assert tally[(None, "")] and tally[(False, "another-chain")] and tally[(True, "")] > 1, tally


def test_item_proof_variants_agree(live_chain, verifier_js) -> None:
    """The same over a gateway per-item proof (protocol.md §12.4): item, path, opening and the batch bundle."""
    statement, item_proof = live_chain.items[1]
    doc = json.loads(item_proof.read_text())
    genesis, file_hash = live_chain.genesis.read_text(), hashlib.sha256(statement.read_bytes()).digest()
    variants = [("the real item proof", doc), *cc.json_variants(doc)]
    variants += cc.sample(list(cc.deep_variants(doc)), 300, seed=16)
    cases = [(name, genesis, cc.dumps(d) if not isinstance(d, str) else d, file_hash) for name, d in variants]
    other = hashlib.sha256(live_chain.items[0][0].read_bytes()).digest()
    cases.append(("another statement of the batch", genesis, cc.dumps(doc), other))
    results = cc.run_all(cases, verifier_js.page)
    tally = check(results)
    assert results[0][1].key == (True, "") and results[-1][1].key == (False, "file-changed")
    reached = {code for verified, code in tally if verified is False}
    assert {"malformed-proof", "file-changed", "proof-altered", "not-a-notarization"} <= reached, tally


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_hypothesis_edits_agree(real, verifier_js, data) -> None:
    """Hypothesis picks a member (any depth, binary objects decoded) and what to put there."""
    doc, genesis, file_hash = real
    paths = list(cc._paths(doc))
    path = data.draw(st.sampled_from(paths), label="path")
    leaf = st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.text(max_size=12) \
        | st.binary(max_size=70).map(lambda b: "0x" + b.hex())
    value = data.draw(st.recursive(leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                                   max_leaves=8), label="value")
    mutated = cc.replaced(doc, path, value) if path else value
    if data.draw(st.booleans(), label="also flip bytes of the text"):
        raw = bytearray(cc.dumps(mutated).encode())
        for i in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3), label="positions"):
            raw[i] = data.draw(st.integers(0x20, 0x7e), label="byte")
        text = raw.decode()
    else:
        text = cc.dumps(mutated)
    check(cc.run_all([("hypothesis", genesis, text, file_hash)], verifier_js.page))


def test_file_hash_helper_is_the_cli_one(live_chain) -> None:
    """The cross-check hashes the evidence file as the CLI does (the page hashes it in the browser)."""
    assert "0x" + hash_file(live_chain.doc)[0].hex() == live_chain.evidence_hash


# --- disagreements the cross-check found, pinned (each was a bug in the page, in Python, or in the spec) -------

def _canon_edit(path: tuple, inner: tuple, value):
    def edit(doc):
        raw = cc.canonical.decode(cc.from_hex(cc._get(doc, path)))
        return cc.replaced(doc, path, cc.to_hex(cc.canonical.encode(cc.replaced(raw, inner, value))))
    return edit


def _reverse_seals(doc):
    return _canon_edit(("headers", 0), (12,), cc.canonical.decode(cc.from_hex(doc["headers"][0]))[12][::-1])(doc)


def _duplicate_sealer_change(doc):
    return cc.replaced(doc, ("sealerChanges",), doc["sealerChanges"] * 2)


def _record_value_not_canonical(doc):
    raw = bytearray(cc.from_hex(doc["record"]["value"]))
    raw[0] ^= 0x01  # map of 9 -> map of 8 plus trailing bytes: not canonical, hashes differently
    return cc.replaced(doc, ("record", "value"), cc.to_hex(bytes(raw)))


def _hex_with_space(doc):
    h = doc["genesisHash"]
    return cc.replaced(doc, ("genesisHash",), h[:10] + " " + h[10:12] + " " + h[12:])


BUNDLE_REGRESSIONS = {
    # page said VERIFIED: seals out of sealer-index order are not a header's encoding (§2.3)
    "seals in decreasing sealer index": (_reverse_seals, (False, "malformed-proof")),
    # page said malformed: decoders bound sizes, the signature check judges lengths (§2.3)
    "a 63-byte commit seal": (_canon_edit(("headers", 0), (12, 0, 1), b"\x01" * 63), (False, "too-few-signatures")),
    "a 33-byte sender": (_canon_edit(("notarization", "transaction"), (5,), b"\x01" * 33), (False, "proof-altered")),
    # page said transaction-failed / proof-altered: a receipt's status is 0-255, its events [address, name, fields]
    "receipt status 2^64-1": (_canon_edit(("notarization", "receipt"), (2,), 2**64 - 1), (False, "malformed-proof")),
    "a state proof level with too few hashes": (_canon_edit(("record", "proof"), (1, 0, 0), 0xFFFF), (False, "malformed-proof")),
    # page said malformed: the record value is opaque bytes until its state proof (§11.4 rule 3.2)
    "record value not canonical": (_record_value_not_canonical, (False, "proof-altered")),
    # page said sealer-set-mismatch: changes out of order are an altered proof (§11.4 rule 4)
    "a sealer change twice": (_duplicate_sealer_change, (False, "proof-altered")),
    # page said malformed: a list proof's index and size are any integers, not relied on (§2.5, rule 3.1)
    "a negative receipt proof index": (_canon_edit(("notarization", "receiptProof"), (0,), -1), (False, "proof-altered")),
    # the page failed internally (a Number lost the value): integers up to 2^64-1 stay exact
    "a co-signature block time of 2^64-1": (_canon_edit(("headers", 1), (5,), 2**64 - 1), (False, "contradicts-signed")),
    # Python accepted hex with spaces (bytes.fromhex skips them); hex is digits only (§1)
    "hex with spaces": (_hex_with_space, (False, "malformed-proof")),
    # the page said malformed: an unopened evidence member {"key"} parses, and verifies as "no-opening" (§13.1)
    "an unopened evidence member": (lambda d: cc.replaced(d, ("evidence",), {"key": d["notarization"]["transaction"][-64:].join(["0x", ""])}),
                                    (False, "no-opening")),
    # the page read 2.0 as the integer 2; Python's json reads a float, which no integer member accepts
    "version written 2.0": (lambda d: cc.dumps(d).replace('"version": 2,', '"version": 2.0,', 1), (False, "malformed-proof")),
}


@pytest.mark.parametrize("name", list(BUNDLE_REGRESSIONS))
def test_bundle_regressions(real, verifier_js, name: str) -> None:
    doc, genesis, file_hash = real
    edit, want = BUNDLE_REGRESSIONS[name]
    edited = edit(doc)
    [(_, py, js, internal)] = cc.run_all([(name, genesis, edited if isinstance(edited, str) else cc.dumps(edited),
                                           file_hash)], verifier_js.page)
    assert (py.key, js.key, internal) == (want, want, ""), (py.text, js.text)


def test_item_regressions(live_chain, verifier_js) -> None:
    """A boolean count in notarize_batch is not-a-notarization in both (Python's True == 1 let it pass for a batch of
    one: tests/evidence/test_batch_call.py pins that fix; §12.4)."""
    statement, item_proof = live_chain.items[1]
    doc = json.loads(item_proof.read_text())
    edited = _canon_edit(("batch", "notarization", "transaction"), (8, 1), True)(doc)
    [(_, py, js, internal)] = cc.run_all([("count true", live_chain.genesis.read_text(), cc.dumps(edited),
                                           hashlib.sha256(statement.read_bytes()).digest())], verifier_js.page)
    assert doc["batch"]["notarization"] and (py.key, js.key, internal) == ((False, "not-a-notarization"),) * 2 + ("",)


def _line_twice(marker: str):
    def edit(text: str) -> str:
        i = text.index(marker)
        j = text.index("\n", i) + 1
        return text[:j] + text[i:j] + text[j:]
    return edit


def _org_ca_der(edit, key: str = "ca_cert"):
    """The first organization CA's certificate (with ``key="certificate"`` the first [[tsa]]'s) changed at the DER
    level and written back as PEM (64 a line)."""
    def apply(text: str) -> str:
        begin = text.index("-----BEGIN CERTIFICATE-----", text.index(f"\n{key} = "))
        end = text.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
        der = base64.b64decode("".join(text[begin:end].splitlines()[1:-1]))
        body = base64.b64encode(edit(der)).decode()
        pem = "\n".join(["-----BEGIN CERTIFICATE-----", *(body[i:i + 64] for i in range(0, len(body), 64)), "-----END CERTIFICATE-----"])
        return text[:begin] + pem + text[end:]
    return apply


def _time_not_a_time(der: bytes) -> bytes:
    """notBefore's UTCTime retagged GeneralizedTime with a letter in it: asn1js throws reading it (a PEM line
    duplicated or swapped can leave such bytes where the decoder expects an element)."""
    i = der.index(b"\x17\x0d")
    return der[:i] + b"\x18\x0d" + b"2026X13000000Z"[:13] + der[i + 15:]


def _version_4(der: bytes) -> bytes:
    i = der.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2: v3
    return der[:i + 4] + b"\x03" + der[i + 5:]


def _month_13(der: bytes) -> bytes:
    i = der.index(b"\x17\x0d") + 4  # notBefore's UTCTime YYMMDDhhmmssZ: MM
    return der[:i] + b"13" + der[i + 2:]


def _other_second(der: bytes) -> bytes:
    i = der.index(b"\x17\x0d") + 2 + 10  # notBefore's UTCTime YYMMDDhhmmssZ: ss
    return der[:i] + (b"00" if der[i:i + 2] != b"00" else b"01") + der[i + 2:]


def _empty_sequence_before_extensions(der: bytes) -> bytes:
    """[3] EXPLICIT holds exactly one SEQUENCE OF Extension: an empty SEQUENCE put before it (lengths fixed up)."""
    assert der[0:2] == der[4:6] == b"\x30\x82"  # Certificate and TBSCertificate with two-byte lengths
    i = der.index(b"\xa3", 6)
    while not (der[i + 2] == 0x30 and der[i + 1] == der[i + 3] + 2):
        i = der.index(b"\xa3", i + 1)
    body = der[:i] + bytes([0xa3, der[i + 1] + 2, 0x30, 0x00]) + der[i + 2:]
    grow = lambda b, at: b[:at + 2] + (int.from_bytes(b[at + 2:at + 4], "big") + 2).to_bytes(2, "big") + b[at + 4:]  # noqa: E731
    return grow(grow(body, 0), 4)


def _pem_line(what: str):
    """One base64 line of the first organization CA's PEM duplicated, removed or swapped with the next (which line
    breaks which decoder depends on the key; these are the positions of the "line N duplicated" variants)."""
    def edit(text: str) -> str:
        begin = text.index("-----BEGIN CERTIFICATE-----", text.index("ca_cert"))
        lines = text[begin:].split("\n")
        head, i = text[:begin], 3
        if what == "duplicated":
            lines.insert(i, lines[i])
        elif what == "removed":
            del lines[i]
        else:
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return head + "\n".join(lines)
    return edit


def _padding_bits(text: str) -> str:
    """The last base64 character before a CA PEM's '=' padding changed in its unused low bits only: the same bytes
    to a lenient decoder (atob), not canonical base64 to cryptography's PEM reader."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    ends = [i for i in range(len(text)) if text.startswith("=\n-----END CERTIFICATE-----", i)]
    if not ends:  # each PEM (four CAs, a TSA root) has padding unless its DER length is a multiple of 3
        pytest.skip("no certificate PEM of this run's genesis has base64 padding (about one run in 240)")
    pad = text.index("=", ends[0] - 1)
    c = text[pad - 1]
    return text[:pad - 1] + alphabet[alphabet.index(c) ^ 1] + text[pad:]


GENESIS_REGRESSIONS = {
    # the page verified with genesis files Python refuses: every rule of node/genesis.py applies (§10.3)
    "unknown key in [chain]": (lambda g: g.replace("[chain]\n", "[chain]\nextra = 1\n", 1), (None, "")),
    "an empty endpoint": (lambda g: g.replace('endpoint = "', 'endpoint = "" #', 1), (None, "")),
    "an organization CA of another chain": (lambda g: g.replace('chain_id = "chain0"', 'chain_id = "chain1"', 1), (None, "")),
    "python = 3.11x": (lambda g: g.replace('python = "3.11"', 'python = "3.11x"', 1), (None, "")),
    "a PEM BEGIN line twice": (_line_twice("-----BEGIN CERTIFICATE-----"), (None, "")),
    # ... and refused what Python reads: text after a PEM block is ignored (OpenSSL), no administrators is allowed
    "a PEM END line twice": (_line_twice("-----END CERTIFICATE-----"), (True, "")),
    "comments and blank lines": (lambda g: "# hello\n\n" + g.replace("\n[", "\n\n# next\n["), (True, "")),
    # the page failed internally (asn1js threw "Wrong input string for conversion" reading a time) where Python
    # refuses the CA: every certificate the page cannot read is a genesis it cannot verify with
    "an organization CA with a time that is not a time": (_org_ca_der(_time_not_a_time), (None, "")),
    # a [[tsa]] certificate must load in cryptography (nothing more is checked at genesis): the page read these
    # (pkijs is lenient) and Python crashed on the first (InvalidVersion is no ValueError)
    "a [[tsa]] certificate of version 4": (_org_ca_der(_version_4, "certificate"), (None, "")),
    "a [[tsa]] certificate valid from month 13": (_org_ca_der(_month_13, "certificate"), (None, "")),
    "a [[tsa]] certificate with an empty SEQUENCE before its extensions": (_org_ca_der(_empty_sequence_before_extensions, "certificate"), (None, "")),
    # ... and its changes that still load keep the genesis valid (another genesis hash: another-chain)
    "a [[tsa]] certificate with another notBefore second": (_org_ca_der(_other_second, "certificate"), (False, "another-chain")),
    "an organization CA PEM line duplicated": (_pem_line("duplicated"), (None, "")),
    "an organization CA PEM line removed": (_pem_line("removed"), (None, "")),
    "two organization CA PEM lines swapped": (_pem_line("swapped"), (None, "")),
    # the page verified with base64 cryptography refuses: padding bits not zero
    "an organization CA PEM with padding bits set": (_padding_bits, (None, "")),
}


@pytest.mark.parametrize("name", list(GENESIS_REGRESSIONS))
def test_genesis_regressions(real, verifier_js, name: str) -> None:
    doc, genesis, file_hash = real
    edit, want = GENESIS_REGRESSIONS[name]
    [(_, py, js, internal)] = cc.run_all([(name, edit(genesis), cc.dumps(doc), file_hash)], verifier_js.page)
    assert (py.key, js.key, internal) == (want, want, ""), (py.text, js.text)
