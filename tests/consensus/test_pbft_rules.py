"""One test per protocol rule, citing it (as etcd's raft_paper_test.go does for the Raft paper).

[CL99] M. Castro, B. Liskov, "Practical Byzantine Fault Tolerance", OSDI 1999, section 4.
[CL02] the same authors, "Practical Byzantine Fault Tolerance and Proactive Recovery", TOCS 2002.
Rules added by this chain (block validation before PREPARE, per-height views, leader rotation by
height, persisted vote state) cite FISCO BCOS or CometBFT instead.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.consensus.harness import CFG, Cluster

from consortium.consensus import (
    Commit,
    ConflictingCommit,
    DriverContractError,
    Message,
    NewView,
    PbftCore,
    PersistedState,
    Prepare,
    PrePrepare,
    ProposalRequest,
    TooFewSeals,
    ValidateRequest,
    Verdict,
    ViewChange,
    verify_commit_certificate,
)
from consortium.consensus.events import BlockCommitted
from consortium.consensus.simulation.app import CHAIN_ID, GROUP_ID, next_state_root
from consortium.consensus.simulation.crypto import SIM_SUITE, sim_key
from consortium.consensus.verify import header_hash

BASE = CFG.base_timeout_ticks


def test_leader_of_height_and_view_is_sealers_at_height_plus_view_mod_n() -> None:
    """[CL99 4.1] the primary of view v is v mod n; FISCO BCOS adds the height so leaders rotate per block."""
    c = Cluster(4)
    for height in range(1, 6):
        leader = c.leader(height, 0)
        requests = {i: [r for r in n.requests if isinstance(r, ProposalRequest) and r.height == height]
                    for i, n in enumerate(c.nodes)}
        assert [i for i, r in requests.items() if r] == [leader]
        assert requests[leader][0].view == 0
        c.run()
        assert c.heights() == [height] * 4
        block = c.nodes[0].ledger.blocks[height]
        assert block.header.proposer == c.sealers[leader] and block.header.view == 0


def test_replica_sends_prepare_only_after_the_application_validated_the_block() -> None:
    """[CL99 4.2] a backup accepts a pre-prepare only if it is valid; here validity includes re-execution."""
    c = Cluster(4, auto_app=False)
    leader = c.leader(1, 0)
    c.answer(leader, c.nodes[leader].requests[0])
    c.run()
    for i in (0, 2, 3):
        assert [type(r) for r in c.nodes[i].requests] == [ValidateRequest]
        assert c.sent_of(i, Prepare) == []
    c.answer(0, c.nodes[0].requests[0])
    (prepare,) = c.sent_of(0, Prepare)
    assert prepare.block_hash == header_hash(c.nodes[0].requests[0].block.header, SIM_SUITE)


def test_replica_refuses_a_block_whose_state_root_differs_from_its_own_execution() -> None:
    """FISCO BCOS: replicas re-execute and refuse a proposal whose state root differs; they then leave the view."""
    c = Cluster(4, auto_app=False)
    leader = c.leader(1, 0)
    good = c.nodes[leader].ledger.build(0, c.sealers[leader], salt=1)
    bad = replace(good, header=replace(good.header, state_root=SIM_SUITE.hash(b"not the state")))
    assert bad.header.state_root != next_state_root(c.genesis.header.state_root, good.header.tx_root, SIM_SUITE)
    assert c.deliver(0, c.pre_prepare(leader, bad)) .verdict is Verdict.ACCEPTED
    (req,) = c.nodes[0].requests
    c.answer(0, req)
    assert c.sent_of(0, Prepare) == []
    assert c.nodes[0].core.status().counters.proposals_refused == 1
    (vc,) = c.sent_of(0, ViewChange)
    assert vc.view == 1


def test_prepared_needs_a_quorum_of_prepares() -> None:
    """[CL99 4.2] prepared(m, v, n, i) needs the pre-prepare and matching prepares from a quorum."""
    c = Cluster(4)
    c.run(drop=lambda src, dst, m: isinstance(m, Prepare) and dst == 0 and src in (2, 3))
    assert c.sent_of(0, Commit) == []  # own prepare + the leader's = 2 < 3
    for i in (1, 2, 3):
        assert len(c.sent_of(i, Commit)) == 1


def test_commit_needs_a_quorum_of_commits_and_yields_a_certificate_of_quorum_seals() -> None:
    """[CL99 4.2] committed-local needs 2f+1 (here n-f) matching commits; the seals become the certificate."""
    c = Cluster(4)
    held: list[Commit] = []

    def drop(src: int, dst: int, m: object) -> bool:
        if isinstance(m, Commit) and dst == 0 and src in (2, 3):
            held.append(m)
            return True
        return False

    c.run(drop=drop)
    assert c.nodes[0].ledger.height == 0 and c.nodes[0].core.status().decided is None
    assert c.heights()[1:] == [1, 1, 1]
    c.deliver(0, held[0])
    assert c.nodes[0].ledger.height == 1
    header = c.nodes[0].ledger.blocks[1].header
    assert len(header.signatures) == 3
    verify_commit_certificate(header, SIM_SUITE)
    assert header_hash(header, SIM_SUITE) == header_hash(c.nodes[1].ledger.blocks[1].header, SIM_SUITE)


def test_view_change_on_timeout_and_new_leader_proposes_a_fresh_block() -> None:
    """[CL99 4.4] a backup whose timer expires moves to v+1; the primary of v+1 sends NEW-VIEW."""
    c = Cluster(4)
    silent = c.leader(1, 0)
    c.run(drop=lambda src, dst, m: src == silent)
    assert c.heights() == [0, 0, 0, 0]
    c.tick(BASE - 1)
    assert all(n.core.view == 0 for n in c.nodes)
    c.tick(1)
    assert all(n.core.view == 1 for n in c.nodes)
    c.run()
    assert c.heights() == [1, 1, 1, 1]
    header = c.nodes[0].ledger.blocks[1].header
    assert header.view == 1 and header.proposer == c.sealers[c.leader(1, 1)]
    assert len({m.encode() for m in c.sent_of(c.leader(1, 1), NewView)}) == 1  # one NEW-VIEW (maybe re-sent)


def test_view_timeouts_double_per_consecutive_view_change_then_grow_linearly_and_reset_by_a_commit() -> None:
    """[CL99 4.5.2] a replica waits 2T for view v+2 after T for v+1, so correct replicas end up together.

    Past the cap (3 doublings here) the wait still grows, by one base per view: a flat cap lets
    two groups of sealers one view apart time out in lockstep forever (found by the simulator).
    """
    c = Cluster(4)
    c.queue.clear()  # nothing is ever delivered: views time out one after the other
    core = c.nodes[0].core
    expected = [BASE, 2 * BASE, 4 * BASE, 8 * BASE, 9 * BASE, 10 * BASE, 11 * BASE]
    for view, timeout in enumerate(expected):
        assert core.view == view and core.status().timeout_ticks == timeout
        c.tick(timeout - 1, only=[0])
        assert core.view == view
        c.tick(1, only=[0])
    assert core.view == len(expected)
    # after a commit the next height starts again at view 0 with the base timeout
    c2 = Cluster(4)
    c2.run()
    assert c2.nodes[0].core.view == 0 and c2.nodes[0].core.status().timeout_ticks == BASE


def _prepare_only_at(c: Cluster, who: int) -> bytes:
    """Run view 0 so that only ``who`` becomes prepared (its COMMIT is lost); returns the block hash."""
    c.run(drop=lambda src, dst, m: (isinstance(m, Prepare) and dst != who) or isinstance(m, Commit))
    cert = PersistedState.decode(c.nodes[who].disk, SIM_SUITE).prepared
    assert cert is not None and cert.view == 0
    for i in range(4):
        if i != who:
            assert c.sent_of(i, Commit) == []
    return cert.block_hash


def test_new_view_re_proposes_the_block_prepared_in_the_old_view() -> None:
    """[CL99 4.4] the new primary re-proposes the request of the highest prepared certificate in V."""
    c = Cluster(4)
    prepared = _prepare_only_at(c, 0)
    c.tick(BASE)
    c.run()
    assert c.heights() == [1, 1, 1, 1]
    for n in c.nodes:
        assert header_hash(n.ledger.blocks[1].header, SIM_SUITE) == prepared
    header = c.nodes[0].ledger.blocks[1].header
    assert header.view == 0 and header.proposer == c.sealers[c.leader(1, 0)]  # the old block, unchanged
    nv = c.sent_of(c.leader(1, 1), NewView)[0]
    assert nv.pre_prepare.block_hash == prepared


def test_a_prepared_replica_keeps_its_certificate_across_a_restart() -> None:
    """[CL02 4.3 / CometBFT privval] what a replica prepared is durable, so its VIEW-CHANGE still reports it."""
    c = Cluster(4)
    prepared = _prepare_only_at(c, 0)
    c.restart(0)
    c.tick(BASE)
    vcs = c.sent_of(0, ViewChange)
    assert vcs and vcs[-1].prepared is not None and vcs[-1].prepared.block_hash == prepared
    c.run()
    assert all(header_hash(n.ledger.blocks[1].header, SIM_SUITE) == prepared for n in c.nodes)


def test_equivocating_proposals_and_votes_are_detected_rejected_and_counted() -> None:
    """[CL99 4.2] a backup accepts at most one pre-prepare per view; two signed ones prove a faulty sender."""
    c = Cluster(4, auto_app=False)
    leader = c.leader(1, 0)
    a = c.other_block(leader, 1, 0, salt=1)
    b = c.other_block(leader, 1, 0, salt=2)
    assert c.deliver(0, c.pre_prepare(leader, a)).verdict is Verdict.ACCEPTED
    second = c.deliver(0, c.pre_prepare(leader, b))
    assert second.verdict is Verdict.REJECTED_EQUIVOCATION
    assert len(c.nodes[0].requests) == 1  # the second block is never even validated
    ha, hb = (header_hash(x.header, SIM_SUITE) for x in (a, b))
    p1 = Prepare(CFG.chain_id, CFG.group_id, 1, 0, b"", ha).signed_by(c.keys[2])
    p2 = Prepare(CFG.chain_id, CFG.group_id, 1, 0, b"", hb).signed_by(c.keys[2])
    assert c.deliver(0, p1).verdict is Verdict.ACCEPTED
    assert c.deliver(0, p1).verdict is Verdict.DUPLICATE
    assert c.deliver(0, p2).verdict is Verdict.REJECTED_EQUIVOCATION
    k1 = Commit(CFG.chain_id, CFG.group_id, 1, 0, b"", ha).signed_by(c.keys[3])
    k2 = Commit(CFG.chain_id, CFG.group_id, 1, 0, b"", hb).signed_by(c.keys[3])
    assert c.deliver(0, k1).verdict is Verdict.ACCEPTED
    assert c.deliver(0, k2).verdict is Verdict.REJECTED_EQUIVOCATION
    status = c.nodes[0].core.status()
    assert status.counters.equivocations == 3
    evidence = status.recent_equivocations
    assert [e.sender for e in evidence] == [c.sealers[leader], c.sealers[2], c.sealers[3]]
    assert {evidence[0].first.block_hash, evidence[0].second.block_hash} == {ha, hb}  # type: ignore[union-attr]


def test_messages_from_non_sealers_are_rejected_and_counted() -> None:
    """Consortium rule: only the sealer set votes; anyone else's consensus message is refused."""
    c = Cluster(4, auto_app=False)
    outsider = sim_key("outsider", 0)
    block = c.other_block(1, 1, 0)
    bh = header_hash(block.header, SIM_SUITE)
    for msg in (Prepare(CFG.chain_id, CFG.group_id, 1, 0, b"", bh).signed_by(outsider),
                Commit(CFG.chain_id, CFG.group_id, 1, 0, b"", bh).signed_by(outsider),
                ViewChange(CFG.chain_id, CFG.group_id, 1, 1, b"", None).signed_by(outsider)):
        assert c.deliver(0, msg).verdict is Verdict.REJECTED_NON_SEALER
    assert c.nodes[0].core.status().counters.rejected_non_sealer == 3


