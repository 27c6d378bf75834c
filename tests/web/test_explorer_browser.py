"""The explorer in real headless Chromium against a running 4-node chain: the index with live updates
(a new block and a new transaction appear without reloading), a block with its commit certificate, a
transaction, an evidence record, a case with its ruling, and a governance proposal with its votes.
Screenshots of each page are left in the test's output folder (tmp_path)."""

from __future__ import annotations

import json
import re

import pytest
from tests.web.live_chain import CASE_ID, SUMMARY, cli

pytestmark = pytest.mark.slow


def text(page, selector: str) -> str:
    return re.sub(r"\s+", " ", page.locator(selector).inner_text())


def test_explorer_pages_against_a_running_chain(live_chain, open_page, tmp_path) -> None:
    base = live_chain.url(0) + "/explorer"
    w = open_page()
    page = w.page
    shots = []

    def shot(name: str) -> None:
        path = tmp_path / f"explorer-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    # Index, then live: a block committed after the page loaded appears without a reload.
    page.goto(base + "/")
    page.wait_for_selector("#live.ok", timeout=15_000)
    loaded = int(text(page, "#head"))
    nudge = live_chain.root / "receipt.txt"  # an idle chain seals no blocks: commit one after the page loaded
    nudge.write_bytes(b"delivery receipt\n")
    cli("evidence", "notarize", str(nudge), "--json", key=live_chain.root / "alice.json", rpc=live_chain.url(1))
    page.wait_for_function("n => Number(document.getElementById('head').textContent) > n", arg=loaded, timeout=30_000)
    newest = int(page.locator("#blocks tbody tr").first.get_attribute("data-number"))
    assert newest > loaded
    # ... and a transaction sent now shows up in the latest transactions.
    extra = live_chain.root / "photo.txt"
    extra.write_bytes(b"a photo of the broken chairs\n")
    sent = json.loads(cli("evidence", "notarize", str(extra), "--json", key=live_chain.root / "alice.json",
                          rpc=live_chain.url(1)).stdout)
    page.locator(f'#transactions a[href="/explorer/tx/{sent["transaction"]}"]').wait_for(timeout=30_000)
    shot("index")

    # A block with its commit certificate: the notarization block, sealed by the four genesis sealers.
    page.goto(f"{base}/block/{live_chain.notarize_block}")
    summary = text(page, "#certificate-summary")
    valid = int(summary.split()[0])
    assert 3 <= valid <= 4 and "of 4 sealers; a quorum is 3" in summary and "certified" in summary
    assert page.locator("#seals .badge.ok").count() == valid
    assert live_chain.notarize_tx[:8] in text(page, "#block-transactions")
    shot("block")

    # The transaction and its receipt.
    page.locator(f'#block-transactions a[href="/explorer/tx/{live_chain.notarize_tx}"]').click()
    assert "notarize" in text(page, "#transaction") and "OK" in text(page, "#receipt")
    shot("transaction")

    # The evidence record: co-signed by Bob, in the case.
    page.goto(f"{base}/evidence/{live_chain.evidence_key}")
    record = text(page, "#evidence")
    assert "COMPLETE" in record and live_chain.addresses["alice"] in record and "delivery-chat-log.txt" in record
    cosigners = text(page, "#cosigners")
    assert "signed" in cosigners and "pending" not in cosigners
    with page.expect_download() as dl:
        page.locator("#download-proof").click()
    proof = json.loads(open(dl.value.path()).read())
    opened = proof["evidence"]["fileHash"] if "evidence" in proof else proof["evidenceHash"]  # bundle v2 / v1
    assert opened == live_chain.evidence_key and proof["sealerChanges"]  # the key on chain, opened as public
    shot("evidence")

    # The case, reached from the record's metadata.
    page.locator(f'#evidence a[href="/explorer/case/{CASE_ID}"]').click()
    assert "CLOSED" in text(page, "#case") and SUMMARY in text(page, "#ruling")
    assert live_chain.evidence_key[:8] in text(page, "#case-evidence")
    shot("case")

    # Governance: the committee's proposal that removed node3, and its vote.
    page.goto(f"{base}/governance")
    row = text(page, "#proposals")
    assert "remove_node" in row and "executed" in row
    page.locator(f'#proposals a[href="/explorer/proposal/{live_chain.proposal_id}"]').click()
    assert "executed" in text(page, "#proposal") and live_chain.removed_sealer[:8] in page.content()
    assert text(page, "#votes").count("yes") == 1
    shot("proposal")

    page.goto(f"{base}/network")
    assert "Sealers (3, quorum 3)" in page.locator("h2").all_inner_texts()
    assert "Member organizations (4)" in page.locator("h2").all_inner_texts()
    orgs = page.locator("#organizations tbody tr").all_inner_texts()
    assert [o.split("\t")[0] for o in orgs] == ["org0", "org1", "org2", "org3"] and "O=org0" in orgs[0]
    sealers = page.locator("#sealers tbody tr").all_inner_texts()
    assert [s.split("\t")[-1] for s in sealers] == ["org0", "org1", "org2"]  # node3 (org3) was removed
    shot("network")

    assert not w.errors, w.errors
    assert all(p.stat().st_size > 10_000 for p in shots)
    print("explorer screenshots:", *shots, sep="\n  ")
