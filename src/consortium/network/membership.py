"""Who the transport admits: nodes certified by a current member organization and named on chain.

A chain made of separate organizations has no single CA. Genesis (and later
governance) lists the member organizations with their CA certificates; each
organization issues its own nodes' certificates. A peer is admitted when

1. OpenSSL accepts its certificate as issued by one of the member CAs (the TLS
   contexts trust exactly those, rebuilt when membership changes), and
2. after the handshake, :meth:`Membership.admit` finds the issuing member, checks
   that the node id is on chain (a sealer or an observer) as a node of that same
   organization, and that the organization has not revoked the certificate.

Membership changes at run time (an organization added or removed, a node added,
a certificate revoked): the transport re-checks every open connection against
the new membership and closes those no longer admitted, so removing an
organization disconnects its nodes everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from consortium.network.certs import CertIdentity, is_issued_by
from consortium.network.errors import PeerRefused

ANY_ORG = ""
"""In :attr:`Membership.nodes`, a node whose organization is not recorded (any member may certify it);
in :attr:`Membership.revoked`, a serial revoked whichever member issued it."""


@dataclass(frozen=True)
class Membership:
    orgs: tuple[tuple[str, bytes], ...]
    """(name, CA certificate DER) of every member organization."""
    nodes: Mapping[bytes, str] | None = None
    """Node ids on chain and the organization each belongs to; None admits any node id (single-CA chains)."""
    revoked: frozenset[tuple[str, int]] = frozenset()
    """(organization, certificate serial) pairs refused; organization :data:`ANY_ORG` means any issuer."""
    _certs: tuple[tuple[str, x509.Certificate], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_certs", tuple((n, x509.load_der_x509_certificate(d)) for n, d in self.orgs))
        if self.nodes is not None:
            object.__setattr__(self, "nodes", dict(self.nodes))

    def cadata(self) -> str:
        """The member CAs as concatenated PEM, for ``SSLContext.load_verify_locations(cadata=…)``."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for _, c in self._certs)

    def issuer(self, cert: x509.Certificate) -> str | None:
        """The member organization whose CA signed ``cert``, or None."""
        return next((name for name, ca in self._certs if is_issued_by(cert, ca)), None)

    def admit(self, cert: x509.Certificate, ident: CertIdentity) -> str:
        """The peer's organization, or :class:`PeerRefused` saying why it is not admitted."""
        org = self.issuer(cert)
        who = f"node {ident.node_id.hex()[:16]}…"
        if org is None:
            raise PeerRefused("not-member", f"{who} has a certificate from {cert.issuer.rfc4514_string()!r}, "
                                            "which is not the CA of a member organization")
        if (org, ident.serial) in self.revoked or (ANY_ORG, ident.serial) in self.revoked:
            raise PeerRefused("revoked", f"certificate serial {ident.serial:#x} of {who} ({org}) is revoked")
        if self.nodes is not None:
            recorded = self.nodes.get(ident.node_id)
            if recorded is None:
                raise PeerRefused("not-on-chain", f"{who} of {org} is neither a sealer nor an observer on chain "
                                                  "(the committee admits it with add_observer)")
            if recorded not in (ANY_ORG, org):
                raise PeerRefused("not-on-chain", f"{who} is on chain as a node of {recorded}, but its certificate "
                                                  f"was issued by {org}")
        return org
