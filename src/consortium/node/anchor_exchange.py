"""Time anchors shared between nodes, so a proof built from any node carries one.

An anchor is self-verifying: a TSA's signature over a checkpoint that every node can
recompute from its own blocks. So the node that fetched it sends it to its peers
(``ANCHOR``, the stored bytes), and a node missing anchors asks a peer for them
(``ANCHOR_REQUEST [from_block, count]``, answered with up to ``count`` ``ANCHOR``
messages); docs/protocol.md §9. A received anchor is believed only after the checks
the offline verifier makes, done more strictly: the checkpoint must be over this
node's own blocks (every block of the range, not one audit path), and the token must
be a strict-DER reply whose signature chains to a TSA trusted in the state after the
checkpoint's last block, over that checkpoint. Then it is stored beside the ledger,
exactly as if this node had fetched it; anything else is dropped with a log line
naming the peer and the reason.

Out of consensus: frames are only queued on the event loop (a bounded queue; a
flood is dropped and counted), one worker verifies them in a thread, and only the
anchor database is written. Coverage stays gap-free: an anchor is taken only if it
starts at or before the first block not yet covered, so a node that missed anchors
(down, or behind) pulls the older ones first, from ``anchored_to + 1``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from consortium.chain.ledger import Ledger
from consortium.crypto.timestamp import TimestampError, TrustedTsa, VerifiedTimestamp, parse_response, verify_token
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, field_int
from consortium.ledger.checkpoint import Anchor, Checkpoint
from consortium.network.envelope import Envelope, MessageKind
from consortium.node.anchoring import AnchorStatus, AnchorStore
from consortium.node.wire import WireError

log = logging.getLogger("consortium.anchor")

MAX_QUEUE = 64
"""Anchors waiting to be verified; more are dropped (a peer sends one per checkpoint, a pull at most MAX_PULL)."""
MAX_PULL = 16
PULL_INTERVAL_S = 5.0
MAX_ANCHOR_BODY = 80 * 1024
"""An encoded anchor: a reply of at most 64 KiB plus a checkpoint."""

# Outcomes of a received anchor (the ``outcome`` label of consortium_anchor_peer_anchors_total).
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
"""Already held, byte for byte, or another valid anchor ending at the same block is."""
AHEAD = "ahead"
"""Over blocks this node has not committed yet, or past a gap: left for a later pull."""
QUEUE_FULL = "queue_full"
MALFORMED = "malformed"
OTHER_CHAIN = "other_chain"
MISMATCH = "anchor_mismatch"
"""The checkpoint is not over this node's blocks: another history, or forged."""

Send = Callable[[bytes | None, bytes], None]


class AnchorRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def encode_anchor_request(start: int, count: int) -> bytes:
    return canonical.encode([start, count])


def decode_anchor_request(data: bytes) -> tuple[int, int]:
    """``[from_block, count]`` from a peer; raises only WireError."""
    try:
        v = canonical.decode(data, max_size=64)
        if not isinstance(v, list) or len(v) != 2:
            raise DecodeError("anchor request: expected an array [from_block, count]")
        return (field_int(v[0], "anchor request.from", lo=1, hi=2**63 - 1),
                field_int(v[1], "anchor request.count", lo=1, hi=MAX_PULL))
    except DecodeError as exc:
        raise WireError(str(exc)) from None


