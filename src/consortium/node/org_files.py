"""Per-organization key custody: each organization makes its own keys; only descriptors travel.

The flow, modelled on Hyperledger Fabric's per-organization CAs and FISCO BCOS's
``gen_node_cert``, each step run by one organization on its own machine::

    consortium org new --dir bank --name bank --chain-id chain0     # CA + admin account + org.toml
    consortium node new --org bank --name node0 --host 0.0.0.0 --advertise 10.0.0.1:30300 …
    # (or, when the node's host is not the CA's: `node new --csr` there, `org sign-csr` at the CA)
    consortium genesis new --from bank/org.toml --from notary/org.toml … --out genesis.toml
    consortium genesis show genesis.toml       # every organization compares the hash out of band
    consortium genesis install genesis.toml --node bank/nodes/node0 --expect-hash 0x…

An organization's folder::

    ORG/org.toml                        public descriptor (see consortium.node.descriptors)
    ORG/ca/ca.key (0600)  ca/ca.crt     the organization's CA                   (ca/ is 0700)
    ORG/accounts/admin0.json … (0600)   its committee accounts                  (accounts/ is 0700)
    ORG/nodes/NAME/                     a node package: config.toml node.key (0600) node.crt ca.crt data/

Private keys are created 0600, atomically, never overwritten, and never written
anywhere but the organization's own folder (or the node folder it names).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from consortium.crypto import DEFAULT_SUITE, KeyPair, save_key
from consortium.crypto.timestamp import TrustedTsa
from consortium.encoding.hexbytes import to_hex
from consortium.network.certs import (
    CertificateError,
    cert_der,
    check_node_cert,
    csr_pem,
    csr_public_key,
    generate_key,
    issue_node_cert,
    issue_org_ca,
    load_cert,
    load_csr,
    load_private_key,
    make_csr,
    node_id_of,
    write_cert,
    write_private_key,
)
from consortium.network.config import PeerAddress, QueuePolicy
from consortium.network.frames import DEFAULT_MAX_FRAME_BYTES
from consortium.node.config import HOST_PATTERN, load_config
from consortium.node.descriptors import (
    DESCRIPTOR_FILE,
    ROLES,
    DescriptorError,
    NodeDescriptor,
    OrgDescriptor,
    check_name,
    load_descriptor,
)
from consortium.node.genesis import CommitteeMember, Genesis, GenesisError, Organization, Sealer, load_genesis
from consortium.node.toml_io import ConfigError, dumps

MAX_ADMINS = 64


class OrgFilesError(ConfigError):
    """An organization, node or genesis file cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class NodeFiles:
    name: str
    dir: Path
    node_id: bytes
    listen: PeerAddress
    endpoint: str
    rpc_port: int
    cert_serial: int | None
    """None while the node holds only a CSR, waiting for its organization to sign it."""


# --- organizations --------------------------------------------------------------------------------

def new_org(org_dir: Path | str, name: str, chain_id: str, *, admins: int = 1) -> OrgDescriptor:
    """Create an organization's folder: its CA, ``admins`` committee accounts and its descriptor."""
    org_dir = Path(org_dir).resolve()
    check_name(name, "--name")
    check_name(chain_id, "--chain-id")
    if not 0 <= admins <= MAX_ADMINS:  # 0: an organization without a committee seat
        raise OrgFilesError(f"--admins must be 0-{MAX_ADMINS}, got {admins}")
    if (org_dir / DESCRIPTOR_FILE).exists() or (org_dir / "ca").exists():
        raise OrgFilesError(f"{org_dir} already holds an organization; refusing to overwrite its keys "
                            "(choose another --dir)")
    org_dir.mkdir(parents=True, exist_ok=True)
    _private_dir(org_dir / "ca")
    ca_key, ca_cert = issue_org_ca(name, chain_id)
    write_private_key(org_dir / "ca" / "ca.key", ca_key)
    write_cert(org_dir / "ca" / "ca.crt", ca_cert)
    _private_dir(org_dir / "accounts")
    addresses = []
    for i in range(admins):
        key = KeyPair.generate(DEFAULT_SUITE)
        save_key(key, org_dir / "accounts" / f"admin{i}.json")
        addresses.append(key.address)
    desc = OrgDescriptor(name, chain_id, ca_cert, tuple(addresses), (), str(org_dir / DESCRIPTOR_FILE))
    desc.write(org_dir / DESCRIPTOR_FILE)
    return desc


