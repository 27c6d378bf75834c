"""Forged VIEW-CHANGE and NEW-VIEW messages are rejected; every embedded message is verified.

FISCO BCOS once accepted a VIEW-CHANGE whose contents were never checked. Each
case below takes a valid message, breaks one thing, and checks the core
rejects it without moving; the valid originals are accepted, so the rejections
are not vacuous. [CL99 4.4]: a NEW-VIEW is valid only if its view-change set
and its pre-prepare are consistent with the rules the backups re-run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from tests.consensus.harness import CFG, Cluster

from consortium.consensus import (
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ValidateRequest,
    Verdict,
    ViewChange,
)
from consortium.consensus.simulation.crypto import SIM_SUITE, sim_key
from consortium.consensus.verify import header_hash
from consortium.crypto.suite import KeyPair
from consortium.ledger.block import Block

CH, GR = CFG.chain_id, CFG.group_id
VC_LEADER = 2  # leader of (height 1, view 1) with 4 sealers
REPLICA = 3


@dataclass
class Kit:
    c: Cluster
    keys: list[KeyPair]
    block: Block
    fresh: Block
    cert: PreparedCertificate

    def bh(self, block: Block | None = None) -> bytes:
        return header_hash((block or self.block).header, SIM_SUITE)

    def vc(self, sender: int, cert: PreparedCertificate | None = None, *, view: int = 1,
           with_block: bool = True) -> ViewChange:
        return ViewChange(CH, GR, 1, view, b"", cert, block=self.block if cert and with_block else None
                          ).signed_by(self.keys[sender])

    def nv(self, vcs: list[ViewChange], block: Block | None = None, *, sender: int = VC_LEADER,
           view: int = 1) -> NewView:
        block = block or self.block
        pp = PrePrepare(CH, GR, 1, view, b"", self.bh(block)).signed_by(self.keys[sender])
        return NewView(CH, GR, 1, view, b"", tuple(v.without_block() for v in vcs), pp,
                       block=block).signed_by(self.keys[sender])

    def valid_nv(self) -> NewView:
        return self.nv([self.vc(0, self.cert), self.vc(1), self.vc(3)])


def prepare(kit_keys: list[KeyPair], signer: int, block_hash: bytes, *, view: int = 0,
            sender: int | None = None) -> Prepare:
    p = Prepare(CH, GR, 1, view, kit_keys[signer if sender is None else sender].public_key, block_hash)
    return replace(p, signature=kit_keys[signer].sign(p.digest(SIM_SUITE)))


@pytest.fixture
def kit() -> Kit:
    c = Cluster(4, auto_app=False)
    c.queue.clear()
    keys = c.keys
    block = c.other_block(1, 1, 0, salt=1)  # what leader 1 proposed in view 0 and a quorum prepared
    fresh = c.other_block(VC_LEADER, 1, 1, salt=2)  # a fresh block the view-1 leader might prefer
    bh = header_hash(block.header, SIM_SUITE)
    pp = c.pre_prepare(1, block).without_block()
    cert = PreparedCertificate(pp, tuple(prepare(keys, i, bh) for i in (0, 1, 2)))
    return Kit(c, keys, block, fresh, cert)


def test_the_valid_originals_are_accepted(kit: Kit) -> None:
    assert kit.c.deliver(VC_LEADER, kit.vc(0, kit.cert)).verdict is Verdict.ACCEPTED
    assert kit.c.deliver(REPLICA, kit.valid_nv()).verdict is Verdict.ACCEPTED
    replica = kit.c.nodes[REPLICA]
    assert replica.core.view == 1 and replica.core.status().view_active
    assert isinstance(replica.requests[-1], ValidateRequest) and replica.requests[-1].block.hash == kit.block.hash


def test_a_fresh_block_is_accepted_when_no_view_change_carries_a_certificate(kit: Kit) -> None:
    nv = kit.nv([kit.vc(0), kit.vc(1), kit.vc(3)], kit.fresh)
    assert kit.c.deliver(REPLICA, nv).verdict is Verdict.ACCEPTED


def _cert(kit: Kit, **change: object) -> PreparedCertificate:
    return replace(kit.cert, **change)  # type: ignore[arg-type]


VIEW_CHANGE_FORGERIES: dict[str, Callable[[Kit], Message]] = {
    "bad signature": lambda k: replace(k.vc(0, k.cert), signature=bytes(64)),
    "signed by another sealer than the named sender":
        lambda k: replace(k.vc(0, k.cert), signature=k.keys[1].sign(k.vc(0, k.cert).digest(SIM_SUITE))),
    "certificate with a forged prepare": lambda k: k.vc(0, _cert(k, prepares=(
        *k.cert.prepares[:2], prepare(k.keys, 0, k.bh(), sender=3)))),
    "certificate with too few prepares": lambda k: k.vc(0, _cert(k, prepares=k.cert.prepares[:2])),
    "certificate counting one sealer twice": lambda k: k.vc(0, _cert(k, prepares=(
        *k.cert.prepares[:2], k.cert.prepares[0]))),
    "certificate whose prepares name another block": lambda k: k.vc(0, _cert(k, prepares=(
        *k.cert.prepares[:2], prepare(k.keys, 2, k.bh(k.fresh))))),
    "certificate whose pre-prepare is not from the old view's leader": lambda k: k.vc(0, _cert(
        k, pre_prepare=PrePrepare(CH, GR, 1, 0, b"", k.bh()).signed_by(k.keys[0]))),
    "certificate whose pre-prepare signature is forged": lambda k: k.vc(0, _cert(
        k, pre_prepare=replace(k.cert.pre_prepare, signature=k.keys[0].sign(k.cert.pre_prepare.digest(SIM_SUITE))))),
    "certificate not older than the view asked for": lambda k: k.vc(0, PreparedCertificate(
        PrePrepare(CH, GR, 1, 1, b"", k.bh()).signed_by(k.keys[2]),
        tuple(prepare(k.keys, i, k.bh(), view=1) for i in (0, 1, 2)))),
    "certificate for another height": lambda k: k.vc(0, _cert(k, pre_prepare=replace(
        k.cert.pre_prepare, height=2).signed_by(k.keys[1]))),
    "attached block that is not the certified one": lambda k: replace(
        k.vc(0, k.cert), block=k.fresh),
    "block attached without a certificate": lambda k: replace(k.vc(0), block=k.block),
}


VIEW_CHANGE_REASONS = {
    "attached block that is not the certified one": "does not hash to the signed block hash",
    "bad signature": "VIEW-CHANGE signature does not verify",
    "block attached without a certificate": "carries a block but no prepared certificate",
    "certificate counting one sealer twice": "counts one sealer twice",
    "certificate for another height": "is for height 2",
    "certificate not older than the view asked for": "is not older than view 1",
    "certificate whose pre-prepare is not from the old view's leader": "not from that view's leader",
    "certificate whose pre-prepare signature is forged": "PRE-PREPARE signature does not verify",
    "certificate whose prepares name another block": "mixes prepares of another view or block",
    "certificate with a forged prepare": "PREPARE signature does not verify",
    "certificate with too few prepares": "has 2 prepares; 3 needed",
    "signed by another sealer than the named sender": "VIEW-CHANGE signature does not verify",
}


@pytest.mark.parametrize("case", sorted(VIEW_CHANGE_FORGERIES))
def test_forged_view_change_is_rejected(kit: Kit, case: str) -> None:
    msg = VIEW_CHANGE_FORGERIES[case](kit)
    result = kit.c.deliver(VC_LEADER, msg)
    assert result.verdict is Verdict.REJECTED_INVALID, result
    assert VIEW_CHANGE_REASONS[case] in result.reason
    assert kit.c.nodes[VC_LEADER].core.status().counters.rejected_invalid == 1


NEW_VIEW_FORGERIES: dict[str, Callable[[Kit], Message]] = {
    "bad signature": lambda k: replace(k.valid_nv(), signature=bytes(64)),
    "from a sealer that does not lead the view": lambda k: k.nv(
        [k.vc(0, k.cert), k.vc(1), k.vc(3)], sender=0),
    "too few view changes": lambda k: k.nv([k.vc(0, k.cert), k.vc(1)]),
    "one sealer's view change twice": lambda k: k.nv([k.vc(0, k.cert), k.vc(1), k.vc(1)]),
    "a fresh block although a certificate exists (prepared block replaced)": lambda k: k.nv(
        [k.vc(0, k.cert), k.vc(1), k.vc(3)], k.fresh),
    "a view change with a forged signature inside": lambda k: k.nv(
        [k.vc(0, k.cert), replace(k.vc(1), signature=bytes(64)), k.vc(3)]),
    "a view change whose certificate holds a forged prepare": lambda k: k.nv(
        [k.vc(0, _cert(k, prepares=(*k.cert.prepares[:2], prepare(k.keys, 0, k.bh(), sender=3)))),
         k.vc(1), k.vc(3)]),
    "a view change for another view inside": lambda k: k.nv([k.vc(0, k.cert), k.vc(1), k.vc(3, view=2)]),
    "a view change from an outsider inside": lambda k: k.nv(
        [k.vc(0, k.cert), k.vc(1), ViewChange(CH, GR, 1, 1, b"", None).signed_by(sim_key("outsider", 0))]),
    "pre-prepare signed by another key": lambda k: replace(k.valid_nv(), pre_prepare=replace(
        k.valid_nv().pre_prepare, signature=k.keys[0].sign(k.valid_nv().pre_prepare.digest(SIM_SUITE)))
        ).signed_by(k.keys[VC_LEADER]),
    "attached block differs from the pre-prepare": lambda k: replace(k.valid_nv(), block=k.fresh),
    "fresh block naming another proposer": lambda k: k.nv(
        [k.vc(0), k.vc(1), k.vc(3)], replace(k.fresh, header=replace(k.fresh.header, proposer=k.keys[0].public_key))),
    "fresh block naming another view": lambda k: k.nv(
        [k.vc(0), k.vc(1), k.vc(3)], replace(k.fresh, header=replace(k.fresh.header, view=0))),
}


NEW_VIEW_REASONS = {
    "a fresh block although a certificate exists (prepared block replaced)": "other than the highest prepared",
    "a view change for another view inside": "includes a VIEW-CHANGE for view 2",
    "a view change from an outsider inside": "is not a sealer",
    "a view change whose certificate holds a forged prepare": "PREPARE signature does not verify",
    "a view change with a forged signature inside": "invalid VIEW-CHANGE: VIEW-CHANGE signature",
    "attached block differs from the pre-prepare": "does not hash to the signed block hash",
    "bad signature": "NEW-VIEW signature does not verify",
    "fresh block naming another proposer": "names a proposer other than",
    "fresh block naming another view": "carries view 0 in its header",
    "from a sealer that does not lead the view": "not its leader",
    "one sealer's view change twice": "counts one sealer's VIEW-CHANGE twice",
    "pre-prepare signed by another key": "PRE-PREPARE signature does not verify",
    "too few view changes": "carries 2 view changes; 3 needed",
}


@pytest.mark.parametrize("case", sorted(NEW_VIEW_FORGERIES))
def test_forged_new_view_is_rejected(kit: Kit, case: str) -> None:
    msg = NEW_VIEW_FORGERIES[case](kit)
    result = kit.c.deliver(REPLICA, msg)
    assert result.verdict is Verdict.REJECTED_INVALID, result
    assert NEW_VIEW_REASONS[case] in result.reason
    replica = kit.c.nodes[REPLICA].core
    assert replica.view == 0 and replica.status().counters.new_views_installed == 0
    assert not any(isinstance(r, ValidateRequest) for r in kit.c.nodes[REPLICA].requests)


def test_two_different_valid_new_views_for_one_view_are_equivocation(kit: Kit) -> None:
    first = kit.nv([kit.vc(0), kit.vc(1), kit.vc(3)], kit.fresh)
    other_fresh = kit.c.other_block(VC_LEADER, 1, 1, salt=3)
    second = kit.nv([kit.vc(0), kit.vc(1), kit.vc(3)], other_fresh)
    assert kit.c.deliver(REPLICA, first).verdict is Verdict.ACCEPTED
    assert kit.c.deliver(REPLICA, second).verdict is Verdict.REJECTED_EQUIVOCATION
    assert kit.c.deliver(REPLICA, first).verdict is Verdict.DUPLICATE


def test_a_bare_pre_prepare_for_a_later_view_is_rejected(kit: Kit) -> None:
    """Above view 0 a proposal is only believed inside the NEW-VIEW that justifies it."""
    pp = PrePrepare(CH, GR, 1, 1, b"", kit.bh(kit.fresh), block=kit.fresh).signed_by(kit.keys[VC_LEADER])
    assert kit.c.deliver(REPLICA, pp).verdict is Verdict.REJECTED_INVALID