class AnchorExchange:
    def __init__(self, ledger: Ledger, store: AnchorStore, status: AnchorStatus,
                 trusted_at: Callable[[int], Sequence[TrustedTsa]], send: Send,
                 peers: Callable[[], Sequence[bytes]]) -> None:
        self.ledger = ledger
        self.store = store
        self.status = status
        self.trusted_at = trusted_at
        self._send = send
        self._peers = peers
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(MAX_QUEUE)
        self._next_peer = 0

    # -- sending -------------------------------------------------------------------------------
    def share(self, anchor: Anchor) -> None:
        """An anchor this node just fetched, to every peer."""
        self._send(None, Envelope(MessageKind.ANCHOR, anchor.encode()).encode())

    def on_request(self, peer: bytes, body: bytes) -> None:
        """A peer's ``ANCHOR_REQUEST``: the anchors this node holds ending at or after ``from_block``."""
        start, count = decode_anchor_request(body)
        for raw in self.store.raw_from(start, count):
            self._send(peer, Envelope(MessageKind.ANCHOR, raw).encode())

    def pull(self) -> None:
        """Ask one peer (in turn) for the anchors after the last one this node holds."""
        peers = list(self._peers())
        if not peers:
            return
        peer = peers[self._next_peer % len(peers)]
        self._next_peer += 1
        body = encode_anchor_request(self.status.anchored_to + 1, MAX_PULL)
        self._send(peer, Envelope(MessageKind.ANCHOR_REQUEST, body).encode())

    # -- receiving -----------------------------------------------------------------------------
    def on_anchor(self, peer: bytes, body: bytes) -> None:
        """Queue a peer's ``ANCHOR`` for the worker; never verifies on the caller's (the event loop's) time."""
        try:
            self._queue.put_nowait((peer, body))
        except asyncio.QueueFull:
            self._count(QUEUE_FULL)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._work(), name="anchor-verify")
            tg.create_task(self._pulls(), name="anchor-pull")

    async def _pulls(self) -> None:
        while True:
            await asyncio.sleep(PULL_INTERVAL_S)
            self.pull()

    async def _work(self) -> None:
        while True:
            peer, body = await self._queue.get()
            try:
                await self.receive(peer, body)
            except Exception:  # noqa: BLE001 - a peer's anchor must never take the node down
                log.exception("checking an anchor from peer %s failed", peer.hex()[:12])

    async def receive(self, peer: bytes, body: bytes) -> str:
        """Check one anchor from ``peer`` and store it if it holds; returns the outcome."""
        who = peer.hex()[:12]
        try:
            anchor = _decode(body)
            cp = anchor.checkpoint
            if (cp.chain_id, cp.group_id) != (self.ledger.chain.chain_id, self.ledger.chain.group_id):
                raise AnchorRefused(OTHER_CHAIN, f"its checkpoint is of chain {cp.chain_id!r}/{cp.group_id!r}")
            if cp.last > self.ledger.height or cp.first > self.status.anchored_to + 1:
                log.debug("anchor for blocks %d-%d from peer %s left for later (height %d, anchored to %d)",
                          cp.first, cp.last, who, self.ledger.height, self.status.anchored_to)
                return self._count(AHEAD)
            held = self.store.get(cp.last)
            if held is not None and held.encode() == body:
                return self._count(DUPLICATE)
            v = await asyncio.to_thread(self.verify, anchor)
        except AnchorRefused as exc:
            log.warning("dropping an anchor from peer %s: %s", who, exc.message)
            return self._count(exc.reason)
        if self.store.get(cp.last) is not None:  # another anchoring node's, also valid: keep the first
            return self._count(DUPLICATE)
        self.store.put(anchor)
        self.status.note(anchor, v)
        self.status.anchors += 1
        log.info("stored the anchor of blocks %d-%d from peer %s: %s time-stamped it at %s", cp.first, cp.last, who,
                 v.tsa, v.gen_time.isoformat())
        return self._count(ACCEPTED)

    def verify(self, anchor: Anchor) -> VerifiedTimestamp:
        """What the offline verifier checks (protocol.md §11.4 step 6), for every block of the range."""
        cp = anchor.checkpoint
        hashes = []
        for n in range(cp.first, cp.last + 1):
            header = self.ledger.blocks.header(n)
            if header is None:
                raise AnchorRefused(AHEAD, f"block {n} of its checkpoint is not in this node's ledger")
            hashes.append(header.hash_with(self.ledger.suite))
        mine = Checkpoint.over(cp.chain_id, cp.group_id, cp.first, hashes, self.ledger.suite.hash)
        if mine != cp:
            raise AnchorRefused(MISMATCH, f"its checkpoint of blocks {cp.first}-{cp.last} (root 0x{cp.root.hex()[:16]}…)"
                                          f" is not over this node's blocks (root 0x{mine.root.hex()[:16]}…): "
                                          "another history, or forged")
        try:
            token = parse_response(anchor.reply)
            return verify_token(token, cp.imprint, tuple(self.trusted_at(cp.last)))
        except TimestampError as exc:
            raise AnchorRefused(exc.kind.replace("-", "_"), f"its time-stamp token over blocks {cp.first}-{cp.last} "
                                                            f"does not verify: {exc.message}") from None

    def _count(self, outcome: str) -> str:
        shared = self.status.from_peers
        shared[outcome] = shared.get(outcome, 0) + 1
        return outcome


def _decode(body: bytes) -> Anchor:
    if len(body) > MAX_ANCHOR_BODY:
        raise AnchorRefused(MALFORMED, f"it is {len(body)} bytes; an anchor is at most {MAX_ANCHOR_BODY}")
    try:
        return Anchor.decode(body)
    except (DecodeError, ValueError) as exc:
        raise AnchorRefused(MALFORMED, f"it is not an anchor: {exc}") from None
