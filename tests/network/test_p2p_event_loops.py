"""The transport on asyncio's loop and on uvloop (when installed): TLS admission with no lost handshakes.

The race this pins: a dialer's TLS ClientHello that is already waiting in the kernel when the
listener accepts the connection. A listener that accepts plain TCP and upgrades the stream
afterwards (``StreamWriter.start_tls``) lets the loop read those bytes into the plain stream
first — uvloop starts reading right after ``connection_made`` — and the TLS layer then waits
for a ClientHello that never comes ("handshake did not finish in time"). Every run with the
nodes on uvloop logged 22–30 of those before the transport wrapped accepted sockets in TLS at
creation.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from tests.network.netkit import Inbox, NodeFiles, Pki, local

from consortium.network import Transport

LOOPS = ["asyncio"]
try:
    import uvloop

    LOOPS.append("uvloop")
except ImportError:  # pragma: no cover - uvloop is a dependency; kept so the module imports without it
    uvloop = None  # type: ignore[assignment]


def _run(loop_name: str, main: Callable[[], object]) -> None:
    """Run ``main()`` to completion on a fresh loop of the named kind."""
    factory = uvloop.new_event_loop if loop_name == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())  # type: ignore[arg-type]


def _blocking_tls_client(port: int, pki: Pki, node: NodeFiles, out: dict[str, object]) -> None:
    """A client in its own thread: connect, TLS handshake, read the listener's first frame (its hello)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(pki.ca_file))
    ctx.load_cert_chain(str(node.cert_file), str(node.key_file))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=8) as raw:
            with ctx.wrap_socket(raw) as tls:
                out["handshake"] = True
                header = tls.recv(4)
                out["first_frame_header"] = header
    except (OSError, ValueError) as exc:
        out["error"] = exc


@pytest.fixture(params=LOOPS)
def loop_name(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def test_client_hello_waiting_before_accept_is_not_lost(pki: Pki, loop_name: str) -> None:
    """The dialer's ClientHello is in the socket before the listener's loop gets to accept it."""
    server_files = pki.node()
    client_files = pki.node()

    async def main() -> None:
        server = Transport(pki.config(server_files, handshake_timeout_s=4.0), Inbox())
        await server.start()
        try:
            results: list[dict[str, object]] = [{} for _ in range(3)]
            threads = [threading.Thread(target=_blocking_tls_client, args=(server.listen_port, pki, client_files, r))
                       for r in results]
            for t in threads:
                t.start()
            time.sleep(0.5)  # noqa: ASYNC251 - deliberately block this loop: connections and ClientHellos queue in the kernel
            await asyncio.to_thread(lambda: [t.join(10) for t in threads])
            assert all(r.get("handshake") for r in results), results
            assert all(r.get("first_frame_header") for r in results), results
            assert server.stats["refused.timeout"] == 0, dict(server.stats)
        finally:
            await server.close()

    _run(loop_name, main)


def test_full_mesh_exchanges_messages_with_no_lost_handshake(pki: Pki, loop_name: str) -> None:
    """Four transports dial each other at once (as a starting cluster does) and exchange frames."""
    files = [pki.node() for _ in range(4)]

    async def main() -> None:
        inboxes = [Inbox() for _ in files]
        made: list[Transport] = []
        try:
            first = Transport(pki.config(files[0]), inboxes[0])
            await first.start()
            made.append(first)
            for f, inbox in zip(files[1:], inboxes[1:], strict=True):
                t = Transport(pki.config(f, peers=tuple(local(m) for m in made)), inbox)
                await t.start()
                made.append(t)
            async with asyncio.timeout(10):
                for t in made:
                    await t.wait_for_peers(3)
            for i, t in enumerate(made):
                assert t.broadcast(b"from %d" % i) == 3
            for i, inbox in enumerate(inboxes):
                got = await inbox.wait(3)
                assert sorted(p for _, p in got) == sorted(b"from %d" % j for j in range(4) if j != i)
            for t in made:
                assert t.stats["refused.timeout"] == 0, dict(t.stats)
        finally:
            for t in made:
                await t.close()

    _run(loop_name, main)
