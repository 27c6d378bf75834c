"""TLS contexts for mutual authentication: TLS 1.3 only, both sides present a certificate.

OpenSSL checks, inside the handshake, that the peer's certificate chains to a
trusted CA — a member organization's, or the single chain CA of an older chain —
(and to nothing else: no system trust store is loaded) and is within
its validity period. What OpenSSL cannot check from Python — revocation by our
own serial list and the node id — the transport checks right after the
handshake, before reading a single frame.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from consortium.network.errors import CertificateError


def _base(protocol: int, cert_file: Path, key_file: Path, ca_file: Path, cadata: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    try:
        ctx.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot load node certificate {cert_file} with key {key_file}: {exc}") from None
    try:
        if cadata is not None:
            ctx.load_verify_locations(cadata=cadata)
        else:
            ctx.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        what = "member organizations' CA certificates" if cadata is not None else f"chain CA certificate {ca_file}"
        raise CertificateError(f"cannot load the {what}: {exc}") from None
    return ctx


def server_context(cert_file: Path, key_file: Path, ca_file: Path, cadata: str | None = None) -> ssl.SSLContext:
    """Accepting side: a client without a certificate from a trusted CA fails the handshake.

    ``cadata`` (PEM) — the member organizations' CAs — replaces ``ca_file`` when given."""
    return _base(ssl.PROTOCOL_TLS_SERVER, cert_file, key_file, ca_file, cadata)


def client_context(cert_file: Path, key_file: Path, ca_file: Path, cadata: str | None = None) -> ssl.SSLContext:
    """Dialing side. Host names are not checked: a node is identified by the key in its
    certificate (checked against its hello), not by where it happens to listen."""
    ctx = _base(ssl.PROTOCOL_TLS_CLIENT, cert_file, key_file, ca_file, cadata)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
