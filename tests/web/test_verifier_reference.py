"""The report's evidence reference (protocol.md §14, the text of its QR code) in the offline verifier page: pasted
beside the three files, it is compared with what was verified — the page says it matches, or names each field
that differs in the words of report/reference.py ``mismatches`` — and the page reads references exactly as
``parse_reference`` does (the same texts accepted, to the same fields, the same refused)."""

from __future__ import annotations

import json
import random

import pytest
from tests.web.live_chain import cli

from consortium.encoding.hexbytes import to_hex
from consortium.report.reference import BadReference, EvidenceReference, mismatches, parse_reference

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(live_chain, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("reference") / "report.pdf"
    r = cli("evidence", "report", str(live_chain.doc), "--proof", str(live_chain.proof), "--genesis", str(live_chain.genesis),
            "--out", str(out), "--json", ok=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)["reference"]


def check_in_page(open_page, page_file, live_chain, text: str) -> tuple[str, str, str]:
    w = open_page(offline=True)
    w.page.goto(page_file.as_uri())
    w.page.set_input_files("#file", str(live_chain.doc))
    w.page.set_input_files("#proof", str(live_chain.proof))
    w.page.set_input_files("#genesis", str(live_chain.genesis))
    w.page.fill("#reference", text)
    w.page.click("#verify")
    w.page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    line = w.page.locator("#reference-check")
    assert not w.errors and all(u.startswith("file:") for u in w.requests), (w.errors, w.requests)
    return w.page.locator("#verdict").inner_text(), line.get_attribute("class") or "", line.inner_text()


def test_the_reports_reference_matches(live_chain, verifier_page_file, open_page, reference) -> None:
    verdict, kind, text = check_in_page(open_page, verifier_page_file, live_chain, "  " + reference + "\n")
    assert (verdict, kind) == ("VERIFIED", "ok"), text
    assert "matches this notarization" in text


def test_another_notarizations_reference_is_named_field_by_field(live_chain, verifier_page_file, open_page, reference) -> None:
    real = parse_reference(reference)
    other = EvidenceReference(real.chain_id, real.group_id, real.genesis_hash, b"\x11" * 32, real.key, real.block + 1,
                              real.tx, real.time_ms)
    verdict, kind, text = check_in_page(open_page, verifier_page_file, live_chain, other.text())
    assert (verdict, kind) == ("VERIFIED", "bad"), text
    expected = mismatches(other, real)
    assert [m.split(":")[0] for m in expected] == ["file", "block"]
    assert "; ".join(expected) in text, text
    assert to_hex(b"\x11" * 32) in text


def test_an_unreadable_reference_says_so(live_chain, verifier_page_file, open_page, reference) -> None:
    verdict, kind, text = check_in_page(open_page, verifier_page_file, live_chain, reference.replace("v=1", "v=2"))
    assert (verdict, kind) == ("VERIFIED", "error") and "upgrade" in text, text


def variants(reference: str, rng: random.Random) -> list[str]:
    out = [reference, reference.upper(), reference.replace("&", "&&"), reference + "&", "&" + reference,
           reference.replace("chain=", "chain=%63"), reference.replace("block=", "block=+"), reference.replace("block=", "block=%32"),
           reference.replace("time=", "time=²"), reference.replace("0x", "0X", 1), reference.replace("=", "", 1), "\u3000" + reference,
           "\ufeff" + reference, reference + "\x1c", reference.replace("group=", "group=%ZZ"), reference.replace("chain=", "chain=a+b")]
    alphabet = "&=%+0123456789abcdefxX.-_ ²\u00e9"
    for _ in range(300):
        i = rng.randrange(len(reference))
        cut = rng.choice([0, 1, 2])
        out.append(reference[:i] + "".join(rng.choice(alphabet) for _ in range(rng.randrange(3))) + reference[i + cut:])
    return out


def test_the_page_reads_references_as_python_does(verifier_js, reference) -> None:
    texts = variants(reference, random.Random(15))
    js = verifier_js.page.evaluate("""(texts) => texts.map((t) => {
        try { const r = ConsortiumVerifier.parseReference(t);
              return [true, [r.chain, r.group, r.genesis, r.file, r.key, String(r.block), r.tx, String(r.time)]]; }
        catch (e) { return [e instanceof ConsortiumVerifier.BadReference, null, String(e)]; } })""", texts)
    accepted = 0
    for text, got in zip(texts, js, strict=True):
        try:
            ref = parse_reference(text)
            want = [True, [ref.chain_id, ref.group_id, to_hex(ref.genesis_hash), to_hex(ref.file_hash), to_hex(ref.key),
                           str(ref.block), to_hex(ref.tx), str(ref.time_ms)]]
            accepted += 1
        except BadReference:
            want = [True, None]
        assert got[:2] == want, (text, got, want)
    assert 5 <= accepted < len(texts)
