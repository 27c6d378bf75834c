"""Who this node's transport admits, as the chain says after each block.

Genesis names the first member organizations and sealers; governance then adds
and removes organizations, nodes and revocations (``gv/`` state). After every
commit the node recomputes the :class:`~consortium.network.membership.Membership`
and hands it to the transport, which re-checks open connections — so a node of a
removed organization, a removed node, or a revoked certificate is disconnected on
every node once the block that says so commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from consortium.execution.governance import GovernanceState
from consortium.network.membership import ANY_ORG, Membership
from consortium.node.genesis import Genesis

log = logging.getLogger("consortium.node")


def membership(genesis: Genesis, gov: GovernanceState) -> Membership | None:
    """None for a single-CA chain (genesis without organizations): the CA file decides alone."""
    if not genesis.organizations:
        return None
    orgs = gov.organizations() if gov.governed() else ()
    if not orgs:  # a state without the organizations key (tools, tests): genesis decides
        orgs = tuple((o.name, o.ca_cert) for o in genesis.organizations)
    usable = []
    for name, der in orgs:  # governance checks only the shape; a CA this node cannot parse is left out
        try:
            x509.load_der_x509_certificate(der)
        except ValueError as exc:
            log.error("member organization %s has a CA certificate this node cannot use (%s); its nodes are not "
                      "admitted here", name, exc)
            continue
        usable.append((name, der))
    orgs = tuple(usable)
    node_orgs = dict(gov.node_orgs())
    genesis_orgs = {s.node_id: s.org for s in genesis.sealers}
    on_chain = (*gov.sealers(), *gov.observers()) if gov.governed() else genesis.sealer_ids
    nodes = {n: node_orgs.get(n) or genesis_orgs.get(n, ANY_ORG) for n in on_chain}
    return Membership(orgs=tuple(orgs), nodes=nodes, revoked=frozenset(gov.revoked_certs()))


EXPIRY_WARNING_DAYS = 30


def expiry_warnings(cert_path: Path, ca_path: Path, members: Membership | None, *,
                    now: dt.datetime | None = None, days: int = EXPIRY_WARNING_DAYS) -> list[str]:
    """One line per certificate this node depends on that expires within ``days`` (or has expired):
    its own certificate, its organization's CA, and every member organization's CA."""
    now = now or dt.datetime.now(dt.timezone.utc)
    found: list[tuple[str, x509.Certificate, str]] = []
    for what, path, fix in (("this node's certificate", cert_path, "issue a new one with `consortium node new` "
                             "(or org sign-csr) and restart the node"),
                            ("this node's organization CA", ca_path, "the organization must make a new CA and the "
                             "committee add it (add_org)")):
        try:
            found.append((f"{what} {path.name}", x509.load_pem_x509_certificate(path.read_bytes()), fix))
        except (OSError, ValueError):
            continue
    for name, der in (members.orgs if members is not None else ()):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        if cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) and name and \
                not any(c.subject == cert.subject and c.public_key() == cert.public_key() for _, c, _ in found):
            found.append((f"member organization {name}'s CA", cert,
                          f"{name} must renew it and the committee replace it (remove_org, add_org)"))
    out = []
    for what, cert, fix in found:
        left = cert.not_valid_after_utc - now
        if left < dt.timedelta(days=days):
            when = "expired" if left.total_seconds() <= 0 else f"expires in {max(0, left.days)} days"
            out.append(f"{what} {when} ({cert.not_valid_after_utc:%Y-%m-%d}): {fix}")
    return out
