"""Organization descriptors: the public half of an organization, the only file that leaves it.

An organization (``consortium org new``) keeps its CA key, its nodes' keys and its
accounts' keys in its own folder. What it hands to the other members to agree on
a genesis, or to the committee to join a running chain, is ``org.toml``::

    format = "consortium-org"
    version = 1
    name = "bank"
    chain_id = "chain0"
    ca_cert = "-----BEGIN CERTIFICATE----- …"   # multi-line PEM
    admins = ["0x<address>", …]          # the organization's committee accounts

    [[node]]
    name = "node0"
    node_id = "0x<Ed25519 public key>"
    role = "sealer"                     # or "observer"
    endpoint = "10.0.0.1:30300"         # where other organizations reach it (advertised)
    cert = "-----BEGIN CERTIFICATE----- …"      # multi-line PEM, issued by ca_cert

Loading one checks everything another organization would be fooled by — a CA of
another chain, an expired or wrong-purpose certificate, a node certificate its
CA did not issue, a node id that is not its certificate's key or not a valid
key — and each error names the file and says what to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from consortium.crypto import ADDRESS_SIZE, DEFAULT_SUITE
from consortium.crypto.keyfile import write_secret_file
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.network.certs import (
    CertificateError,
    cert_from_pem,
    cert_pem,
    check_node_cert,
    check_org_ca,
    subject_attr,
)
from consortium.network.config import PeerAddress
from consortium.node.genesis import ID_PATTERN, NODE_ID_SIZE
from consortium.node.toml_io import ConfigError, Table, dumps, load_toml

DESCRIPTOR_FORMAT = "consortium-org"
DESCRIPTOR_VERSION = 1
DESCRIPTOR_FILE = "org.toml"
ROLES = ("sealer", "observer")


class DescriptorError(ConfigError):
    """An organization descriptor is malformed or not acceptable; the message names the file and the fix."""


@dataclass(frozen=True)
class NodeDescriptor:
    name: str
    node_id: bytes
    role: str
    endpoint: str
    """``host:port`` other organizations dial (the advertised endpoint), or "" if not reachable."""
    cert: x509.Certificate


@dataclass(frozen=True)
class OrgDescriptor:
    name: str
    chain_id: str
    ca_cert: x509.Certificate
    admins: tuple[bytes, ...] = ()
    nodes: tuple[NodeDescriptor, ...] = ()
    source: str = DESCRIPTOR_FILE

    def with_node(self, node: NodeDescriptor) -> OrgDescriptor:
        if any(n.name == node.name for n in self.nodes):
            raise DescriptorError(f"{self.source}: the organization already has a node named {node.name!r}; "
                                  "choose another --name")
        if any(n.node_id == node.node_id for n in self.nodes):
            raise DescriptorError(f"{self.source}: node id {to_hex(node.node_id)} is already listed (as "
                                  f"{next(n.name for n in self.nodes if n.node_id == node.node_id)!r})")
        return replace(self, nodes=(*self.nodes, node))

    def to_toml(self) -> str:
        return dumps({
            "format": DESCRIPTOR_FORMAT, "version": DESCRIPTOR_VERSION, "name": self.name,
            "chain_id": self.chain_id, "ca_cert": cert_pem(self.ca_cert).decode(),
            "admins": [to_hex(a) for a in self.admins],
            **({"node": [{"name": n.name, "node_id": to_hex(n.node_id), "role": n.role,
                          **({"endpoint": n.endpoint} if n.endpoint else {}), "cert": cert_pem(n.cert).decode()} for n in self.nodes]} if self.nodes else {}),
        }, comment=f"organization {self.name}: public descriptor (no secrets). Send it to the other members;\n"
                   "they pass it to `consortium genesis new --from` or to the committee.")

    def write(self, path: Path) -> None:
        """Atomically (write a temporary file, rename): a half-written descriptor is never seen."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        write_secret_file(tmp, self.to_toml().encode())
        tmp.chmod(0o644)  # public material
        tmp.replace(path)


