"""The intruder test: the real ``openssl s_client`` against a listening transport.

An intruder with a self-signed certificate (even one whose CN copies a real
node id) or with no certificate completes nothing: the connection is closed
and no message reaches the node. The control case — the same harness with a
genuine chain certificate — delivers its message, so the refusals are not an
artefact of the harness.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.network.netkit import GENESIS, Inbox, NodeFiles, Pki, eventually

from consortium.network.frames import encode_frame
from consortium.network.hello import Hello

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def self_signed(tmp_path: Path, cn: str) -> tuple[Path, Path]:
    key, crt = tmp_path / "intruder.key", tmp_path / "intruder.crt"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ed25519", "-keyout", str(key), "-out", str(crt),
                    "-days", "30", "-nodes", "-subj", f"/O=consortium/CN={cn}"],
                   check=True, capture_output=True, timeout=30)
    return key, crt


async def s_client(port: int, ca_file: Path, cert: tuple[Path, Path] | None, payload: bytes, *,
                   stay_until: asyncio.Event | None = None, timeout: float = 15.0) -> tuple[int | None, str]:
    """Run ``openssl s_client``, feed it ``payload``; return (exit code or None if we killed it, output).

    Without ``stay_until`` we wait for s_client to exit by itself, which it does only when the
    server closes the connection (``-ign_eof``). The process is always killed by its PID.
    """
    args = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-CAfile", str(ca_file),
            "-ign_eof", "-nocommands"]
    if cert is not None:
        args += ["-key", str(cert[0]), "-cert", str(cert[1])]
    proc = await asyncio.create_subprocess_exec(*args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(payload)
        await proc.stdin.drain()
        if stay_until is not None:
            async with asyncio.timeout(timeout):
                await stay_until.wait()
            return None, ""
        async with asyncio.timeout(timeout):
            output = await proc.stdout.read()
            code = await proc.wait()
        return code, output.decode(errors="replace")
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, 9)
            await proc.wait()


def frames_from(node_id: bytes) -> bytes:
    return encode_frame(Hello("chain0", GENESIS, node_id, os.urandom(16)).encode()) + encode_frame(b"intrusion")


@pytest.fixture
async def target(pki: Pki, transports):
    files = pki.node()
    inbox = Inbox()
    t = transports(pki.config(files), inbox)
    await t.start()
    return t, inbox, files


async def test_self_signed_intruder_impersonating_a_node_is_refused(target, pki: Pki, tmp_path, caplog) -> None:
    t, inbox, files = target
    victim: NodeFiles = pki.node()  # a real member whose id the intruder copies into its CN
    cert = self_signed(tmp_path, victim.node_id.hex())
    code, output = await s_client(t.listen_port, pki.ca_file, cert, frames_from(victim.node_id))
    assert code is not None  # s_client ended by itself: the server closed the connection
    assert "Verify return code: 0" in output  # our certificate was fine for s_client; its was not for us
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert "self-signed certificate" in caplog.text
    assert inbox.items == [] and t.peers() == []


async def test_intruder_without_certificate_is_refused(target, pki: Pki, caplog) -> None:
    t, inbox, files = target
    code, _ = await s_client(t.listen_port, pki.ca_file, None, frames_from(os.urandom(32)))
    assert code is not None
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in caplog.text
    assert inbox.items == [] and t.peers() == []


async def test_control_the_same_harness_with_a_chain_certificate_is_admitted(target, pki: Pki) -> None:
    t, inbox, files = target
    member = pki.node()
    delivered = asyncio.Event()

    async def watch() -> None:
        await inbox.wait(1)
        delivered.set()

    watcher = asyncio.create_task(watch())
    try:
        await s_client(t.listen_port, pki.ca_file, (member.key_file, member.cert_file), frames_from(member.node_id),
                       stay_until=delivered)
    finally:
        watcher.cancel()
    assert inbox.items == [(member.node_id, b"intrusion")]
    assert t.stats["refused.tls"] == 0