def test_a_signature_by_another_key_than_the_named_sender_is_rejected() -> None:
    """[CL99 4.2] every message is authenticated by its sender; a sealer cannot speak for another."""
    c = Cluster(4, auto_app=False)
    bh = header_hash(c.other_block(1, 1, 0).header, SIM_SUITE)
    forged = Prepare(CFG.chain_id, CFG.group_id, 1, 0, c.sealers[3], bh)
    forged = replace(forged, signature=c.keys[2].sign(forged.digest(SIM_SUITE)))
    assert c.deliver(0, forged).verdict is Verdict.REJECTED_INVALID
    bad_seal = replace(Commit(CFG.chain_id, CFG.group_id, 1, 0, b"", bh).signed_by(c.keys[3]), seal=b"\0" * 64)
    bad_seal = replace(bad_seal, signature=c.keys[3].sign(bad_seal.digest(SIM_SUITE)))
    assert c.deliver(0, bad_seal).verdict is Verdict.REJECTED_INVALID  # message signed, seal forged


def test_persisted_vote_state_prevents_double_signing_after_restart() -> None:
    """CometBFT privval: after a crash, a sealer never signs a different vote for the same height/view/phase."""
    c = Cluster(4, auto_app=False)
    leader = c.leader(1, 0)
    a, b = c.other_block(leader, 1, 0, salt=1), c.other_block(leader, 1, 0, salt=2)
    c.deliver(0, c.pre_prepare(leader, a))
    c.answer(0, c.nodes[0].requests[0])
    (first,) = c.sent_of(0, Prepare)
    node = c.restart(0)
    assert node.core.status().counters.double_signs_refused == 0
    # the equivocating leader now shows the restarted node another block; it validates fine...
    assert c.deliver(0, c.pre_prepare(leader, b)).verdict is Verdict.ACCEPTED
    c.answer(0, node.requests[-1])
    # ...but the node refuses to sign a second PREPARE for (height 1, view 0)
    assert c.sent_of(0, Prepare) == []
    assert node.core.status().counters.double_signs_refused == 1
    # the same proposal again yields the very same signature (Ed25519 is deterministic)
    node = c.restart(0)
    c.deliver(0, c.pre_prepare(leader, a))
    c.answer(0, node.requests[-1])
    (again,) = c.sent_of(0, Prepare)
    assert again.encode() == first.encode()