def load_org(org_dir: Path | str) -> OrgDescriptor:
    org_dir = Path(org_dir).resolve()
    if not (org_dir / "ca" / "ca.key").exists():
        raise OrgFilesError(f"{org_dir} is not an organization folder (no ca/ca.key): give --org the folder made by "
                            "`consortium org new`, on the machine that holds the organization's CA key")
    return load_descriptor(org_dir / DESCRIPTOR_FILE)


# --- nodes ----------------------------------------------------------------------------------------

def node_config_doc(name: str, host: str, p2p_port: int, rpc_port: int, peers: list[str], *,
                    advertise: str = "", rpc_host: str | None = None) -> dict[str, object]:
    """The content of a generated config.toml, every knob present with its default so operators see it."""
    return {
        "node": {"name": name, "data_dir": "data", "genesis": "genesis.toml", "log_level": "info"},
        "tls": {"key": "node.key", "cert": "node.crt", "ca_cert": "ca.crt"},
        "p2p": {"host": host, "port": p2p_port, **({"advertise": advertise} if advertise else {}), "peers": peers,
                "revoked_serials": [], "max_frame_bytes": DEFAULT_MAX_FRAME_BYTES, "send_queue_frames": 4096,
                "send_queue_bytes": 64 * 1024 * 1024, "queue_policy": QueuePolicy.DROP_OLDEST.value,
                "max_connections": 128},
        "rpc": {"host": rpc_host or (host if host not in ("0.0.0.0", "::") else "127.0.0.1"), "port": rpc_port},
        "consensus": {"max_view_timeout_ms": 60_000},
        "txpool": {"limit": 15_000},
    }


def _endpoint(host: str, p2p_port: int, advertise: str | None) -> str:
    if advertise:
        try:
            return str(PeerAddress.parse(advertise))
        except ValueError as exc:
            raise OrgFilesError(f"--advertise: {exc}") from None
    if host in ("0.0.0.0", "::"):
        raise OrgFilesError(f"a node listening on {host} needs --advertise HOST:PORT: the address other "
                            "organizations dial to reach it")
    return str(PeerAddress(host, p2p_port))


def _check_ports(host: str, p2p_port: int, rpc_port: int) -> None:
    import re

    if not re.fullmatch(HOST_PATTERN, host):
        raise OrgFilesError(f"--host must be a host name or IP address, got {host!r}")
    for flag, port in (("--p2p-port", p2p_port), ("--rpc-port", rpc_port)):
        if not 1 <= port <= 65535:
            raise OrgFilesError(f"{flag} must be 1-65535, got {port}")
    if p2p_port == rpc_port:
        raise OrgFilesError(f"--p2p-port and --rpc-port are both {p2p_port}; give them different ports")


def _write_node_dir(d: Path, name: str, key_writer, host: str, p2p_port: int, rpc_port: int,
                    advertise: str, peers: list[str]) -> None:
    d.mkdir(parents=True)
    key_writer(d)
    (d / "config.toml").write_text(dumps(
        node_config_doc(name, host, p2p_port, rpc_port, peers, advertise=advertise),
        comment=f"consortium node {name}: this node's own settings.\nPaths are relative to this file's folder.\n"
                "p2p.host is where it listens; p2p.advertise where other nodes reach it."))
    (d / "data").mkdir()


