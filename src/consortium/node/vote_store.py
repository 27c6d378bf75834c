"""The consensus vote state on disk: an append-only, checksummed log, fsynced before any vote leaves.

CometBFT's privval rule: a crash between "signed" and "recorded" must never let a
restarted node sign a conflicting vote. Every Ready that carries new signatures
carries the vote state, and the driver saves it here before sending.

An earlier version replaced a file atomically (write a temp file, fsync it,
rename it over the old one, fsync the folder): two fsyncs on the critical path of
every phase. Like CometBFT's consensus WAL, this store appends one record per save
to an open log and fsyncs once (``fdatasync``: the data and the file size). A
record is ``length (4 bytes, big-endian) || state``, where ``state`` is
``PersistedState.encode`` — its body followed by the suite hash of the body — so
each record carries its own checksum. Loading reads the last record:

* a last record that is cut short or fails its checksum is a write that a crash
  interrupted: its fsync never returned, so the messages of that Ready were never
  sent, and the record before it is the state to resume from (logged);
* anything damaged before the last record is corruption, and an error: starting
  without the true state could make this node sign twice.

When the log passes ``rotate_bytes`` it is rewritten with only the latest record
(temp file, fsync, rename, fsync of the folder — the old two-fsync write, once per
``rotate_bytes`` of votes). A ``consensus-state.bin`` left by the earlier format is
read if there is no log yet, and removed once the log holds a newer state.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from consortium.consensus.errors import CorruptPersistedState
from consortium.consensus.persist import PersistedState
from consortium.crypto.suite import CryptoSuite

log = logging.getLogger("consortium.node.votes")

FILE_NAME = "consensus-votes.wal"
LEGACY_FILE_NAME = "consensus-state.bin"
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
_LEN = struct.Struct(">I")


class VoteStore:
    def __init__(self, data_dir: Path, suite: CryptoSuite, *, rotate_bytes: int = DEFAULT_ROTATE_BYTES) -> None:
        self.path = data_dir / FILE_NAME
        self.legacy_path = data_dir / LEGACY_FILE_NAME
        self.suite = suite
        self.rotate_bytes = rotate_bytes
        self._fd: int | None = None
        self._size = 0
        self.fsyncs = 0
        """How many fsync calls saving has made (one per save, plus rotations)."""

    # -- reading --------------------------------------------------------------------------------
    def load(self) -> PersistedState | None:
        """The last saved state, or None. A corrupt log is an error, never silently ignored:
        starting without the true state could let this node sign twice."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            try:
                return PersistedState.decode(self.legacy_path.read_bytes(), self.suite)
            except FileNotFoundError:
                return None
        records = _split(data)
        if not records:
            return None
        *earlier, last = records
        state = None
        if last is not None:
            try:
                state = PersistedState.decode(last, self.suite)
            except CorruptPersistedState as exc:
                log.warning("vote log %s: the last record is torn (%s); resuming from the one before", self.path, exc)
        else:
            log.warning("vote log %s ends in a partial record (a write cut short); resuming from the one before",
                        self.path)
        if state is None:
            if not earlier:
                return None  # the first write was torn: nothing was ever sent
            previous = earlier[-1]
            if previous is None:  # pragma: no cover - _split only cuts the tail short
                raise CorruptPersistedState(f"vote log {self.path} is damaged before its last record")
            state = PersistedState.decode(previous, self.suite)  # a bad one here is corruption: raise
        return state

    # -- writing --------------------------------------------------------------------------------
    def save(self, state: PersistedState) -> None:
        """Append ``state`` and fsync once; returns only when it is durable."""
        record = state.encode(self.suite)
        entry = _LEN.pack(len(record)) + record
        if self._fd is None:
            self._open()
        if self._size and self._size + len(entry) > self.rotate_bytes:
            self._rotate(entry)
            return
        assert self._fd is not None
        _write_all(self._fd, entry)
        os.fdatasync(self._fd)
        self.fsyncs += 1
        self._size += len(entry)
        if self.legacy_path.exists():
            self.legacy_path.unlink()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        existed = self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        if not existed:
            self._fsync_dir()  # the log's directory entry must be durable before the first record counts

    def _rotate(self, entry: bytes) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, entry)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.close()
        os.replace(tmp, self.path)
        self._fsync_dir()
        self.fsyncs += 2
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._size = len(entry)

    def _fsync_dir(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _split(data: bytes) -> list[bytes | None]:

    """The log's records in order; a last entry cut short is None."""
    out: list[bytes | None] = []
    at = 0
    while at < len(data):
        if len(data) - at < _LEN.size:
            out.append(None)
            break
        (length,) = _LEN.unpack_from(data, at)
        end = at + _LEN.size + length
        if end > len(data):
            out.append(None)
            break
        out.append(data[at + _LEN.size:end])
        at = end
    return out
