"""Sealing batches and anchoring their roots on chain, tracked to commit.

* :meth:`Anchor.seal_loop`: at least every ``interval_ms`` while items wait (or as soon as
  ``max_items`` wait), take the durable unsealed items in log order, build their tree,
  sign ``notarize_batch(root, n)``, make the batch record durable, then send it.
  At most ``max_inflight`` batches are open; beyond that sealing waits, unsealed items
  pile up to ``max_pending_items`` and intake answers 503 (backpressure).
* :meth:`Anchor.track_loop`: when the chain's height moves, look up each open batch's
  receipt; on commit, fetch the batch's ordinary proof bundle from the node (the node is
  a courier: the bundle is verified like any other), store it, and wake proof waiters.
  An unanswered transaction is re-sent as is (the pool and chain drop duplicates); one
  whose ``block_limit`` passed without a receipt can never commit, so it is signed again
  with a fresh nonce — never before, so a batch is never on chain twice. The block limit is the
  SDK's margin ahead of the last head seen (``Client.block_limit_margin``: ``BLOCK_LIMIT_MARGIN``,
  or less on a chain whose ``block_limit_window`` is smaller).

Counters here (sealed, committed, failed, signed again, resent, node errors) and the
acknowledgement times of open items feed the gateway's Prometheus metrics (gateway/metrics.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from consortium.client import ClientError, SyncClient
from consortium.client.sdk import Client, RpcCallError
from consortium.crypto.suite import KeyPair
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.build import fetch_bundle
from consortium.evidence.bundle import ProofBundle, parse_bundle
from consortium.evidence.errors import EvidenceNotFound, ProofUnavailable
from consortium.execution.genesis import EVIDENCE_ADDRESS
from consortium.gateway.store import BatchRecord, BatchState, GatewayStore
from consortium.gateway.tree import BatchTree
from consortium.ledger.transaction import Transaction

log = logging.getLogger("consortium.gateway.anchor")

POLL_S = 0.1
RESEND_S = 5.0
RETRY_FAILED_S = 10.0
ACK_GRAIN_S = 0.01
"""Items acknowledged within this long of each other share one acknowledgement time (bounded bookkeeping)."""


@dataclass
class Flight:
    """An open batch: sealed and durable, not yet known to be committed."""

    record: BatchRecord
    tree: BatchTree
    tx: Transaction
    sealed_at: float
    sent_at: float = 0.0
    receipt: dict[str, Any] | None = None
    retry_at: float = 0.0
    check_at: float = 0.0
    """Not before then: look again at a failed receipt whose cause could not be read."""


@dataclass(frozen=True)
class Acked:
    """Items ``first .. end-1`` were acknowledged at ``at`` (monotonic): for time-to-proof."""

    first: int
    end: int
    at: float


class Anchor:
    def __init__(self, store: GatewayStore, io: Executor, client: Client, key: KeyPair, *, node_rpc: str,
                 interval_s: float, max_items: int, max_inflight: int,
                 on_commit: Callable[[BatchRecord, BatchTree, bytes], None],
                 on_proof_times: Callable[[list[tuple[float, int]]], None] | None = None) -> None:
        self.store = store
        self._io = io
        self.client = client
        self.key = key
        self._node_rpc = node_rpc
        self.interval_s = interval_s
        self.max_items = max_items
        self.max_inflight = max_inflight
        self._on_commit = on_commit
        self._on_proof_times = on_proof_times
        self.unsealed: list[bytes] = []
        """Encodings of durable items not yet in a batch, from seq ``unsealed_first`` on."""
        self.unsealed_first = store.sealed_end
        self.flights: dict[int, Flight] = {}
        self._full = asyncio.Event()
        self._chain: tuple[str, str] | None = None
        self.height = 0
        self._fetcher = ThreadPoolExecutor(1, thread_name_prefix="gateway-proof")
        self._sync_client: SyncClient | None = None
        self.acked: deque[Acked] = deque()
        """Acknowledgement times of items not yet in a committed batch, in log order (not kept across restarts)."""
        self.sealed_batches = 0
        self.committed_batches = 0
        self.committed_items = 0
        self.failed_batches = 0
        self.failed_items = 0
        self.signed_again: dict[str, int] = {"block_limit": 0, "refused": 0}
        self.resent = 0
        self.node_errors = 0
        self.last_commit_at = 0.0
        self.last_error = ""

    # -- intake side ------------------------------------------------------------------------------
    def add_durable(self, first: int, encodings: list[bytes]) -> None:
        if first != self.unsealed_first + len(self.unsealed):
            raise RuntimeError(f"items {first}.. arrived out of order (expected {self.unsealed_first + len(self.unsealed)})")
        self.unsealed.extend(encodings)
        now = time.monotonic()
        last = self.acked[-1] if self.acked else None
        if last is not None and last.end == first and now - last.at < ACK_GRAIN_S:
            self.acked[-1] = Acked(last.first, first + len(encodings), last.at)  # one group commit, one entry
        else:
            self.acked.append(Acked(first, first + len(encodings), now))
        if len(self.unsealed) >= self.max_items:
            self._full.set()

    @property
    def open_items(self) -> int:
        """Durable items not yet in a committed batch (what the memory bound counts)."""
        return len(self.unsealed) + sum(f.record.count for f in self.flights.values())

    def oldest_open_age(self) -> float:
        """Seconds since the oldest item still waiting for its proof was acknowledged (0: none waits)."""
        return time.monotonic() - self.acked[0].at if self.acked else 0.0

    def _take_acked(self, first: int, end: int) -> list[tuple[float, int]]:
        """Forget the acknowledgement times of items ``first .. end-1``; return them as (time, items) pairs.

        Batches usually become final in log order, but not always (a batch signed again commits
        after the next one), so the range is cut out wherever it lies. The list is short: one
        entry per acknowledgement moment (see :meth:`add_durable`).
        """
        kept: deque[Acked] = deque()
        taken: list[tuple[float, int]] = []
        for a in self.acked:
            lo, hi = max(a.first, first), min(a.end, end)
            if hi <= lo:
                kept.append(a)
                continue
            taken.append((a.at, hi - lo))
            if a.first < lo:
                kept.append(Acked(a.first, lo, a.at))
            if hi < a.end:
                kept.append(Acked(hi, a.end, a.at))
        self.acked = kept
        return taken

    def flight_of(self, seq: int) -> Flight | None:
        for flight in self.flights.values():
            if flight.record.first <= seq < flight.record.end:
                return flight
        return None

    # -- recovery -----------------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart (clean or SIGKILL): track open batches again, re-queue unsealed items."""
        now = time.monotonic()
        for record in self.store.open_batches():
            tree = BatchTree(self.store.items(record.first, record.count))
            if tree.root != record.root:
                raise RuntimeError(f"batch {record.first}: the items no longer hash to its root: database damaged")
            self.flights[record.first] = Flight(record, tree, Transaction.decode(record.tx), now)
        self.unsealed_first = self.store.sealed_end
        count = self.store.next_seq - self.unsealed_first
        # Their acknowledgement times died with the process: time-to-proof counts from now.
        self.acked.extend(Acked(f.record.first, f.record.end, now) for f in sorted(self.flights.values(),
                                                                                   key=lambda f: f.record.first))
        if count:
            self.acked.append(Acked(self.unsealed_first, self.store.next_seq, now))
        self.unsealed = self.store.items(self.unsealed_first, count) if count else []
        if self.flights or self.unsealed:
            log.info("recovered %d open batch(es) to track and %d acknowledged item(s) to seal",
                     len(self.flights), len(self.unsealed))

    # -- sealing ------------------------------------------------------------------------------------
    async def seal_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._full.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
            self._full.clear()
            # Seal what is waiting now (in batches of at most max_items), not what arrives meanwhile:
            # one batch per interval under steady load, sooner only when max_items are waiting.
            waiting = len(self.unsealed)
            while waiting > 0 and len(self.flights) < self.max_inflight:
                try:
                    waiting -= await self._seal_one(waiting)
                except ClientError as exc:
                    self.node_errors += 1
                    self._note_error(f"cannot reach the node to sign a batch: {exc}")
                    await asyncio.sleep(1.0)
                    break

    async def _seal_one(self, limit: int) -> int:
        take = self.unsealed[:min(limit, self.max_items)]
        first = self.unsealed_first
        loop = asyncio.get_running_loop()
        tree = await loop.run_in_executor(None, BatchTree, take)
        tx = await self._sign(tree.root, len(take))
        record = BatchRecord(first, len(take), tree.root, tx.encode())
        await loop.run_in_executor(self._io, self.store.seal, record)
        del self.unsealed[:len(take)]
        self.unsealed_first += len(take)
        flight = Flight(record, tree, tx, time.monotonic())
        self.flights[first] = flight
        self.sealed_batches += 1
        log.debug("sealed batch %d: %d items, root %s", first, len(take), to_hex(tree.root))
        await self._send(flight)
        return len(take)

    async def _sign(self, root: bytes, count: int) -> Transaction:
        if self._chain is None:
            self._chain = await self.client.chain_ids()
        margin = await self.client.block_limit_margin()
        try:  # an idle gateway's last look may be old; unreachable node: seal anyway, send when it is back
            self.height = await self.client.block_number()
        except ClientError:
            if not self.height:
                raise
        chain_id, group_id = self._chain
        return Transaction(chain_id, group_id, secrets.randbits(63), self.height + margin, b"",
                           EVIDENCE_ADDRESS, "notarize_batch", (root, count)).signed_by(self.key)

    async def _send(self, flight: Flight) -> None:
        flight.sent_at = time.monotonic()
        try:
            await self.client.send_transaction(flight.tx)
        except RpcCallError as exc:
            if exc.code != 10003:  # "duplicate": already in the pool or on chain, which is what we want
                self._note_error(f"the node refused batch {flight.record.first}'s transaction: {exc.message}")
        except ClientError as exc:
            self.node_errors += 1
            self._note_error(f"cannot send batch {flight.record.first}'s transaction: {exc}")

    # -- tracking -----------------------------------------------------------------------------------
    async def track_loop(self) -> None:
        seen = -1
        while True:
            await asyncio.sleep(POLL_S)
            if not self.flights:
                continue
            try:
                self.height = await self.client.block_number()
                if self.height == seen and not any(self._due(f) for f in self.flights.values()):
                    continue
                seen = self.height
                for flight in sorted(self.flights.values(), key=lambda f: f.record.first):
                    await self._track(flight)
            except ClientError as exc:
                self.node_errors += 1
                self._note_error(f"cannot reach the node {self._node_rpc}: {exc}")
                await asyncio.sleep(1.0)

    def _due(self, flight: Flight) -> bool:
        now = time.monotonic()
        return (flight.receipt is not None or now - flight.sent_at > RESEND_S
                or (flight.retry_at > 0 and now >= flight.retry_at))

    async def _track(self, flight: Flight) -> None:
        now = time.monotonic()
        if flight.retry_at:
            if now < flight.retry_at:
                return
            flight.retry_at = 0.0
            await self._resign(flight, "refused", "the chain refused it before")
            return
        if flight.check_at:
            if now < flight.check_at:
                return
            flight.check_at = 0.0
        if flight.receipt is None:
            flight.receipt = await self.client.receipt(flight.tx.hash)
        receipt = flight.receipt
        if receipt is None:
            if self.height >= flight.tx.block_limit:
                await self._resign(flight, "block_limit", f"its block limit {flight.tx.block_limit} passed uncommitted")
            elif now - flight.sent_at > RESEND_S:
                self.resent += 1
                await self._send(flight)
            return
        block = int(receipt["blockNumber"])
        # The chain is at least this high. The height read at the top of the loop may predate the
        # commit, and once no batch is in flight the loop reads it no more: without this the
        # chain_height gauge could stay below the block of the last committed batch.
        self.height = max(self.height, block)
        if receipt.get("status") != 0:
            await self._refused(flight, block, str(receipt.get("error") or receipt.get("statusName")))
            return
        await self._committed(flight, block)

    async def _committed(self, flight: Flight, block: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            bundle = await loop.run_in_executor(self._fetcher, self._fetch, flight.record.root, block)
        except (ProofUnavailable, EvidenceNotFound, ClientError) as exc:
            self._note_error(f"batch {flight.record.first} is committed in block {block} but its proof "
                             f"cannot be fetched yet: {exc}")
            return
        record = await loop.run_in_executor(self._io, self.store.commit, flight.record, block, bundle)
        del self.flights[flight.record.first]
        self.committed_batches += 1
        self.committed_items += record.count
        self.last_commit_at = time.time()
        self._on_commit(record, flight.tree, bundle)
        times = self._take_acked(record.first, record.end)
        if times and self._on_proof_times is not None:
            now = time.monotonic()
            self._on_proof_times([(now - at, n) for at, n in times])
        log.info("batch %d committed in block %d: %d items, %.2f s after sealing", record.first, block,
                 record.count, time.monotonic() - flight.sealed_at)

    def _fetch(self, root: bytes, block: int | str) -> bytes:
        """The batch's ordinary proof bundle (compact JSON), from the node; runs in the fetcher thread."""
        if self._sync_client is None:
            self._sync_client = SyncClient(self._node_rpc)
        bundle = fetch_bundle(self._sync_client.request, root, block=block)
        return json.dumps(bundle.to_json(), separators=(",", ":")).encode()

    def _close_sync_client(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None

    async def _refused(self, flight: Flight, block: int, error: str) -> None:
        record = flight.record
        if "already notarized" in error:
            # Ours, under another transaction? Only if an older signing of this batch committed.
            try:
                bundle = await asyncio.get_running_loop().run_in_executor(self._fetcher, self._fetch, record.root, "latest")
            except (ProofUnavailable, EvidenceNotFound, ClientError) as exc:
                # Cannot tell whose it is yet: never declare a batch failed on a transient error.
                self._note_error(f"batch {record.first}'s root is already notarized ({error}); cannot read that "
                                 f"notarization yet: {exc}")
                flight.check_at = time.monotonic() + 1.0
                return
            if self._is_ours(bundle, record):
                await self._committed_as(flight, bundle)
                return
            failed = await asyncio.get_running_loop().run_in_executor(self._io, self.store.fail, record, block, error)
            del self.flights[record.first]
            self.failed_batches += 1
            self.failed_items += record.count
            self._on_commit(failed, flight.tree, b"")
            self._take_acked(record.first, record.end)
            log.critical("batch %d (root %s) can never be anchored: someone else notarized its root first (%s); "
                         "its %d items have no proof: submit them again", failed.first, to_hex(record.root), error,
                         record.count)
            return
        self._note_error(f"batch {record.first}'s transaction failed in block {block}: {error}; retrying in "
                         f"{RETRY_FAILED_S:.0f} s")
        flight.receipt = None
        flight.retry_at = time.monotonic() + RETRY_FAILED_S

    def _is_ours(self, bundle_json: bytes, record: BatchRecord) -> bool:
        tx = _parse(bundle_json).notarization.transaction
        return (tx.sender == self.key.public_key and tx.method == "notarize_batch"
                and tuple(tx.args) == (record.root, record.count))

    async def _committed_as(self, flight: Flight, bundle: bytes) -> None:
        parsed = _parse(bundle)
        block = parsed.headers[parsed.notarization.header].number
        record = replace(flight.record, tx=parsed.notarization.transaction.encode())
        flight.record = record
        log.warning("batch %d was already notarized by this account under another signing (transaction %s in "
                    "block %d): its proof is that one", record.first, to_hex(parsed.notarization.transaction.hash),
                    block)
        await self._committed(flight, block)

    async def _resign(self, flight: Flight, reason: str, why: str) -> None:
        tx = await self._sign(flight.record.root, flight.record.count)
        record = replace(flight.record, tx=tx.encode())
        await asyncio.get_running_loop().run_in_executor(self._io, self.store.put_batch, record)
        flight.record, flight.tx, flight.receipt = record, tx, None
        self.signed_again[reason] += 1
        log.warning("batch %d signed again (%s)", record.first, why)
        await self._send(flight)

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s", message)
        self.last_error = message

    def close(self) -> None:
        self._fetcher.submit(self._close_sync_client).result()
        self._fetcher.shutdown(wait=True)


def _parse(bundle_json: bytes) -> ProofBundle:
    return parse_bundle(json.loads(bundle_json))


__all__ = ["Anchor", "BatchState", "Flight"]
