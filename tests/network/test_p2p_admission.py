"""Admission: every way in without a valid, unrevoked chain certificate of our chain is refused
before a single application frame is read, and a misbehaving admitted peer is cut off."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl

import pytest
from tests.network.netkit import GENESIS, Inbox, NodeFiles, Pki, eventually, local, raw_connect, read_until_closed

from consortium.network.frames import encode_frame
from consortium.network.hello import Hello

PAST = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)


def hello_for(node: NodeFiles, *, chain_id: str = "chain0", genesis: bytes = GENESIS) -> bytes:
    return encode_frame(Hello(chain_id, genesis, node.node_id, os.urandom(16)).encode())


async def attempt(port: int, ca_file, node: NodeFiles | None, *frames: bytes) -> bytes | None:
    """Connect, send ``frames`` at once (a hostile client does not wait for permission), and
    return what the server sent before closing, or None if the TLS connect itself failed."""
    try:
        reader, writer = await raw_connect(port, ca_file, node)
    except (ssl.SSLError, ConnectionError):
        return None
    try:
        for frame in frames:
            writer.write(frame)
        try:
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass
        return await read_until_closed(reader)
    finally:
        writer.transport.abort()


@pytest.fixture
async def server(pki: Pki, transports):
    """A listening transport with an inbox; yields (transport, inbox, its files)."""
    files = pki.node()
    inbox = Inbox()
    t = transports(pki.config(files), inbox)
    await t.start()
    return t, inbox, files


async def test_client_without_certificate_is_refused(pki: Pki, server, caplog) -> None:
    t, inbox, _ = server
    got = await attempt(t.listen_port, pki.ca_file, None, b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x01x")
    assert not got  # nothing, not even the server's hello, came back
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert inbox.items == []
    assert t.peers() == []
    assert "did not return a certificate" in caplog.text.lower().replace("_", " ")


async def test_certificate_from_another_ca_is_refused(pki: Pki, server, tmp_path, caplog) -> None:
    t, inbox, _ = server
    intruder = Pki(tmp_path / "other", name="other-ca").node()
    got = await attempt(t.listen_port, pki.ca_file, intruder, hello_for(intruder), encode_frame(b"payload"))
    assert not got
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert inbox.items == []
    assert "unable to get local issuer certificate" in caplog.text


async def test_another_ca_node_as_a_full_transport_is_refused_both_ways(pki: Pki, server, transports,
                                                                        tmp_path) -> None:
    t, inbox, _ = server
    other = Pki(tmp_path / "other", name="other-ca")
    o_files = other.node()
    o = transports(other.config(o_files, peers=(local(t),)), Inbox())
    await o.start()
    t.add_peer(local(o))
    await eventually(lambda: t.stats["refused.tls"] >= 2 and o.stats["refused.tls"] >= 2)
    assert t.peers() == [] and o.peers() == []
    assert inbox.items == []


async def test_expired_certificate_is_refused(pki: Pki, server, caplog) -> None:
    t, inbox, _ = server
    expired = pki.node(not_valid_before=PAST - dt.timedelta(days=30), not_valid_after=PAST)
    got = await attempt(t.listen_port, pki.ca_file, expired, hello_for(expired), encode_frame(b"payload"))
    assert not got
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert inbox.items == []
    assert "certificate has expired" in caplog.text


async def test_dialing_a_peer_with_an_expired_certificate_fails(pki: Pki, transports) -> None:
    expired = pki.node(not_valid_before=PAST - dt.timedelta(days=30), not_valid_after=PAST)
    e = transports(pki.config(expired), Inbox())
    await e.start()
    a = transports(pki.config(pki.node(), peers=(local(e),)), Inbox())
    await a.start()
    await eventually(lambda: a.stats["refused.tls"] >= 1)
    assert a.peers() == [] and e.peers() == []


async def test_revoked_serial_in_config_is_refused_before_any_frame(pki: Pki, transports, caplog) -> None:
    bad = pki.node()
    inbox = Inbox()
    t = transports(pki.config(pki.node(), revoked_serials=frozenset({bad.serial})), inbox)
    await t.start()
    got = await attempt(t.listen_port, pki.ca_file, bad, hello_for(bad), encode_frame(b"payload"))
    assert got == b""  # closed right after the handshake: not even our hello was sent
    await eventually(lambda: t.stats["refused.revoked"] == 1)
    assert inbox.items == []
    assert f"certificate serial {bad.serial:#x}" in caplog.text


async def test_we_do_not_dial_into_a_revoked_peer(pki: Pki, transports) -> None:
    bad = pki.node()
    b = transports(pki.config(bad), Inbox())
    await b.start()
    a = transports(pki.config(pki.node(), revoked_serials=frozenset({bad.serial}), peers=(local(b),)), Inbox())
    await a.start()
    await eventually(lambda: a.stats["refused.revoked"] >= 1)
    assert a.peers() == []


async def test_runtime_revoke_closes_the_connection_and_refuses_reconnects(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    a_in = Inbox()
    a = transports(pki.config(a_files), a_in)
    await a.start()
    b = transports(pki.config(b_files, peers=(local(a),)), Inbox())
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
        await b.wait_for_peers(1)
    assert b.send(a_files.node_id, b"before")
    await a_in.wait(1)

    assert a.revoke(b_files.serial) == 1
    assert not a.connected(b_files.node_id)
    await eventually(lambda: not b.connected(a_files.node_id))
    assert b.send(a_files.node_id, b"after") is False
    await eventually(lambda: a.stats["refused.revoked"] >= 2)  # b keeps redialing and keeps being refused
    assert a_in.items == [(b_files.node_id, b"before")]
    assert b_files.serial in a.revoked_serials
    assert a.revoke(b_files.serial) == 0


async def test_oversize_frame_closes_the_connection(pki: Pki, transports, caplog) -> None:
    limit = 4096
    inbox = Inbox()
    t = transports(pki.config(pki.node(), max_frame_bytes=limit), inbox)
    await t.start()
    peer = pki.node()
    header_only = (limit + 1).to_bytes(4, "big") + b"x" * 100
    got = await attempt(t.listen_port, pki.ca_file, peer, hello_for(peer), encode_frame(b"ok"), header_only,
                        encode_frame(b"never"))
    assert got is not None and got.startswith((0).to_bytes(2, "big"))  # the server's hello frame, then close
    await eventually(lambda: t.stats["protocol-error"] == 1)
    assert inbox.items == [(peer.node_id, b"ok")]  # the frame before the bad header, nothing after
    assert "frame header announces 4097 bytes; the limit is 4096" in caplog.text


async def test_oversize_hello_is_refused(pki: Pki, server) -> None:
    t, inbox, _ = server
    peer = pki.node()
    got = await attempt(t.listen_port, pki.ca_file, peer, (2048).to_bytes(4, "big") + b"\x00" * 2048)
    assert got is not None
    await eventually(lambda: t.stats["refused.hello"] == 1)
    assert inbox.items == []


@pytest.mark.parametrize("chain_id, genesis, needle", [
    ("other-chain", GENESIS, "peer is on chain 'other-chain', we are on 'chain0'"),
    ("chain0", b"\xee" * 32, "same chain id, different genesis"),
])
async def test_hello_of_another_chain_is_refused(pki: Pki, transports, caplog, chain_id, genesis, needle) -> None:
    a_in = Inbox()
    a = transports(pki.config(pki.node()), a_in)
    await a.start()
    other_files = pki.node()  # same CA, so TLS passes: only the hello tells the chains apart
    o = transports(pki.config(other_files, chain_id=chain_id, genesis_hash=genesis, peers=(local(a),)), Inbox())
    await o.start()
    await eventually(lambda: a.stats["refused.other-chain"] >= 1 and o.stats["refused.other-chain"] >= 1)
    assert a.peers() == [] and o.peers() == []
    got = await attempt(a.listen_port, pki.ca_file, other_files,
                        hello_for(other_files, chain_id=chain_id, genesis=genesis), encode_frame(b"payload"))
    assert got is not None
    assert a_in.items == []
    assert needle in caplog.text


async def test_hello_naming_another_node_than_the_certificate_is_refused(pki: Pki, server, caplog) -> None:
    t, inbox, _ = server
    peer, someone_else = pki.node(), pki.node()
    await attempt(t.listen_port, pki.ca_file, peer, hello_for(someone_else), encode_frame(b"payload"))
    await eventually(lambda: t.stats["refused.hello"] == 1)
    assert inbox.items == []
    assert "but the certificate is" in caplog.text


async def test_garbage_instead_of_hello_is_refused(pki: Pki, server) -> None:
    t, inbox, _ = server
    peer = pki.node()
    await attempt(t.listen_port, pki.ca_file, peer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await eventually(lambda: t.stats["refused.hello"] == 1)
    assert inbox.items == []


async def test_plain_tcp_client_is_refused(pki: Pki, server) -> None:
    t, inbox, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", t.listen_port)
    writer.write(hello_for(pki.node()) + encode_frame(b"payload"))
    await writer.drain()
    got = await read_until_closed(reader)
    writer.close()
    assert b"payload" not in got
    await eventually(lambda: t.stats["refused.tls"] == 1)
    assert inbox.items == []


async def test_connection_limit(pki: Pki, transports) -> None:
    t = transports(pki.config(pki.node(), max_connections=1), Inbox())
    await t.start()
    first = await asyncio.open_connection("127.0.0.1", t.listen_port)  # holds a slot in the handshake
    try:
        await eventually(lambda: t._open == 1)
        second = await asyncio.open_connection("127.0.0.1", t.listen_port)
        assert await read_until_closed(second[0]) == b""
        second[1].close()
        assert t.stats["refused.limit"] == 1
    finally:
        first[1].close()
