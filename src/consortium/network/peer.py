"""One admitted connection to one peer: a reader, a writer and a keepalive, run together.

A :class:`PeerConnection` exists only after admission (certificate checked,
not revoked, hello of our chain). Its three loops run in one ``TaskGroup``;
whichever ends first — peer closed, protocol error, idle or stalled peer,
local ``close`` — records the reason and ends the other two, and the socket
is closed on the way out whatever happened.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from consortium.network.config import TransportConfig
from consortium.network.errors import ProtocolError
from consortium.network.frames import KEEPALIVE, encode_header, read_frame
from consortium.network.send_queue import SendQueue

log = logging.getLogger("consortium.network")

OnMessage = Callable[[bytes, bytes], Awaitable[None]]
"""``await on_message(peer_node_id, payload)``: awaited in the peer's reader, so a slow
handler slows only the reading of that peer's frames (TCP backpressure), nothing else."""

WRITE_BATCH_BYTES = 256 * 1024
SOCKET_CLOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class PeerInfo:
    node_id: bytes
    outbound: bool
    """True if we dialed this connection."""
    local_addr: tuple[str, int]
    remote_addr: tuple[str, int]
    cert_serial: int
    queued_frames: int
    dropped_frames: int
    sent_frames: int
    received_frames: int


class _Ended(Exception):
    """Internal: one loop finished; the TaskGroup cancels the others."""


def short_id(node_id: bytes) -> str:
    return node_id.hex()[:16] + "…"


class PeerConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, node_id: bytes,
                 boot_id: bytes, cert_serial: int, outbound: bool, config: TransportConfig,
                 on_message: OnMessage) -> None:
        self.node_id = node_id
        self.boot_id = boot_id
        self.cert_serial = cert_serial
        self.outbound = outbound
        self.queue = SendQueue(config.send_queue_frames, config.send_queue_bytes, config.queue_policy)
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self.sent = 0
        self.received = 0
        self._reader = reader
        self._writer = writer
        self._cfg = config
        self._on_message = on_message
        self._stop = asyncio.Event()
        self._last_send = asyncio.get_running_loop().time()
        self._local = _addr(writer.get_extra_info("sockname"))
        self._remote = _addr(writer.get_extra_info("peername"))

    @property
    def closing(self) -> bool:
        return self.close_reason is not None or self._stop.is_set() or self.queue.closed

    def info(self) -> PeerInfo:
        return PeerInfo(self.node_id, self.outbound, self._local, self._remote, self.cert_serial,
                        len(self.queue), self.queue.dropped, self.sent, self.received)

    def close(self, reason: str, *, flush: bool = False) -> None:
        """Ask the connection to end; with ``flush`` the queued frames are written first.
        Idempotent; returns at once — await ``closed`` to know it is done."""
        if flush and not self._stop.is_set():
            self._reason(reason)
            self.queue.close()
        else:
            self._reason(reason)
            self.queue.close()
            self._stop.set()

    async def run(self) -> str:
        """Serve the connection until it ends; returns why it ended. Always closes the socket."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._guard(self._read_loop()))
                tg.create_task(self._guard(self._write_loop()))
                tg.create_task(self._guard(self._keepalive_loop()))
                tg.create_task(self._guard(self._stop.wait(), ended="closed locally"))
        except* _Ended:
            pass
        finally:
            self.queue.close()
            await close_writer(self._writer)
            self.closed.set()
        return self.close_reason or "closed"

    async def abort(self, reason: str) -> None:
        """Close a connection that was never run (e.g. a duplicate)."""
        self._reason(reason)
        self.queue.close()
        await close_writer(self._writer)
        self.closed.set()

    def _reason(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason

    async def _guard(self, coro: Coroutine[Any, Any, Any], ended: str | None = None) -> None:
        try:
            result = await coro
        except asyncio.CancelledError:
            raise
        except EOFError:
            self._reason("peer closed the connection")
        except ProtocolError as exc:
            self._reason(f"protocol error: {exc}")
        except TimeoutError as exc:
            self._reason(str(exc) or "timed out")
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            self._reason(f"connection error: {exc}")
        except Exception:
            log.exception("internal error on the connection to node %s", short_id(self.node_id))
            self._reason("internal error")
        else:
            self._reason(ended or str(result))
        raise _Ended

    async def _read_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._cfg.idle_timeout_s):
                    payload = await read_frame(self._reader, self._cfg.max_frame_bytes)
            except TimeoutError:
                raise TimeoutError(f"peer silent for {self._cfg.idle_timeout_s:g} s") from None
            if not payload:
                continue  # keepalive
            self.received += 1
            try:
                await self._on_message(self.node_id, payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("message handler failed on a message from node %s", short_id(self.node_id))

    async def _write_loop(self) -> str:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self.queue.get_batch(WRITE_BATCH_BYTES)
            if not batch:
                return "closed locally"
            # The whole batch in one synchronous step (frames never interleave) and one call: the TLS
            # layer encrypts the pieces and hands the socket one write, where a write per header and
            # per payload cost two TLS records and two send() calls per frame.
            parts: list[bytes] = []
            for payload in batch:
                parts.append(encode_header(len(payload), self._cfg.max_frame_bytes))
                parts.append(payload)
            self._writer.writelines(parts)
            self._last_send = loop.time()
            try:
                async with asyncio.timeout(self._cfg.write_timeout_s):
                    await self._writer.drain()
            except TimeoutError:
                raise TimeoutError(f"peer did not read for {self._cfg.write_timeout_s:g} s") from None
            self.sent += len(batch)

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._cfg.keepalive_interval_s
        while True:
            await asyncio.sleep(interval)
            if loop.time() - self._last_send >= interval:
                self._writer.write(KEEPALIVE)
                self._last_send = loop.time()


def _addr(value: object) -> tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return ("?", 0)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream, waiting briefly for the TLS close; abort if the peer does not cooperate."""
    writer.close()
    try:
        async with asyncio.timeout(SOCKET_CLOSE_TIMEOUT_S):
            await writer.wait_closed()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
    except (TimeoutError, OSError, ssl.SSLError):
        writer.transport.abort()
