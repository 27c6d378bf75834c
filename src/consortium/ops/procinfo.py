"""Who holds a TCP port or a file lock on this machine, read from /proc (Linux only).

Used where a person must be told exactly what is in the way: ``consortium node start`` when
its port or data directory is taken, and ``scripts/start_all.sh``/``stop_all.sh``, which
judge each node by its own pid and by who really owns its ports (a node started by hand on
the same RPC port must not pass for the one the script started). Best effort: without
/proc, or without permission to read another user's descriptors, the answer is ``None``
("unknown"), never a guess.

Run as ``python -m consortium.ops.procinfo port-owner HOST PORT`` or ``... cmdline PID``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"


def _listening_inodes(port: int, host: str | None) -> set[int]:
    """Inodes of sockets listening on ``port`` (on ``host``, a wildcard address, or any if None)."""
    wanted: set[bytes] = set()
    if host is not None:
        for family, _, _, _, addr in _resolve(host):
            wanted.add(socket.inet_pton(family, addr[0]))
    inodes: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != _LISTEN:
                continue
            addr_hex, port_hex = parts[1].split(":")
            if int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(addr_hex)
            # /proc prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            if host is None or raw in wanted or not any(raw) or _is_v4_wildcard(raw):
                inodes.add(int(parts[9]))
    return inodes


def _is_v4_wildcard(raw: bytes) -> bool:
    return len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff" and raw[12:] == b"\0\0\0\0"


def _resolve(host: str) -> list:
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except ValueError:
        try:
            return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return []


def _pids_with(targets: set[str]) -> list[int]:
    """Pids having an open descriptor whose link text is in ``targets`` (e.g. 'socket:[123]')."""
    found = []
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    if os.readlink(fd) in targets:
                        found.append(int(entry.name))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    return sorted(found)


def port_owner(host: str | None, port: int) -> int | None:
    """The pid of the process listening on ``host:port`` (any address if ``host`` is None), or None."""
    inodes = _listening_inodes(port, host)
    if not inodes:
        return None
    pids = _pids_with({f"socket:[{i}]" for i in inodes})
    return pids[0] if pids else None


def port_in_use(host: str, port: int) -> bool:
    """True if ``host:port`` cannot be bound now (someone listens there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def lock_holder(path: Path) -> int | None:
    """The pid holding a POSIX/flock lock on the file ``path`` (e.g. LevelDB's LOCK), or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = (PROC / "locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters have "->" in field 2
        if "->" in parts:
            continue
        if len(parts) >= 6 and parts[5] == wanted:
            try:
                return int(parts[4])
            except ValueError:
                return None
    return None


def cmdline(pid: int) -> str:
    """The command line of ``pid`` as one string ('' if gone or unreadable)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(" ".join(a.decode(errors="replace").split()) for a in raw.split(b"\0") if a)


def describe(pid: int | None) -> str:
    """'pid 123 (consortium node start --config …)' for messages; 'another process' if unknown."""
    if pid is None:
        return "another process"
    cmd = cmdline(pid)
    if len(cmd) > 100:
        cmd = cmd[:97] + "..."
    return f"pid {pid} ({cmd})" if cmd else f"pid {pid}"


def main(argv: list[str]) -> int:
    usage = "usage: python -m consortium.ops.procinfo port-owner HOST PORT | cmdline PID"
    if len(argv) == 3 and argv[0] == "port-owner":
        pid = port_owner(argv[1], int(argv[2]))
        if pid is None:
            return 1
        print(pid)
        return 0
    if len(argv) == 2 and argv[0] == "cmdline":
        print(cmdline(int(argv[1])))
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
