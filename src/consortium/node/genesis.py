"""The genesis: what every node of a chain must agree on before block 1.

``genesis.toml`` is written once (by ``consortium genesis new`` from the member
organizations' descriptors, or by ``consortium chain new`` for a local chain) and
copied to every node, but nodes compare :meth:`Genesis.hash` — the hash of the
canonical encoding of the *parsed* values — so whitespace, comments or key order
never split a chain, and the endpoints listed next to the sealers (a convenience
for operators; nodes move) are deliberately outside the hash.

A genesis lists its member organizations with their CA certificates; a node is
admitted when its certificate chains to a member's CA and its node id is on chain.
A genesis without organizations (older chains) trusts the one CA in each node's
``tls.ca_cert``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from consortium.crypto import ADDRESS_SIZE, CryptoSuite, get_suite
from consortium.crypto.suite import UnknownSuite
from consortium.crypto.timestamp import TrustedTsa
from consortium.encoding import canonical
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.network.certs import CertificateError, cert_from_pem, cert_pem, check_org_ca, subject_attr
from consortium.node.toml_io import ConfigError, Table, dumps, load_toml, parse_toml

GENESIS_FORMAT = "consortium-genesis"
GENESIS_VERSION = 1
ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
NODE_ID_SIZE = 32
MAX_SEALERS = 256
MAX_COMMITTEE = 256
MAX_TSAS = 16


class GenesisError(ConfigError):
    """The genesis values are inconsistent or out of range."""


@dataclass(frozen=True)
class Organization:
    """A member organization: its name and its CA certificate (DER), which issues its nodes' certificates."""

    name: str
    ca_cert: bytes

    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.ca_cert)


@dataclass(frozen=True)
class Sealer:
    node_id: bytes
    endpoint: str = ""
    """``host:port`` where peers reach its P2P listener (advertised); informational, not hashed."""
    org: str = ""
    """The member organization whose CA issued its certificate ("" in a genesis without organizations)."""


