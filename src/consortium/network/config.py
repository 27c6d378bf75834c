"""What a :class:`~consortium.network.transport.Transport` needs, made once by the node layer.

The node layer builds this from ``config.toml`` and the genesis (see
``consortium.node.config.NodeConfig.transport_config``); the network layer
never reads files other than the certificate and key named here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from consortium.encoding.hexbytes import HexError, from_hex
from consortium.network.frames import DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_LIMIT
from consortium.network.membership import Membership


class QueuePolicy(str, Enum):
    """What happens when a peer's send queue is full (see docs/design.md §11)."""

    DROP_OLDEST = "drop-oldest"
    """Drop the oldest queued frame to make room: the default, newer consensus messages supersede older ones."""
    DISCONNECT = "disconnect"
    """Close the connection: the peer reconnects and catches up by block sync."""


@dataclass(frozen=True, order=True)
class PeerAddress:
    """Where to dial a peer, and optionally who must answer there.

    With ``node_id`` set, a certificate for any other node at that address is
    refused (``refused.identity``) even though the chain CA signed it.
    """

    host: str
    port: int
    node_id: bytes | None = None

    @classmethod
    def parse(cls, text: str) -> PeerAddress:
        """``host:port``, ``[v6-host]:port``, optionally prefixed by ``0x<node id>@``;
        raises ValueError saying what is wrong."""
        if not isinstance(text, str):
            raise ValueError(f"peer address must be a string 'host:port', got {type(text).__name__}")
        node_id = None
        if "@" in text:
            id_text, _, text = text.partition("@")
            try:
                node_id = from_hex(id_text, size=32, what="node id")
            except HexError as exc:
                raise ValueError(f"peer address: {exc}") from None
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"peer address {text!r} must be 'host:port'")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            ipaddress.IPv6Address(host)
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"peer address {text!r}: port must be an integer 1-65535")
        return cls(host, int(port_text), node_id)

    def __str__(self) -> str:
        """``host:port`` (the endpoint, without the node id)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TransportConfig:
    node_id: bytes
    """Our Ed25519 public key; must be the key of ``cert_file``."""
    chain_id: str
    genesis_hash: bytes
    cert_file: Path
    key_file: Path
    ca_file: Path
    """The one trusted CA of a single-CA chain; unused when ``membership`` is given."""
    membership: Membership | None = None
    """Member organizations' CAs and the node ids on chain (see :mod:`consortium.network.membership`)."""
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    """0 lets the OS choose (tests); read the bound port from ``Transport.listen_port``."""
    peers: tuple[PeerAddress, ...] = ()
    revoked_serials: frozenset[int] = field(default_factory=frozenset)
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    send_queue_frames: int = 4096
    send_queue_bytes: int = 64 * 1024 * 1024
    queue_policy: QueuePolicy = QueuePolicy.DROP_OLDEST
    max_connections: int = 128
    """Open connections (admitted or in handshake) beyond which new inbound ones are closed at once."""
    handshake_timeout_s: float = 5.0
    """Connect + TLS handshake + hello must finish within this."""
    write_timeout_s: float = 10.0
    """A peer that does not drain one batch of frames within this is disconnected."""
    keepalive_interval_s: float = 5.0
    idle_timeout_s: float = 30.0
    """A peer silent this long (no frame, not even a keepalive) is disconnected."""
    reconnect_min_s: float = 0.05
    reconnect_max_s: float = 10.0
    close_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if len(self.node_id) != 32:
            raise ValueError("node_id must be a 32-byte Ed25519 public key")
        if len(self.genesis_hash) != 32:
            raise ValueError("genesis_hash must be 32 bytes")
        if not 0 <= self.listen_port <= 65535:
            raise ValueError(f"listen_port must be 0-65535, got {self.listen_port}")
        if not 64 <= self.max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes must be in [64, {MAX_FRAME_LIMIT}], got {self.max_frame_bytes}")
        if self.send_queue_frames < 1 or self.send_queue_bytes < self.max_frame_bytes:
            raise ValueError("send_queue_frames must be >= 1 and send_queue_bytes >= max_frame_bytes")
        if self.max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")
        if not 0 < self.keepalive_interval_s < self.idle_timeout_s:
            raise ValueError("need 0 < keepalive_interval_s < idle_timeout_s")
        object.__setattr__(self, "queue_policy", QueuePolicy(self.queue_policy))
        object.__setattr__(self, "revoked_serials", frozenset(self.revoked_serials))
