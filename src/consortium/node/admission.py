"""Who this node's transport admits, as the chain says after each block.

Genesis names the first member organizations and sealers; governance then adds
and removes organizations, nodes and revocations (``gv/`` state). After every
commit the node recomputes the :class:`~consortium.network.membership.Membership`
and hands it to the transport, which re-checks open connections — so a node of a
removed organization, a removed node, or a revoked certificate is disconnected on
every node once the block that says so commits.
"""

from __future__ import annotations

from consortium.execution.governance import GovernanceState
from consortium.network.membership import ANY_ORG, Membership
from consortium.node.genesis import Genesis


def membership(genesis: Genesis, gov: GovernanceState) -> Membership | None:
    """None for a single-CA chain (genesis without organizations): the CA file decides alone."""
    if not genesis.organizations:
        return None
    orgs = gov.organizations() if gov.governed() else ()
    if not orgs:  # a state without the organizations key (tools, tests): genesis decides
        orgs = tuple((o.name, o.ca_cert) for o in genesis.organizations)
    node_orgs = dict(gov.node_orgs())
    genesis_orgs = {s.node_id: s.org for s in genesis.sealers}
    on_chain = (*gov.sealers(), *gov.observers()) if gov.governed() else genesis.sealer_ids
    nodes = {n: node_orgs.get(n) or genesis_orgs.get(n, ANY_ORG) for n in on_chain}
    return Membership(orgs=tuple(orgs), nodes=nodes, revoked=frozenset(gov.revoked_certs()))
