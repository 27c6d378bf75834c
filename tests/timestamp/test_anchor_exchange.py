"""Anchors shared by peers (node/anchor_exchange.py) on a real LevelDB ledger with real tokens (openssl ts).

A received anchor is stored only if the offline verifier would accept it: the checkpoint over this node's own
blocks, the token a trusted TSA's over that checkpoint. Everything else is dropped with its reason and a log
line; anchors over blocks not yet here, or past a gap, wait for a later pull; a peer's request is answered from
the store. Random and mutated bodies never raise.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.evidence.evidence_chain import ALICE, EvidenceChain
from tests.helpers.tsa import TsaFiles, stamp

from consortium.crypto.timestamp import TrustedTsa, build_request, parse_response
from consortium.encoding import canonical
from consortium.ledger.checkpoint import Anchor, Checkpoint
from consortium.network.envelope import Envelope, MessageKind
from consortium.node.anchor_exchange import (
    ACCEPTED,
    AHEAD,
    DUPLICATE,
    MALFORMED,
    MISMATCH,
    OTHER_CHAIN,
    AnchorExchange,
    decode_anchor_request,
    encode_anchor_request,
)
from consortium.node.anchoring import AnchorService, AnchorStatus, AnchorStore, anchor_proof
from consortium.node.config import AnchorSettings
from consortium.node.wire import WireError

PEER = bytes(range(32))


class Exchange:
    """The anchoring node's anchors (fetched from the real TSA) and a second store fed only by the exchange."""

    def __init__(self, tmp: Path, chain: EvidenceChain, tsa: TsaFiles, url: str) -> None:
        self.chain = chain
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        self.trusted = [TrustedTsa(tsa.name, tsa.ca_der)]
        self.source = AnchorService(AnchorSettings((url,)), chain.ledger, AnchorStore.open(tmp / "a"),
                                    lambda: self.trusted)
        self.store = AnchorStore.open(tmp / "b")
        self.status = AnchorStatus()
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.exchange = AnchorExchange(chain.ledger, self.store, self.status, lambda version: self.trusted,
                                       lambda to, payload: self.sent.append((to, payload)), lambda: [PEER])

    def anchor_now(self) -> Anchor:
        async def go() -> Anchor:
            async with aiohttp.ClientSession() as session:
                return await self.source.anchor_once(session)
        return asyncio.run(go())

    def receive(self, body: bytes) -> str:
        return asyncio.run(self.exchange.receive(PEER, body))

    def close(self) -> None:
        self.source.store.close()
        self.store.close()


@pytest.fixture
def ex(tmp_path: Path, tsa: TsaFiles, tsa_server):
    chain = EvidenceChain(tmp_path / "db")
    for i in range(3):
        chain.notarize(ALICE, b"document %d" % i)
    e = Exchange(tmp_path, chain, tsa, tsa_server.url)
    yield e
    e.close()
    chain.close()


def test_a_peers_anchor_is_verified_stored_and_proves_a_block(ex: Exchange, caplog) -> None:
    first = ex.anchor_now()
    ex.chain.notarize(ALICE, b"later")
    second = ex.anchor_now()
    # Past a gap (block 1-3 not covered here yet): left for the pull, which asks from block 1.
    assert ex.receive(second.encode()) == AHEAD and ex.store.last() is None
    with caplog.at_level(logging.INFO, logger="consortium.anchor"):
        assert ex.receive(first.encode()) == ACCEPTED
    assert "stored the anchor of blocks 1-3 from peer 000102030405" in caplog.text
    assert ex.receive(second.encode()) == ACCEPTED
    assert ex.receive(second.encode()) == DUPLICATE
    assert ex.status.anchored_to == 4 and ex.status.anchors == 2 and ex.status.last_tsa == ex.trusted[0].name
    assert ex.status.from_peers == {ACCEPTED: 2, AHEAD: 1, DUPLICATE: 1}
    found, _ = anchor_proof(ex.chain.ledger, ex.store, 2)
    assert found == first


def test_an_anchor_over_blocks_not_committed_here_waits(ex: Exchange) -> None:
    cp = ex.anchor_now().checkpoint
    ahead = Checkpoint(cp.chain_id, cp.group_id, 1, ex.chain.ledger.height + 1, cp.root)
    assert ex.receive(Anchor(ahead, b"\x30\x00").encode()) == AHEAD


