"""Time anchoring: this node fetches RFC 3161 tokens over checkpoints of committed blocks.

Every ``interval_s`` the :class:`AnchorService` builds a checkpoint over the blocks
committed since the last anchor (ledger/checkpoint.py), asks the configured TSAs in
turn for a token over its imprint (RFC 3161 §3.4 HTTP transport), checks the reply
against the TSAs the chain trusts, and stores checkpoint and token in the
:class:`AnchorStore` beside the ledger. Proof builders fetch them with RPC
``getAnchor``; a proof bundle then carries the token and the audit path of its block.

Fetching never blocks consensus: the service is its own task, reads only committed
headers, and writes only its own database. A TSA that is down, slow, or answers
garbage costs a log line and a retry (sooner than the interval, backing off); the
blocks wait and are covered by the next checkpoint, and the delay shows in
``getAnchorStatus``. Why beside the ledger and not in a transaction: docs/design.md §14.1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from consortium.chain.ledger import Ledger
from consortium.crypto.timestamp import (
    MALFORMED,
    MAX_RESPONSE_BYTES,
    TimestampError,
    TrustedTsa,
    VerifiedTimestamp,
    build_request,
    parse_response,
    verify_token,
)
from consortium.encoding.canonical import DecodeError
from consortium.ledger.checkpoint import MAX_CHECKPOINT_BLOCKS, Anchor, Checkpoint, prove_block
from consortium.ledger.merkle import ListProof
from consortium.node.config import AnchorSettings
from consortium.storage.kv import KVStore, LevelDBStore

log = logging.getLogger("consortium.anchor")

ANCHORS_DIR = "anchors"
_KEY = b"a"
"""``"a" || last block (8 bytes, big-endian)`` -> the encoded Anchor whose checkpoint ends there."""
MIN_RETRY_S = 2.0


class TsaUnavailable(Exception):
    """No configured TSA gave a usable token this round; the message lists why, per URL."""


class AnchorStore:
    """Anchors keyed by the last block they cover, so "the anchor covering block n" is one seek."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    @classmethod
    def open(cls, data_dir: Path) -> AnchorStore:
        return cls(LevelDBStore(data_dir / ANCHORS_DIR))

    def put(self, anchor: Anchor) -> None:
        self.kv.put(_KEY + anchor.checkpoint.last.to_bytes(8, "big"), anchor.encode())

    def last(self) -> Anchor | None:
        for _, raw in self.kv.iterate(_KEY, reverse=True):
            return Anchor.decode(raw)
        return None

    def covering(self, number: int) -> Anchor | None:
        if number < 1:
            return None
        for _, raw in self.kv.iterate(_KEY, start=_KEY + number.to_bytes(8, "big")):
            anchor = Anchor.decode(raw)
            return anchor if anchor.checkpoint.covers(number) else None
        return None

    def count(self) -> int:
        return sum(1 for _ in self.kv.iterate(_KEY))

    def close(self) -> None:
        self.kv.close()


@dataclass
class AnchorStatus:
    """What ``getAnchorStatus`` reports; plain fields, updated by the service only."""

    anchored_to: int = 0
    """Highest block covered by a stored anchor."""
    last_tsa: str = ""
    last_time: str = ""
    """The last token's TSA time (ISO 8601, UTC)."""
    last_error: str = ""
    failures: int = 0
    """Consecutive rounds in which no TSA gave a usable token."""
    anchors: int = 0


