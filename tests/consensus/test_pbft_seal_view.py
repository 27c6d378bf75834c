"""Commit seals bind the view, so one Byzantine sealer cannot assemble two certificates at one height.

In PBFT an honest sealer may legitimately send COMMIT for block Z in one view
and, after a view change whose NEW-VIEW is justified without its own
VIEW-CHANGE, for block W in a later view. [CL99]'s commit certificates are per
view. Below, one Byzantine sealer among four and a hostile message schedule
collect honest seals for Z (views 0 and 2) and for W (views 1 and 3) at the
same height, while no honest core ever decides anything. Were seals view-less
(as they first were: ``encode([5, block_hash])``), both blocks would get
certificates that pass verify_commit_certificate, and block sync or the offline
verifier could be shown either. Seals over ``[5, block_hash, view]`` with the
commit view in the header make that impossible: the test tries every view.
"""

from __future__ import annotations

from tests.consensus.harness import CFG, Cluster

from consortium.consensus import (
    Commit,
    NewView,
    Prepare,
    PreparedCertificate,
    ProposalRequest,
    ValidateRequest,
    ViewChange,
    verify_commit_certificate,
)
from consortium.consensus.errors import InvalidCommitCertificate
from consortium.consensus.simulation.crypto import SIM_SUITE
from consortium.consensus.verify import header_hash
from consortium.ledger.block import Block, BlockHeader, CommitSignature, commit_seal_payload

CH, GR = CFG.chain_id, CFG.group_id
BASE = CFG.base_timeout_ticks
X = 1  # the Byzantine sealer (leader of view 0); 0, 2 and 3 are honest
HONEST = [0, 2, 3]


class Schedule:
    """Hand-delivers chosen messages; everything else is lost. X's messages are written by hand."""

    def __init__(self) -> None:
        self.c = Cluster(4, auto_app=False)
        self.answered = [0] * 4
        self.c.queue.clear()

    def give(self, dst: int, *msgs: object) -> None:
        for m in msgs:
            self.c.deliver(dst, m)  # type: ignore[arg-type]
            self.validate()
        self.c.queue.clear()

    def validate(self) -> None:
        """Every honest sealer's application validates whatever it was asked to (the blocks are valid)."""
        for i in HONEST:
            reqs = self.c.nodes[i].requests
            while self.answered[i] < len(reqs):
                req = reqs[self.answered[i]]
                self.answered[i] += 1
                if isinstance(req, ValidateRequest):
                    self.c.answer(i, req)
        self.c.queue.clear()

    def last(self, i: int, kind: type, view: int) -> object:
        return [m for m in self.c.nodes[i].sent if isinstance(m, kind) and m.view == view][-1]

    def x_prepare(self, block: Block, view: int) -> Prepare:
        return Prepare(CH, GR, 1, view, b"", header_hash(block.header, SIM_SUITE)).signed_by(self.c.keys[X])

    def x_view_change(self, view: int) -> ViewChange:
        return ViewChange(CH, GR, 1, view, b"", None).signed_by(self.c.keys[X])  # hides what it prepared

    def tick(self, n: int) -> None:
        self.c.tick(n, only=HONEST)
        self.c.queue.clear()


def seal_of(s: Schedule, i: int, block_hash: bytes) -> CommitSignature:
    (commit,) = [m for m in s.c.nodes[i].sent if isinstance(m, Commit) and m.block_hash == block_hash]
    return CommitSignature(i, commit.seal)


def test_one_byzantine_sealer_cannot_obtain_two_commit_certificates_at_one_height() -> None:
    s = Schedule()
    c = s.c
    # view 0: X proposes Z; only sealer 0 gets prepared (and seals Z)
    z = c.other_block(X, 1, 0, salt=1)
    hz = header_hash(z.header, SIM_SUITE)
    s.give(0, c.pre_prepare(X, z))
    s.give(2, c.pre_prepare(X, z))
    s.give(0, s.last(2, Prepare, 0), s.x_prepare(z, 0))
    # view 1 (leader 2): sealer 0's VIEW-CHANGE (with Z's certificate) never reaches 2; 2 proposes fresh W
    s.tick(BASE)
    s.give(2, s.last(3, ViewChange, 1), s.x_view_change(1))
    (req,) = [r for r in c.nodes[2].requests if isinstance(r, ProposalRequest) and r.view == 1]
    c.answer(2, req)
    nv1 = s.last(2, NewView, 1)
    w = nv1.block  # type: ignore[attr-defined]
    hw = header_hash(w.header, SIM_SUITE)
    s.give(3, nv1)
    s.give(0, nv1)
    s.give(0, s.last(2, Prepare, 1), s.x_prepare(w, 1))  # sealer 0 gets prepared again (and seals W)
    # view 2 (leader 3): X now shows the certificate for Z from view 0, which is the highest in {X, 2, 3}
    s.tick(2 * BASE)
    z_cert = PreparedCertificate(c.pre_prepare(X, z).without_block(),
                                 (s.last(0, Prepare, 0), s.x_prepare(z, 0), s.last(2, Prepare, 0)))  # type: ignore
    x_vc2 = ViewChange(CH, GR, 1, 2, b"", z_cert, block=z).signed_by(c.keys[X])
    s.give(3, x_vc2, s.last(2, ViewChange, 2))
    nv2 = s.last(3, NewView, 2)
    assert nv2.pre_prepare.block_hash == hz  # type: ignore[attr-defined]
    s.give(2, nv2)
    s.give(2, s.last(3, Prepare, 2), s.x_prepare(z, 2))  # sealer 2 gets prepared (and seals Z)
    # view 3 (leader 0): 0's own certificate (W, view 1) is the highest in {0, X, 3}: W again
    s.tick(4 * BASE)
    s.give(0, s.x_view_change(3), s.last(3, ViewChange, 3))
    nv3 = s.last(0, NewView, 3)
    assert nv3.pre_prepare.block_hash == hw  # type: ignore[attr-defined]
    s.give(3, nv3)
    s.give(3, s.last(0, Prepare, 3), s.x_prepare(w, 3))  # sealer 3 gets prepared (and seals W)

    # no honest core decided anything: PBFT itself is safe here
    assert all(c.nodes[i].core.status().decided is None for i in HONEST)
    # X holds honest seals for both blocks, but from different views: whatever commit view it
    # claims, at most one honest seal per block verifies with its own, short of the quorum of 3.
    x_key = c.keys[X]

    def certifiable(header: BlockHeader, block_hash: bytes, honest: list[CommitSignature]) -> bool:
        for view in range(4):
            own = CommitSignature(X, x_key.sign(commit_seal_payload(block_hash, view)))
            if _verifies(header.with_signatures([*honest, own], view)):
                return True
        return False

    assert hz != hw
    z_ok = certifiable(z.header, hz, [seal_of(s, 0, hz), seal_of(s, 2, hz)])
    w_ok = certifiable(w.header, hw, [seal_of(s, 0, hw), seal_of(s, 3, hw)])
    assert not (z_ok and w_ok), "two valid commit certificates at height 1"
    assert not z_ok and not w_ok  # here neither block had a quorum in any one view


def _verifies(header: BlockHeader) -> bool:
    try:
        verify_commit_certificate(header, SIM_SUITE)
    except InvalidCommitCertificate:
        return False
    return True
