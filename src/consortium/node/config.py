"""``config.toml``: one node's own settings, loaded and validated once at start-up.

Everything a node reads from its configuration is in the frozen
:class:`NodeConfig` made by :func:`load_config`; nothing deeper in the code
reads files or the environment for settings. Relative paths are resolved
against the directory of the config file, so a node folder can be moved or
started from any working directory. Every error names the file, the key and
what to fix, e.g. ``node0/config.toml: p2p.port must be an integer 1-65535, got 'abc'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from consortium.encoding.hexbytes import HexError, from_hex
from consortium.network.certs import identity_from_cert, load_cert, load_private_key, node_id_of
from consortium.network.config import PeerAddress, QueuePolicy, TransportConfig
from consortium.network.errors import CertificateError
from consortium.network.frames import DEFAULT_MAX_FRAME_BYTES
from consortium.network.membership import Membership
from consortium.node.genesis import Genesis
from consortium.node.toml_io import ConfigError, Table, load_toml

LOG_LEVELS = ("debug", "info", "warning", "error")
HOST_PATTERN = r"[A-Za-z0-9_.:-]{1,253}"


@dataclass(frozen=True)
class P2PSettings:
    host: str
    """Where the node listens (may be 0.0.0.0 or a private address behind NAT)."""
    port: int
    peers: tuple[PeerAddress, ...]
    revoked_serials: frozenset[int]
    """Certificate serials refused at admission (until revocation moves on chain)."""
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    send_queue_frames: int = 4096
    send_queue_bytes: int = 64 * 1024 * 1024
    queue_policy: QueuePolicy = QueuePolicy.DROP_OLDEST
    max_connections: int = 128
    advertise: PeerAddress | None = None
    """Where other nodes reach it (``host:port``), when that differs from where it listens."""

    @property
    def endpoint(self) -> PeerAddress:
        """The advertised endpoint: ``advertise`` if set, else the listening address."""
        return self.advertise or PeerAddress(self.host, self.port)


@dataclass(frozen=True)
class RpcSettings:
    host: str
    port: int


@dataclass(frozen=True)
class AnchorSettings:
    """``[anchor]``: this node fetches RFC 3161 tokens over checkpoints of the chain (docs/design.md §14.1)."""

    tsa_urls: tuple[str, ...]
    """RFC 3161 HTTP endpoints, tried in order; their tokens must come from a TSA the chain trusts."""
    interval_s: int = 60
    """One checkpoint per this many seconds, covering every block committed since the last."""
    timeout_s: int = 10
    """A TSA that has not answered by then is skipped (the next URL, or a retry later)."""


@dataclass(frozen=True)
class LogSettings:
    """``[log]``: how the node logs. Re-read on SIGHUP (levels, format, file)."""

    level: str = "info"
    modules: tuple[tuple[str, str], ...] = ()
    """Per-module levels, e.g. (("consortium.network", "debug"),); more specific names win."""
    format: str = "text"
    """``text`` (one line per event) or ``json`` (one JSON object per line, for log shippers)."""
    file: Path | None = None
    """Log to this file (rotated by size) instead of stderr; fatal causes go to both."""
    max_bytes: int = 100 * 1024 * 1024
    backups: int = 10


@dataclass(frozen=True)
class OpsSettings:
    """``[ops]``: the operations HTTP port (/metrics, /healthz, /readyz, /version); port 0 = off."""

    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    """The config file itself (absolute)."""
    name: str
    data_dir: Path
    genesis_path: Path
    key_path: Path
    """The node's Ed25519 key (PEM PKCS#8): TLS identity and consensus signing key."""
    cert_path: Path
    ca_cert_path: Path
    log_level: str
    p2p: P2PSettings
    rpc: RpcSettings
    max_view_timeout_ms: int
    """Cap on the growing view-change timeout (the base is the genesis's view_timeout_ms)."""
    txpool_limit: int
    anchor: AnchorSettings | None = None
    """Time anchoring, if this node is one of the members that does it."""
    log: LogSettings = LogSettings()
    ops: OpsSettings = OpsSettings()

    def transport_config(self, genesis: Genesis) -> TransportConfig:
        """The P2P transport's settings; checks that the key and certificate belong together."""
        try:
            ident = identity_from_cert(load_cert(self.cert_path))
            node_id = node_id_of(load_private_key(self.key_path))
        except CertificateError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None
        if ident.node_id != node_id:
            raise ConfigError(f"{self.path}: tls.cert {self.cert_path} is not the certificate of tls.key "
                              f"{self.key_path}")
        # A node of an organization that joined after genesis is not certified by a genesis member:
        # that is fine — peers admit it by their current membership, and it admits them by its own.
        membership = genesis_membership(genesis)
        p = self.p2p
        return TransportConfig(
            node_id=node_id, chain_id=genesis.chain_id, genesis_hash=genesis.hash(), cert_file=self.cert_path,
            key_file=self.key_path, ca_file=self.ca_cert_path, listen_host=p.host, listen_port=p.port,
            peers=p.peers, revoked_serials=p.revoked_serials, membership=membership, max_frame_bytes=p.max_frame_bytes,
            send_queue_frames=p.send_queue_frames, send_queue_bytes=p.send_queue_bytes,
            queue_policy=p.queue_policy, max_connections=p.max_connections)