def test_forged_and_foreign_anchors_are_dropped_with_the_reason(ex: Exchange, other_tsa: TsaFiles, caplog) -> None:
    real = ex.anchor_now()
    cp = real.checkpoint
    caplog.set_level(logging.WARNING, logger="consortium.anchor")

    # Another history's checkpoint (a retired quorum's forgery) with the real token, or with its own token.
    forged_cp = Checkpoint(cp.chain_id, cp.group_id, cp.first, cp.last, bytes(32))
    assert ex.receive(Anchor(forged_cp, real.reply).encode()) == MISMATCH
    assert "dropping an anchor from peer 000102030405: its checkpoint of blocks 1-3" in caplog.text
    assert "is not over this node's blocks" in caplog.text
    # The right checkpoint, time-stamped by a TSA the chain does not trust.
    foreign = parse_response(stamp(other_tsa, build_request(cp.encode()).der), normalize=True).der
    assert ex.receive(Anchor(cp, foreign).encode()) == "other_tsa"
    assert "does not verify" in caplog.text and "not a time-stamping authority this chain trusts" in caplog.text
    # The real token over another checkpoint of the right blocks' hashes (another range): other hash.
    hashes = [ex.chain.ledger.blocks.header(n).hash for n in (1, 2)]
    shorter = Checkpoint.over(cp.chain_id, cp.group_id, 1, hashes)
    assert ex.receive(Anchor(shorter, real.reply).encode()) == "other_hash"
    # A flipped byte in the signed part of the token.
    flipped = bytearray(real.reply)
    flipped[len(flipped) // 2] ^= 0x01
    assert ex.receive(Anchor(cp, bytes(flipped)).encode()) in {MALFORMED, "bad_signature", "other_hash"}
    assert ex.receive(Anchor(Checkpoint("other", cp.group_id, 1, 3, cp.root), real.reply).encode()) == OTHER_CHAIN
    assert ex.receive(b"\x92\x41\x00") == MALFORMED
    assert ex.receive(b"\x00" * 100_000) == MALFORMED
    assert ex.store.last() is None and ex.status.anchored_to == 0 and ex.status.from_peers.get(ACCEPTED) is None


def test_requests_are_answered_from_the_store_and_pulls_ask_for_what_is_missing(ex: Exchange) -> None:
    first = ex.anchor_now()
    ex.chain.notarize(ALICE, b"later")
    second = ex.anchor_now()
    source = AnchorExchange(ex.chain.ledger, ex.source.store, ex.source.status, lambda v: ex.trusted,
                            lambda to, payload: ex.sent.append((to, payload)), lambda: [PEER])
    source.on_request(PEER, encode_anchor_request(2, 16))
    source.on_request(PEER, encode_anchor_request(4, 1))
    source.on_request(PEER, encode_anchor_request(5, 16))
    got = [(to, Envelope.decode(p)) for to, p in ex.sent]
    assert [to for to, _ in got] == [PEER] * 3 and all(e.kind == MessageKind.ANCHOR for _, e in got)
    assert [e.body for _, e in got] == [first.encode(), second.encode(), second.encode()]
    ex.sent.clear()
    ex.exchange.pull()
    (to, payload), = ex.sent
    env = Envelope.decode(payload)
    assert to == PEER and env.kind == MessageKind.ANCHOR_REQUEST and decode_anchor_request(env.body) == (1, 16)
    for bad in (b"", b"\x92\x00\x01", b"\x92\x01\x11", b"\x91\x01", canonical.encode([1, 2, 3])):
        with pytest.raises(WireError):
            decode_anchor_request(bad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_and_mutated_anchor_bodies_never_raise(ex: Exchange, data: st.DataObject) -> None:
    if ex.source.status.anchored_to == 0:
        ex.anchor_now()
    real = ex.source.store.last().encode()
    body = data.draw(st.one_of(
        st.binary(max_size=300),
        st.builds(lambda i, b: real[:i % len(real)] + bytes([b]) + real[i % len(real) + 1:],
                  st.integers(0, 10**6), st.integers(0, 255)),
        st.builds(lambda i: real[:i % len(real)], st.integers(0, 10**6)),
    ))
    outcome = ex.receive(body)
    assert isinstance(outcome, str)
    if outcome == ACCEPTED:  # only a body that is, or re-encodes as, a verifying anchor over our blocks
        assert ex.exchange.verify(Anchor.decode(body)).tsa == ex.trusted[0].name
    try:
        decode_anchor_request(body)
    except WireError:
        pass


def test_protocol_md_anchor_request_examples_are_the_bytes_sent() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    body, envelope = re.search(r"`ANCHOR_REQUEST\(1, 16\)` is the body `([0-9a-f ]+)` in the envelope `([0-9a-f ]+)`",
                               doc).groups()
    assert bytes.fromhex(body) == encode_anchor_request(1, 16)
    assert bytes.fromhex(envelope) == Envelope(MessageKind.ANCHOR_REQUEST, encode_anchor_request(1, 16)).encode()
    later = re.search(r"`ANCHOR_REQUEST\(300, 16\)` is `([0-9a-f ]+)`", doc).group(1)
    assert bytes.fromhex(later) == encode_anchor_request(300, 16)
    assert "| 6 ANCHOR |" in doc and "| 7 ANCHOR_REQUEST |" in doc
    assert (MessageKind.ANCHOR, MessageKind.ANCHOR_REQUEST) == (6, 7)