def test_views_never_go_backwards_not_even_across_a_restart() -> None:
    """[CL99 4.4] a replica never returns to a lower view; the view is part of the persisted state."""
    c = Cluster(4)
    c.queue.clear()
    c.tick(BASE + 2 * BASE, only=[0])
    assert c.nodes[0].core.view == 2
    node = c.restart(0)
    assert node.core.view == 2 and not node.core.status().view_active
    vc = ViewChange(CFG.chain_id, CFG.group_id, 1, 1, b"", None).signed_by(c.keys[1])
    assert c.deliver(0, vc).verdict is Verdict.STALE
    assert node.core.view == 2


def test_f_plus_one_view_changes_for_higher_views_make_a_replica_join() -> None:
    """[CL99 4.5.2] f+1 VIEW-CHANGEs for views above its own make a replica move without waiting for its timer."""
    c = Cluster(4)
    c.queue.clear()
    vc3 = [ViewChange(CFG.chain_id, CFG.group_id, 1, 3, b"", None).signed_by(c.keys[i]) for i in (1, 2)]
    assert c.deliver(0, vc3[0]).verdict is Verdict.ACCEPTED
    assert c.nodes[0].core.view == 0  # f = 1 such message could be a lie
    c.deliver(0, vc3[1])
    assert c.nodes[0].core.view == 3
    assert c.sent_of(0, ViewChange)[-1].view == 3


