"""Admission in a chain of organizations: a certificate must chain to a current member's CA and
name a node on chain as one of that member's nodes; membership changes disconnect at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.network.netkit import Inbox, NodeFiles, Pki, eventually, local

from consortium.network.certs import cert_der
from consortium.network.membership import ANY_ORG, Membership


def org(tmp_path: Path, name: str) -> Pki:
    return Pki(tmp_path / name, name)


def members(*orgs: tuple[str, Pki], nodes: dict[bytes, str] | None = None,
            revoked: frozenset[tuple[str, int]] = frozenset()) -> Membership:
    return Membership(orgs=tuple((name, cert_der(p.ca_cert)) for name, p in orgs), nodes=nodes, revoked=revoked)


async def start(transports, pki: Pki, node: NodeFiles, membership: Membership, **kw):
    inbox = Inbox()
    t = transports(dataclasses.replace(pki.config(node, **kw), membership=membership), inbox)
    await t.start()
    return t, inbox


async def test_nodes_of_member_orgs_connect_and_others_are_refused(tmp_path, transports, caplog) -> None:
    bank, notary, outsider = org(tmp_path, "bank"), org(tmp_path, "notary"), org(tmp_path, "outsider")
    b, n, o, stray = bank.node(), notary.node(), outsider.node(), bank.node()
    on_chain = {b.node_id: "bank", n.node_id: "notary", o.node_id: "bank"}
    m = members(("bank", bank), ("notary", notary), nodes=on_chain)
    server, inbox = await start(transports, bank, b, m)
    # A member's node on chain: admitted, and messages flow.
    client, _ = await start(transports, notary, n, m, peers=(local(server),))
    await eventually(lambda: len(server.peers()) == 1 and len(client.peers()) == 1)
    assert server.peer_org(n.node_id) == "notary"
    assert client.send(b.node_id, b"hello from the notary")
    await inbox.wait(1)
    # A node certified by a CA that is not a member's (even if its id is on chain): refused in the handshake.
    intruder, _ = await start(transports, outsider, o, members(("outsider", outsider), ("bank", bank)),
                              peers=(local(server),))
    await eventually(lambda: server.stats["refused.tls"] + server.stats["refused.not-member"] >= 1)
    # A member's node that is not on chain: refused after the handshake, naming why.
    loose, _ = await start(transports, bank, stray, m, peers=(local(server),))
    await eventually(lambda: server.stats["refused.not-on-chain"] >= 1)
    assert "neither a sealer nor an observer on chain" in caplog.text
    assert {p.node_id for p in server.peers()} == {n.node_id}
    assert intruder.peers() == [] and loose.peers() == []


async def test_node_on_chain_for_another_org_is_refused(tmp_path, transports, caplog) -> None:
    bank, notary = org(tmp_path, "bank"), org(tmp_path, "notary")
    b, n = bank.node(), notary.node()
    m = members(("bank", bank), ("notary", notary), nodes={b.node_id: "bank", n.node_id: "bank"})
    server, _ = await start(transports, bank, b, m)
    await start(transports, notary, n, m, peers=(local(server),))
    await eventually(lambda: server.stats["refused.not-on-chain"] >= 1)
    assert "on chain as a node of bank, but its certificate was issued by notary" in caplog.text


async def test_removing_an_org_or_revoking_disconnects_at_once(tmp_path, transports, caplog) -> None:
    bank, notary, arb = org(tmp_path, "bank"), org(tmp_path, "notary"), org(tmp_path, "arb")
    b, n, a = bank.node(), notary.node(), arb.node()
    nodes = {b.node_id: "bank", n.node_id: "notary", a.node_id: ANY_ORG}
    m = members(("bank", bank), ("notary", notary), ("arb", arb), nodes=nodes)
    server, _ = await start(transports, bank, b, m)
    c1, _ = await start(transports, notary, n, m, peers=(local(server),))
    c2, _ = await start(transports, arb, a, m, peers=(local(server),))
    await eventually(lambda: len(server.peers()) == 2)
    # The notary's organization leaves: its node is disconnected and cannot come back.
    assert server.set_membership(members(("bank", bank), ("arb", arb), nodes=nodes)) == 1
    await eventually(lambda: {p.node_id for p in server.peers()} == {a.node_id})
    assert "is not the CA of a member organization" in caplog.text
    refused = server.stats["refused.tls"] + server.stats["refused.not-member"]
    await eventually(lambda: server.stats["refused.tls"] + server.stats["refused.not-member"] > refused, timeout=15)
    assert n.node_id not in {p.node_id for p in server.peers()}
    # The arbitration commission revokes its node's certificate (per organization): disconnected too.
    m2 = members(("bank", bank), ("arb", arb), nodes=nodes, revoked=frozenset({("arb", a.serial)}))
    assert server.set_membership(m2) == 1
    await eventually(lambda: server.peers() == [])
    assert f"certificate serial {a.serial:#x}" in caplog.text
    # The same serial revoked by another organization does not touch it (serials are per issuer).
    m3 = members(("bank", bank), ("arb", arb), nodes=nodes, revoked=frozenset({("bank", a.serial)}))
    server.set_membership(m3)
    await eventually(lambda: {p.node_id for p in server.peers()} == {a.node_id}, timeout=15)
    assert c1.peers() == []
    # The listener registers first (it reads the dialer's hello with the handshake); the dialer a moment later.
    await eventually(lambda: bool(c2.peers()))
