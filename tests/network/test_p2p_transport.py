"""Transports over real TLS sockets on loopback: connect, exchange, dedupe, reconnect, close."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers.cluster import free_port_block
from tests.network.netkit import Inbox, Pki, eventually, local

from consortium.network import FrameTooLarge, NetworkError, PeerAddress, QueuePolicy, Transport


async def test_two_transports_exchange_messages_both_ways(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    a_in, b_in = Inbox(), Inbox()
    a = transports(pki.config(a_files), a_in)
    await a.start()
    b = transports(pki.config(b_files, peers=(local(a),)), b_in)
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
        await b.wait_for_peers(1)
    assert [p.node_id for p in a.peers()] == [b_files.node_id]
    assert [p.node_id for p in b.peers()] == [a_files.node_id]

    for i in range(50):
        assert a.send(b_files.node_id, b"a->b %d" % i)
        assert b.send(a_files.node_id, b"b->a %d" % i)
    got_b = await b_in.wait(50)
    got_a = await a_in.wait(50)
    assert got_b == [(a_files.node_id, b"a->b %d" % i) for i in range(50)]  # in order, from a
    assert got_a == [(b_files.node_id, b"b->a %d" % i) for i in range(50)]


async def test_large_payload_up_to_the_frame_limit(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    b_in = Inbox()
    limit = 1 << 20
    a = transports(pki.config(a_files, max_frame_bytes=limit, send_queue_bytes=4 * limit), Inbox())
    await a.start()
    b = transports(pki.config(b_files, peers=(local(a),), max_frame_bytes=limit, send_queue_bytes=4 * limit), b_in)
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
    big = bytes(range(256)) * (limit // 256)
    assert len(big) == limit
    assert a.send(b_files.node_id, big)
    assert (await b_in.wait(1))[0] == (a_files.node_id, big)
    with pytest.raises(FrameTooLarge):
        a.send(b_files.node_id, big + b"x")


async def test_send_to_unknown_peer_returns_false(pki: Pki, transports) -> None:
    a = transports(pki.config(pki.node()), Inbox())
    await a.start()
    assert a.send(b"\x01" * 32, b"x") is False
    assert a.broadcast(b"x") == 0


async def test_three_transports_full_mesh_and_broadcast(pki: Pki, transports) -> None:
    files = [pki.node() for _ in range(3)]
    inboxes = [Inbox() for _ in range(3)]
    ts: list[Transport] = []
    for f, inbox in zip(files, inboxes, strict=True):
        t = transports(pki.config(f, peers=tuple(local(x) for x in ts)), inbox)
        await t.start()
        ts.append(t)
    async with asyncio.timeout(10):
        for t in ts:
            await t.wait_for_peers(2)
    for i, t in enumerate(ts):
        assert t.broadcast(b"from %d" % i) == 2
    for i, inbox in enumerate(inboxes):
        got = sorted(await inbox.wait(2))
        expected = sorted((files[j].node_id, b"from %d" % j) for j in range(3) if j != i)
        assert got == expected


async def test_simultaneous_dial_keeps_one_connection_per_pair(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    a = transports(pki.config(a_files), Inbox())
    b = transports(pki.config(b_files), Inbox())
    await a.start()
    await b.start()
    a.add_peer(local(b))  # both dial each other
    b.add_peer(local(a))

    def settled() -> bool:
        pa, pb = a.peers(), b.peers()
        return (len(pa) == 1 and len(pb) == 1 and pa[0].local_addr == pb[0].remote_addr
                and pa[0].remote_addr == pb[0].local_addr)

    await eventually(settled)
    await asyncio.sleep(0.3)  # let any in-flight second dial finish and be resolved
    assert settled()
    # Two connections were made (neither dial loop knew the other's id beforehand); one was resolved away.
    assert sum(t.stats["duplicate"] + t.stats["replaced"] for t in (a, b)) >= 1
    # Both ends kept the same socket, and it is the one dialed by the smaller node id.
    smaller_is_a = a_files.node_id < b_files.node_id
    assert a.peers()[0].outbound == smaller_is_a
    assert b.peers()[0].outbound == (not smaller_is_a)


async def test_reconnects_after_the_other_side_restarts(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    a_in, b_in = Inbox(), Inbox()
    a = transports(pki.config(a_files), a_in)
    await a.start()
    port = a.listen_port
    b = transports(pki.config(b_files, peers=(local(a),)), b_in)
    await b.start()
    async with asyncio.timeout(10):
        await b.wait_for_peers(1)

    await a.close()
    await eventually(lambda: not b.peers())
    assert b.send(a_files.node_id, b"lost") is False

    a2_in = Inbox()
    a2 = transports(pki.config(a_files, listen_port=port), a2_in)
    await a2.start()
    async with asyncio.timeout(10):
        await b.wait_for_peers(1)  # b's dial loop found the restarted a by itself
    await eventually(lambda: b.connected(a_files.node_id))
    assert b.send(a_files.node_id, b"after restart")
    assert await a2_in.wait(1) == [(b_files.node_id, b"after restart")]
    assert a2.send(b_files.node_id, b"reply")
    assert (await b_in.wait(1))[-1] == (a_files.node_id, b"reply")


async def test_restarted_peer_replaces_its_stale_connection(pki: Pki, transports) -> None:
    """The peer restarts and dials first: its new boot id makes us drop the old connection at once."""
    a_files, b_files = pki.node(), pki.node()
    a = transports(pki.config(a_files), Inbox())
    await a.start()
    b = transports(pki.config(b_files, peers=(local(a),)), Inbox())
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
    old_remote = a.peers()[0].remote_addr
    # A second instance of b (same key, new boot id) dials a while the first is still connected.
    b2_in = Inbox()
    b2 = transports(pki.config(b_files, peers=(local(a),)), b2_in)
    await b2.start()
    await eventually(lambda: len(a.peers()) == 1 and a.peers()[0].remote_addr != old_remote)
    await eventually(lambda: b2.connected(a_files.node_id))
    assert a.send(b_files.node_id, b"to the new instance")
    assert await b2_in.wait(1) == [(a_files.node_id, b"to the new instance")]


async def test_self_address_in_peers_is_ignored(pki: Pki, transports) -> None:
    files = pki.node()
    a = transports(pki.config(files), Inbox())
    await a.start()
    a.add_peer(local(a))
    await eventually(lambda: a.stats["refused.self"] >= 1)
    assert a.peers() == []


async def test_close_is_idempotent_and_flushes_queued_frames(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    b_in = Inbox()
    a = transports(pki.config(a_files), Inbox())
    await a.start()
    b = transports(pki.config(b_files, peers=(local(a),)), b_in)
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
    for i in range(200):
        a.send(b_files.node_id, b"m%d" % i)
    await asyncio.gather(a.close(), a.close())
    await a.close()
    got = await b_in.wait(200)
    assert [p for _, p in got] == [b"m%d" % i for i in range(200)]
    assert a.peers() == []
    assert a.send(b_files.node_id, b"after close") is False


async def test_drop_oldest_policy_bounds_a_slow_peers_queue(pki: Pki, transports) -> None:
    """A peer whose handler never returns stops reading; our queue stays bounded and send never blocks."""
    a_files, b_files = pki.node(), pki.node()
    stuck = asyncio.Event()

    async def never_returns(peer: bytes, payload: bytes) -> None:
        await stuck.wait()

    a = transports(pki.config(a_files, send_queue_frames=8, send_queue_bytes=1 << 20,
                              queue_policy=QueuePolicy.DROP_OLDEST, max_frame_bytes=1 << 16), Inbox())
    await a.start()
    b = Transport(pki.config(b_files, peers=(local(a),), max_frame_bytes=1 << 16), never_returns)
    await b.start()
    try:
        async with asyncio.timeout(10):
            await a.wait_for_peers(1)
        chunk = b"z" * (1 << 16)
        for _ in range(2000):  # ~128 MiB offered; far beyond socket buffers
            a.send(b_files.node_id, chunk)
            await asyncio.sleep(0)
        info = a.peers()[0]
        assert info.queued_frames <= 8
        assert info.dropped_frames > 0
    finally:
        stuck.set()
        await b.close()


async def test_disconnect_policy_closes_a_peer_that_cannot_keep_up(pki: Pki, transports) -> None:
    a_files, b_files = pki.node(), pki.node()
    stuck = asyncio.Event()

    async def never_returns(peer: bytes, payload: bytes) -> None:
        await stuck.wait()

    a = transports(pki.config(a_files, send_queue_frames=4, send_queue_bytes=1 << 20,
                              queue_policy=QueuePolicy.DISCONNECT, max_frame_bytes=1 << 16), Inbox())
    await a.start()
    b = Transport(pki.config(b_files, max_frame_bytes=1 << 16), never_returns)
    await b.start()
    a.add_peer(local(b))
    try:
        async with asyncio.timeout(10):
            await a.wait_for_peers(1)
        chunk = b"z" * (1 << 16)
        results = []
        for _ in range(2000):
            results.append(a.send(b_files.node_id, chunk))
            await asyncio.sleep(0)
            if not results[-1]:
                break
        assert results[-1] is False
        assert a.stats["queue-overflow"] == 1
    finally:
        stuck.set()
        await b.close()


def test_peer_address_parsing() -> None:
    assert PeerAddress.parse("127.0.0.1:30300") == PeerAddress("127.0.0.1", 30300)
    assert PeerAddress.parse("[::1]:5") == PeerAddress("::1", 5)
    assert str(PeerAddress("::1", 5)) == "[::1]:5"
    node = "0x" + "ab" * 32
    assert PeerAddress.parse(f"{node}@10.0.0.1:7") == PeerAddress("10.0.0.1", 7, bytes.fromhex("ab" * 32))
    for bad in ["127.0.0.1", ":80", "h:0", "h:65536", "h:x", "[zz]:1", "0xab@h:1", "ab@h:1"]:
        with pytest.raises(ValueError):
            PeerAddress.parse(bad)


async def test_dialing_an_address_that_must_be_a_given_node(pki: Pki, transports) -> None:
    """The CA signed both, but the peer at the address is not the node we expect there."""
    b_files, impostor = pki.node(), pki.node()
    b = transports(pki.config(b_files), Inbox())
    await b.start()
    a = transports(pki.config(pki.node()), Inbox())
    await a.start()
    a.add_peer(PeerAddress("127.0.0.1", b.listen_port, impostor.node_id))
    await eventually(lambda: a.stats["refused.identity"] >= 1)
    assert a.peers() == []
    a.add_peer(PeerAddress("127.0.0.1", b.listen_port, b_files.node_id))
    await eventually(lambda: a.connected(b_files.node_id))


async def test_port_in_use_is_a_clear_error(pki: Pki, transports) -> None:
    a = transports(pki.config(pki.node()), Inbox())
    await a.start()
    b = transports(pki.config(pki.node(), listen_port=a.listen_port), Inbox())
    with pytest.raises(NetworkError, match=f"cannot listen for peers on 127.0.0.1:{a.listen_port}"):
        await b.start()


async def test_a_peer_named_by_id_that_connected_first_is_not_redialed(pki: Pki, transports) -> None:
    """A dials B by id before B listens; B comes up and dials A. When A's backoff ends it must
    not dial B again (that only replaced the healthy connection: log churn on an idle chain)."""
    a_files, b_files = pki.node(), pki.node()
    port = free_port_block(1)
    a = transports(pki.config(a_files, peers=(PeerAddress("127.0.0.1", port, b_files.node_id),)), Inbox())
    await a.start()
    await asyncio.sleep(0.3)  # A's dials to the silent port fail and back off
    b = transports(pki.config(b_files, listen_port=port,
                              peers=(PeerAddress("127.0.0.1", a.listen_port, a_files.node_id),)), Inbox())
    await b.start()
    async with asyncio.timeout(10):
        await a.wait_for_peers(1)
        await b.wait_for_peers(1)
    first = b.peers()[0].local_addr
    await asyncio.sleep(0.8)  # several of A's reconnect periods (at most 0.2 s each)
    assert [p.local_addr for p in b.peers()] == [first]
    assert all(t.stats["duplicate"] + t.stats["replaced"] == 0 for t in (a, b))
