"""A real gateway process beside a real cluster, for the gateway's end-to-end tests.

The gateway is configured with ``consortium gateway init`` and run with ``consortium
gateway start`` as a subprocess; it is stopped or killed by its pid, and every pid it
ever had must be gone at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cluster.harness import ROOT, Cluster, eventually, free_port_block, pid_alive, pid_gone

from consortium.evidence import NotVerified, verify_bundle
from consortium.evidence.item_bundle import ItemBundle, parse_item_bundle, verify_item_step
from consortium.node.genesis import Genesis


class GatewayProcess:
    def __init__(self, cluster: Cluster, folder: Path, *, node: int = 0, extra_toml: str = "") -> None:
        self.cluster = cluster
        self.folder = folder
        self.port = free_port_block(1, exclude=[*range(cluster.rpc_base, cluster.rpc_base + cluster.size),
                                                *range(cluster.p2p_base, cluster.p2p_base + cluster.size)])
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "gateway.toml"
        self.log = folder / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen_pids: set[int] = set()
        self._cli("gateway", "init", "--dir", str(folder), "--node-rpc", cluster.nodes[node].rpc_url.rstrip("/"),
                  "--key", str(cluster.root / "accounts" / "admin0.json"), "--port", str(self.port))
        if extra_toml:
            text = self.config.read_text()
            for line in extra_toml.strip().splitlines():  # "section.key = value" overrides
                section_key, value = (s.strip() for s in line.split("=", 1))
                section, key = section_key.split(".")
                lines = text.splitlines()
                start = lines.index(f"[{section}]")
                for i in range(start + 1, len(lines)):
                    if lines[i].startswith(f"{key} ="):
                        lines[i] = f"{key} = {value}"
                        break
                text = "\n".join(lines) + "\n"
            self.config.write_text(text)

    @staticmethod
    def _cli(*args: str) -> str:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-m", "consortium", *args], capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.returncode == 0, f"consortium {' '.join(args)}: {r.stdout}\n{r.stderr}"
        return r.stdout

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "consortium", "gateway", "start", "--config",
                                          str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        self.seen_pids.add(self.proc.pid)
        eventually(self._answers, timeout=30, what=f"the gateway on {self.url} to answer")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the gateway exited {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(self.url + "/status", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def status(self) -> dict:
        with urllib.request.urlopen(self.url + "/status", timeout=10) as r:
            return json.load(r)  # type: ignore[no-any-return]

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        assert self.proc is not None and pid_alive(self.proc.pid), "the gateway is not running"
        pid = self.proc.pid
        os.kill(pid, sig)
        self.proc.wait(timeout=30)
        eventually(lambda: pid_gone(pid), timeout=10, what=f"gateway pid {pid} to exit")
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        for pid in self.seen_pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"gateway pid {pid} survived its test (killed it by pid)")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


class OfflineVerifier:
    """verify_item_bundle, with each distinct batch bundle verified once (it is the same for all its items)."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self._verified: dict[str, int] = {}

    def verify(self, doc: dict, commitment: bytes) -> ItemBundle:
        bundle = parse_item_bundle(doc)
        root = verify_item_step(bundle, commitment, self.genesis.suite.hash)
        key = hashlib.sha256(json.dumps(doc["batch"], sort_keys=True).encode()).hexdigest()
        if key not in self._verified:
            verify_bundle(self.genesis, bundle.batch, root, batch_size=bundle.path.size)
            self._verified[key] = bundle.path.size
        elif self._verified[key] != bundle.path.size:
            raise NotVerified("proof-altered", "the same batch with another size")
        return bundle

    @property
    def batches(self) -> int:
        return len(self._verified)


