"""A real Prometheus server for tests (Debian's ``prometheus`` package, installed here when missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.cluster.harness import free_port_block

_UPDATED = False


def ensure_prometheus() -> str:
    """The prometheus binary; installs Debian's package (apt-get update once, then install) if missing."""
    global _UPDATED
    found = shutil.which("prometheus")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("prometheus is not installed and cannot be installed here (needs root and apt-get): "
                           "apt-get install prometheus")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _UPDATED:
        print("test setup: apt-get update (to install Debian's prometheus package)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        _UPDATED = True
    print("test setup: apt-get install prometheus (a real Prometheus server for the monitoring tests)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], check=True, env=env,
                   timeout=900, stdout=subprocess.DEVNULL)
    found = shutil.which("prometheus")
    if not found:
        raise RuntimeError("apt-get install prometheus did not provide a prometheus binary")
    return found


class Prometheus:
    """One Prometheus process scraping ``targets`` every second; stopped by pid."""

    def __init__(self, workdir: Path, targets: list[str], *, rule_files: list[Path] = (),
                 job: str = "consortium") -> None:
        self.binary = ensure_prometheus()
        self.workdir = workdir
        self.port = free_port_block(1)
        workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
        }
        self.config = workdir / "prometheus.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=subprocess.DEVNULL, stderr=open(self.workdir / "prometheus.log", "wb"),  # noqa: SIM115
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not start:\n" + (self.workdir / "prometheus.log").read_text()[-3000:])
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> dict[str, float]:
        """An instant query: instance -> value."""
        return {s["metric"].get("instance", ""): float(s["value"][1]) for s in self.api("query", query=expr)["result"]}