def genesis_membership(genesis: Genesis) -> Membership | None:
    """Admission as genesis sets it: the member organizations' CAs and the genesis sealers
    (None for a single-CA genesis). Governance changes it later (see node/runtime.py)."""
    if not genesis.organizations:
        return None
    return Membership(orgs=tuple((o.name, o.ca_cert) for o in genesis.organizations),
                      nodes={s.node_id: s.org for s in genesis.sealers})


def load_config(path: Path | str) -> NodeConfig:
    path = Path(path).resolve()
    doc = load_toml(path, hint=" (generate node folders with `consortium chain new`)")
    base = path.parent
    node, tls, p2p, rpc = doc.table("node"), doc.table("tls"), doc.table("p2p"), doc.table("rpc")
    consensus, txpool = doc.table("consensus", required=False), doc.table("txpool", required=False)
    anchor = doc.table("anchor", required=False)
    log, ops = doc.table("log", required=False), doc.table("ops", required=False)
    log_level = node.string("log_level", "info", choices=LOG_LEVELS)
    config = NodeConfig(
        path=path,
        name=node.string("name", "node"),
        data_dir=node.path("data_dir", base, "data", must_exist=False),
        genesis_path=node.path("genesis", base, "genesis.toml"),
        log_level=log_level,
        key_path=tls.path("key", base, "node.key"),
        cert_path=tls.path("cert", base, "node.crt"),
        ca_cert_path=tls.path("ca_cert", base, "ca.crt"),
        p2p=_p2p(p2p),
        rpc=RpcSettings(host=rpc.string("host", "127.0.0.1", pattern=HOST_PATTERN, what="a host name or IP address"),
                        port=rpc.integer("port", lo=1, hi=65535)),
        max_view_timeout_ms=consensus.integer("max_view_timeout_ms", 60_000, lo=100, hi=3_600_000),
        txpool_limit=txpool.integer("limit", 15_000, lo=1, hi=10_000_000),
        anchor=_anchor(anchor) if doc.has("anchor") else None,
        log=load_log_settings(log, base, log_level),
        ops=OpsSettings(host=ops.string("host", "127.0.0.1", pattern=HOST_PATTERN, what="a host name or IP address"),
                        port=ops.integer("port", 0, lo=0, hi=65535)),
    )
    for table in (node, tls, p2p, rpc, consensus, txpool, anchor, ops, doc):
        table.finish()
    ports = [("p2p.port", config.p2p.host, config.p2p.port), ("rpc.port", config.rpc.host, config.rpc.port)]
    if config.ops.port:
        ports.append(("ops.port", config.ops.host, config.ops.port))
    for i, (a, host_a, port_a) in enumerate(ports):
        for b, host_b, port_b in ports[i + 1:]:
            if port_a == port_b and host_a == host_b:
                raise ConfigError(f"{path}: {a} and {b} are both {port_a}; give them different ports")
    return config


