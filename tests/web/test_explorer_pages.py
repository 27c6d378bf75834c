"""The explorer's pages rendered from a real ledger (LevelDB, executor, evidence contract, governance)
through the real aiohttp app, without a browser: what each page says, and how it refuses bad input."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tests.evidence.evidence_chain import ADMIN, ALICE, ARBITER, BOB, file_hash
from tests.evidence.rpc_node import InstantNode

from consortium.encoding.hexbytes import to_hex
from consortium.evidence import load_bundle, verify_bundle
from consortium.execution.governance import GOVERNANCE_ADDRESS
from consortium.explorer import mount

DOC = b"delivery chat log\n" * 10


class ExplorerNode(InstantNode):
    """The in-process node, with the read-only views the explorer's network page needs."""

    def node_info(self) -> dict[str, Any]:
        return {**super().node_info(), "nodeId": to_hex(self.sealers[0]), "name": "node0", "version": "test",
                "cryptoSuite": "ed25519-sha256", "role": "sealer", "p2p": "", "rpc": ""}

    def consensus_status(self) -> dict[str, Any]:
        return {"height": self.ledger.height + 1, "view": 0, "leader": to_hex(self.sealers[0])}

    def sync_status(self) -> dict[str, Any]:
        return {"blockNumber": self.ledger.height, "knownHighestNumber": self.ledger.height, "isSyncing": False}

    def peers(self) -> list[dict[str, Any]]:
        return []

    def observers(self) -> list[bytes]:
        return []


class NodeView:
    """NodeApi over the test chain (whose ``sealers`` attribute is a tuple, where NodeApi has a method)."""

    def __init__(self, node: ExplorerNode) -> None:
        self._node = node

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def sealers(self) -> list[bytes]:
        return list(self._node.sealers)


@pytest.fixture
async def site(tmp_path):
    node = ExplorerNode(tmp_path / "db")
    genesis = tmp_path / "genesis.toml"
    genesis.write_text("# the genesis file a node would publish\n")
    digest = file_hash(DOC)
    node.transact(ALICE, "notarize", [digest, {"file_name": "chat.txt", "case_id": "C-9"}, [BOB.address]])
    node.transact(BOB, "sign", [digest])
    register = node.tx(ADMIN, "propose", ["register_arbitrator", [ARBITER.address], 500], to=GOVERNANCE_ADDRESS)
    node.produce([register])
    node.transact(ALICE, "open_case", ["C-9", [ALICE.address, BOB.address], ARBITER.address])
    node.transact(ALICE, "attach", ["C-9", digest])
    node.transact(ARBITER, "rule", ["C-9", file_hash(b"ruling"), "Bob refunds 6 chairs"])
    propose = node.tx(ADMIN, "propose", ["grant_deploy", [ALICE.address], 500], to=GOVERNANCE_ADDRESS)
    node.produce([propose])
    assert node.ledger.receipt(propose.hash)[0].ok
    app = web.Application()
    mount(app, NodeView(node), dispatcher=node.dispatcher, genesis_path=genesis)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, node, digest, genesis
    await client.close()
    node.close()


async def get(client: TestClient, path: str, status: int = 200) -> str:
    r = await client.get(path)
    text = await r.text()
    assert r.status == status, text
    return text


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def test_index_lists_latest_blocks_and_transactions(site) -> None:
    client, node, _, _ = site
    r = await client.get("/explorer/")
    html = await r.text()
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert f'href="/explorer/block/{node.ledger.height}"' in html
    assert html.count('href="/explorer/tx/') == 7  # every transaction of the fixture, newest first
    assert "evidence.notarize" in plain(html) and "governance.propose" in plain(html)
    assert (await client.get("/explorer", allow_redirects=False)).status == 302


