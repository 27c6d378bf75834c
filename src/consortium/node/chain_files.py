"""Chain generation: the CA, node folders, genesis and admin accounts of a new chain.

Like FISCO BCOS's ``build_chain.sh`` or ``cometbft testnet``: one command
writes everything a local (or, after copying folders, distributed) chain needs.
Layout (see docs/protocol.md)::

    DIR/ca/ca.key (0600)  ca.crt
    DIR/accounts/admin0.json … (0600, consortium key files)
    DIR/nodeI/config.toml genesis.toml node.key (0600) node.crt ca.crt data/

Secrets are never overwritten: generation refuses a DIR that already holds a
chain, and it builds in a hidden temporary folder inside DIR that is renamed
into place only when complete, so a failure leaves no half-made chain.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consortium.crypto import DEFAULT_SUITE, KeyPair, save_key
from consortium.crypto.timestamp import TrustedTsa
from consortium.network.certs import (
    generate_key,
    issue_ca,
    issue_node_cert,
    load_cert,
    load_private_key,
    node_id_of,
    write_cert,
    write_private_key,
)
from consortium.network.config import PeerAddress, QueuePolicy
from consortium.network.frames import DEFAULT_MAX_FRAME_BYTES
from consortium.node.config import HOST_PATTERN, load_config
from consortium.node.genesis import ID_PATTERN, CommitteeMember, Genesis, Sealer
from consortium.node.toml_io import ConfigError, dumps

MAX_NODES = 256
MAX_ADMINS = 64
_NODE_DIR = re.compile(r"node(\d+)")


class ChainFilesError(ValueError):
    """The chain cannot be generated as asked; the message says what to change."""


@dataclass(frozen=True)
class ChainSpec:
    nodes: int
    host: str = "127.0.0.1"
    p2p_port: int = 30300
    rpc_port: int = 20200
    chain_id: str = "chain0"
    group_id: str = "group0"
    admins: int = 1
    tsas: tuple[TrustedTsa, ...] = ()
    """Time-stamping authorities for genesis ``[[tsa]]`` (``chain new --tsa NAME=CA.pem``)."""

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise ChainFilesError(f"--nodes must be 1-{MAX_NODES}, got {self.nodes}")
        if not 1 <= self.admins <= MAX_ADMINS:
            raise ChainFilesError(f"--admins must be 1-{MAX_ADMINS}, got {self.admins}")
        if not re.fullmatch(HOST_PATTERN, self.host):
            raise ChainFilesError(f"--host must be a host name or IP address, got {self.host!r}")
        for flag, value in (("--chain-id", self.chain_id), ("--group-id", self.group_id)):
            if not re.fullmatch(ID_PATTERN, value):
                raise ChainFilesError(f"{flag} must be 1-64 characters of A-Z a-z 0-9 _ . -, got {value!r}")
        for flag, first in (("--p2p-port", self.p2p_port), ("--rpc-port", self.rpc_port)):
            if not 1 <= first <= 65535 - (self.nodes - 1):
                raise ChainFilesError(f"{flag} {first}: ports {first}..{first + self.nodes - 1} must lie in 1-65535")
        p2p = range(self.p2p_port, self.p2p_port + self.nodes)
        rpc = range(self.rpc_port, self.rpc_port + self.nodes)
        if p2p.start < rpc.stop and rpc.start < p2p.stop:
            raise ChainFilesError(f"P2P ports {p2p.start}-{p2p.stop - 1} overlap RPC ports {rpc.start}-{rpc.stop - 1}")


@dataclass(frozen=True)
class NodeEntry:
    index: int
    name: str
    dir: Path
    node_id: bytes
    p2p: PeerAddress
    rpc_port: int


@dataclass(frozen=True)
class ChainLayout:
    root: Path
    genesis: Genesis
    nodes: tuple[NodeEntry, ...]
    admin_key_files: tuple[Path, ...]


def new_chain(root: Path | str, spec: ChainSpec, *, timestamp_ms: int | None = None) -> ChainLayout:
    """Generate a whole chain under ``root`` (created if missing, refused if it holds a chain)."""
    root = Path(root).resolve()
    for name in ("node0", "ca", "accounts"):
        if (root / name).exists():
            raise ChainFilesError(f"{root / name} already exists: refusing to overwrite an existing chain's keys "
                                  "(choose another --dir, or use `chain add-node` to extend it)")
    root.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        ca_key, ca_cert = issue_ca(spec.chain_id)
        _private_dir(build / "ca")
        write_private_key(build / "ca" / "ca.key", ca_key)
        write_cert(build / "ca" / "ca.crt", ca_cert)

        _private_dir(build / "accounts")
        admins = [KeyPair.generate(DEFAULT_SUITE) for _ in range(spec.admins)]
        for i, admin in enumerate(admins):
            save_key(admin, build / "accounts" / f"admin{i}.json")

        node_keys = [generate_key() for _ in range(spec.nodes)]
        addrs = [PeerAddress(spec.host, spec.p2p_port + i) for i in range(spec.nodes)]
        genesis = Genesis(
            chain_id=spec.chain_id, group_id=spec.group_id, crypto_suite=DEFAULT_SUITE.name,
            timestamp_ms=timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000,
            sealers=tuple(Sealer(node_id_of(k), str(a)) for k, a in zip(node_keys, addrs, strict=True)),
            administrators=tuple(k.address for k in admins),
            committee=tuple(CommitteeMember(k.address, 1) for k in admins),
            committee_threshold=len(admins) // 2 + 1,
            python=f"{sys.version_info.major}.{sys.version_info.minor}",
            tsas=spec.tsas,
        )
        genesis_toml = genesis.to_toml().encode()
        entries = []
        for i, key in enumerate(node_keys):
            peers = [str(a) for j, a in enumerate(addrs) if j != i]
            entries.append(_write_node(build, root, i, key, ca_key, ca_cert, spec.host, spec.p2p_port + i,
                                       spec.rpc_port + i, peers, genesis_toml))
        for child in ["ca", "accounts", *(e.name for e in entries)]:
            os.rename(build / child, root / child)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return ChainLayout(root, genesis, tuple(entries),
                       tuple(root / "accounts" / f"admin{i}.json" for i in range(spec.admins)))


def add_node(root: Path | str, *, host: str | None = None) -> NodeEntry:
    """Issue key, certificate and config for one more node (next index, next ports).

    The genesis is unchanged — the node joins as an observer until governance
    makes it a sealer — and its peer list names every existing node.
    Existing node folders are not modified.
    """
    root = Path(root).resolve()
    ca_dir = root / "ca"
    if not (ca_dir / "ca.key").exists() or not (root / "node0" / "genesis.toml").exists():
        raise ChainFilesError(f"{root} is not a chain folder (needs ca/ca.key and node0/genesis.toml; "
                              "create one with `consortium chain new`)")
    indexes = sorted(int(m.group(1)) for p in root.iterdir() if (m := _NODE_DIR.fullmatch(p.name)) and p.is_dir())
    try:
        configs = [load_config(root / f"node{i}" / "config.toml") for i in indexes]
    except ConfigError as exc:
        raise ChainFilesError(f"cannot read an existing node's config: {exc}") from None
    index = indexes[-1] + 1
    host = host or configs[0].p2p.host
    if not re.fullmatch(HOST_PATTERN, host):
        raise ChainFilesError(f"--host must be a host name or IP address, got {host!r}")
    used = {c.p2p.port for c in configs} | {c.rpc.port for c in configs}
    p2p_port = max(c.p2p.port for c in configs) + 1
    rpc_port = max(c.rpc.port for c in configs) + 1
    if p2p_port > 65535 or rpc_port > 65535 or p2p_port in used or rpc_port in used or p2p_port == rpc_port:
        raise ChainFilesError(f"no free port pair after the existing nodes (next would be p2p {p2p_port}, "
                              f"rpc {rpc_port})")
    ca_key = load_private_key(ca_dir / "ca.key")
    ca_cert = load_cert(ca_dir / "ca.crt")
    genesis_toml = (root / "node0" / "genesis.toml").read_bytes()
    peers = [str(PeerAddress(c.p2p.host, c.p2p.port)) for c in configs]
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        entry = _write_node(build, root, index, generate_key(), ca_key, ca_cert, host, p2p_port, rpc_port, peers,
                            genesis_toml)
        if (root / entry.name).exists():
            raise ChainFilesError(f"{root / entry.name} already exists; refusing to overwrite it")
        os.rename(build / entry.name, root / entry.name)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return entry


def node_config_doc(name: str, host: str, p2p_port: int, rpc_port: int, peers: list[str]) -> dict[str, object]:
    """The content of a generated config.toml, every knob present with its default so operators see it."""
    return {
        "node": {"name": name, "data_dir": "data", "genesis": "genesis.toml", "log_level": "info"},
        "tls": {"key": "node.key", "cert": "node.crt", "ca_cert": "ca.crt"},
        "p2p": {"host": host, "port": p2p_port, "peers": peers, "revoked_serials": [],
                "max_frame_bytes": DEFAULT_MAX_FRAME_BYTES, "send_queue_frames": 4096,
                "send_queue_bytes": 64 * 1024 * 1024, "queue_policy": QueuePolicy.DROP_OLDEST.value,
                "max_connections": 128},
        "rpc": {"host": host, "port": rpc_port},
        "consensus": {"max_view_timeout_ms": 60_000},
        "txpool": {"limit": 15_000},
    }


def _write_node(build: Path, root: Path, index: int, key: Ed25519PrivateKey, ca_key: Ed25519PrivateKey,
                ca_cert: x509.Certificate, host: str, p2p_port: int, rpc_port: int, peers: list[str],
                genesis_toml: bytes) -> NodeEntry:
    name = f"node{index}"
    d = build / name
    d.mkdir()
    write_private_key(d / "node.key", key)
    write_cert(d / "node.crt", issue_node_cert(ca_key, ca_cert, key.public_key(), host=host))
    write_cert(d / "ca.crt", ca_cert)
    (d / "genesis.toml").write_bytes(genesis_toml)
    (d / "config.toml").write_text(dumps(node_config_doc(name, host, p2p_port, rpc_port, peers),
                                         comment=f"consortium node {name}: this node's own settings.\n"
                                                 "Paths are relative to this file's folder."))
    (d / "data").mkdir()
    return NodeEntry(index, name, root / name, node_id_of(key), PeerAddress(host, p2p_port), rpc_port)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
