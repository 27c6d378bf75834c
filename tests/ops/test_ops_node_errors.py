"""A node that cannot run says why in one line — on stderr and in its log — never a traceback:
a taken P2P or RPC port (naming the process that holds it), a data directory locked by another
process, a full disk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest
from tests.ops.opskit import CLI, assert_one_line, new_chain

from consortium.client import ClientError, SyncClient
from consortium.crypto.keyfile import load_key


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    root = tmp_path_factory.mktemp("errors") / "chain"
    yield root, new_chain(root, nodes=1)


def run_node(config: Path, log: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "node", "start", "--config", str(config), "--log-file", str(log)],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def held_port(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


@pytest.mark.parametrize("which", ["p2p", "rpc"])
def test_a_port_in_use_is_one_line_naming_its_holder(chain: tuple[Path, dict[str, int]], which: str,
                                                     tmp_path: Path) -> None:
    root, bases = chain
    log = tmp_path / "node.log"
    with held_port(bases[which]):
        r = run_node(root / "node0" / "config.toml", log)
    assert r.returncode == 2
    line = assert_one_line(r.stderr)
    assert f"{which} port 127.0.0.1:{bases[which]} is already in use by pid {os.getpid()}" in line
    assert f"change {which}.port in {root / 'node0' / 'config.toml'}" in line
    assert line.split("CRITICAL", 1)[1] in log.read_text()  # the same cause is in the log file


def test_a_locked_data_directory_is_one_line_naming_its_holder(chain: tuple[Path, dict[str, int]],
                                                               tmp_path: Path) -> None:
    root, _ = chain
    data = root / "node0" / "data" / "ledger"
    db = plyvel.DB(str(data), create_if_missing=True)  # this test process holds LevelDB's LOCK now
    try:
        r = run_node(root / "node0" / "config.toml", tmp_path / "node.log")
    finally:
        db.close()
    assert r.returncode == 2
    line = assert_one_line(r.stderr)
    assert f"data directory {root / 'node0' / 'data'} is in use by pid {os.getpid()}" in line
    assert "b'" not in line  # plyvel's message was once shown as a Python bytes literal


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a small tmpfs")
def test_a_full_disk_stops_the_node_with_one_line_in_stderr_and_log(chain: tuple[Path, dict[str, int]],
                                                                   tmp_path: Path) -> None:
    root, bases = chain
    node = root / "node0"
    data = node / "data"
    shutil.rmtree(data)
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(data)], check=True, timeout=30)
    log = tmp_path / "node.log"  # on another disk, as an operator's log directory would be
    proc = None
    try:
        proc = subprocess.Popen([CLI, "node", "start", "--config", str(node / "config.toml"), "--log-file", str(log)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{bases['rpc']}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with SyncClient(url, timeout=2) as c:
                    c.block_number()
                break
            except ClientError:
                assert proc.poll() is None and time.monotonic() < deadline, "the node did not come up"
                time.sleep(0.2)
        # Fill the disk to the last byte.
        fd = os.open(data / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (65536, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        admin = load_key(root / "accounts" / "admin0.json")
        with SyncClient(url, timeout=5) as c:
            for n in range(20):
                try:
                    tx = c.build(admin, "evidence", "notarize",
                                 [bytes([n]) * 32, {"case_id": "c", "file_name": "f", "size": 1}, []])
                    c.send_transaction(tx)
                except ClientError:
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        subprocess.run(["umount", "-l", str(data)], timeout=30)
    assert proc.returncode == 2, err
    line = assert_one_line(err)
    assert f"the disk holding {data} is full" in line
    assert line.split("CRITICAL", 1)[1] in log.read_text()
