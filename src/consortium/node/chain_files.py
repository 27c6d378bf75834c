"""A local chain in one command, built from separate organizations (one per node).

Like FISCO BCOS's ``build_chain.sh`` or ``cometbft testnet``, but it runs the real
per-organization flow (:mod:`consortium.node.org_files`) for each node in turn —
``org new``, ``node new``, ``genesis new`` from the descriptors, ``genesis install`` —
so the default path exercises what separate organizations do on separate machines.
Layout (see docs/protocol.md)::

    DIR/orgI/org.toml ca/ca.key (0600) ca/ca.crt accounts/admin0.json (0600)    organization I
    DIR/nodeI/config.toml genesis.toml node.key (0600) node.crt ca.crt data/      its node
    DIR/accounts/adminK.json -> ../orgI/accounts/adminJ.json    (symlinks, for local scripts)
    DIR/genesis.toml

``DIR/accounts`` only indexes the local organizations' committee keys for scripts and
tests; no key file is copied. Secrets are never overwritten: generation refuses a
DIR that already holds a chain, and it builds in a hidden temporary folder inside
DIR that is renamed into place only when complete, so a failure leaves no
half-made chain.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from consortium.crypto.timestamp import TrustedTsa
from consortium.network.config import PeerAddress
from consortium.node.config import HOST_PATTERN, load_config
from consortium.node.genesis import ID_PATTERN, Genesis, load_genesis
from consortium.node.org_files import (
    OrgFilesError,
    build_genesis,
    install_genesis,
    new_node,
    new_org,
    node_config_doc,
    write_genesis,
)
from consortium.node.toml_io import ConfigError

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
    for name in ("node0", "org0", "accounts", "ca"):
        if (root / name).exists():
            raise ChainFilesError(f"{root / name} already exists: refusing to overwrite an existing chain's keys "
                                  "(choose another --dir, or use `chain add-node` to extend it)")
    root.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        orgs = []
        for i in range(spec.nodes):
            admins = len(range(i, spec.admins, spec.nodes))
            orgs.append(new_org(build / f"org{i}", f"org{i}", spec.chain_id, admins=admins))
        for i in range(spec.nodes):
            _new_node(build / f"org{i}", f"node{i}", host=spec.host, p2p_port=spec.p2p_port + i,
                      rpc_port=spec.rpc_port + i, out=build / f"node{i}")
        try:
            genesis = build_genesis([build / f"org{i}" / "org.toml" for i in range(spec.nodes)],
                                    group_id=spec.group_id, threshold=spec.admins // 2 + 1, tsas=spec.tsas,
                                    timestamp_ms=timestamp_ms if timestamp_ms is not None else time.time_ns() // 10**6)
        except OrgFilesError as exc:
            raise ChainFilesError(str(exc)) from None
        # The committee's order is admin0, admin1, … round-robin over the organizations.
        write_genesis(genesis, build / "genesis.toml")
        entries = []
        for i in range(spec.nodes):
            install_genesis(build / "genesis.toml", build / f"node{i}")
            entries.append(NodeEntry(i, f"node{i}", root / f"node{i}", genesis.sealers[i].node_id,
                                     PeerAddress(spec.host, spec.p2p_port + i), spec.rpc_port + i))
        (build / "accounts").mkdir()
        admin_files = []
        for k in range(spec.admins):
            target = Path("..") / f"org{k % spec.nodes}" / "accounts" / f"admin{k // spec.nodes}.json"
            (build / "accounts" / f"admin{k}.json").symlink_to(target)
            admin_files.append(root / "accounts" / f"admin{k}.json")
        for child in [*(f"org{i}" for i in range(spec.nodes)), *(e.name for e in entries), "accounts",
                      "genesis.toml"]:
            os.rename(build / child, root / child)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return ChainLayout(root, genesis, tuple(entries), tuple(admin_files))


def _new_node(org_dir: Path, name: str, **kwargs: object) -> None:
    new_node(org_dir, name, **kwargs)  # type: ignore[arg-type]


def parse_hosts(text: str) -> list[tuple[str, int]]:
    """FISCO BCOS's ``-l "10.0.0.1:2,10.0.0.2:2"``: hosts with the number of nodes on each."""
    hosts: list[tuple[str, int]] = []
    for item in text.split(","):
        host, sep, count = item.strip().rpartition(":")
        if not sep or not re.fullmatch(HOST_PATTERN, host) or not count.isdigit() or not 1 <= int(count) <= 64:
            raise ChainFilesError(f"--hosts {text!r}: each item must be HOST:COUNT with COUNT 1-64, e.g. "
                                  f"\"10.0.0.1:2,10.0.0.2:2\"; got {item.strip()!r}")
        if any(h == host for h, _ in hosts):
            raise ChainFilesError(f"--hosts {text!r}: {host} is listed twice")
        hosts.append((host, int(count)))
    return hosts


