"""Helpers for the operations tests: a chain folder on free ports, node processes by pid, one-line checks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.cluster.harness import free_port_block, pid_alive

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
CLI = str(ROOT / ".venv" / "bin" / "consortium")


def new_chain(root: Path, nodes: int = 4, *, ops: bool = False) -> dict[str, int]:
    """``consortium chain new`` on free loopback ports; returns the port bases."""
    p2p = free_port_block(nodes)
    rpc = free_port_block(nodes, exclude=range(p2p, p2p + nodes))
    args = [CLI, "chain", "new", "--nodes", str(nodes), "--dir", str(root), "--p2p-port", str(p2p),
            "--rpc-port", str(rpc)]
    bases = {"p2p": p2p, "rpc": rpc}
    if ops:
        bases["ops"] = free_port_block(nodes, exclude=[*range(p2p, p2p + nodes), *range(rpc, rpc + nodes)])
        args += ["--ops-port", str(bases["ops"])]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return bases


def start_node(config: Path, *extra: str, stderr: Path | None = None) -> subprocess.Popen:
    err = open(stderr, "ab") if stderr else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([CLI, "node", "start", "--config", str(config), *extra], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err)


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def kill_pid(pid: int) -> None:
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def script(name: str, *args: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line(text: str) -> str:
    """The node's or CLI's error: exactly one non-empty line, no traceback; returns it."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]
