"""The gateway's durable state in one LevelDB: the item log, the commitment index, batches, proofs.

Keys (``seq`` and ``first`` are 8-byte big-endian, so LevelDB order is numeric order)::

    c || commitment   -> seq                          which item a commitment is (dedup, lookup)
    q || seq          -> item encoding                the append-only item log, seq 0, 1, 2, ...
    b || first        -> batch record                 the batch of items first .. first+count-1
    p || first        -> batch proof bundle (JSON)    once the batch's transaction is committed
    o || first        -> empty                        while that batch is open (sealed, not yet final)

The durability rule: an item is acknowledged only after the write holding its ``c``
and ``q`` entries returned with ``sync`` (fsync). Batches cover the log in order
without gaps, so "sealed up to" is the end of the last batch and everything after
it is re-batched on restart; a batch record (with its signed transaction) is
synced *before* the transaction is first sent, so after a crash the same
transaction is sent again and the chain's replay protection keeps it single.

Every method here blocks (LevelDB, fsync) and runs in the gateway's I/O thread;
appends are serialized there, which is what makes the duplicate check race-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.evidence.item import EvidenceItem
from consortium.storage import LevelDBStore, WriteBatch

_C, _Q, _B, _P, _O = b"c", b"q", b"b", b"p", b"o"


def _n(value: int) -> bytes:
    return value.to_bytes(8, "big")


class BatchState(IntEnum):
    SEALED = 0
    """Signed and durable; sent or about to be; not known to be committed."""
    COMMITTED = 1
    """Committed with an OK receipt; its proof bundle is stored."""
    FAILED = 2
    """Committed with a failed receipt: the chain refused it (see ``error``)."""


@dataclass(frozen=True)
class BatchRecord:
    first: int
    count: int
    root: bytes
    tx: bytes
    """The signed ``notarize_batch`` transaction (canonical bytes), re-sent as is after a restart."""
    state: BatchState = BatchState.SEALED
    block: int = 0
    error: str = ""

    @property
    def end(self) -> int:
        return self.first + self.count

    def encode(self) -> bytes:
        return canonical.encode([self.first, self.count, self.root, self.tx, int(self.state), self.block, self.error])

    @classmethod
    def decode(cls, data: bytes) -> BatchRecord:
        value = canonical.decode(data)
        if not isinstance(value, list) or len(value) != 7:
            raise DecodeError("gateway batch record: expected 7 fields")
        first, count, root, tx, state, block, error = value
        return cls(canonical.field_int(first, "first"), canonical.field_int(count, "count"),
                   canonical.field_bytes(root, "root", size=32), canonical.field_bytes(tx, "tx"),
                   BatchState(canonical.field_int(state, "state", hi=2)), canonical.field_int(block, "block"),
                   canonical.field_str(error, "error"))


@dataclass(frozen=True)
class Duplicate:
    """An item of a request whose commitment the gateway already holds (or that repeats within the request)."""

    index: int
    commitment: bytes
    seq: int | None
    """The earlier item's sequence number; None for a repeat inside the same request."""


@dataclass(frozen=True)
class Appended:
    first: int
    count: int


