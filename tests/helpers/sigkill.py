"""Run a writer process again and again, killing it with SIGKILL at random moments.

The writer (``python -m MODULE ARGS...``) prints a number after each write it made durable.
Each round waits for its first number, sleeps a random while, kills it, and yields the
highest number it acknowledged; the test then checks what a restart finds on disk.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def killed_rounds(module: str, args: list[str], *, seed: int, rounds: int = 8,
                  max_sleep: float = 0.4) -> Iterator[int]:
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}")
    acknowledged = -1
    for _round in range(rounds):
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.strip(), proc.stderr.read() if proc.stderr else "writer printed nothing"
            time.sleep(rng.uniform(0.0, max_sleep))
        finally:
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
        acknowledged = max([acknowledged, *(int(x) for x in (line + out).split())])
        yield acknowledged
