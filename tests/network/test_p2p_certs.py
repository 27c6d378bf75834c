"""Certificates: node identity binding, key files, and clear errors for bad TLS material."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from tests.network.netkit import Pki

from consortium.crypto import DEFAULT_SUITE
from consortium.network import CertificateError, tls
from consortium.network.certs import (
    generate_key,
    identity_from_cert,
    identity_from_der,
    is_issued_by,
    issue_ca,
    issue_node_cert,
    load_cert,
    load_node_keypair,
    load_private_key,
    node_id_of,
    write_private_key,
)

_CA_KEY, _CA_CERT = issue_ca("fuzz")
_REAL_DER = [issue_node_cert(_CA_KEY, _CA_CERT, generate_key().public_key(), host="127.0.0.1")
             .public_bytes(serialization.Encoding.DER)]


def test_node_cert_names_its_key_and_chains_to_the_ca(pki: Pki) -> None:
    files = pki.node()
    cert = load_cert(files.cert_file)
    ident = identity_from_cert(cert)
    assert ident.node_id == files.node_id
    assert ident.serial == files.serial == cert.serial_number
    assert is_issued_by(cert, pki.ca_cert)
    assert not is_issued_by(cert, issue_ca("other")[1])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert identity_from_der(cert.public_bytes(serialization.Encoding.DER)) == ident


def test_node_key_file_is_0600_and_is_the_consensus_key(pki: Pki) -> None:
    files = pki.node()
    assert stat.S_IMODE(os.stat(files.key_file).st_mode) == 0o600
    keypair = load_node_keypair(files.key_file)
    assert keypair.public_key == files.node_id
    sig = keypair.sign(b"prepare")
    assert DEFAULT_SUITE.verify(files.node_id, b"prepare", sig)
    with pytest.raises(Exception, match="refusing to overwrite"):
        write_private_key(files.key_file, generate_key())


def test_certificate_whose_cn_is_not_its_key_is_refused(pki: Pki) -> None:
    key, other = generate_key(), generate_key()
    cert = issue_node_cert(pki.ca_key, pki.ca_cert, key.public_key(), host="127.0.0.1")
    assert identity_from_cert(cert).node_id == node_id_of(key)
    # A CA that signs a CN naming someone else's key does not make us believe it.
    forged = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                              node_id_of(other).hex())]))
        .issuer_name(pki.ca_cert.subject).public_key(key.public_key()).serial_number(7)
        .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2099, 1, 1))
        .sign(pki.ca_key, algorithm=None)
    )
    with pytest.raises(CertificateError, match="is not its public key"):
        identity_from_cert(forged)


def test_non_ed25519_certificate_is_refused(pki: Pki) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])).public_key(ec_key.public_key())
        .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2099, 1, 1))
        .sign(ec_key, hashes.SHA256())
    )
    with pytest.raises(CertificateError, match="Ed25519"):
        identity_from_cert(cert)
    with pytest.raises(CertificateError, match="does not parse"):
        identity_from_der(b"\x30\x03garbage")


def test_bad_tls_material_names_the_file(pki: Pki, tmp_path) -> None:
    files = pki.node()
    missing = tmp_path / "missing.crt"
    with pytest.raises(CertificateError, match="missing.crt"):
        tls.server_context(missing, files.key_file, pki.ca_file)
    with pytest.raises(CertificateError, match="chain CA certificate .*missing.crt"):
        tls.client_context(files.cert_file, files.key_file, missing)
    other_key = tmp_path / "other.key"
    write_private_key(other_key, generate_key())
    with pytest.raises(CertificateError, match="with key"):
        tls.server_context(files.cert_file, other_key, pki.ca_file)  # key does not match the certificate
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(CertificateError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(CertificateError, match="not a PEM X.509 certificate"):
        load_cert(tmp_path / "junk.pem")


@given(st.binary(max_size=600) | st.sampled_from(_REAL_DER).flatmap(
    lambda der: st.tuples(st.integers(0, len(der) - 1), st.integers(1, 255)).map(
        lambda c: der[:c[0]] + bytes([der[c[0]] ^ c[1]]) + der[c[0] + 1:])))
def test_peer_certificate_parser_fuzz_raises_only_certificate_errors(der: bytes) -> None:
    try:
        ident = identity_from_der(der)
    except CertificateError:
        return
    assert len(ident.node_id) == 32


def test_org_ca_with_a_key_algorithm_cryptography_does_not_know_is_a_certificate_error() -> None:
    """A CA whose key OID is changed (1.3.101.112 Ed25519 -> 1.3.101.0, as one flipped PEM character can make it)
    is refused with CertificateError: cryptography raises UnsupportedAlgorithm, not ValueError, for the key, and
    the genesis loader crashed with a traceback (found by the offline page's genesis cross-check)."""
    from consortium.network.certs import check_org_ca, issue_org_ca

    der = issue_org_ca("org0", "chain0")[1].public_bytes(serialization.Encoding.DER)
    spki = der.index(bytes.fromhex("06032b6570"), der.index(bytes.fromhex("06032b6570")) + 5)  # the key's, after the TBS signature's
    cert = x509.load_der_x509_certificate(der[:spki] + bytes.fromhex("06032b6500") + der[spki + 5:])
    with pytest.raises(CertificateError, match="the CA key must be Ed25519"):
        check_org_ca(cert, "org0's ca_cert", chain_id="chain0")
