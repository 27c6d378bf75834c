"""The chain's X.509 material: organization CAs and the node certificates they issue.

Each member organization runs its own self-signed CA (as in Hyperledger Fabric's
per-organization MSPs); its certificate names the organization (O) and the chain
(OU), and it issues the certificates of that organization's nodes, directly or
from a node's certificate signing request (FISCO BCOS's ``gen_node_cert`` flow).

A node's identity is its Ed25519 public key. The key that signs its consensus
messages is the key of its TLS certificate, and the certificate's subject CN
is that public key in lowercase hex (64 characters, no ``0x``: RFC 5280 caps a
CN at 64 characters). Admission therefore proves the node id: TLS proves the
peer holds the certificate's key, OpenSSL proves the CA signed it, and
:func:`identity_from_cert` refuses a certificate whose CN is not its own key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consortium.crypto import DEFAULT_SUITE, KeyPair
from consortium.crypto.keyfile import write_secret_file
from consortium.network.errors import CertificateError

NODE_ID_SIZE = 32
DEFAULT_VALIDITY_DAYS = 3650
ORGANIZATION = "consortium"


@dataclass(frozen=True)
class CertIdentity:
    """What admission needs from a peer's certificate."""

    node_id: bytes
    serial: int
    not_valid_after: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def node_id_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keypair_of(key: Ed25519PrivateKey) -> KeyPair:
    """The same key as a :class:`KeyPair`, for signing consensus messages."""
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return KeyPair(seed, DEFAULT_SUITE)


def issue_ca(chain_id: str, *, key: Ed25519PrivateKey | None = None, days: int = DEFAULT_VALIDITY_DAYS,
             now: dt.datetime | None = None) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """A self-signed CA that may sign end-entity certificates only (path length 0)."""
    key = key or generate_key()
    now = now or _utcnow()
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, f"chain CA {chain_id}"[:64]),
    ])
    return key, _self_signed_ca(key, name, now, days)


def issue_org_ca(org: str, chain_id: str, *, key: Ed25519PrivateKey | None = None, days: int = DEFAULT_VALIDITY_DAYS,
                 now: dt.datetime | None = None) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """An organization's CA for one chain: O = the organization, OU = the chain id (path length 0)."""
    key = key or generate_key()
    now = now or _utcnow()
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org[:64]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, chain_id[:64]),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{org} CA"[:64]),
    ])
    return key, _self_signed_ca(key, name, now, days)


def _self_signed_ca(key: Ed25519PrivateKey, name: x509.Name, now: dt.datetime, days: int) -> x509.Certificate:
    """The CA certificate both kinds of CA share: self-signed, signs end-entity certificates and CRLs only
    (path length 0), valid from five minutes before ``now`` (clock skew between members) for ``days``."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, algorithm=None)
    )


def _san(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys([host, "localhost"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return names


def make_csr(key: Ed25519PrivateKey, *, host: str) -> x509.CertificateSigningRequest:
    """A node's certificate signing request: CN = its node id, signed by its own key (proof of possession)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id_of(key).hex())])
    return (x509.CertificateSigningRequestBuilder().subject_name(subject)
            .add_extension(x509.SubjectAlternativeName(_san(host)), critical=False)
            .sign(key, algorithm=None))


def csr_public_key(csr: x509.CertificateSigningRequest, source: str) -> Ed25519PublicKey:
    """The CSR's key, once its self-signature verifies and its CN names that key; else CertificateError."""
    try:
        public = csr.public_key()
        valid = csr.is_signature_valid
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"{source}: the certificate signing request does not parse: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise CertificateError(f"{source}: the CSR's key is {type(public).__name__}; node keys are Ed25519 "
                               "(make the request with `consortium node new --csr`)")
    if not valid:
        raise CertificateError(f"{source}: the CSR's signature does not verify with its own key (altered or "
                               "corrupt); make a new one with `consortium node new --csr`")
    cn = cns[0].value if len(cns) == 1 else None
    if cn != node_id_of(public).hex():
        raise CertificateError(f"{source}: the CSR names node {cn!r} but its key is {node_id_of(public).hex()}: "
                               "the request does not match its key; make a new one with `consortium node new --csr`")
    return public


def issue_node_cert(ca_key: Ed25519PrivateKey, ca_cert: x509.Certificate, node_public: Ed25519PublicKey, *,
                    host: str, not_valid_before: dt.datetime | None = None,
                    not_valid_after: dt.datetime | None = None, days: int = DEFAULT_VALIDITY_DAYS) -> x509.Certificate:
    """A node certificate: CN = hex node id, O = the issuing CA's organization, SAN = host and ``localhost``.

    The validity bounds are parameters so tests can issue an expired certificate.
    """
    now = _utcnow()
    not_valid_before = not_valid_before or now - dt.timedelta(minutes=5)
    not_valid_after = not_valid_after or now + dt.timedelta(days=days)
    names = _san(host)
    orgs = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(orgs[0].value) if orgs else ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, node_id_of(node_public).hex()),
    ])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(node_public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_valid_before)
        .not_valid_after(not_valid_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(node_public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, algorithm=None)
    )