def test_a_commit_quorum_from_an_older_view_still_decides() -> None:
    """[CL99 4.4] a request committed in view v stays committed: late commits of v are still counted."""
    c = Cluster(4)
    held: list[Commit] = []

    def drop(src: int, dst: int, m: object) -> bool:
        if isinstance(m, Commit) and dst == 0:
            held.append(m)
            return True
        return False

    c.run(drop=drop)
    c.tick(BASE, only=[0])
    assert c.nodes[0].core.view == 1 and c.nodes[0].ledger.height == 0
    for m in held:
        c.deliver(0, m)
    assert c.nodes[0].ledger.height == 1


def test_a_restarted_replica_in_view_change_gets_the_new_view_again() -> None:
    """Liveness aid: a replica that restarts while changing view re-sends its VIEW-CHANGE; the leader that
    already opened that view answers with its NEW-VIEW."""
    c = Cluster(4)
    silent = c.leader(1, 0)  # stays silent throughout: the other three are needed for a quorum
    c.run(drop=lambda src, dst, m: src == silent)
    c.tick(BASE)
    c.run(drop=lambda src, dst, m: src == silent or (isinstance(m, NewView) and dst == 3))
    assert c.nodes[3].core.view == 1 and not c.nodes[3].core.status().view_active
    assert c.heights() == [0, 0, 0, 0]
    node = c.restart(3)
    c.run(drop=lambda src, dst, m: src == silent)
    assert node.core.view == 1 and node.core.status().view_active
    assert node.core.status().counters.new_views_installed == 1
    # the prepares sent to its previous incarnation are gone (nothing is retransmitted within a view),
    # so this view may not decide; the next one does, with the restarted node taking part
    c.tick(2 * BASE)
    c.run(drop=lambda src, dst, m: src == silent, height=1)
    assert [c.heights()[i] for i in (0, 2, 3)] == [1, 1, 1]


