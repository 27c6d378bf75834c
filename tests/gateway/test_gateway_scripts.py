"""The local cluster scripts run one organization's gateway: build_chain.sh -g configures it,
start_all.sh starts it after the nodes (and not twice), stop_all.sh stops it by pid first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from tests.cluster.harness import SCRIPTS, free_port_block, pid_alive

pytestmark = pytest.mark.slow


def script(name: str, *args: str) -> str:
    r = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{name} {' '.join(args)}: {r.stdout}\n{r.stderr}"
    return r.stdout


def test_scripts_start_and_stop_the_gateway(tmp_path: Path) -> None:
    base = free_port_block(9)
    chain = tmp_path / "chain"
    script("build_chain.sh", "-n", "4", "-o", str(chain), "-p", str(base), "-r", str(base + 4), "-g", str(base + 8))
    pid_file = chain / "gateway" / "gateway.pid"
    pids: list[int] = []
    try:
        out = script("start_all.sh", str(chain), "90")
        assert f"gateway answers on http://127.0.0.1:{base + 8}" in out
        pids = [int(p.read_text()) for p in chain.glob("node*/node.pid")] + [int(pid_file.read_text())]
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 8}/status", timeout=10) as r:
            status = json.load(r)
        admin = json.loads((chain / "accounts" / "admin0.json").read_text())
        assert status["node"] == f"http://127.0.0.1:{base + 4}" and status["account"].lower() == admin["address"].lower()
        assert "gateway already running" in script("start_all.sh", str(chain), "90")
        gateway_pid = int(pid_file.read_text())
        out = script("stop_all.sh", str(chain), "20")
        assert out.index("stopping gateway") < out.index("stopping node0")
        assert not pid_alive(gateway_pid) and not pid_file.exists(), out  # gone, or a zombie init reaps
    finally:
        for pid in pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