@dataclass(frozen=True)
class CommitteeMember:
    address: bytes
    weight: int = 1


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    group_id: str
    crypto_suite: str
    timestamp_ms: int
    """Creation time, fixed in the file: the genesis block's timestamp."""
    sealers: tuple[Sealer, ...]
    """In order: leader rotation indexes this list."""
    administrators: tuple[bytes, ...]
    committee: tuple[CommitteeMember, ...]
    committee_threshold: int
    """Total weight of votes a governance proposal needs to pass."""
    max_txs_per_block: int = 1000
    view_timeout_ms: int = 3000
    """Base PBFT view-change timeout; it grows on consecutive view changes."""
    block_limit_window: int = 600
    """A transaction is valid while head < block_limit <= head + window."""
    contracts: tuple[str, ...] = field(default=("evidence",))
    """Built-in contracts deployed at genesis."""
    python: str = ""
    """CPython minor version every node must run (e.g. "3.11"), or "" for no check. Receipt error
    texts come from the interpreter, so nodes on different versions could disagree on receipt roots."""
    tsas: tuple[TrustedTsa, ...] = ()
    """Time-stamping authorities whose RFC 3161 tokens anchor this chain's blocks (``[[tsa]]``); governance
    may change the list later (``gv/tsas``). Empty: block times rest on the sealers alone."""
    organizations: tuple[Organization, ...] = ()
    """Member organizations, each with its CA certificate; empty for a single-CA chain."""

    def __post_init__(self) -> None:
        for name in ("chain_id", "group_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value):
                raise GenesisError(f"{name} must be 1-64 characters of A-Z a-z 0-9 _ . -, got {value!r}")
        try:
            get_suite(self.crypto_suite)
        except UnknownSuite as exc:
            raise GenesisError(str(exc)) from None
        _check_int("timestamp_ms", self.timestamp_ms, 0, 2**63 - 1)
        _check_int("max_txs_per_block", self.max_txs_per_block, 1, 100_000)
        _check_int("view_timeout_ms", self.view_timeout_ms, 100, 600_000)
        _check_int("block_limit_window", self.block_limit_window, 1, 1_000_000)
        if not 1 <= len(self.sealers) <= MAX_SEALERS:
            raise GenesisError(f"there must be 1-{MAX_SEALERS} sealers, got {len(self.sealers)}")
        ids = [s.node_id for s in self.sealers]
        if any(len(i) != NODE_ID_SIZE for i in ids):
            raise GenesisError(f"sealer node ids must be {NODE_ID_SIZE}-byte public keys")
        if len(set(ids)) != len(ids):
            raise GenesisError("a sealer is listed twice")
        if any(len(a) != ADDRESS_SIZE for a in self.administrators):
            raise GenesisError(f"administrator addresses must be {ADDRESS_SIZE} bytes")
        if len(set(self.administrators)) != len(self.administrators):
            raise GenesisError("an administrator is listed twice")
        if not 1 <= len(self.committee) <= MAX_COMMITTEE:
            raise GenesisError(f"the committee must have 1-{MAX_COMMITTEE} members, got {len(self.committee)}")
        members = [m.address for m in self.committee]
        if any(len(a) != ADDRESS_SIZE for a in members) or len(set(members)) != len(members):
            raise GenesisError(f"committee addresses must be distinct {ADDRESS_SIZE}-byte addresses")
        for m in self.committee:
            _check_int("committee weight", m.weight, 1, 1_000_000)
        total = sum(m.weight for m in self.committee)
        _check_int("committee_threshold", self.committee_threshold, 1, total)
        if self.python and not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise GenesisError(f"python must look like \"3.11\", got {self.python!r}")
        if len(self.tsas) > MAX_TSAS or len({t.name for t in self.tsas}) != len(self.tsas):
            raise GenesisError(f"[[tsa]]: at most {MAX_TSAS} time-stamping authorities, with distinct names")
        if len(set(self.contracts)) != len(self.contracts) or not all(
                isinstance(c, str) and re.fullmatch(ID_PATTERN, c) for c in self.contracts):
            raise GenesisError(f"contracts must be distinct names of 1-64 characters, got {list(self.contracts)}")
        self._check_organizations()

    def _check_organizations(self) -> None:
        names = [o.name for o in self.organizations]
        if len(names) > MAX_SEALERS or len(set(names)) != len(names):
            raise GenesisError(f"organization names must be distinct (at most {MAX_SEALERS}), got {names}")
        keys = set()
        for org in self.organizations:
            if not isinstance(org.name, str) or not re.fullmatch(ID_PATTERN, org.name):
                raise GenesisError(f"organization name {org.name!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
            try:
                cert = org.certificate()
                check_org_ca(cert, f"organization {org.name}'s ca_cert", chain_id=self.chain_id,
                             now=cert.not_valid_before_utc)  # validity is checked where time matters, not here
            except (CertificateError, ValueError) as exc:
                raise GenesisError(str(exc)) from None
            if subject_attr(cert, NameOID.ORGANIZATION_NAME) != org.name:
                raise GenesisError(f"organization {org.name}'s ca_cert is the CA of "
                                   f"{subject_attr(cert, NameOID.ORGANIZATION_NAME)!r}")
            keys.add(cert.public_key().public_bytes_raw())  # type: ignore[union-attr]
        if len(keys) != len(self.organizations):
            raise GenesisError("two organizations share one CA key")
        for s in self.sealers:
            if self.organizations and s.org not in names:
                raise GenesisError(f"sealer 0x{s.node_id.hex()} names organization {s.org!r}, which is not a member "
                                   f"(members: {', '.join(names)})")
            if not self.organizations and s.org:
                raise GenesisError(f"sealer 0x{s.node_id.hex()} names organization {s.org!r} but the genesis lists "
                                   "no organizations")

    def organization(self, name: str) -> Organization | None:
        return next((o for o in self.organizations if o.name == name), None)

    # -- identity ------------------------------------------------------------------------------

    @property
    def suite(self) -> CryptoSuite:
        return get_suite(self.crypto_suite)

    @property
    def sealer_ids(self) -> tuple[bytes, ...]:
        return tuple(s.node_id for s in self.sealers)

    def canonical_value(self) -> list[canonical.Value]:
        """Everything consensus-relevant, in a fixed order (see docs/protocol.md)."""
        tsas: list[canonical.Value] = [[t.name, t.certificate, t.policy] for t in self.tsas]
        value: list[canonical.Value] = [
            GENESIS_FORMAT, GENESIS_VERSION, self.chain_id, self.group_id, self.crypto_suite, self.timestamp_ms,
            [s.node_id for s in self.sealers], list(self.administrators),
            [[m.address, m.weight] for m in self.committee], self.committee_threshold,
            self.max_txs_per_block, self.view_timeout_ms, self.block_limit_window, list(self.contracts),
            self.python,
            # Appended only when present, so the hash of a chain without time anchoring is unchanged.
            *([tsas] if tsas else []),
        ]
        if self.organizations:  # absent from a single-CA genesis, whose hash stays what it was
            value += [[[o.name, o.ca_cert] for o in self.organizations], [s.org for s in self.sealers]]
        return value

    def hash(self) -> bytes:
        return self.suite.hash(canonical.encode(self.canonical_value()))

    # -- TOML ----------------------------------------------------------------------------------

    def to_toml(self) -> str:
        return dumps({
            "chain": {"chain_id": self.chain_id, "group_id": self.group_id, "crypto_suite": self.crypto_suite,
                      "timestamp_ms": self.timestamp_ms, **({"python": self.python} if self.python else {})},
            "consensus": {"max_txs_per_block": self.max_txs_per_block, "view_timeout_ms": self.view_timeout_ms,
                          "block_limit_window": self.block_limit_window},
            "governance": {"administrators": [to_hex(a) for a in self.administrators],
                           "committee_threshold": self.committee_threshold},
            "contracts": {"builtin": list(self.contracts)},
            **({"organization": [{"name": o.name, "ca_cert": cert_pem(o.certificate()).decode()}
                                 for o in self.organizations]} if self.organizations else {}),
            "sealer": [{"node_id": to_hex(s.node_id), **({"org": s.org} if s.org else {}), "endpoint": s.endpoint}
                       for s in self.sealers],
            "committee": [{"address": to_hex(m.address), "weight": m.weight} for m in self.committee],
            **({"tsa": [_tsa_table(t) for t in self.tsas]} if self.tsas else {}),
        }, comment="consortium genesis: identical on every node of the chain; never edit after the chain starts.\n"
                   f"genesis hash {to_hex(self.hash())}")

    @classmethod
    def from_toml(cls, text: str, source: str = "genesis.toml") -> Genesis:
        return _from_table(parse_toml(text, source))


def load_genesis(path: Path | str) -> Genesis:
    """Parse and validate ``genesis.toml``; every error names the file and the key."""
    return _from_table(load_toml(Path(path), hint=" (every node needs the chain's genesis.toml)"))


def _from_table(doc: Table) -> Genesis:
    chain = doc.table("chain")
    consensus = doc.table("consensus")
    governance = doc.table("governance")
    contracts = doc.table("contracts")
    organizations = []
    for t in (doc.tables("organization") if doc.has("organization") else []):
        name = t.string("name", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -")
        try:
            cert = cert_from_pem(t.string("ca_cert"), f"{t.source}: {t.name('ca_cert')}")
        except CertificateError as exc:
            raise ConfigError(str(exc)) from None
        organizations.append(Organization(name, cert.public_bytes(serialization.Encoding.DER)))
        t.finish()
    sealers = []
    for t in doc.tables("sealer"):
        sealers.append(Sealer(_hex(t, "node_id", NODE_ID_SIZE), t.string("endpoint", "") if t.has("endpoint") else "",
                              t.string("org") if t.has("org") else ""))
        t.finish()
    committee = []
    for t in doc.tables("committee"):
        committee.append(CommitteeMember(_hex(t, "address", ADDRESS_SIZE), t.integer("weight", 1, lo=1, hi=1_000_000)))
        t.finish()
    admins = []
    for i, text in enumerate(governance.strings("administrators")):
        try:
            admins.append(from_hex(text, size=ADDRESS_SIZE, what=f"administrators[{i}]"))
        except HexError as exc:
            raise governance.error("administrators", f"has a bad address: {exc}") from None
    tsas = []
    for t in doc.tables("tsa") if doc.has("tsa") else []:
        tsas.append(_tsa(t))
        t.finish()
    kwargs = dict(
        chain_id=chain.string("chain_id", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -"),
        group_id=chain.string("group_id", pattern=ID_PATTERN, what="1-64 characters of A-Z a-z 0-9 _ . -"),
        crypto_suite=chain.string("crypto_suite"),
        timestamp_ms=chain.integer("timestamp_ms", lo=0, hi=2**63 - 1),
        max_txs_per_block=consensus.integer("max_txs_per_block", lo=1, hi=100_000),
        view_timeout_ms=consensus.integer("view_timeout_ms", lo=100, hi=600_000),
        block_limit_window=consensus.integer("block_limit_window", lo=1, hi=1_000_000),
        committee_threshold=governance.integer("committee_threshold", lo=1, hi=2**31),
        contracts=contracts.strings("builtin"),
        python=chain.string("python") if chain.has("python") else "",
    )
    for t in (chain, consensus, governance, contracts, doc):
        t.finish()
    try:
        return Genesis(sealers=tuple(sealers), administrators=tuple(admins), committee=tuple(committee),
                       tsas=tuple(tsas), organizations=tuple(organizations),
                       **kwargs)  # type: ignore[arg-type]
    except GenesisError as exc:
        raise GenesisError(f"{doc.source}: {exc}") from None


def _tsa_table(t: TrustedTsa) -> dict[str, str]:
    pem = x509.load_der_x509_certificate(t.certificate).public_bytes(serialization.Encoding.PEM).decode()
    return {"name": t.name, "certificate": pem, **({"policy": t.policy} if t.policy else {})}


def _tsa(t: Table) -> TrustedTsa:
    """``[[tsa]] name, certificate (PEM: the CA the TSA's signing certificates chain to), policy (optional OID)``."""
    name = t.string("name")
    try:
        der = x509.load_pem_x509_certificate(t.string("certificate").encode()).public_bytes(serialization.Encoding.DER)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
        raise t.error("certificate", f"must be a PEM certificate (-----BEGIN CERTIFICATE-----...): {exc}") from None
    try:
        return TrustedTsa(name, der, t.string("policy") if t.has("policy") else "")
    except ValueError as exc:
        raise ConfigError(f"{t.source}: [[tsa]] {exc}") from None


def _hex(t: Table, key: str, size: int) -> bytes:
    try:
        return from_hex(t.string(key), size=size, what=t.name(key))
    except HexError as exc:
        raise ConfigError(f"{t.source}: {exc}") from None


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise GenesisError(f"{name} must be an integer {lo}-{hi}, got {value!r}")