def test_observer_never_votes_but_follows_commits() -> None:
    """Observers (admitted non-sealers) receive proposals and commits, commit the same blocks, sign nothing."""
    c = Cluster(4, observers=1)
    for _ in range(3):
        c.run()
    c.tick(BASE * 4)  # timeouts do not make an observer speak either
    c.run()
    observer = c.nodes[4]
    assert observer.sent == [] and observer.disk is None
    assert observer.ledger.height == c.nodes[0].ledger.height >= 3
    assert [b.hash for b in observer.ledger.blocks] == [b.hash for b in c.nodes[0].ledger.blocks]
    assert not observer.core.status().is_sealer


def test_block_sync_moves_the_core_to_the_next_height_and_checks_the_certificate() -> None:
    """Block sync hook: a block with a valid certificate obtained from peers advances the core."""
    c = Cluster(4)
    c.run(drop=lambda src, dst, m: dst == 3)
    c.run(drop=lambda src, dst, m: dst == 3)
    assert c.heights() == [2, 2, 2, 0]
    lagging = c.nodes[3]
    block1 = c.nodes[0].ledger.blocks[1]
    short = replace(block1.header, signatures=block1.header.signatures[:2])
    with pytest.raises(TooFewSeals):
        lagging.core.step_local(BlockCommitted(short))
    assert lagging.core.height == 1
    lagging.ledger.append(block1)
    lagging.core.step_local(BlockCommitted(block1.header))
    assert lagging.core.height == 2 and lagging.core.view == 0
    block2 = c.nodes[0].ledger.blocks[2]
    lagging.ledger.append(block2)
    lagging.core.step_local(BlockCommitted(block2.header))
    c.flush_all()
    c.run()
    assert c.heights() == [3, 3, 3, 3]