def _anchor(t: Table) -> AnchorSettings:
    urls = t.strings("tsa_urls")
    if not urls or not all(re.fullmatch(r"https?://\S{1,2000}", u) for u in urls):
        raise t.error("tsa_urls", "must list one or more http:// or https:// RFC 3161 endpoints")
    return AnchorSettings(tsa_urls=tuple(urls), interval_s=t.integer("interval_s", 60, lo=1, hi=86_400),
                          timeout_s=t.integer("timeout_s", 10, lo=1, hi=300))


def load_log_settings(t: Table, base: Path, default_level: str) -> LogSettings:
    """``[log]`` (``node.log_level`` is its level's default); also used to re-read it on SIGHUP."""
    modules = t.table("modules", required=False)
    pairs = []
    for name in modules.keys():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            raise modules.error(name, "is not a module name (e.g. consortium.network or network)")
        full = name if name.startswith("consortium") else f"consortium.{name}"
        pairs.append((full, modules.string(name, choices=LOG_LEVELS)))
    modules.finish()
    file = t.string("file") if t.has("file") else ""
    settings = LogSettings(
        level=t.string("level", default_level, choices=LOG_LEVELS),
        modules=tuple(pairs),
        format=t.string("format", "text", choices=("text", "json")),
        file=(base / file).resolve() if file else None,
        max_bytes=t.integer("max_bytes", 100 * 1024 * 1024, lo=4096, hi=2**40),
        backups=t.integer("backups", 10, lo=0, hi=1000),
    )
    t.finish()
    return settings


def _p2p(t: Table) -> P2PSettings:
    peers = []
    for i, text in enumerate(t.strings("peers", ())):
        try:
            peers.append(PeerAddress.parse(text))
        except ValueError as exc:
            raise t.error("peers", f"[{i}] is not a peer address: {exc}") from None
    serials = set()
    for i, text in enumerate(t.strings("revoked_serials", ())):
        try:
            serials.add(int.from_bytes(from_hex(text, what=f"revoked_serials[{i}]"), "big"))
        except HexError as exc:
            raise t.error("revoked_serials", f"must hold certificate serials as 0x-hex strings: {exc}") from None
    max_frame = t.integer("max_frame_bytes", DEFAULT_MAX_FRAME_BYTES, lo=1024, hi=2**31)
    queue_bytes = t.integer("send_queue_bytes", 64 * 1024 * 1024, lo=1024, hi=2**40)
    if queue_bytes < max_frame:
        raise t.error("send_queue_bytes", f"({queue_bytes}) must be at least max_frame_bytes ({max_frame})")
    advertise = None
    if t.has("advertise"):
        try:
            advertise = PeerAddress.parse(t.string("advertise"))
        except ValueError as exc:
            raise t.error("advertise", f"must be the host:port other nodes dial: {exc}") from None
    return P2PSettings(
        advertise=advertise,
        host=t.string("host", "127.0.0.1", pattern=HOST_PATTERN, what="a host name or IP address"),
        port=t.integer("port", lo=1, hi=65535),
        peers=tuple(dict.fromkeys(peers)),
        revoked_serials=frozenset(serials),
        max_frame_bytes=max_frame,
        send_queue_frames=t.integer("send_queue_frames", 4096, lo=1, hi=1_000_000),
        send_queue_bytes=queue_bytes,
        queue_policy=QueuePolicy(t.string("queue_policy", QueuePolicy.DROP_OLDEST.value,
                                          choices=[p.value for p in QueuePolicy])),
        max_connections=t.integer("max_connections", 128, lo=1, hi=65535),
    )