async def fetch_reply(session: aiohttp.ClientSession, url: str, request_der: bytes, timeout_s: float) -> bytes:
    """POST one RFC 3161 request; the reply's bytes (at most MAX_RESPONSE_BYTES), or raise TimestampError/aiohttp errors."""
    async with asyncio.timeout(timeout_s):
        async with session.post(url, data=request_der,
                                headers={"Content-Type": "application/timestamp-query"}) as resp:
            if resp.status != 200:
                raise TimestampError(MALFORMED, f"HTTP {resp.status} {resp.reason}")
            declared = resp.content_length
            if declared is not None and declared > MAX_RESPONSE_BYTES:
                raise TimestampError(MALFORMED, f"the reply would be {declared} bytes; at most {MAX_RESPONSE_BYTES}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(16384):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise TimestampError(MALFORMED, f"the reply exceeds {MAX_RESPONSE_BYTES} bytes")
            return bytes(body)


class AnchorService:
    def __init__(self, settings: AnchorSettings, ledger: Ledger, store: AnchorStore,
                 trusted: Callable[[], Sequence[TrustedTsa]]) -> None:
        self.settings = settings
        self.ledger = ledger
        self.store = store
        self.trusted = trusted
        self.status = AnchorStatus()
        last = store.last()
        if last is not None:
            self.status.anchored_to = last.checkpoint.last
            self.status.anchors = store.count()

    async def run(self) -> None:
        """Forever: anchor what is new, then wait an interval (or less, backing off, after a failure)."""
        async with aiohttp.ClientSession() as session:
            while True:
                delay: float = self.settings.interval_s
                try:
                    await self.anchor_once(session)
                except Exception as exc:  # noqa: BLE001 - anchoring must never take the node down
                    self.status.failures += 1
                    self.status.last_error = str(exc)[:2000]
                    delay = min(float(self.settings.interval_s), MIN_RETRY_S * 2 ** min(self.status.failures - 1, 10))
                    if isinstance(exc, TsaUnavailable):
                        log.warning("anchoring delayed (%d failed round(s); blocks after %d wait, retry in %.0f s): %s",
                                    self.status.failures, self.status.anchored_to, delay, exc)
                    else:
                        log.exception("anchoring round failed (retry in %.0f s)", delay)
                await asyncio.sleep(delay)

    async def anchor_once(self, session: aiohttp.ClientSession) -> Anchor | None:
        """One round: a checkpoint over the unanchored blocks and a token over it, stored; None if nothing is new."""
        first = self.status.anchored_to + 1
        height = self.ledger.height
        if height < first:
            return None
        last = min(height, first + MAX_CHECKPOINT_BLOCKS - 1)
        checkpoint = await asyncio.to_thread(self._checkpoint, first, last)
        tsas = tuple(self.trusted())
        if not tsas:
            raise TsaUnavailable("the chain trusts no time-stamping authority (genesis has no [[tsa]])")
        request = build_request(checkpoint.encode())
        errors = []
        for url in self.settings.tsa_urls:
            started = time.monotonic()
            try:
                reply = await fetch_reply(session, url, request.der, self.settings.timeout_s)
                token = parse_response(reply, normalize=True)
                verified = verify_token(token, checkpoint.imprint, tsas, nonce=request.nonce)
            except TimestampError as exc:
                errors.append(f"{url}: {exc.message}")
                continue
            except TimeoutError:
                errors.append(f"{url}: no answer within {self.settings.timeout_s} s")
                continue
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                errors.append(f"{url}: {type(exc).__name__}: {exc}"[:300])
                continue
            anchor = Anchor(checkpoint, token.der)
            await asyncio.to_thread(self.store.put, anchor)
            self._stored(anchor, verified, url, time.monotonic() - started)
            return anchor
        raise TsaUnavailable("; ".join(errors))

    def _checkpoint(self, first: int, last: int) -> Checkpoint:
        hashes = []
        for n in range(first, last + 1):
            header = self.ledger.blocks.header(n)
            if header is None:  # pragma: no cover - committed blocks do not disappear
                raise LookupError(f"block {n} is not in the ledger")
            hashes.append(header.hash_with(self.ledger.suite))
        chain = self.ledger.chain
        return Checkpoint.over(chain.chain_id, chain.group_id, first, hashes, self.ledger.suite.hash)

    def _stored(self, anchor: Anchor, v: VerifiedTimestamp, url: str, seconds: float) -> None:
        cp = anchor.checkpoint
        s = self.status
        if s.failures:
            log.info("anchoring resumed after %d failed round(s)", s.failures)
        s.anchored_to, s.last_tsa, s.failures, s.last_error = cp.last, v.tsa, 0, ""
        s.last_time = v.gen_time.isoformat().replace("+00:00", "Z")
        s.anchors += 1
        log.info("anchored blocks %d-%d: %s time-stamped checkpoint %s at %s (%s, %.2f s)", cp.first, cp.last, v.tsa,
                 cp.imprint.hex()[:16], s.last_time, url, seconds)

    # -- what proof builders ask ---------------------------------------------------------------
    def proof(self, number: int) -> tuple[Anchor, ListProof] | None:
        """The anchor covering block ``number`` and the audit path from its hash to the checkpoint root."""
        return anchor_proof(self.ledger, self.store, number)


def anchor_proof(ledger: Ledger, store: AnchorStore, number: int) -> tuple[Anchor, ListProof] | None:
    try:
        anchor = store.covering(number)
    except DecodeError:  # pragma: no cover - only this node writes the store
        return None
    if anchor is None:
        return None
    cp = anchor.checkpoint
    hashes = []
    for n in range(cp.first, cp.last + 1):
        header = ledger.blocks.header(n)
        if header is None:
            return None
        hashes.append(header.hash_with(ledger.suite))
    return anchor, prove_block(hashes, cp.first, number, ledger.suite.hash)