def test_a_synced_block_contradicting_a_decided_one_is_a_fatal_error() -> None:
    """If the ledger reports another block at a height this core decided, more than f sealers lied: stop."""
    a = Cluster(4)
    a.run()
    b = Cluster(4)
    leader = b.leader(1, 0)
    b.queue.clear()
    alt = b.other_block(leader, 1, 0, salt=77)
    for i in range(4):
        if i != leader:
            b.deliver(i, b.pre_prepare(leader, alt))
    b.run()
    forked = b.nodes[0].ledger.blocks[1].header
    decided = a.nodes[0].ledger.blocks[1].header
    assert header_hash(forked, SIM_SUITE) != header_hash(decided, SIM_SUITE)
    probe = PbftCore(CFG, a.keys[0], sealers=a.sealers, height=1, parent_hash=a.genesis.hash)
    for node in a.nodes[1:]:
        for m in node.sent:
            if m.height == 1 and isinstance(m, (PrePrepare, Commit)):
                probe.step(m)
    assert probe.status().decided == header_hash(decided, SIM_SUITE)
    with pytest.raises(ConflictingCommit):
        probe.step_local(BlockCommitted(forked))


def test_future_height_messages_are_buffered_and_replayed() -> None:
    """A replica that is one block behind keeps the next height's messages and uses them on arrival."""
    c = Cluster(4)
    late: list[object] = []

    def hold(src: int, dst: int, m: object) -> bool:
        if dst == 3 and getattr(m, "height", 0) == 1 and isinstance(m, Commit):
            late.append(m)
            return True
        return False

    c.run(drop=hold)
    assert c.heights() == [1, 1, 1, 0]
    # height-2 messages reach node 3 while it is still at height 1
    c.run()
    assert any(r.verdict is Verdict.BUFFERED for _, r in c.nodes[3].results)
    for m in late:
        c.deliver(3, m)  # type: ignore[arg-type]
    c.run(height=2)
    assert c.heights() == [2, 2, 2, 2]


def test_ready_must_be_advanced_before_the_next_ready() -> None:
    """Ready/advance contract (etcd RawNode): one Ready at a time."""
    c = Cluster(4)
    core = c.nodes[1].core
    c.tick(BASE, only=[1])
    core.ready()
    with pytest.raises(DriverContractError):
        core.ready()
    core.advance()
    with pytest.raises(DriverContractError):
        core.advance()


def test_base_timeout_can_change_between_views() -> None:
    """Governance may change the view timeout; it is local liveness policy, never safety."""
    from tests.consensus.harness import Cluster as _Cluster

    c = _Cluster(4)
    core = c.nodes[0].core
    before = core.status().timeout_ticks
    core.set_view_timeout(before * 2, max_ticks=before * 16)
    assert core.status().timeout_ticks == before * 2


def test_unsigned_future_messages_cannot_use_up_a_sealers_buffer_slots() -> None:
    """Design §10.7: the next-height buffer holds 16 messages per sealer, charged only after the
    signature checks out, so a peer forging messages "from" the next leader cannot crowd out its
    real PRE-PREPARE."""
    c = Cluster(4)
    late: list[Message] = []

    def hold(src: int, dst: int, m: Message) -> bool:
        if dst == 3 and m.height == 1 and isinstance(m, Commit):
            late.append(m)
            return True
        return False

    c.run(drop=hold)
    assert c.heights() == [1, 1, 1, 0]
    leader = c.leader(2, 0)
    victim = c.keys[leader].public_key
    for n in range(CFG.future_per_sender + 4):
        forged = Prepare(CHAIN_ID, GROUP_ID, 2, 0, victim, bytes([n]) * 32, signature=bytes(64))
        assert c.deliver(3, forged).verdict is Verdict.REJECTED_INVALID
    pp = c.pre_prepare(leader, c.other_block(leader, 2, 0))
    assert c.deliver(3, pp).verdict is Verdict.BUFFERED
    for m in late:
        c.deliver(3, m)
    assert c.nodes[3].ledger.height == 1
    assert [p.block_hash for p in c.sent_of(3, Prepare) if p.height == 2] == [pp.block_hash]