async def test_blocks_are_paged_beyond_the_latest(site) -> None:
    client, node, _, _ = site
    for _ in range(45):
        node.produce([])
    height = node.ledger.height
    index = await get(client, "/explorer/")
    first = re.search(r'id="older" href="/explorer/blocks\?top=(\d+)"', index)
    assert first and int(first.group(1)) == height - 20
    seen, top, pages = [], int(first.group(1)), 0
    while True:  # follow "older" to block 0: every block once, newest first, 20 a page
        html = await get(client, f"/explorer/blocks?top={top}")
        numbers = [int(n) for n in re.findall(r'<tr data-number="(\d+)">', html)]
        assert numbers == list(range(top, max(-1, top - 20), -1)), numbers
        assert f'id="newer" href="/explorer/blocks?top={min(top + 20, height)}"' in html
        seen += numbers
        pages += 1
        older = re.search(r'id="older" href="/explorer/blocks\?top=(\d+)"', html)
        if older is None:
            break
        top = int(older.group(1))
    assert seen == list(range(height - 20, -1, -1)) and pages == -(-(height - 19) // 20)
    head = await get(client, "/explorer/blocks")
    assert re.findall(r'<tr data-number="(\d+)">', head)[0] == str(height) and 'id="newer"' not in head
    beyond = await get(client, f"/explorer/blocks?top={height + 1000}")
    assert re.findall(r'<tr data-number="(\d+)">', beyond)[0] == str(height)
    for bad in ("-1", "abc", "1" * 30, "٣"):
        assert "top must be a block number" in plain(await get(client, f"/explorer/blocks?top={bad}", status=400))


async def test_block_page_shows_the_commit_certificate(site) -> None:
    client, node, _, _ = site
    text = plain(await get(client, "/explorer/block/1"))
    assert "4 valid commit seals of 4 sealers; a quorum is 3" in text and "certified" in text
    block_hash = to_hex(node.ledger.block(1).hash)
    assert block_hash in text
    assert "4 valid commit seals" in plain(await get(client, f"/explorer/block/{block_hash}"))
    assert "carries no seals" in plain(await get(client, "/explorer/block/0"))


async def test_transaction_evidence_and_case_pages(site) -> None:
    client, node, digest, _ = site
    notarize = node.ledger.block(1).transactions[0]
    html = await get(client, f"/explorer/tx/{to_hex(notarize.hash)}")
    text = plain(html)
    assert "notarize" in text and "OK" in text and "Notarized" in text
    assert f'href="/explorer/evidence/{to_hex(digest)}"' in html
    evidence = await get(client, f"/explorer/evidence/{to_hex(digest)}")
    text = plain(evidence)
    assert "COMPLETE" in text and to_hex(ALICE.address) in text and "chat.txt" in text
    assert "signed" in text and 'href="/explorer/case/C-9"' in evidence
    case = plain(await get(client, "/explorer/case/C-9"))
    assert "CLOSED" in case and "Bob refunds 6 chairs" in case and to_hex(ARBITER.address) in case
    assert to_hex(digest)[:8] in case


async def test_governance_and_proposal_pages(site) -> None:
    client, _, _, _ = site
    gov = await get(client, "/explorer/governance")
    assert 'href="/explorer/proposal/2"' in gov and "grant_deploy" in gov and "register_arbitrator" in gov
    prop = plain(await get(client, "/explorer/proposal/2"))
    assert "executed" in prop and to_hex(ADMIN.address) in prop and "yes 1, no 0; threshold 1 of 1" in prop
    net = plain(await get(client, "/explorer/network"))
    assert "Sealers (4, quorum 3)" in net
    assert "Member organizations (0)" in net and "genesis lists no organizations" in net


async def test_downloaded_proof_verifies_and_genesis_is_served(site) -> None:
    client, node, digest, genesis = site
    r = await client.get(f"/explorer/evidence/{to_hex(digest)}/proof.json")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    result = verify_bundle(node.genesis, load_bundle(await r.read()), digest)
    assert result.status == "COMPLETE" and result.cosignatures[0].signer == BOB.address
    r = await client.get("/explorer/genesis.toml")
    assert await r.read() == genesis.read_bytes()


async def test_search_finds_each_kind(site) -> None:
    client, node, digest, _ = site
    tx = node.ledger.block(1).transactions[0]
    for q, where in (("3", "/explorer/block/3"), (to_hex(tx.hash), f"/explorer/tx/{to_hex(tx.hash)}"),
                     (to_hex(digest), f"/explorer/evidence/{to_hex(digest)}"), ("C-9", "/explorer/case/C-9"),
                     (to_hex(node.ledger.block(2).hash), f"/explorer/block/{to_hex(node.ledger.block(2).hash)}")):
        r = await client.get("/explorer/search", params={"q": q}, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == where, q


@pytest.mark.parametrize("path, words", [
    ("/explorer/block/999", "no block 999 on this chain (the head is block 7)"),
    ("/explorer/block/0xzz", "give a block number or a 0x block hash"),
    ("/explorer/tx/0x" + "00" * 32, "no committed transaction"),
    ("/explorer/evidence/0x" + "11" * 32, "is notarized on this chain"),
    ("/explorer/evidence/0x" + "11" * 32 + "/proof.json", "is not notarized on this chain"),
    ("/explorer/case/no-such-case", "no case 'no-such-case'"),
    ("/explorer/proposal/77", "no governance proposal 77"),
    ("/explorer/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "nothing matches"),
])
async def test_bad_references_get_a_clear_404(site, path: str, words: str) -> None:
    client, _, _, _ = site
    html = await get(client, path, status=404)
    assert words in plain(html)
    assert "<script>alert" not in html  # autoescaped
