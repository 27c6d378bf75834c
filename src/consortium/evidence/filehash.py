"""SHA-256 of an evidence file, streamed in 1 MiB chunks so a multi-GiB file never sits in memory.

Progress bars are tqdm's (a well-kept library: rate, ETA, terminal width), drawn only on a terminal."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

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


def hash_file_with_progress(path: str | os.PathLike[str], stream: TextIO | None = None) -> tuple[bytes, int]:
    """Hash ``path``, drawing a progress bar on ``stream`` (default stderr) when it is a terminal and the file is large."""
    stream = sys.stderr if stream is None else stream
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    if size < PROGRESS_MIN_BYTES or not stream.isatty():
        return hash_file(path)
    with tqdm(total=size, desc=f"hashing {Path(path).name}", file=stream, unit="B", unit_scale=True,
              unit_divisor=1024, mininterval=0.1, dynamic_ncols=True) as bar:
        return hash_file(path, _advance(bar))


def _advance(bar: tqdm) -> Progress:
    """A :data:`Progress` callback moving a tqdm bar (which wants increments, not totals)."""
    last = 0

    def progress(done: int, total: int) -> None:
        nonlocal last
        bar.update(done - last)
        last = done

    return progress
