"""The offline verifier page (a second implementation, in JavaScript, written from docs/protocol.md) opened
from disk in headless Chromium with no network, over a real bundle from a real cluster and tampered copies
of it; each verdict is cross-checked against the Python verifier ('consortium evidence verify --json')."""

from __future__ import annotations

import json

import pytest
from tests.evidence.tamper import at, corrupt_seal, header_edit
from tests.web.live_chain import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pages(live_chain, tmp_path_factory):
    out = tmp_path_factory.mktemp("verifier-page")
    plain, embedded = out / "verify.html", out / "verify-chain0.html"
    cli("evidence", "verifier-page", "--out", str(plain))
    cli("evidence", "verifier-page", "--out", str(embedded), "--genesis", str(live_chain.genesis))
    return plain, embedded


def python_verdict(live_chain, doc, proof, genesis) -> dict:
    r = cli("evidence", "verify", str(doc), "--proof", str(proof), "--genesis", str(genesis), "--json", ok=False)
    return json.loads(r.stdout) if r.stdout.strip() else {"verified": None, "error": r.stderr.strip()}


def page_verdict(open_page, page_file, doc, proof, genesis=None) -> tuple[str, str, str, list[str]]:
    w = open_page(offline=True)
    page = w.page
    page.goto(page_file.as_uri())
    page.set_input_files("#file", str(doc))
    page.set_input_files("#proof", str(proof))
    if genesis is not None:
        page.set_input_files("#genesis", str(genesis))
    page.click("#verify")
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    page.wait_for_function("!document.getElementById('verify').disabled", timeout=60_000)
    verdict = page.locator("#verdict").inner_text()
    code = page.locator("#reason-code").inner_text().strip("()")
    reason = page.locator("#reason").inner_text()
    assert not w.errors, w.errors
    assert all(u.startswith("file:") for u in w.requests), w.requests
    return verdict, code, reason, w.requests


def tampered(live_chain, tmp_path, name: str, edit) -> object:
    doc = json.loads(live_chain.proof.read_text())
    path = tmp_path / f"{name}.proof.json"
    path.write_text(json.dumps(edit(doc)) if callable(edit) else edit)
    return path


def drop_sealer_changes(doc):
    doc["sealerChanges"] = []
    return doc


CASES = {
    "real": (None, "VERIFIED", ""),
    "file byte changed": ("doc", "NOT VERIFIED", "file-changed"),
    # The record's block comes after node3's removal: 3 sealers, all 3 seals needed.
    "seal altered": (lambda d: at(d, ("headers", -1), header_edit(lambda h: corrupt_seal(h, 0))), "NOT VERIFIED",
                     "too-few-signatures"),
    "sealer change dropped": (drop_sealer_changes, "NOT VERIFIED", "sealer-set-mismatch"),
    "another chain's genesis": ("genesis", "NOT VERIFIED", "another-chain"),
    "truncated bundle": ("truncated", "NOT VERIFIED", "malformed-proof"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_page_agrees_with_the_python_verifier(live_chain, pages, open_page, tmp_path, name: str) -> None:
    edit, want_verdict, want_code = CASES[name]
    doc, proof, genesis = live_chain.doc, live_chain.proof, live_chain.genesis
    if edit == "doc":
        data = bytearray(doc.read_bytes())
        data[data.index(b"6")] = ord("5")
        doc = tmp_path / "changed.txt"
        doc.write_bytes(bytes(data))
    elif edit == "genesis":
        genesis = live_chain.other_genesis
    elif edit == "truncated":
        proof = tampered(live_chain, tmp_path, "truncated", live_chain.proof.read_text()[:3000])
    elif edit is not None:
        proof = tampered(live_chain, tmp_path, name.replace(" ", "-"), edit)
    verdict, code, reason, _ = page_verdict(open_page, pages[0], doc, proof, genesis)
    assert (verdict, code) == (want_verdict, want_code), reason
    py = python_verdict(live_chain, doc, proof, genesis)
    assert py["verified"] is (verdict == "VERIFIED") and py.get("code", "") == code, (py, reason)


def test_embedded_genesis_and_what_verified_shows(live_chain, pages, open_page, tmp_path) -> None:
    w = open_page(offline=True)
    page = w.page
    page.goto(pages[1].as_uri())
    assert "Built into this page" in page.locator("#genesis-embedded").inner_text()
    page.set_input_files("#file", str(live_chain.doc))
    page.set_input_files("#proof", str(live_chain.proof))
    page.click("#verify")
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    assert page.locator("#verdict").inner_text() == "VERIFIED"
    details = page.locator("#details").inner_text()
    py = python_verdict(live_chain, live_chain.doc, live_chain.proof, live_chain.genesis)
    for value in (py["hash"], py["submitter"], py["transaction"], py["cosigners"][0]["address"], py["time"]):
        assert value in details, value
    page.screenshot(path=str(tmp_path / "verifier-page.png"), full_page=True)
    assert not w.errors and all(u.startswith("file:") for u in w.requests)


def test_malformed_genesis_says_so(live_chain, pages, open_page, tmp_path) -> None:
    bad = tmp_path / "genesis.toml"
    bad.write_text("[chain]\nchain_id = \n")
    verdict, _, reason, _ = page_verdict(open_page, pages[0], live_chain.doc, live_chain.proof, bad)
    assert verdict == "CANNOT VERIFY" and "genesis file" in reason


def test_gateway_item_proof_verifies_in_the_page(live_chain, pages, open_page, tmp_path) -> None:
    """A per-item proof from a real gateway batch (protocol.md §12.4): VERIFIED with the batch shown, as the CLI says;
    another statement against it is file-changed in both."""
    statement, item_proof = live_chain.items[2]
    verdict, code, _, _ = page_verdict(open_page, pages[1], statement, item_proof)
    py = python_verdict(live_chain, statement, item_proof, live_chain.genesis)
    assert (verdict, code) == ("VERIFIED", "") and py["verified"] is True and py["item"]["batchSize"] == 3
    w = open_page(offline=True)
    w.page.goto(pages[1].as_uri())
    w.page.set_input_files("#file", str(statement))
    w.page.set_input_files("#proof", str(item_proof))
    w.page.click("#verify")
    w.page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    details = w.page.locator("#details").inner_text()
    assert f"of 3 in gateway batch {py['item']['batchRoot']}" in details and py["item"]["commitment"] in details
    assert "salted commitment" in details and not w.errors
    other = live_chain.items[0][0]
    verdict, code, _, _ = page_verdict(open_page, pages[1], other, item_proof)
    py = python_verdict(live_chain, other, item_proof, live_chain.genesis)
    assert (verdict, code) == ("NOT VERIFIED", "file-changed") and py["code"] == "file-changed"
