"""A real multi-node cluster for tests: built and started with the project's scripts, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def free_port_block(count: int) -> int:
    """A base port such that base..base+count-1 are free on loopback now (best effort)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65000:
            continue
        ok = True
        for port in range(base, base + count):
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free block of loopback ports")


class Cluster:
    def __init__(self, root: Path, nodes: int = 4, *, spare: int = 2, admins: int = 1) -> None:
        """``spare`` extra ports are kept free after the nodes' for ``chain add-node``."""
        self.root = root
        self.nodes = nodes
        self.admins = admins
        self.p2p_base = free_port_block(nodes + spare)
        self.rpc_base = free_port_block(nodes + spare)

    def rpc_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.rpc_base + i}"

    def node_dir(self, i: int) -> Path:
        return self.root / f"node{i}"

    def pid(self, i: int) -> int | None:
        pf = self.node_dir(i) / "node.pid"
        return int(pf.read_text()) if pf.exists() else None

    def build(self) -> None:
        subprocess.run([str(ROOT / ".venv" / "bin" / "consortium"), "chain", "new", "--nodes", str(self.nodes),
                        "--dir", str(self.root), "--p2p-port", str(self.p2p_base), "--rpc-port", str(self.rpc_base),
                        "--admins", str(self.admins)], check=True, capture_output=True, timeout=120)

    def add_node(self) -> int:
        """``consortium chain add-node``; returns the new node's index (not started)."""
        subprocess.run([str(ROOT / ".venv" / "bin" / "consortium"), "chain", "add-node", "--dir", str(self.root)],
                       check=True, capture_output=True, timeout=60)
        self.nodes += 1
        return self.nodes - 1

    def start(self) -> None:
        r = subprocess.run([str(SCRIPTS / "start_all.sh"), str(self.root), "90"], capture_output=True, text=True, timeout=150)
        if r.returncode != 0:
            raise RuntimeError(f"start_all failed:\n{r.stdout}\n{r.stderr}")

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS / "stop_all.sh"), str(self.root), "20"], capture_output=True, timeout=60)
        for i in range(self.nodes):  # belt and braces: nothing may outlive the test
            pid = self.pid(i)
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def push_blocks(self, count: int, via: int = 0, timeout: float = 30.0) -> None:
        """Make at least ``count`` more blocks: an idle chain seals none, so send transactions one by one."""
        import hashlib

        from consortium.client import SyncClient
        from consortium.crypto.suite import KeyPair

        key = KeyPair(os.urandom(32))
        with SyncClient(self.rpc_url(via), timeout=timeout) as c:
            for n in range(count):
                digest = hashlib.sha256(key.public_key + n.to_bytes(4, "big")).digest()
                receipt = c.transact(key, "evidence", "notarize", [digest, {"case_id": "push", "file_name": "p", "size": n}, []])
                assert receipt["status"] == 0, receipt

    def wait_height(self, height: int, timeout: float = 60.0, nodes: list[int] | None = None) -> None:
        from consortium.client import SyncClient

        deadline = time.monotonic() + timeout
        for i in nodes if nodes is not None else range(self.nodes):
            with SyncClient(self.rpc_url(i)) as c:
                while c.block_number() < height:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"node{i} did not reach height {height}")
                    time.sleep(0.2)


def _alive(pid: int) -> bool:
    from tests.cluster.harness import pid_alive  # one zombie-aware definition for all cluster tests

    return pid_alive(pid)
