"""Debian packages a test needs (chromium, poppler-utils, ...), installed when missing.

The suite must run on a fresh machine with only Python and pip, so a test that needs a program
from Debian installs it itself: idempotently (nothing happens when the program is there), saying
what it does, with ``apt-get update`` once per run before the first install. Where that cannot
work (not root, no apt-get, no package source) the caller gets a reason to skip with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

_lock = threading.Lock()
_updated = False
_failed: dict[str, str] = {}


def _say(message: str) -> None:
    # sys.__stderr__: pytest captures sys.stderr; an install of a minute or more should be visible.
    print(f"[test setup] {message}", file=sys.__stderr__, flush=True)


def ensure(programs: dict[str, str]) -> str | None:
    """Make sure each program (a name on PATH, or an absolute path to any file) exists, installing its Debian package
    if not. ``programs`` maps program -> package. Returns None when all are there, else why not."""
    global _updated
    with _lock:
        missing = sorted({pkg for prog, pkg in programs.items() if not _present(prog)})
        if not missing:
            return None
        known = [_failed[p] for p in missing if p in _failed]
        if known:
            return known[0]
        why = _cannot_install()
        if why:
            return f"needs the Debian package(s) {', '.join(missing)}, which are not installed and {why}"
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock = ["-o", "DPkg::Lock::Timeout=600"]
        if not _updated:
            _say("apt-get update (once, before installing Debian packages)")
            r = subprocess.run(["apt-get", *lock, "update"], capture_output=True, text=True, env=env, timeout=900)
            if r.returncode != 0:
                return _fail(missing, f"apt-get update failed: {_tail(r)}")
            _updated = True
        _say(f"installing {', '.join(missing)} with apt-get (missing for the tests)")
        r = subprocess.run(["apt-get", *lock, "install", "-y", "--no-install-recommends", *missing],
                           capture_output=True, text=True, env=env, timeout=1800)
        if r.returncode != 0:
            return _fail(missing, f"apt-get install {' '.join(missing)} failed: {_tail(r)}")
        still = [prog for prog in programs if not _present(prog)]
        if still:
            return _fail(missing, f"installed {', '.join(missing)} but {', '.join(still)} is still missing")
        _say(f"installed {', '.join(missing)}")
        return None


def _present(program: str) -> bool:
    return os.path.exists(program) if os.path.isabs(program) else shutil.which(program) is not None


def _cannot_install() -> str | None:
    if shutil.which("apt-get") is None:
        return "this machine has no apt-get"
    if os.geteuid() != 0:
        return "installing them needs root (run: sudo apt-get install PACKAGE)"
    return None


def _fail(packages: list[str], reason: str) -> str:
    for p in packages:
        _failed[p] = reason
    return reason


def _tail(r: subprocess.CompletedProcess) -> str:
    lines = (r.stderr or r.stdout or "").strip().splitlines()
    return " | ".join(lines[-3:]) or f"exit code {r.returncode}"