class GatewayStore:
    """The durable half of the gateway; see the module docstring for the layout and the rules."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # Small memtable and block cache: the gateway's reads are point lookups of random keys (the bloom
        # filter answers most), and its memory must stay flat under load (docs/gateway.md).
        self.kv = LevelDBStore(path, cache_mb=8, write_buffer_mb=16)
        self.next_seq = self._scan_next_seq()
        last = self.last_batch()
        self.sealed_end = last.end if last else 0

    def close(self) -> None:
        self.kv.close()

    def memory_bytes(self) -> int | None:
        """LevelDB's estimate of its own memory (memtables and block cache), for metrics."""
        value = self.kv.property("leveldb.approximate-memory-usage")
        return int(value) if value and value.isdigit() else None

    def _scan_next_seq(self) -> int:
        for key, _ in self.kv.iterate(_Q, reverse=True):
            return int.from_bytes(key[1:], "big") + 1
        return 0

    # -- items ------------------------------------------------------------------------------------
    def append(self, requests: Sequence[Sequence[EvidenceItem]]) -> list[Appended | list[Duplicate]]:
        """Make every request without duplicates durable, in one synced write (group commit).

        A request is all or nothing: one known or repeated commitment refuses it whole,
        with the list of offending items. A commitment whose batch failed for good is not
        a duplicate: it is taken again under a new sequence number (and the index points
        there), so "submit it again" works.
        """
        batch = WriteBatch()
        seq = self.next_seq
        taken: dict[bytes, int] = {}
        get = self.kv.get
        results: list[Appended | list[Duplicate]] = []
        for items in requests:
            dups: list[Duplicate] = []
            mine: set[bytes] = set()
            for i, item in enumerate(items):
                c = item.commitment
                if c in mine:
                    dups.append(Duplicate(i, c, None))
                    continue
                mine.add(c)
                known = taken.get(c)
                if known is None:
                    raw = get(_C + c)
                    known = int.from_bytes(raw, "big") if raw is not None else None
                    if known is not None and self._in_failed_batch(known):
                        known = None  # its batch can never be anchored: taken again as a new item
                if known is not None:
                    dups.append(Duplicate(i, c, known))
            if dups:
                results.append(dups)
                continue
            first = seq
            for item in items:
                key = _n(seq)
                batch.put(_C + item.commitment, key)
                batch.put(_Q + key, item.encoded)
                taken[item.commitment] = seq
                seq += 1
            results.append(Appended(first, len(items)))
        if len(batch):
            self.kv.write(batch, sync=True)
            self.next_seq = seq
        return results

    def _in_failed_batch(self, seq: int) -> bool:
        """Only read for a commitment already known (rare): a duplicate unless its batch failed."""
        if seq >= self.sealed_end:
            return False
        record = self.batch_of(seq)
        return record is not None and record.state == BatchState.FAILED

    def seq_of(self, commitment: bytes) -> int | None:
        raw = self.kv.get(_C + commitment)
        return int.from_bytes(raw, "big") if raw is not None else None

    def item(self, seq: int) -> bytes | None:
        return self.kv.get(_Q + _n(seq))

    def items(self, first: int, count: int) -> list[bytes]:
        """Encodings of items ``first .. first+count-1`` (the log has no gaps)."""
        out: list[bytes] = []
        for _, value in self.kv.iterate(_Q, start=_Q + _n(first)):
            if len(out) == count:
                break
            out.append(value)
        if len(out) != count:
            raise RuntimeError(f"item log has {len(out)} of items {first}..{first + count - 1}: database damaged")
        return out

    # -- batches ----------------------------------------------------------------------------------
    def put_batch(self, record: BatchRecord, proof: bytes | None = None) -> None:
        batch = WriteBatch()
        batch.put(_B + _n(record.first), record.encode())
        if record.state == BatchState.SEALED:
            batch.put(_O + _n(record.first), b"")
        else:
            batch.delete(_O + _n(record.first))
        if proof is not None:
            batch.put(_P + _n(record.first), proof)
        self.kv.write(batch, sync=True)
        self.sealed_end = max(self.sealed_end, record.end)

    def seal(self, record: BatchRecord) -> None:
        """Record a new batch; it must start where the last one ended (no gaps, no overlaps)."""
        if record.first != self.sealed_end or record.end > self.next_seq:
            raise ValueError(f"batch {record.first}..{record.end - 1} does not continue the log at {self.sealed_end}")
        self.put_batch(record)

    def commit(self, record: BatchRecord, block: int, proof: bytes) -> BatchRecord:
        done = replace(record, state=BatchState.COMMITTED, block=block)
        self.put_batch(done, proof)
        return done

    def fail(self, record: BatchRecord, block: int, error: str) -> BatchRecord:
        failed = replace(record, state=BatchState.FAILED, block=block, error=error[:1000])
        self.put_batch(failed)
        return failed

    def batch_of(self, seq: int) -> BatchRecord | None:
        """The batch holding item ``seq``, or None while it is not sealed."""
        for _, value in self.kv.iterate(_B, start=_B + _n(seq), reverse=True):
            record = BatchRecord.decode(value)
            return record if seq < record.end else None
        return None

    def last_batch(self) -> BatchRecord | None:
        for _, value in self.kv.iterate(_B, reverse=True):
            return BatchRecord.decode(value)
        return None

    def open_batches(self) -> list[BatchRecord]:
        """Sealed batches not known to be committed, oldest first (what a restart must track again)."""
        out = []
        for key, _ in self.kv.iterate(_O):
            raw = self.kv.get(_B + key[1:])
            if raw is None:
                raise RuntimeError(f"open batch {int.from_bytes(key[1:], 'big')} has no record: database damaged")
            out.append(BatchRecord.decode(raw))
        return out

    def proof(self, first: int) -> bytes | None:
        return self.kv.get(_P + _n(first))
