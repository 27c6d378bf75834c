"""The P2P transport: admitted, deduplicated, self-healing connections to the chain's nodes.

Admission happens in this order, and nothing the peer sends is read before the
step that needs it:

1. TLS 1.3 handshake with mutual authentication (OpenSSL: a member organization's CA
   or the single chain CA, validity);
2. certificate parsed: CN must be its own Ed25519 key (the node id), serial not revoked;
   with a :class:`~consortium.network.membership.Membership`, the issuing member is found
   and the node id must be on chain as one of its nodes;
3. hello frame (at most 1 KiB) naming the same chain id and genesis hash;
4. the connection is registered, replacing or yielding to an existing one
   to the same peer (dedupe), and only then are frames delivered.

``send``/``broadcast`` never block: each peer has a bounded queue (see
:mod:`consortium.network.send_queue`). Dial loops reconnect with exponential
backoff and jitter. ``close`` is idempotent and ordered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import ssl
from collections import Counter
from collections.abc import Callable

from cryptography import x509

from consortium.network import tls
from consortium.network.certs import identity_from_cert
from consortium.network.config import PeerAddress, TransportConfig
from consortium.network.errors import (
    CertificateError,
    FrameTooLarge,
    NetworkError,
    PeerRefused,
    ProtocolError,
)
from consortium.network.frames import encode_frame, read_frame
from consortium.network.hello import BOOT_ID_SIZE, MAX_HELLO_BYTES, Hello, check_peer_hello
from consortium.network.listener import Listener
from consortium.network.membership import Membership
from consortium.network.peer import OnMessage, PeerConnection, PeerInfo, short_id
from consortium.network.send_queue import QueueOverflow

log = logging.getLogger("consortium.network")

_NEW, _RUNNING, _CLOSING, _CLOSED = range(4)


class Transport:
    """Connections to the configured peers plus whoever dials us with a valid certificate.

    ``stats`` counts events by tag, for operators and tests: admission refusals
    ``refused.<reason>`` (tls, cert, revoked, not-member, not-on-chain, identity, hello,
    other-chain, self, closed, timeout, io, limit), ``duplicate`` and ``replaced`` (dedupe),
    ``protocol-error``, ``queue-overflow``, ``revoked-closed``, ``membership-closed``.
    """

    def __init__(self, config: TransportConfig, on_message: OnMessage, *, rng: random.Random | None = None) -> None:
        self._cfg = config
        self._on_message = on_message
        self._rng = rng or random.Random()
        self._hello = Hello(config.chain_id, config.genesis_hash, config.node_id, os.urandom(BOOT_ID_SIZE))
        self._revoked: set[int] = set(config.revoked_serials)
        self._membership: Membership | None = config.membership
        self._peer_certs: dict[bytes, x509.Certificate] = {}
        self._peer_orgs: dict[bytes, str] = {}
        self._conns: dict[bytes, PeerConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dialers: dict[PeerAddress, asyncio.Task[None]] = {}
        self._addr_ids: dict[PeerAddress, bytes] = {}
        self._open = 0
        self._listener: Listener | None = None
        self._state = _NEW
        self._closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._server_ctx: ssl.SSLContext | None = None
        self._client_ctx: ssl.SSLContext | None = None
        self.stats: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the TLS material, listen, and start dialing the configured peers."""
        if self._state != _NEW:
            raise RuntimeError("a Transport can be started once")
        cfg = self._cfg
        self._load_contexts()
        try:
            self._listener = await Listener.open(cfg.listen_host, cfg.listen_port, self._on_accepted)
        except OSError as exc:
            raise NetworkError(f"cannot listen for peers on {cfg.listen_host}:{cfg.listen_port}: "
                               f"{exc.strerror or exc} (is another node using p2p.port?)") from None
        self._state = _RUNNING
        log.info("p2p listening on %s:%d as node %s", cfg.listen_host, self.listen_port, short_id(cfg.node_id))
        for addr in cfg.peers:
            self.add_peer(addr)

    async def close(self) -> None:
        """Stop accepting, close peers concurrently (flushing queues), wait with a timeout.

        Idempotent: a second call waits for the first to finish.
        """
        if self._state in (_CLOSING, _CLOSED):
            await self._closed.wait()
            return
        self._state = _CLOSING
        if self._listener is not None:
            await self._listener.close()
        conns = list(self._conns.values())
        for conn in conns:
            conn.close("transport closing", flush=True)
        half = self._cfg.close_timeout_s / 2
        await _wait_events([c.closed for c in conns], half)
        for conn in conns:
            conn.close("transport closing")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=half)
        self._state = _CLOSED
        self._closed.set()
        self._notify()
        log.info("p2p transport of node %s closed", short_id(self._cfg.node_id))

    @property
    def listen_port(self) -> int:
        if self._listener is None or not self._listener.sockets:
            raise RuntimeError("transport is not listening")
        return int(self._listener.sockets[0].getsockname()[1])

    @property
    def node_id(self) -> bytes:
        return self._cfg.node_id

    # -- API for the node layer -------------------------------------------------------------

    def add_peer(self, addr: PeerAddress) -> None:
        """Dial ``addr`` and keep a connection to it (no-op if already dialing it)."""
        if self._state != _RUNNING or addr in self._dialers:
            return
        task = asyncio.get_running_loop().create_task(self._dial_loop(addr), name=f"p2p-dial-{addr}")
        self._dialers[addr] = task
        self._track(task)

    def send(self, peer_id: bytes, payload: bytes) -> bool:
        """Queue ``payload`` for one peer; False if not connected or the queue overflowed
        under the disconnect policy. Never blocks. Raises FrameTooLarge for an oversize payload."""
        if len(payload) > self._cfg.max_frame_bytes:
            raise FrameTooLarge(f"payload of {len(payload)} bytes exceeds max_frame_bytes={self._cfg.max_frame_bytes}")
        conn = self._conns.get(peer_id)
        if conn is None or conn.closing:
            return False
        try:
            conn.queue.put(payload)
        except QueueOverflow as exc:
            self.stats["queue-overflow"] += 1
            log.warning("disconnecting slow node %s: %s", short_id(peer_id), exc)
            conn.close(f"send queue overflow: {exc}")
            return False
        return True

    def broadcast(self, payload: bytes) -> int:
        """Queue ``payload`` for every connected peer; returns how many accepted it."""
        return sum(self.send(peer_id, payload) for peer_id in list(self._conns))

    def peers(self) -> list[PeerInfo]:
        return [self._conns[k].info() for k in sorted(self._conns) if not self._conns[k].closing]

    def connected(self, peer_id: bytes) -> bool:
        conn = self._conns.get(peer_id)
        return conn is not None and not conn.closing

    def revoke(self, serial: int) -> int:
        """Refuse certificate ``serial`` from now on and close connections using it; returns how many."""
        self._revoked.add(serial)
        closed = 0
        for conn in list(self._conns.values()):
            if conn.cert_serial == serial:
                log.warning("closing connection to node %s: certificate serial %#x revoked",
                            short_id(conn.node_id), serial)
                conn.close(f"certificate serial {serial:#x} revoked")
                closed += 1
        self.stats["revoked-closed"] += closed
        return closed

    def _load_contexts(self) -> None:
        cfg = self._cfg
        cadata = self._membership.cadata() if self._membership is not None else None
        self._server_ctx = tls.server_context(cfg.cert_file, cfg.key_file, cfg.ca_file, cadata)
        self._client_ctx = tls.client_context(cfg.cert_file, cfg.key_file, cfg.ca_file, cadata)

    def set_membership(self, membership: Membership) -> int:
        """Admit by ``membership`` from now on; close connections it no longer admits. Returns how many.

        New handshakes trust exactly the new member CAs; open connections are re-checked
        against the certificate each peer presented, so removing an organization, a node,
        or revoking a certificate disconnects at once.
        """
        old = self._membership
        self._membership = membership
        if old is None or old.cadata() != membership.cadata():
            if self._state == _RUNNING:
                self._load_contexts()
        closed = 0
        for conn in list(self._conns.values()):
            cert = self._peer_certs.get(conn.node_id)
            if cert is None or conn.closing:
                continue
            try:
                org = membership.admit(cert, identity_from_cert(cert))
            except (PeerRefused, CertificateError) as exc:
                log.warning("closing connection to node %s: %s", short_id(conn.node_id), exc)
                conn.close(f"no longer admitted: {exc}")
                closed += 1
            else:
                self._peer_orgs[conn.node_id] = org
        self.stats["membership-closed"] += closed
        return closed

    @property
    def membership(self) -> Membership | None:
        return self._membership

    def peer_org(self, peer_id: bytes) -> str | None:
        """The member organization that certified a connected peer (None on a single-CA chain)."""
        return self._peer_orgs.get(peer_id)

    @property
    def revoked_serials(self) -> frozenset[int]:
        return frozenset(self._revoked)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, re-checked on every connect/disconnect (wrap in a timeout)."""
        while not predicate():
            if self._state == _CLOSED:
                raise RuntimeError("transport closed")
            await self._changed.wait()

    async def wait_for_peers(self, count: int) -> None:
        await self.wait_until(lambda: len(self.peers()) >= count)

    # -- connections -------------------------------------------------------------------------

    def _on_accepted(self, sock: socket.socket, where: str) -> None:
        """Listener callback: admit in a task we own and track. ``pending`` holds the socket until
        ``_inbound`` takes it, so a task cancelled before it ever ran still closes it."""
        if self._state != _RUNNING:
            sock.close()
            return
        pending = [sock]
        task = asyncio.get_running_loop().create_task(self._inbound(pending, where), name="p2p-inbound")
        task.add_done_callback(lambda _t: _close_all(pending))
        self._track(task)

    async def _inbound(self, pending: list[socket.socket], where: str) -> None:
        sock = pending.pop()
        if self._state != _RUNNING or self._open >= self._cfg.max_connections:
            self.stats["refused.limit"] += 1
            log.warning("refused connection from %s: %s", where,
                        "transport closing" if self._state != _RUNNING else "too many connections")
            sock.close()
            return
        self._open += 1
        try:
            writer: asyncio.StreamWriter | None = None
            try:
                async with asyncio.timeout(self._cfg.handshake_timeout_s):
                    reader, writer = await self._wrap_accepted(sock)
                    conn = await self._admit(reader, writer, outbound=False, where=where)
            except asyncio.CancelledError:
                if writer is not None:
                    writer.transport.abort()
                raise
            except Exception as exc:
                self._refused(exc, where, inbound=True)
                if writer is not None:
                    writer.transport.abort()
                return
            await self._serve(conn, where)
        finally:
            self._open -= 1

    async def _wrap_accepted(self, sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """TLS from the first byte (step 1), with the server context of the moment, as
        ``asyncio.open_connection`` builds a stream pair. The loop owns ``sock`` from here on,
        closing it itself if the handshake fails."""
        assert self._server_ctx is not None  # set by start(), before anything is accepted
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await loop.connect_accepted_socket(
            lambda: protocol, sock, ssl=self._server_ctx, ssl_handshake_timeout=self._cfg.handshake_timeout_s)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def _dial_loop(self, addr: PeerAddress) -> None:
        attempt = 0
        while self._state == _RUNNING:
            # A peer named by id needs no dial while any connection to it is open, even one it
            # dialed: redialing it later would only replace that healthy connection (churn).
            known = addr.node_id if addr.node_id is not None else self._addr_ids.get(addr)
            existing = self._conns.get(known) if known is not None else None
            if existing is not None:
                await existing.closed.wait()
                await asyncio.sleep(self._backoff(0))
                continue
            self._open += 1
            try:
                writer: asyncio.StreamWriter | None = None
                try:
                    async with asyncio.timeout(self._cfg.handshake_timeout_s):
                        reader, writer = await asyncio.open_connection(
                            addr.host, addr.port, ssl=self._client_ctx, server_hostname="",
                            ssl_handshake_timeout=self._cfg.handshake_timeout_s)
                        conn = await self._admit(reader, writer, outbound=True, where=str(addr),
                                                 expected=addr.node_id)
                except asyncio.CancelledError:
                    if writer is not None:
                        writer.transport.abort()
                    raise
                except Exception as exc:
                    if writer is not None:
                        writer.transport.abort()
                    if isinstance(exc, PeerRefused) and exc.reason == "self":
                        self.stats["refused.self"] += 1
                        log.info("peer address %s is this node itself; not dialing it", addr)
                        return
                    self._refused(exc, str(addr), inbound=False)
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                self._addr_ids[addr] = conn.node_id
                attempt = 0
                await self._serve(conn, str(addr))
            finally:
                self._open -= 1
            await asyncio.sleep(self._backoff(0))

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool,
                     where: str, expected: bytes | None = None) -> PeerConnection:
        """Steps 2 and 3 of admission; raises PeerRefused/ProtocolError/OSError on failure."""
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise PeerRefused("tls", "peer presented no certificate")
        try:
            cert = x509.load_der_x509_certificate(der)
            ident = identity_from_cert(cert)
        except (ValueError, x509.InvalidVersion) as exc:
            raise PeerRefused("cert", f"peer certificate does not parse: {exc}") from None
        except CertificateError as exc:
            raise PeerRefused("cert", str(exc)) from None
        if ident.serial in self._revoked:
            raise PeerRefused("revoked", f"certificate serial {ident.serial:#x} of node "
                                         f"{short_id(ident.node_id)} is revoked")
        org = self._membership.admit(cert, ident) if self._membership is not None else None
        if expected is not None and ident.node_id != expected:
            raise PeerRefused("identity", f"{where} is node {short_id(ident.node_id)}, "
                                          f"expected node {short_id(expected)}")
        writer.write(encode_frame(self._hello.encode()))
        try:
            payload = await read_frame(reader, MAX_HELLO_BYTES)
        except EOFError:
            raise PeerRefused("closed", "peer closed the connection before its hello "
                                        "(did it refuse our certificate?)") from None
        hello = Hello.decode(payload)
        check_peer_hello(self._hello, hello, ident.node_id)
        if ident.serial in self._revoked:  # revoked while we waited for the hello
            raise PeerRefused("revoked", f"certificate serial {ident.serial:#x} is revoked")
        if self._membership is not None:  # membership may have changed while we waited
            org = self._membership.admit(cert, ident)
        self._peer_certs[ident.node_id] = cert
        if org is not None:
            self._peer_orgs[ident.node_id] = org
        return PeerConnection(reader, writer, node_id=ident.node_id, boot_id=hello.boot_id, cert_serial=ident.serial,
                              outbound=outbound, config=self._cfg, on_message=self._on_message)

    async def _serve(self, conn: PeerConnection, where: str) -> None:
        if self._state != _RUNNING:
            await conn.abort("transport closing")
            return
        if not self._register(conn):
            self.stats["duplicate"] += 1
            log.debug("closing duplicate connection %s to node %s", where, short_id(conn.node_id))
            await conn.abort("duplicate connection")
            return
        log.info("connected to node %s (%s, %s)", short_id(conn.node_id), where,
                 "outbound" if conn.outbound else "inbound")
        try:
            reason = await conn.run()
        finally:
            if self._conns.get(conn.node_id) is conn:
                del self._conns[conn.node_id]
                self._peer_certs.pop(conn.node_id, None)
                self._peer_orgs.pop(conn.node_id, None)
            self._notify()
        if reason.startswith("protocol error"):
            self.stats["protocol-error"] += 1
            log.warning("closed connection to node %s (%s): %s", short_id(conn.node_id), where, reason)
        else:
            log.info("disconnected from node %s (%s): %s", short_id(conn.node_id), where, reason)

    def _register(self, conn: PeerConnection) -> bool:
        """Keep one connection per peer pair; both ends reach the same choice without talking.

        A connection from a peer that restarted (new boot id), or a newer one from
        the same dialer, replaces the old, which must be stale. Otherwise both
        sides dialed at once and both keep the one dialed by the smaller node id.
        """
        old = self._conns.get(conn.node_id)
        if old is not None and not old.closing:
            if not self._new_wins(old, conn):
                return False
            handover = old.queue.take_all()
            self.stats["replaced"] += 1
            old.close("replaced by a newer connection")
            conn.queue.extend_front(handover)
        self._conns[conn.node_id] = conn
        self._notify()
        return True

    def _new_wins(self, old: PeerConnection, new: PeerConnection) -> bool:
        if new.boot_id != old.boot_id:
            return True

        def dialer(c: PeerConnection) -> bytes:
            return self._cfg.node_id if c.outbound else c.node_id

        return dialer(new) == dialer(old) or dialer(new) == min(self._cfg.node_id, new.node_id)

    # -- helpers -------------------------------------------------------------------------------

    def _refused(self, exc: BaseException, where: str, *, inbound: bool) -> None:
        if isinstance(exc, PeerRefused):
            tag, text = exc.reason, str(exc)
        elif isinstance(exc, ssl.SSLCertVerificationError):
            tag, text = "tls", f"TLS handshake failed: {exc.verify_message}"
        elif isinstance(exc, ssl.SSLError):
            tag, text = "tls", f"TLS handshake failed: {exc.reason or exc}"
        elif isinstance(exc, ProtocolError):
            tag, text = "hello", str(exc)
        elif isinstance(exc, TimeoutError):
            tag, text = "timeout", "handshake did not finish in time"
        elif isinstance(exc, (OSError, EOFError)):
            tag, text = "io", f"connection lost during the handshake ({type(exc).__name__}: {exc})"
        else:
            log.exception("unexpected error admitting %s", where)
            tag, text = "internal", repr(exc)
        self.stats[f"refused.{tag}"] += 1
        if tag == "io":
            log.log(logging.INFO if inbound else logging.DEBUG, "%s %s: %s",
                    "connection from" if inbound else "cannot reach peer", where, text)
        elif inbound:
            log.warning("refused connection from %s: %s", where, text)
        else:
            log.warning("connection to peer %s failed: %s", where, text)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter in [d/2, d): peers that lost each other do not redial in lockstep."""
        delay = min(self._cfg.reconnect_max_s, self._cfg.reconnect_min_s * 2 ** min(attempt, 30))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        for addr, dialer in list(self._dialers.items()):
            if dialer is task:
                del self._dialers[addr]
        if not task.cancelled() and task.exception() is not None:
            log.error("p2p task %s failed", task.get_name(), exc_info=task.exception())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


async def _wait_events(events: list[asyncio.Event], timeout: float) -> None:
    if not events:
        return
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(e.wait() for e in events))
    except TimeoutError:
        pass

