"""The consensus vote state on disk: written durably before any vote leaves the process.

CometBFT's privval rule: a crash between "signed" and "recorded" must never let a
restarted node sign a conflicting vote. So the file is replaced atomically
(write a temp file, fsync it, rename over the old one, fsync the directory)
before the driver sends the messages of the same Ready.
"""

from __future__ import annotations

import os
from pathlib import Path

from consortium.consensus.persist import PersistedState
from consortium.crypto.suite import CryptoSuite

FILE_NAME = "consensus-state.bin"


class VoteStore:
    def __init__(self, data_dir: Path, suite: CryptoSuite) -> None:
        self.path = data_dir / FILE_NAME
        self.suite = suite

    def load(self) -> PersistedState | None:
        """The last saved state, or None. A corrupt file is an error, never silently ignored:
        starting without it could let this node sign twice."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return PersistedState.decode(data, self.suite)

    def save(self, state: PersistedState) -> None:
        data = state.encode(self.suite)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