# --- files ------------------------------------------------------------------------------------

def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private_key(path: Path | str, key: Ed25519PrivateKey) -> None:
    """PEM PKCS#8, created 0600 atomically; never overwrites."""
    write_secret_file(path, private_key_pem(key))


def write_cert(path: Path | str, cert: x509.Certificate) -> None:
    Path(path).write_bytes(cert_pem(cert))


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateError(f"{path} holds a {type(key).__name__}; node keys must be Ed25519")
    return key


def load_cert(path: Path | str) -> x509.Certificate:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateError(f"{path} is not a PEM X.509 certificate: {exc}") from None


def load_csr(path: Path | str) -> x509.CertificateSigningRequest:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read certificate signing request {path}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise CertificateError(f"{path} is not a PEM certificate signing request: {exc}") from None


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def load_node_keypair(path: Path | str) -> KeyPair:
    """The node key file as a :class:`KeyPair` (the consensus signing key)."""
    return keypair_of(load_private_key(path))


# --- identities -------------------------------------------------------------------------------

def identity_from_cert(cert: x509.Certificate) -> CertIdentity:
    """Node id and serial of a node certificate; refuses a CN that is not the cert's own key.

    ``cryptography`` parses fields lazily, so malformed fields surface here as
    ValueError; all of that becomes :class:`CertificateError`.
    """
    try:
        public = cert.public_key()
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        serial = cert.serial_number
        not_after = cert.not_valid_after_utc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"certificate does not parse: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise CertificateError(f"certificate key is {type(public).__name__}; node certificates use Ed25519")
    node_id = node_id_of(public)
    cn = cns[0].value if len(cns) == 1 else None
    if cn != node_id.hex():
        raise CertificateError(f"certificate CN {cn!r} is not its public key {node_id.hex()}")
    return CertIdentity(node_id=node_id, serial=serial, not_valid_after=not_after)


def identity_from_der(der: bytes) -> CertIdentity:
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateError(f"peer certificate does not parse: {exc}") from None
    return identity_from_cert(cert)


def is_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True if ``ca_cert``'s key signed ``cert`` (offline check; TLS does the live one)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- checks of certificates handed over by another organization ----------------------------------

def cert_from_pem(pem: str | bytes, source: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateError(f"{source} is not a PEM X.509 certificate: {exc}") from None


def subject_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _validity(cert: x509.Certificate, source: str, now: dt.datetime, fix: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateError(f"{source} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
                               f"(check this machine's clock, or {fix})")
    if now > cert.not_valid_after_utc:
        raise CertificateError(f"{source} expired on {cert.not_valid_after_utc:%Y-%m-%d} ({fix})")


def check_org_ca(cert: x509.Certificate, source: str, *, chain_id: str | None = None,
                 now: dt.datetime | None = None) -> None:
    """An organization CA as genesis or governance accepts it: a self-signed, current CA of this chain."""
    now = now or _utcnow()
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    except ValueError as exc:
        raise CertificateError(f"{source}: certificate extensions do not parse: {exc}") from None
    if basic is None or not basic.ca:
        raise CertificateError(f"{source} is not a CA certificate (wrong purpose: an organization's ca.crt from "
                               "`consortium org new` is expected here, not a node certificate)")
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # a key of an algorithm cryptography does not know, or one that does not parse
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateError(f"{source}: the CA key must be Ed25519")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError(f"{source} is not a self-signed organization CA") from None
    _validity(cert, source, now, "the organization must make a new CA with `consortium org new`")
    if chain_id is not None:
        ou = subject_attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
        if ou != chain_id:
            raise CertificateError(f"{source} is a CA for chain {ou!r}, not {chain_id!r}: it comes from another chain "
                                   f"(the organization must run `consortium org new --chain-id {chain_id}`)")


def check_node_cert(cert: x509.Certificate, ca_cert: x509.Certificate, source: str, *,
                    now: dt.datetime | None = None) -> CertIdentity:
    """A node certificate as genesis accepts it: issued by ``ca_cert``, current, for TLS, naming its key."""
    now = now or _utcnow()
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CertificateError(f"{source} lacks the {exc.oid._name} extension of a node certificate (wrong purpose; "
                               "issue it with `consortium node new`)") from None
    except ValueError as exc:
        raise CertificateError(f"{source}: certificate extensions do not parse: {exc}") from None
    if basic.ca or ExtendedKeyUsageOID.SERVER_AUTH not in eku or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise CertificateError(f"{source} is not a TLS node certificate (wrong purpose: it must not be a CA and must "
                               "allow TLS client and server use; issue it with `consortium node new`)")
    try:
        ident = identity_from_cert(cert)
    except CertificateError as exc:
        raise CertificateError(f"{source}: {exc}") from None
    if not is_issued_by(cert, ca_cert):
        raise CertificateError(f"{source} was not issued by its organization's CA "
                               f"({subject_attr(ca_cert, NameOID.COMMON_NAME)!r}); issue it with that CA")
    _validity(cert, source, now, "issue a new one with `consortium node new`")
    return ident


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, colon-separated: what people compare out of band."""
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