def load_descriptor(path: Path | str, *, now: dt.datetime | None = None) -> OrgDescriptor:
    """Parse and check ``org.toml``; raises :class:`DescriptorError` naming the file and the fix."""
    path = Path(path)
    try:
        doc = load_toml(path, hint=" (an organization's descriptor is made by `consortium org new`)")
        return _parse(doc, str(path), now)
    except DescriptorError:
        raise
    except (ConfigError, CertificateError) as exc:
        raise DescriptorError(str(exc)) from None


def _parse(doc: Table, source: str, now: dt.datetime | None) -> OrgDescriptor:
    if doc.string("format") != DESCRIPTOR_FORMAT:
        raise DescriptorError(f"{source} is not an organization descriptor (format must be {DESCRIPTOR_FORMAT!r}; "
                              "pass the org.toml that `consortium org new` wrote)")
    version = doc.integer("version", lo=1, hi=2**31)
    if version != DESCRIPTOR_VERSION:
        raise DescriptorError(f"{source}: descriptor version {version} is not supported (this program reads "
                              f"{DESCRIPTOR_VERSION}); upgrade consortium")
    name = doc.string("name", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -")
    chain_id = doc.string("chain_id", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -")
    ca = cert_from_pem(doc.string("ca_cert"), f"{source}: ca_cert")
    check_org_ca(ca, f"{source}: ca_cert", chain_id=chain_id, now=now)
    if subject_attr(ca, NameOID.ORGANIZATION_NAME) != name:
        raise DescriptorError(f"{source}: ca_cert is the CA of {subject_attr(ca, NameOID.ORGANIZATION_NAME)!r}, "
                              f"not of {name!r}")
    admins = []
    for i, text in enumerate(doc.strings("admins", ())):
        try:
            admins.append(from_hex(text, size=ADDRESS_SIZE, what=f"admins[{i}]"))
        except HexError as exc:
            raise DescriptorError(f"{source}: {exc}") from None
    nodes: list[NodeDescriptor] = []
    for t in doc.tables("node") if doc.has("node") else []:
        nodes.append(_node(t, source, ca, now))
        t.finish()
    doc.finish()
    for kind, values in (("node name", [n.name for n in nodes]), ("node id", [n.node_id for n in nodes]),
                         ("admin address", admins)):
        if len(set(values)) != len(values):
            raise DescriptorError(f"{source}: a {kind} is listed twice")
    return OrgDescriptor(name, chain_id, ca, tuple(admins), tuple(nodes), source)


def _node(t: Table, source: str, ca: x509.Certificate, now: dt.datetime | None) -> NodeDescriptor:
    name = t.string("name", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -")
    where = f"{source}: node {name!r}"
    try:
        node_id = from_hex(t.string("node_id"), size=NODE_ID_SIZE, what=t.name("node_id"))
    except HexError as exc:
        raise DescriptorError(f"{source}: {exc}") from None
    if not DEFAULT_SUITE.is_public_key(node_id):
        raise DescriptorError(f"{where}: node id {to_hex(node_id)} is not a valid Ed25519 public key (a node id is "
                              "the node's public key: copy it from `consortium node new` output)")
    role = t.string("role", "sealer", choices=ROLES)
    endpoint = t.string("endpoint") if t.has("endpoint") else ""
    if endpoint:
        try:
            PeerAddress.parse(endpoint)
        except ValueError as exc:
            raise DescriptorError(f"{where}: endpoint {exc}") from None
    cert = cert_from_pem(t.string("cert"), f"{where} cert")
    ident = check_node_cert(cert, ca, f"{where} cert", now=now)
    if ident.node_id != node_id:
        raise DescriptorError(f"{where}: node id {to_hex(node_id)} is not the key of its certificate "
                              f"({to_hex(ident.node_id)}); copy the descriptor again from the organization")
    return NodeDescriptor(name, node_id, role, endpoint, cert)


def check_name(name: str, what: str) -> str:
    if not re.fullmatch(ID_PATTERN, name):
        raise DescriptorError(f"{what} must be 1-64 characters of A-Z a-z 0-9 _ . -, got {name!r}")
    return name
