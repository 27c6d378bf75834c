"""Logs an operator can ship and search: one JSON object per line, per-module levels re-read on
SIGHUP without a restart, rotation by size. Against one real node process."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.cluster.harness import eventually
from tests.ops.opskit import new_chain, start_node, stop_process, wait_port

from consortium.client import SyncClient
from consortium.crypto.keyfile import load_key


def notarize(url: str, key_file: Path, tag: int) -> None:
    with SyncClient(url, timeout=20) as c:
        c.transact(load_key(key_file), "evidence", "notarize",
                   [bytes([tag]) * 32, {"case_id": "c", "file_name": "f", "size": 1}, []])


def records(log: Path) -> list[dict]:
    out = []
    for path in sorted(log.parent.glob(log.name + "*")):
        for line in path.read_text().splitlines():
            out.append(json.loads(line))  # every line is one JSON object
    return out


def test_json_lines_module_levels_reloaded_on_sighup_and_rotation(tmp_path: Path) -> None:
    root = tmp_path / "chain"
    bases = new_chain(root, nodes=1)
    config = root / "node0" / "config.toml"
    base_text = config.read_text()
    config.write_text(base_text + '\n[log]\nformat = "json"\nmax_bytes = 4096\nbackups = 2\n')
    log = tmp_path / "logs" / "node.log"
    proc = start_node(config, "--log-file", str(log))
    url = f"http://127.0.0.1:{bases['rpc']}/"
    try:
        wait_port(bases["rpc"])
        notarize(url, root / "accounts" / "admin0.json", 1)
        eventually(lambda: any("committed block" in r["message"] for r in records(log)), timeout=20,
                   what="a committed-block line")
        first = records(log)
        assert {"time", "level", "node", "module", "message"} <= set(first[0])
        assert {r["node"] for r in first} == {"node0"}
        assert any(r["module"] == "consortium.node.driver" and r["level"] == "INFO" for r in first)
        for tag in range(100, 160):  # enough lines to rotate the 4 KiB file
            if (log.parent / "node.log.1").exists():
                break
            notarize(url, root / "accounts" / "admin0.json", tag)
        assert (log.parent / "node.log.1").exists()

        # Quiet the driver only, at run time: edit the config and send SIGHUP.
        config.write_text(base_text + '\n[log]\nformat = "json"\nmax_bytes = 4096\nbackups = 2\n'
                                      '[log.modules]\n"node.driver" = "warning"\n')
        proc.send_signal(signal.SIGHUP)
        eventually(lambda: any("log settings reloaded" in r["message"] for r in records(log)), timeout=20,
                   what="the reload to be logged")
        reloaded_at = len(records(log))
        for tag in range(2, 6):
            notarize(url, root / "accounts" / "admin0.json", tag)
        time.sleep(1)
        later = records(log)[reloaded_at:]
        assert not any(r["module"] == "consortium.node.driver" and r["level"] == "INFO" for r in later), later
        # A broken config is refused on reload; the old settings stay.
        config.write_text(base_text + '\n[log]\nformat = "yaml"\n')
        proc.send_signal(signal.SIGHUP)
        eventually(lambda: any("log settings not reloaded" in r["message"] for r in records(log)), timeout=20,
                   what="the refused reload to be logged")
        # Rotation: 4 KiB files, at most 2 old ones kept.
        files = sorted(p.name for p in log.parent.iterdir())
        assert files[0] == "node.log" and "node.log.1" in files and len(files) <= 3, files
        assert proc.poll() is None
    finally:
        stop_process(proc)
