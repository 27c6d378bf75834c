"""Listening sockets that hand each accepted connection, untouched, to the transport.

Why not ``asyncio.start_server`` and ``StreamWriter.start_tls``: a stream server starts
reading an accepted socket at once (uvloop right after ``connection_made``; asyncio's loop
one iteration later), so a dialer's TLS ClientHello that is already waiting lands in the plain
stream's buffer, and the TLS layer installed afterwards waits for a ClientHello that never
comes — the handshake times out (MagicStack/uvloop#707, python/cpython#142352). Under load
on uvloop that was most inbound connections. Here nothing reads the socket until the
transport wraps it with ``loop.connect_accepted_socket(..., ssl=context)``, so TLS sees the
first byte, on either loop, and the transport still chooses the context (the member CAs of
the moment) and applies its connection limit per connection, before any handshake work.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("consortium.network")

BACKLOG = 100
ACCEPT_RETRY_S = 1.0
"""After accept() fails (out of file descriptors, ...), wait this long, as asyncio's own servers do."""

OnAccept = Callable[[socket.socket, str], None]


class Listener:
    """One listening socket per address ``host`` resolves to (as ``asyncio.start_server``)."""

    def __init__(self, sockets: list[socket.socket], on_accept: OnAccept) -> None:
        self._sockets = sockets
        self._on_accept = on_accept
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._accept_loop(s), name="p2p-accept") for s in sockets]

    @classmethod
    async def open(cls, host: str, port: int, on_accept: OnAccept) -> Listener:
        """Bind and listen; raises OSError (address in use, ...) with nothing left open."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        sockets: list[socket.socket] = []
        try:
            for family, type_, proto, _, addr in dict.fromkeys(infos):
                sock = socket.socket(family, type_, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(addr)
                sock.listen(BACKLOG)
                sock.setblocking(False)
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        return cls(sockets, on_accept)

    @property
    def sockets(self) -> list[socket.socket]:
        return list(self._sockets)

    async def close(self) -> None:
        """Stop accepting and close the listening sockets (connections already handed over stay open)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sock in self._sockets:
            sock.close()

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(listener)
            except OSError as exc:
                log.warning("p2p accept failed: %s; accepting again in %.0f s", exc, ACCEPT_RETRY_S)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            self._on_accept(sock, _fmt_addr(addr))


def _fmt_addr(value: object) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        return f"{value[0]}:{value[1]}"
    return "?"
