"""SHA-256 of an evidence file, streamed in 1 MiB chunks so a multi-GiB file never sits in memory."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

CHUNK = 1024 * 1024
PROGRESS_MIN_BYTES = 64 * CHUNK
"""Smaller files hash in well under a second: no progress bar for them."""

Progress = Callable[[int, int], None]
"""``progress(done_bytes, total_bytes)``, called after every chunk."""


def hash_file(path: str | os.PathLike[str], progress: Progress | None = None) -> tuple[bytes, int]:
    """``(sha256 digest, size in bytes)``; raises OSError if the file cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        total = os.fstat(f.fileno()).st_size
        done = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            digest.update(view[:n])
            done += n
            if progress is not None:
                progress(done, total)
    return digest.digest(), done


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most 10 times a second."""

    def __init__(self, label: str, stream: TextIO, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}% {done / CHUNK:,.0f}/{total / CHUNK:,.0f} MiB")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def hash_file_with_progress(path: str | os.PathLike[str], stream: TextIO | None = None) -> tuple[bytes, int]:
    """Hash ``path``, drawing a progress bar on ``stream`` (default stderr) when it is a terminal and the file is large."""
    stream = sys.stderr if stream is None else stream
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    if size < PROGRESS_MIN_BYTES or not stream.isatty():
        return hash_file(path)
    bar = ProgressBar(f"hashing {Path(path).name}", stream)
    try:
        return hash_file(path, bar)
    finally:
        bar.finish()
