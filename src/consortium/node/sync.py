"""Block sync and transaction gossip: how a node learns what it missed.

Every node announces ``STATUS(height, head hash)`` to all peers each second and
after each commit. A node behind its best peer asks that peer for the next
blocks (at most :data:`~consortium.node.wire.MAX_SYNC_BATCH`, one request in
flight, retried on another peer after a timeout). Fetched blocks are not
trusted: the consensus driver checks each one's commit certificate against the
sealer set in force, re-executes it and compares the state root before
committing (see ``ConsensusDriver._apply_synced``).

Gossip is one hop: the nodes of a consortium are fully meshed, so a node
forwards the transactions clients gave it to every peer, batched every few
milliseconds, and does not re-forward what it received by gossip.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from consortium.chain.ledger import Ledger
from consortium.encoding.hexbytes import to_hex
from consortium.ledger.block import Block
from consortium.ledger.transaction import Transaction
from consortium.network.envelope import Envelope, MessageKind
from consortium.node import wire

log = logging.getLogger("consortium.node.sync")

STATUS_INTERVAL_S = 1.0
REQUEST_TIMEOUT_S = 5.0
LAG_GRACE_S = 1.5
"""Being one block behind is normal for a moment (a peer announced its commit before ours
landed); only a lag of two blocks, or of one that lasts this long, starts a sync."""
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
GOSSIP_INTERVAL_S = 0.01
MAX_GOSSIP_BUFFER = 50_000
MAX_GOSSIP_BYTES = 8 * 1024 * 1024
"""A gossip frame stays well inside the 16 MiB P2P frame limit."""

Send = Callable[[bytes | None, bytes], None]
"""send(peer or None for all peers, payload)."""


class BlockSync:
    def __init__(self, ledger: Ledger, send: Send, deliver: Callable[[bytes, tuple], None]) -> None:
        self.ledger = ledger
        self._send = send
        self._deliver = deliver
        self.peer_heights: dict[bytes, int] = {}
        self._in_flight: tuple[bytes, int, int, float] | None = None
        """(peer, first, last, since): blocks first..last were asked for and are not all committed yet.
        ``since`` is when the request left or, later, when the last progress was seen."""
        self._behind_since: tuple[int, float] | None = None  # (our height, when first seen behind)
        self.blocks_received = 0

    def status(self) -> dict[str, Any]:
        highest = max(self.peer_heights.values(), default=self.ledger.height)
        return {
            "blockNumber": self.ledger.height,
            "knownHighestNumber": max(highest, self.ledger.height),
            "isSyncing": highest > self.ledger.height,
            "blocksReceived": self.blocks_received,
            "peers": [{"nodeId": to_hex(p), "blockNumber": h} for p, h in sorted(self.peer_heights.items())],
        }

    def announce(self, to: bytes | None = None) -> None:
        head = self.ledger.head_header()
        body = wire.encode_status(wire.Status(head.number, head.hash))
        self._send(to, Envelope(MessageKind.STATUS, body).encode())

    async def run(self) -> None:
        while True:
            self.announce()
            self.maybe_request()
            await asyncio.sleep(STATUS_INTERVAL_S)

    def on_status(self, peer: bytes, body: bytes) -> None:
        status = wire.decode_status(body)
        self.peer_heights[peer] = status.height
        self.maybe_request()

    def forget(self, peer: bytes) -> None:
        self.peer_heights.pop(peer, None)

    def maybe_request(self) -> None:
        """Ask the best peer for the next blocks, unless an earlier request is still being served.

        A request stays in flight until every block it asked for is committed, not merely until
        the response arrives: the driver applies the fetched blocks one by one, and asking again
        meanwhile (each STATUS would) fetches the same blocks again from every peer in turn.
        It is given up after REQUEST_TIMEOUT_S without progress.
        """
        mine = self.ledger.height
        now = time.monotonic()
        if self._in_flight is not None:
            peer, first, last, since = self._in_flight
            if mine < last:
                if mine >= first:  # progress: the blocks are being applied
                    self._in_flight = (peer, mine + 1, last, now)
                    return
                if now - since < REQUEST_TIMEOUT_S:
                    return  # still waiting for the response
                self.peer_heights.pop(peer, None)  # no answer: try someone else
            self._in_flight = None
        ahead = [(h, p) for p, h in self.peer_heights.items() if h > mine]
        if not ahead:
            self._behind_since = None
            return
        height, peer = max(ahead)
        if self._behind_since is None or self._behind_since[0] != mine:
            self._behind_since = (mine, now)
        if height - mine < 2 and now - self._behind_since[1] < LAG_GRACE_S:
            return
        count = min(wire.MAX_SYNC_BATCH, height - mine)
        self._in_flight = (peer, mine + 1, mine + count, now)
        log.info("sync: asking %s for blocks %d..%d (peer at %d)", peer.hex()[:12], mine + 1, mine + count, height)
        self._send(peer, Envelope(MessageKind.BLOCK_REQUEST, wire.encode_block_request(mine + 1, count)).encode())

    def on_request(self, peer: bytes, body: bytes) -> None:
        start, count = wire.decode_block_request(body)
        blocks: list[Block] = []
        size = 0

        for number in range(start, min(start + count, self.ledger.height + 1)):
            block = self.ledger.block(number)
            if block is None:
                break
            size += len(block.encode())
            if blocks and size > MAX_RESPONSE_BYTES:
                break
            blocks.append(block)
        if blocks:
            self._send(peer, Envelope(MessageKind.BLOCK_RESPONSE, wire.encode_blocks(blocks)).encode())

    def on_response(self, peer: bytes, body: bytes) -> None:
        blocks = wire.decode_blocks(body, self.ledger.suite)
        if self._in_flight is not None and self._in_flight[0] == peer:
            _, first, last, _ = self._in_flight
            if blocks and blocks[0].number <= first <= blocks[-1].number:
                # Answered: wait (REQUEST_TIMEOUT_S, renewed on progress) for the driver to apply
                # what came, which may be fewer blocks than asked for (the response size cap).
                self._in_flight = (peer, first, min(last, blocks[-1].number), time.monotonic())
            else:
                self._in_flight = None  # an empty or unusable answer: ask again at the next STATUS
        if blocks:
            self.blocks_received += len(blocks)
            self._deliver(peer, blocks)

    def on_commit(self) -> None:
        self.announce()


class TxGossip:
    """Batches locally submitted transactions and broadcasts them to every peer."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._buffer: list[Transaction] = []
        self._wake = asyncio.Event()

    def add(self, tx: Transaction) -> None:
        if len(self._buffer) < MAX_GOSSIP_BUFFER:
            self._buffer.append(tx)
            self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GOSSIP_INTERVAL_S)  # let a burst accumulate into one frame
            self._wake.clear()
            while self._buffer:
                count, size = 0, 0
                for tx in self._buffer[: wire.MAX_GOSSIP_BATCH]:
                    size += len(tx.encode())
                    if count and size > MAX_GOSSIP_BYTES:
                        break
                    count += 1
                batch, self._buffer = self._buffer[:count], self._buffer[count:]
                self._send(None, Envelope(MessageKind.TX_GOSSIP, wire.encode_transactions(batch)).encode())