def new_node(org_dir: Path | str, name: str, *, host: str = "127.0.0.1", p2p_port: int = 30300,
             rpc_port: int = 20200, advertise: str | None = None, role: str = "sealer",
             out: Path | str | None = None, peers: list[str] | None = None) -> NodeFiles:
    """Make a node of the organization at ``org_dir``: key, certificate from the organization's CA, config.

    The node is added to the organization's descriptor with its advertised endpoint
    and ``role`` (what the organization asks genesis or the committee to make it).
    """
    org_dir = Path(org_dir).resolve()
    desc = load_org(org_dir)
    check_name(name, "--name")
    if role not in ROLES:
        raise OrgFilesError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    _check_ports(host, p2p_port, rpc_port)
    endpoint = _endpoint(host, p2p_port, advertise)
    out_dir = Path(out).resolve() if out is not None else org_dir / "nodes" / name
    if out_dir.exists() and any(out_dir.iterdir()):
        raise OrgFilesError(f"{out_dir} already exists and is not empty; refusing to overwrite a node (choose --out)")
    if any(n.name == name for n in desc.nodes):
        raise OrgFilesError(f"organization {desc.name} already has a node named {name!r}; choose another --name")
    ca_key = load_private_key(org_dir / "ca" / "ca.key")
    ca_cert = load_cert(org_dir / "ca" / "ca.crt")
    key = generate_key()
    cert = issue_node_cert(ca_key, ca_cert, key.public_key(), host=PeerAddress.parse(endpoint).host)

    def keys(d: Path) -> None:
        write_private_key(d / "node.key", key)
        write_cert(d / "node.crt", cert)
        write_cert(d / "ca.crt", ca_cert)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=out_dir.parent))
    try:
        _write_node_dir(build / "node", name, keys, host, p2p_port, rpc_port, advertise or "", peers or [])
        if out_dir.exists():
            out_dir.rmdir()
        os.rename(build / "node", out_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    desc.with_node(NodeDescriptor(name, node_id_of(key), role, endpoint, cert)).write(org_dir / DESCRIPTOR_FILE)
    return NodeFiles(name, out_dir, node_id_of(key), PeerAddress(host, p2p_port), endpoint, rpc_port,
                     cert.serial_number)


def new_node_csr(out: Path | str, name: str, *, host: str = "127.0.0.1", p2p_port: int = 30300,
                 rpc_port: int = 20200, advertise: str | None = None) -> NodeFiles:
    """On a node's own host: its key, a CSR for its organization's CA, and its config (no certificate yet)."""
    out_dir = Path(out).resolve()
    check_name(name, "--name")
    _check_ports(host, p2p_port, rpc_port)
    endpoint = _endpoint(host, p2p_port, advertise)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise OrgFilesError(f"{out_dir} already exists and is not empty; refusing to overwrite a node")
    key = generate_key()

    def keys(d: Path) -> None:
        write_private_key(d / "node.key", key)
        (d / "node.csr").write_bytes(csr_pem(make_csr(key, host=PeerAddress.parse(endpoint).host)))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists():
        out_dir.rmdir()
    _write_node_dir(out_dir, name, keys, host, p2p_port, rpc_port, advertise or "", [])
    return NodeFiles(name, out_dir, node_id_of(key), PeerAddress(host, p2p_port), endpoint, rpc_port, None)


def sign_csr(org_dir: Path | str, csr_path: Path | str, *, name: str, endpoint: str, role: str = "sealer",
             out: Path | str | None = None) -> NodeDescriptor:
    """At the organization's CA: certify the node whose CSR this is, and list it in the descriptor.

    The CSR proves its sender holds the key (it is signed with it) and must name that
    key as its CN; anything else is refused naming the file.
    """
    org_dir = Path(org_dir).resolve()
    desc = load_org(org_dir)
    csr_path = Path(csr_path)
    public = csr_public_key(load_csr(csr_path), str(csr_path))
    check_name(name, "--name")
    if role not in ROLES:
        raise OrgFilesError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    try:
        endpoint = str(PeerAddress.parse(endpoint))
    except ValueError as exc:
        raise OrgFilesError(f"--endpoint: {exc}") from None
    ca_key = load_private_key(org_dir / "ca" / "ca.key")
    ca_cert = load_cert(org_dir / "ca" / "ca.crt")
    cert = issue_node_cert(ca_key, ca_cert, public, host=PeerAddress.parse(endpoint).host)
    node = NodeDescriptor(name, node_id_of(public), role, endpoint, cert)
    desc = desc.with_node(node)
    out_path = Path(out) if out is not None else csr_path.with_name("node.crt")
    if out_path.exists():
        raise OrgFilesError(f"{out_path} already exists; refusing to overwrite it (give --out)")
    write_cert(out_path, cert)
    if not (out_path.parent / "ca.crt").exists():
        write_cert(out_path.parent / "ca.crt", ca_cert)
    desc.write(org_dir / DESCRIPTOR_FILE)
    return node


# --- genesis --------------------------------------------------------------------------------------

def build_genesis(descriptor_paths: list[Path | str], *, group_id: str = "group0", threshold: int | None = None,
                  timestamp_ms: int | None = None, view_timeout_ms: int = 3000, max_txs_per_block: int = 1000,
                  block_limit_window: int = 600, tsas: tuple[TrustedTsa, ...] = (),
                  now: dt.datetime | None = None) -> Genesis:
    """The genesis the member organizations agree on, from their descriptors (in the order given).

    Sealers are the nodes each descriptor lists as ``sealer``, in order; the committee is
    every organization's admin accounts (weight 1), the threshold more than half of them
    unless given. Every certificate is checked as it would be at admission.
    """
    if not descriptor_paths:
        raise OrgFilesError("give the member organizations' descriptors: --from ORG/org.toml (one per organization)")
    descs = [load_descriptor(p, now=now) for p in descriptor_paths]
    first = descs[0]
    seen_names: dict[str, str] = {}
    seen_keys: dict[bytes, str] = {}
    seen_nodes: dict[bytes, str] = {}
    for d in descs:
        if d.chain_id != first.chain_id:
            raise OrgFilesError(f"{d.source} is for chain {d.chain_id!r}, but {first.source} is for {first.chain_id!r}: "
                                f"a descriptor from another chain; ask {d.name} for its descriptor of chain "
                                f"{first.chain_id!r} (`consortium org new --chain-id {first.chain_id}`)")
        if d.name in seen_names:
            raise OrgFilesError(f"{d.source}: organization name {d.name!r} is also used by {seen_names[d.name]}; "
                                "each member needs its own name (or the same descriptor was given twice)")
        seen_names[d.name] = d.source
        ca_key = cert_der(d.ca_cert)
        if ca_key in seen_keys:
            raise OrgFilesError(f"{d.source}: the same CA certificate as {seen_keys[ca_key]}")
        seen_keys[ca_key] = d.source
        for n in d.nodes:
            if n.node_id in seen_nodes:
                raise OrgFilesError(f"{d.source}: node id {to_hex(n.node_id)} is also listed by {seen_nodes[n.node_id]}")
            seen_nodes[n.node_id] = d.source
    sealers = tuple(Sealer(n.node_id, n.endpoint, d.name) for d in descs for n in d.nodes if n.role == "sealer")
    if not sealers:
        raise OrgFilesError("no descriptor lists a sealer node: make one with `consortium node new --org DIR` "
                            "(role sealer is the default)")
    admins = tuple(a for d in descs for a in d.admins)
    if not admins:
        raise OrgFilesError("no descriptor lists an admin account: the committee would be empty")
    if len(set(admins)) != len(admins):
        raise OrgFilesError("an admin address is listed by two organizations")
    try:
        return Genesis(
            chain_id=first.chain_id, group_id=group_id, crypto_suite=DEFAULT_SUITE.name,
            timestamp_ms=timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000,
            sealers=sealers, administrators=admins, committee=tuple(CommitteeMember(a, 1) for a in admins),
            committee_threshold=threshold if threshold is not None else len(admins) // 2 + 1,
            max_txs_per_block=max_txs_per_block, view_timeout_ms=view_timeout_ms,
            block_limit_window=block_limit_window, python=f"{sys.version_info.major}.{sys.version_info.minor}",
            organizations=tuple(Organization(d.name, cert_der(d.ca_cert)) for d in descs), tsas=tsas,
        )
    except GenesisError as exc:
        raise OrgFilesError(f"the genesis cannot be made: {exc}") from None


def write_genesis(genesis: Genesis, path: Path | str) -> None:
    path = Path(path)
    if path.exists():
        raise OrgFilesError(f"{path} already exists; refusing to overwrite a genesis (choose another --out)")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(genesis.to_toml())
    tmp.replace(path)


def install_genesis(genesis_path: Path | str, node_dir: Path | str, *, expect_hash: bytes | None = None,
                    new_member: bool = False) -> Genesis:
    """Put the agreed genesis into a node folder and point its peers at the genesis sealers' endpoints.

    Refuses a genesis whose hash is not the one the organization confirmed out of band,
    and one that does not list the organization that certified this node — unless
    ``new_member``: an organization added by governance after genesis installs the chain's
    original genesis (the node learns the current members by syncing).
    """
    genesis_path = Path(genesis_path)
    node_dir = Path(node_dir).resolve()
    genesis = load_genesis(genesis_path)
    if expect_hash is not None and genesis.hash() != expect_hash:
        raise OrgFilesError(
            f"{genesis_path} has genesis hash {to_hex(genesis.hash())}, not the {to_hex(expect_hash)} your "
            "organization agreed on: the genesis differs between organizations. Run `consortium genesis show` on "
            "each member's copy, find which one changed, and get the agreed file again")
    cfg_path = node_dir / "config.toml"
    config = load_config_doc(cfg_path)
    cert_path = node_dir / config.get("tls", {}).get("cert", "node.crt")
    if not cert_path.exists():
        raise OrgFilesError(f"{cert_path} does not exist: the node has no certificate yet (its organization signs "
                            "its node.csr with `consortium org sign-csr`)")
    cert = load_cert(cert_path)
    node_id = node_id_of(cert.public_key())  # type: ignore[arg-type]
    if genesis.organizations:
        issuer = next((o for o in genesis.organizations if _issued(cert, o)), None)
        if issuer is None and new_member:
            pass  # checked by the members' nodes at admission, against the organization governance added
        elif issuer is None:
            raise OrgFilesError(f"{cert_path} was issued by {cert.issuer.rfc4514_string()!r}, which is not a member "
                                f"organization in {genesis_path}: this genesis is for another consortium, or the "
                                "organization must first be added (governance add_org, then install with --new-member)")
        else:
            try:
                check_node_cert(cert, issuer.certificate(), str(cert_path))
            except CertificateError as exc:
                raise OrgFilesError(str(exc)) from None
    target = node_dir / config.get("node", {}).get("genesis", "genesis.toml")
    if target.exists():
        current = load_genesis(target)
        if current.hash() != genesis.hash():
            raise OrgFilesError(f"{target} already holds genesis {to_hex(current.hash())}; a node belongs to one "
                                "chain (make a new node folder for another)")
    else:
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(genesis_path, tmp)
        tmp.replace(target)
    peers = list(config.get("p2p", {}).get("peers", []))
    for s in genesis.sealers:
        if s.node_id != node_id and s.endpoint:
            entry = f"{to_hex(s.node_id)}@{s.endpoint}"
            if entry not in peers and s.endpoint not in peers:
                peers.append(entry)
    config.setdefault("p2p", {})["peers"] = peers
    tmp = cfg_path.with_name(".config.toml.tmp")
    tmp.write_text(dumps(config, comment=f"consortium node {config.get('node', {}).get('name', '')}: this node's own "
                                         "settings.\nPaths are relative to this file's folder."))
    tmp.replace(cfg_path)
    load_config(cfg_path)  # what we wrote must load
    return genesis


def load_config_doc(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise OrgFilesError(f"{path} does not exist: --node must be a node folder made by `consortium node new`") \
            from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OrgFilesError(f"{path}: cannot read it: {exc}") from None


def _issued(cert, org: Organization) -> bool:
    from consortium.network.certs import is_issued_by

    return is_issued_by(cert, org.certificate())


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)


__all__ = ["DescriptorError", "NodeFiles", "OrgFilesError", "build_genesis", "install_genesis", "load_org",
           "new_node", "new_node_csr", "new_org", "node_config_doc", "sign_csr", "write_genesis"]
