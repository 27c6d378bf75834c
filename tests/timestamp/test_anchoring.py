"""The anchoring service against a real ledger (LevelDB) and a real TSA process (openssl ts over HTTP).

Bad TSAs — down, slow, garbage, oversized, HTTP errors, untrusted — cost a log line and a retry, never a crash,
and the blocks they failed to anchor are covered by the next checkpoint once a TSA answers.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from tests.evidence.evidence_chain import ALICE, EvidenceChain
from tests.helpers.tsa import TsaFiles, TsaServer

from consortium.crypto.timestamp import TrustedTsa, parse_response, verify_token
from consortium.ledger.merkle import verify_inclusion
from consortium.node.anchoring import AnchorService, AnchorStore, TsaUnavailable, anchor_proof
from consortium.node.config import AnchorSettings


@pytest.fixture
def chain(tmp_path: Path):
    c = EvidenceChain(tmp_path / "db")
    for i in range(5):
        c.notarize(ALICE, b"document %d" % i)
    yield c
    c.close()


def service(chain: EvidenceChain, tmp_path: Path, urls: list[str], trusted: list[TsaFiles], **kw) -> AnchorService:
    store = AnchorStore.open(tmp_path)
    return AnchorService(AnchorSettings(tuple(urls), **kw), chain.ledger, store,
                         lambda: [TrustedTsa(t.name, t.ca_der) for t in trusted])


async def once(svc: AnchorService):
    async with aiohttp.ClientSession() as session:
        return await svc.anchor_once(session)


def test_a_checkpoint_over_new_blocks_is_time_stamped_and_stored(chain, tmp_path, tsa: TsaFiles, tsa_server) -> None:
    svc = service(chain, tmp_path, [tsa_server.url], [tsa])
    anchor = asyncio.run(once(svc))
    assert (anchor.checkpoint.first, anchor.checkpoint.last) == (1, 5)
    assert svc.status.anchored_to == 5 and svc.status.last_tsa == tsa.name and svc.status.anchors == 1
    assert asyncio.run(once(svc)) is None  # nothing new: no request
    assert tsa_server.served() == 1
    chain.notarize(ALICE, b"later")
    second = asyncio.run(once(svc))
    assert (second.checkpoint.first, second.checkpoint.last) == (6, 6)
    # Every block's anchor is found and proves that block's hash under a token the TSA signed.
    for n in range(1, 7):
        found, path = anchor_proof(chain.ledger, svc.store, n)
        block_hash = chain.ledger.blocks.header(n).hash
        verify_inclusion(found.checkpoint.root, block_hash, path)
        v = verify_token(parse_response(found.reply), found.checkpoint.imprint, [TrustedTsa(tsa.name, tsa.ca_der)])
        assert v.tsa == tsa.name
    assert anchor_proof(chain.ledger, svc.store, 7) is None
    svc.store.close()


def test_a_restarted_service_continues_after_the_last_anchor(chain, tmp_path, tsa, tsa_server) -> None:
    svc = service(chain, tmp_path, [tsa_server.url], [tsa])
    asyncio.run(once(svc))
    svc.store.close()
    chain.notarize(ALICE, b"after restart")
    again = service(chain, tmp_path, [tsa_server.url], [tsa])
    assert again.status.anchored_to == 5 and again.status.anchors == 1
    assert asyncio.run(once(again)).checkpoint.first == 6
    again.store.close()


@pytest.mark.parametrize("path, expect", [
    ("garbage", "not an RFC 3161"), ("huge", "bytes"), ("error", "HTTP 500"), ("slow?s=5", "no answer within 1 s"),
])
def test_a_bad_tsa_is_skipped_with_its_reason(chain, tmp_path, tsa, tsa_server, path, expect) -> None:
    bad = tsa_server.url + path
    svc = service(chain, tmp_path, [bad], [tsa], timeout_s=1)
    with pytest.raises(TsaUnavailable) as exc:
        asyncio.run(once(svc))
    assert expect in str(exc.value) and bad in str(exc.value)
    assert svc.store.last() is None
    # The next URL in the list is tried in the same round.
    svc.settings = AnchorSettings((bad, tsa_server.url), timeout_s=1)
    assert asyncio.run(once(svc)).checkpoint.last == 5
    svc.store.close()


def test_a_token_from_an_untrusted_tsa_is_not_stored(chain, tmp_path, tsa, other_tsa) -> None:
    with TsaServer(other_tsa) as other:
        svc = service(chain, tmp_path, [other.url], [tsa])
        with pytest.raises(TsaUnavailable, match="not a time-stamping authority this chain trusts"):
            asyncio.run(once(svc))
        assert svc.store.last() is None
        svc.store.close()


def test_a_tsa_that_is_down_delays_anchoring_and_the_run_loop_survives(chain, tmp_path, tsa, caplog) -> None:
    """The service task keeps running through failures (logging each), and covers the waiting blocks later."""
    server = TsaServer(tsa).start()
    url = server.url
    server.stop()  # down before the first round
    svc = service(chain, tmp_path, [url], [tsa], interval_s=1, timeout_s=2)

    async def scenario() -> None:
        task = asyncio.create_task(svc.run())
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if svc.status.failures >= 1:
                    break
            assert svc.status.failures >= 1 and svc.status.anchored_to == 0
            assert "127.0.0.1" in svc.status.last_error
            chain.notarize(ALICE, b"while the TSA is down")
            await asyncio.to_thread(server.restart)
            for _ in range(200):
                await asyncio.sleep(0.05)
                if svc.status.anchored_to == 6:
                    break
            assert svc.status.anchored_to == 6 and svc.status.failures == 0 and not task.done()
        finally:
            task.cancel()
            server.stop()

    with caplog.at_level(logging.INFO, logger="consortium.anchor"):
        asyncio.run(scenario())
    text = caplog.text
    assert "anchoring delayed" in text and "anchoring resumed" in text and "anchored blocks 1-6" in text
    svc.store.close()