def new_multi_host(root: Path | str, hosts: list[tuple[str, int]], *, p2p_port: int = 30300, rpc_port: int = 20200,
                   chain_id: str = "chain0", group_id: str = "group0",
                   timestamp_ms: int | None = None) -> ChainLayout:
    """One package per host, ``root/HOST/``: that host's organization (its CA, its admin account) and its
    nodes, listening on 0.0.0.0 and advertised at HOST:port, plus the common genesis. Copy each package
    to its host: it holds only that host's private keys. ``scripts/start_all.sh root/HOST`` runs it."""
    root = Path(root).resolve()
    total = sum(n for _, n in hosts)
    ChainSpec(nodes=max(n for _, n in hosts), p2p_port=p2p_port, rpc_port=rpc_port, chain_id=chain_id,
              group_id=group_id)  # the same checks as a local chain, per host
    if not 1 <= total <= MAX_NODES:
        raise ChainFilesError(f"--hosts names {total} nodes; at most {MAX_NODES}")
    for host, _ in hosts:
        if (root / host).exists():
            raise ChainFilesError(f"{root / host} already exists: refusing to overwrite a host package")
    root.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        index = 0
        for host, count in hosts:
            org = build / host / f"org-{host}"
            new_org(org, f"org-{host}"[:64], chain_id, admins=1)
            for k in range(count):
                new_node(org, f"node{index}", host="0.0.0.0", p2p_port=p2p_port + k, rpc_port=rpc_port + k,
                         advertise=f"{host}:{p2p_port + k}", out=build / host / f"node{k}")
                index += 1
        try:
            genesis = build_genesis([build / h / f"org-{h}" / "org.toml" for h, _ in hosts], group_id=group_id,
                                    timestamp_ms=timestamp_ms if timestamp_ms is not None else time.time_ns() // 10**6)
        except OrgFilesError as exc:
            raise ChainFilesError(str(exc)) from None
        entries = []
        index = 0
        for host, count in hosts:
            write_genesis(genesis, build / host / "genesis.toml")
            for k in range(count):
                install_genesis(build / host / "genesis.toml", build / host / f"node{k}")
                entries.append(NodeEntry(index, f"node{k}", root / host / f"node{k}", genesis.sealers[index].node_id,
                                         PeerAddress(host, p2p_port + k), rpc_port + k))
                index += 1
        for host, _ in hosts:
            os.rename(build / host, root / host)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return ChainLayout(root, genesis, tuple(entries), ())


def add_node(root: Path | str, *, host: str | None = None, org: str | None = None) -> NodeEntry:
    """Make one more node (next index, next ports) of an existing organization (default: org0's).

    The genesis is unchanged: the node joins as an observer once the committee admits it
    (governance add_observer), and its peer list names every existing node.
    Existing node folders are not modified.
    """
    root = Path(root).resolve()
    if not (root / "node0" / "genesis.toml").exists() or not (root / "org0" / "org.toml").exists():
        raise ChainFilesError(f"{root} is not a chain folder (needs org0/org.toml and node0/genesis.toml; "
                              "create one with `consortium chain new`)")
    org_dir = root / (org or "org0")
    if not (org_dir / "org.toml").exists():
        raise ChainFilesError(f"{org_dir} is not an organization of this chain (give --org orgI)")
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
    name = f"node{index}"
    if (root / name).exists():
        raise ChainFilesError(f"{root / name} already exists; refusing to overwrite it")
    peers = [str(c.p2p.endpoint) for c in configs]
    files = new_node(org_dir, name, host=host, p2p_port=p2p_port, rpc_port=rpc_port, role="observer",
                     out=root / name, peers=peers)
    install_genesis(root / "node0" / "genesis.toml", files.dir)
    return NodeEntry(index, name, files.dir, files.node_id, PeerAddress(host, p2p_port), rpc_port)


__all__ = ["ChainFilesError", "ChainLayout", "ChainSpec", "NodeEntry", "add_node", "load_genesis", "new_chain",
           "new_multi_host", "parse_hosts",
           "node_config_doc", "Genesis"]
