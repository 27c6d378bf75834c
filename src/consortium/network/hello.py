"""The hello: the first frame each side sends after the TLS handshake.

Wire form: the canonical encoding of
``["consortium/p2p", 1, chain_id, genesis_hash, node_id, boot_id]``.

The certificate already proves *who* the peer is; the hello says *which
chain* it is on, so a correctly certified node of another chain (or another
genesis of the same chain id, e.g. a rebuilt test network reusing the CA) is
refused with a log line that names both chains. ``boot_id`` is random per
process start: a second connection from a peer with a new boot id means the
peer restarted and its old connection is stale (see transport dedupe).
"""

from __future__ import annotations

from dataclasses import dataclass

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.network.errors import HelloError, PeerRefused

PROTOCOL = "consortium/p2p"
VERSION = 1
BOOT_ID_SIZE = 16
MAX_HELLO_BYTES = 1024
MAX_CHAIN_ID_LEN = 64


@dataclass(frozen=True)
class Hello:
    chain_id: str
    genesis_hash: bytes
    node_id: bytes
    boot_id: bytes

    def encode(self) -> bytes:
        return canonical.encode([PROTOCOL, VERSION, self.chain_id, self.genesis_hash, self.node_id, self.boot_id])

    @classmethod
    def decode(cls, data: bytes) -> Hello:
        """Parse untrusted bytes; raises only :class:`HelloError`."""
        try:
            value = canonical.decode(data, max_size=MAX_HELLO_BYTES)
        except DecodeError as exc:
            raise HelloError(f"hello: {exc}") from None
        if not isinstance(value, list) or len(value) != 6 or value[0] != PROTOCOL:
            raise HelloError(f"hello: not a {PROTOCOL} hello (another protocol on this port?)")
        _, version, chain_id, genesis_hash, node_id, boot_id = value
        if version != VERSION or isinstance(version, bool):
            raise HelloError(f"hello: protocol version {version!r} is not supported (we speak {VERSION})")
        if not isinstance(chain_id, str) or not 0 < len(chain_id) <= MAX_CHAIN_ID_LEN:
            raise HelloError("hello: chain_id must be a non-empty string of at most 64 characters")
        for name, field, size in (("genesis_hash", genesis_hash, 32), ("node_id", node_id, 32),
                                  ("boot_id", boot_id, BOOT_ID_SIZE)):
            if not isinstance(field, bytes) or len(field) != size:
                raise HelloError(f"hello: {name} must be {size} bytes")
        return cls(chain_id, genesis_hash, node_id, boot_id)  # type: ignore[arg-type]


def check_peer_hello(ours: Hello, theirs: Hello, cert_node_id: bytes) -> None:
    """Admission rules for a decoded hello; raises :class:`PeerRefused` with a reason tag."""
    if theirs.node_id != cert_node_id:
        raise PeerRefused("hello", f"hello claims node {theirs.node_id.hex()[:16]}… but the certificate is "
                                   f"{cert_node_id.hex()[:16]}…")
    if theirs.node_id == ours.node_id:
        raise PeerRefused("self", "connected to ourselves")
    if theirs.chain_id != ours.chain_id:
        raise PeerRefused("other-chain", f"peer is on chain {theirs.chain_id!r}, we are on {ours.chain_id!r}")
    if theirs.genesis_hash != ours.genesis_hash:
        raise PeerRefused("other-chain", f"peer has genesis {theirs.genesis_hash.hex()[:16]}…, ours is "
                                         f"{ours.genesis_hash.hex()[:16]}… (same chain id, different genesis)")
