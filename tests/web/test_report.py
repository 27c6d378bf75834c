"""The evidence report from a real cluster's proof: the PDF rendered to an image with pdftoppm and its QR
code decoded with zbarimg back to the evidence reference; its text read back with pdftotext; the HTML
version opened in Chromium; and no report at all for a proof that does not verify."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest
from tests.helpers import debian
from tests.web.live_chain import CASE_ID, cli

from consortium.encoding.hexbytes import from_hex
from consortium.node.genesis import load_genesis
from consortium.report.content import Report, Section
from consortium.report.reference import EvidenceReference, parse_reference

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def poppler_and_zbar() -> None:
    why = debian.ensure({"pdftoppm": "poppler-utils", "pdftotext": "poppler-utils", "zbarimg": "zbar-tools"})
    if why:
        pytest.skip(f"rendering the report and reading its QR code: {why}")


def report(live_chain, tmp_path, *extra: str, doc=None) -> subprocess.CompletedProcess:
    return cli("evidence", "report", str(doc or live_chain.doc), "--proof", str(live_chain.proof),
               "--genesis", str(live_chain.genesis), *extra, ok=False)


def test_pdf_report_qr_code_carries_the_reference(live_chain, tmp_path, poppler_and_zbar) -> None:
    pdf, html = tmp_path / "report.pdf", tmp_path / "report.html"
    r = report(live_chain, tmp_path, "--out", str(pdf), "--html", str(html), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    printed = json.loads(r.stdout)
    assert printed["verified"] and printed["written"] == [str(pdf), str(html)]
    assert pdf.read_bytes().startswith(b"%PDF-")

    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    page = next(tmp_path.glob("page-*1.png"))
    scanned = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(page)],
                             capture_output=True, text=True, timeout=60)
    assert scanned.returncode == 0, scanned.stderr
    text = scanned.stdout.strip()
    assert text == printed["reference"]
    ref = parse_reference(text)
    assert ref.file_hash == hashlib.sha256(live_chain.doc.read_bytes()).digest()
    assert ref.genesis_hash == load_genesis(live_chain.genesis).hash()
    assert (ref.chain_id, ref.block, ref.tx) == ("chain0", live_chain.notarize_block, from_hex(live_chain.notarize_tx))
    assert ref.key == from_hex(live_chain.evidence_key) != ref.file_hash  # salted: the commitment on chain

    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("VERIFIED", "What was notarized", "delivery-chat-log.txt", live_chain.addresses["alice"],
                     live_chain.addresses["bob"], CASE_ID, "How to verify this independently"):
        assert expected in words, expected
    assert "html" in html.read_text() and text.replace("&", "&amp;") in html.read_text()


def test_html_report_in_chromium(live_chain, tmp_path, open_page) -> None:
    html = tmp_path / "report.html"
    assert report(live_chain, tmp_path, "--html", str(html)).returncode == 0
    w = open_page(offline=True)
    w.page.goto(html.as_uri())
    assert w.page.locator("#verdict").inner_text() == "VERIFIED"
    assert w.page.locator("#qr svg").count() == 1
    w.page.screenshot(path=str(tmp_path / "report-html.png"), full_page=True)
    assert not w.errors and all(u.startswith("file:") for u in w.requests)


def test_no_report_for_a_changed_file(live_chain, tmp_path) -> None:
    changed = tmp_path / "changed.txt"
    data = bytearray(live_chain.doc.read_bytes())
    data[data.index(b"6")] = ord("5")
    changed.write_bytes(bytes(data))
    out = tmp_path / "report.pdf"
    r = report(live_chain, tmp_path, "--out", str(out), doc=changed)
    assert r.returncode == 1 and "NOT VERIFIED" in r.stdout and "no report written" in r.stdout
    assert not out.exists()


def test_report_names_the_sealers_organizations_and_the_case_and_ruling(live_chain, tmp_path, poppler_and_zbar) -> None:
    """With the case proof (`consortium case proof`), the report shows the case and its ruling, verified offline;
    the certifying sealers are named with their organizations (from the genesis file)."""
    from tests.web.live_chain import SUMMARY

    pdf = tmp_path / "report.pdf"
    r = report(live_chain, tmp_path, "--out", str(pdf), "--case-proof", str(live_chain.case_proof))
    assert r.returncode == 0, r.stdout + r.stderr
    words = " ".join(subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    case = json.loads(cli("case", "verify", str(live_chain.case_proof), "--genesis", str(live_chain.genesis),
                          "--json").stdout)
    for expected in ("Case and ruling", f"{CASE_ID}: CLOSED", SUMMARY, live_chain.addresses["carol"],
                     f"by committee proposal {case['registration']['proposal']}", "attachment 1 of 1",
                     "member organizations' sealers certified it"):
        assert expected in words, expected
    # each certifying sealer with its organization, from the genesis file (node i is organization i's here)
    genesis = load_genesis(live_chain.genesis)
    flat = words.replace(" ", "")  # pdftotext may wrap a long hex id
    named = [f"0x{s.node_id.hex()}(organization{s.org})" for s in genesis.sealers]
    assert sum(n in flat for n in named) >= 3, words
    assert "this proof does not cover them" not in words


def test_a_case_proof_that_does_not_verify_writes_no_report(live_chain, tmp_path) -> None:
    doc = json.loads(live_chain.case_proof.read_text())
    doc["caseId"] = "CASE-OTHER"
    bad = tmp_path / "other.case.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "report.pdf"
    r = report(live_chain, tmp_path, "--out", str(out), "--case-proof", str(bad))
    assert r.returncode == 1 and "NOT VERIFIED: the case proof" in r.stdout and not out.exists()


@pytest.fixture(scope="module")
def cjk_font(poppler_and_zbar) -> None:
    from consortium.report.pdf import CJK_FONTS, FONT_DIRS

    why = debian.ensure({str(CJK_FONTS[0]): "fonts-droid-fallback", str(FONT_DIRS[0] / "DejaVuSans.ttf"): "fonts-dejavu-core"})
    if why:
        pytest.skip(f"printing Chinese in the PDF: {why}")


def cjk_report() -> Report:
    ref = EvidenceReference("chain0", "group0", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 7, b"\x04" * 32, 1795266883656)
    return Report(title="Evidence report", verdict="VERIFIED", subtitle="仲裁委员会 case C-9",
                  sections=(Section("What was notarized", (("file name (as written)", "聊天记录.txt"),), ("裁决：退还六把椅子",)),),
                  reference=ref, generated="2026-11-30T00:00:00Z")


def pdf_text(tmp_path, data: bytes) -> str:
    path = tmp_path / "cjk.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_chinese_text_is_printed_with_the_cjk_font(tmp_path, cjk_font) -> None:
    from consortium.report.pdf import render_pdf

    words = pdf_text(tmp_path, render_pdf(cjk_report()))
    for expected in ("聊天记录.txt", "仲裁委员会", "裁决：退还六把椅子"):
        assert expected in words, words
    assert "no glyph" not in words


def test_without_a_cjk_font_the_report_says_what_it_cannot_print(tmp_path, cjk_font, monkeypatch) -> None:
    from consortium.report import pdf

    monkeypatch.setattr(pdf, "CJK_FONTS", ())
    words = re.sub(r"\s+", " ", pdf_text(tmp_path, pdf.render_pdf(cjk_report())))
    assert "聊天记录" not in words and "fonts-droid-fallback" in words, words
