"""Test kit for the network tests: a throwaway chain PKI on disk, an inbox, polling helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from consortium.network import PeerAddress, Transport, TransportConfig
from consortium.network.certs import (
    generate_key,
    issue_ca,
    issue_node_cert,
    node_id_of,
    write_cert,
    write_private_key,
)

GENESIS = bytes(range(32))


@dataclass
class NodeFiles:
    node_id: bytes
    cert_file: Path
    key_file: Path
    serial: int


class Pki:
    """A chain CA in a directory, able to issue node certificates (valid, expired, ...)."""

    def __init__(self, root: Path, name: str = "ca") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca_key, self.ca_cert = issue_ca(name)
        self.ca_file = root / f"{name}.crt"
        write_cert(self.ca_file, self.ca_cert)
        self._n = 0

    def node(self, *, not_valid_before: dt.datetime | None = None,
             not_valid_after: dt.datetime | None = None) -> NodeFiles:
        self._n += 1
        key = generate_key()
        cert = issue_node_cert(self.ca_key, self.ca_cert, key.public_key(), host="127.0.0.1",
                               not_valid_before=not_valid_before, not_valid_after=not_valid_after)
        d = self.root / f"n{self._n}"
        d.mkdir()
        write_private_key(d / "node.key", key)
        write_cert(d / "node.crt", cert)
        return NodeFiles(node_id_of(key), d / "node.crt", d / "node.key", cert.serial_number)

    def config(self, node: NodeFiles, *, peers: tuple[PeerAddress, ...] = (), chain_id: str = "chain0",
               genesis_hash: bytes = GENESIS, **kw: object) -> TransportConfig:
        base: dict[str, object] = dict(reconnect_min_s=0.02, reconnect_max_s=0.2, handshake_timeout_s=3.0,
                                       close_timeout_s=2.0, listen_host="127.0.0.1", listen_port=0)
        base.update(kw)
        return TransportConfig(node_id=node.node_id, chain_id=chain_id, genesis_hash=genesis_hash,
                               cert_file=node.cert_file, key_file=node.key_file, ca_file=self.ca_file,
                               peers=peers, **base)  # type: ignore[arg-type]


@dataclass
class Inbox:
    """Collects delivered messages; ``wait`` returns once ``n`` have arrived."""

    items: list[tuple[bytes, bytes]] = field(default_factory=list)
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, peer_id: bytes, payload: bytes) -> None:
        self.items.append((peer_id, payload))
        self._event.set()

    async def wait(self, n: int, timeout: float = 10.0) -> list[tuple[bytes, bytes]]:
        async with asyncio.timeout(timeout):
            while len(self.items) < n:
                self._event.clear()
                await self._event.wait()
        return self.items


def local(t: Transport) -> PeerAddress:
    return PeerAddress("127.0.0.1", t.listen_port)


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def raw_connect(port: int, ca_file: Path, node: NodeFiles | None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare TLS 1.3 client (not a Transport), so a test can send whatever bytes it likes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(ca_file))
    if node is not None:
        ctx.load_cert_chain(str(node.cert_file), str(node.key_file))
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="")


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (TLS alerts count as closing)."""
    data = b""
    async with asyncio.timeout(timeout):
        while True:
            try:
                chunk = await reader.read(65536)
            except (ssl.SSLError, ConnectionError):
                return data
            if not chunk:
                return data
            data += chunk
