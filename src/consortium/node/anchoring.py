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
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
MAX_OVERLAP = 16
"""How many later-ending anchors :meth:`AnchorStore.covering` looks past (overlapping ranges of several anchorers)."""


# Why one TSA request failed (the ``reason`` label of consortium_anchor_tsa_failures_total).
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
HTTP_ERROR = "http_error"
NO_TRUSTED_TSA = "no_trusted_tsa"


class TsaUnavailable(Exception):
    """No configured TSA gave a usable token this round; the message lists why, per URL."""


class TsaHttpError(TimestampError):
    """The TSA answered with an HTTP status other than 200."""

    def __init__(self, message: str) -> None:
        super().__init__(MALFORMED, message)


class AnchorStore:
    """Anchors keyed by the last block they cover, so "the anchor covering block n" is one seek."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    @classmethod
    def open(cls, data_dir: Path) -> AnchorStore:
        return cls(LevelDBStore(data_dir / ANCHORS_DIR))

    def put(self, anchor: Anchor) -> None:
        self.kv.put(_KEY + anchor.checkpoint.last.to_bytes(8, "big"), anchor.encode())

    def get(self, last: int) -> Anchor | None:
        """The anchor whose checkpoint ends at block ``last``."""
        raw = self.kv.get(_KEY + last.to_bytes(8, "big"))
        return None if raw is None else Anchor.decode(raw)

    def raw_from(self, start: int, count: int) -> list[bytes]:
        """Up to ``count`` encoded anchors ending at or after block ``start``, in order (what a peer asks for)."""
        out: list[bytes] = []
        for _, raw in self.kv.iterate(_KEY, start=_KEY + start.to_bytes(8, "big")):
            if len(out) >= count:
                break
            out.append(raw)
        return out

    def last(self) -> Anchor | None:
        for _, raw in self.kv.iterate(_KEY, reverse=True):
            return Anchor.decode(raw)
        return None

    def covering(self, number: int) -> Anchor | None:
        """The anchor ending soonest at or after ``number`` that covers it.

        Checkpoints of one anchoring node tile the chain, so that is the first one looked at; anchors
        shared by several anchoring nodes may overlap, so a few more are looked at before giving up.
        """
        if number < 1:
            return None
        for i, (_, raw) in enumerate(self.kv.iterate(_KEY, start=_KEY + number.to_bytes(8, "big"))):
            anchor = Anchor.decode(raw)
            if anchor.checkpoint.covers(number):
                return anchor
            if i >= MAX_OVERLAP:
                break
        return None

    def count(self) -> int:
        return sum(1 for _ in self.kv.iterate(_KEY))

    def close(self) -> None:
        self.kv.close()


@dataclass
class AnchorStatus:
    """What ``getAnchorStatus``, ``consortium status`` and the metrics report: plain fields, updated by the
    anchoring service and by anchors received from peers, read by RPC and Prometheus."""

    anchored_to: int = 0
    """Highest block covered by a stored anchor."""
    last_first: int = 0
    """First block of that anchor's checkpoint."""
    last_tsa: str = ""
    last_time: str = ""
    """The last token's TSA time (ISO 8601, UTC)."""
    last_timestamp: float = 0.0
    """The same as Unix seconds (0 when none)."""
    last_error: str = ""
    failures: int = 0
    """Consecutive rounds in which no TSA gave a usable token."""
    failing_since: str = ""
    """When the first of those rounds failed (ISO 8601, UTC; empty while anchoring works)."""
    anchors: int = 0
    """Anchors stored beside this node's ledger (fetched or received)."""
    fetched: int = 0
    """Anchors this node obtained from a TSA since it started."""
    tsa_failures: dict[str, int] = field(default_factory=dict)
    """Failed TSA requests since start, by reason (TIMEOUT, UNREACHABLE, HTTP_ERROR, a TimestampError kind …)."""
    from_peers: dict[str, int] = field(default_factory=dict)
    """Anchors peers sent since start, by outcome (node/anchor_exchange.py: accepted, duplicate, ahead, or why refused)."""

    @classmethod
    def load(cls, store: AnchorStore, trusted: Callable[[], Sequence[TrustedTsa]]) -> AnchorStatus:
        """The status a restarted node reports before its next anchor: that of the last stored anchor."""
        status = cls()
        last = store.last()
        if last is None:
            return status
        status.anchors = store.count()
        try:
            token = parse_response(last.reply)
            v = verify_token(token, last.checkpoint.imprint, tuple(trusted()))
            status.note(last, v)
        except TimestampError:  # its TSA has since been removed: the range still counts, the name is unknown
            status.anchored_to, status.last_first = last.checkpoint.last, last.checkpoint.first
        return status

    def note(self, anchor: Anchor, v: VerifiedTimestamp) -> None:
        """A verified anchor is stored: it becomes the last one if it reaches further."""
        if anchor.checkpoint.last >= self.anchored_to:
            self.anchored_to, self.last_first, self.last_tsa = anchor.checkpoint.last, anchor.checkpoint.first, v.tsa
            self.last_time = _iso(v.gen_time)
            self.last_timestamp = v.gen_time.timestamp()

    def failed(self, reasons: Sequence[str]) -> None:
        for reason in reasons:
            self.tsa_failures[reason] = self.tsa_failures.get(reason, 0) + 1

    def to_json(self, height: int) -> dict[str, object]:
        return {
            "height": height, "anchoredTo": self.anchored_to, "pendingBlocks": max(0, height - self.anchored_to),
            "anchors": self.anchors, "lastCheckpoint": {"first": self.last_first, "last": self.anchored_to}
            if self.anchored_to else None, "lastTsa": self.last_tsa, "lastTime": self.last_time,
            "failures": self.failures, "failingSince": self.failing_since, "lastError": self.last_error,
            "fetched": self.fetched, "tsaFailures": dict(sorted(self.tsa_failures.items())),
            "fromPeers": dict(sorted(self.from_peers.items())),
        }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def fetch_reply(session: aiohttp.ClientSession, url: str, request_der: bytes, timeout_s: float) -> bytes:
    """POST one RFC 3161 request; the reply's bytes (at most MAX_RESPONSE_BYTES), or raise TimestampError/aiohttp errors."""
    async with asyncio.timeout(timeout_s):
        async with session.post(url, data=request_der,
                                headers={"Content-Type": "application/timestamp-query"}) as resp:
            if resp.status != 200:
                raise TsaHttpError(f"HTTP {resp.status} {resp.reason}")
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
                 trusted: Callable[[], Sequence[TrustedTsa]], status: AnchorStatus | None = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.store = store
        self.trusted = trusted
        self.status = status if status is not None else AnchorStatus.load(store, trusted)
        self.stored_callbacks: list[Callable[[Anchor], None]] = []
        """Called with each anchor this node fetched, once stored (the node shares it with its peers)."""

    async def run(self) -> None:
        """Forever: anchor what is new, then wait an interval (or less, backing off, after a failure)."""
        async with aiohttp.ClientSession() as session:
            while True:
                delay: float = self.settings.interval_s
                try:
                    await self.anchor_once(session)
                except Exception as exc:  # noqa: BLE001 - anchoring must never take the node down
                    if not self.status.failures:
                        self.status.failing_since = _iso(datetime.now(UTC))
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
        # After the furthest stored anchor, this node's or one a peer shared: the consortium needs one token a period.
        first = self.status.anchored_to + 1
        height = self.ledger.height
        if height < first:
            return None
        last = min(height, first + MAX_CHECKPOINT_BLOCKS - 1)
        checkpoint = await asyncio.to_thread(self._checkpoint, first, last)
        tsas = tuple(self.trusted())
        if not tsas:
            self.status.failed([NO_TRUSTED_TSA])
            raise TsaUnavailable("the chain trusts no time-stamping authority (genesis has no [[tsa]])")
        request = build_request(checkpoint.encode())
        errors, reasons = [], []
        for url in self.settings.tsa_urls:
            started = time.monotonic()
            try:
                reply = await fetch_reply(session, url, request.der, self.settings.timeout_s)
                token = parse_response(reply, normalize=True)
                verified = verify_token(token, checkpoint.imprint, tsas, nonce=request.nonce)
            except TimestampError as exc:
                errors.append(f"{url}: {exc.message}")
                reasons.append(HTTP_ERROR if isinstance(exc, TsaHttpError) else exc.kind.replace("-", "_"))
                continue
            except TimeoutError:
                errors.append(f"{url}: no answer within {self.settings.timeout_s} s")
                reasons.append(TIMEOUT)
                continue
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                errors.append(f"{url}: {type(exc).__name__}: {exc}"[:300])
                reasons.append(UNREACHABLE)
                continue
            self.status.failed(reasons)
            anchor = Anchor(checkpoint, token.der)
            await asyncio.to_thread(self.store.put, anchor)
            self._stored(anchor, verified, url, time.monotonic() - started)
            return anchor
        self.status.failed(reasons)
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
            log.info("anchoring resumed after %d failed round(s) since %s", s.failures, s.failing_since)
        s.failures, s.last_error, s.failing_since = 0, "", ""
        s.note(anchor, v)
        s.anchors += 1
        s.fetched += 1
        for callback in self.stored_callbacks:
            callback(anchor)
        log.info("anchored blocks %d-%d: %s time-stamped checkpoint %s at %s (%s, %.2f s)", cp.first, cp.last, v.tsa,
                 cp.imprint.hex()[:16], _iso(v.gen_time), url, seconds)

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
