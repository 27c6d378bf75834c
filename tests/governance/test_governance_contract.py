"""The governance system contract: proposals, votes, thresholds, expiry, and refusals that prevent lock-out."""

from __future__ import annotations

import pytest

from consortium.encoding import canonical
from consortium.execution.errors import BadTransaction, PermissionDenied, Revert
from consortium.execution.governance import (
    KEY_SEALERS,
    GovernanceContract,
    GovernanceGenesis,
    GovernanceState,
    genesis_writes,
)

A, B, C, OUTSIDER = (bytes([i]) * 20 for i in (1, 2, 3, 9))
S1, S2, S3, S4, NEW = (bytes([i]) * 32 for i in (11, 12, 13, 14, 15))
ARB_KEY = b"cs/evidence-arbitrators"


class DictState:
    def __init__(self, data: dict) -> None:
        self.data = {k: v for k, v in data.items() if v is not None}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value


def fresh(committee=((A, 1), (B, 1), (C, 1)), threshold=2) -> DictState:
    state = DictState(genesis_writes(GovernanceGenesis(committee, threshold, (S1, S2, S3, S4), (A,))))
    state.put(ARB_KEY, canonical.encode([]))
    return state


def contract(state: DictState, sender: bytes, number: int = 10, events: list | None = None) -> GovernanceContract:
    sink = events if events is not None else []
    return GovernanceContract(state, sender, number, lambda name, fields: sink.append((name, fields)), ARB_KEY)


def test_add_sealer_executes_when_threshold_reached() -> None:
    state = fresh()
    events: list = []
    pid = contract(state, A, events=events).propose("add_sealer", [NEW], 100)
    assert GovernanceState(state.get).sealers() == (S1, S2, S3, S4)  # 1 of 3, threshold 2
    assert contract(state, B, events=events).vote(pid, True) == "executed"
    assert GovernanceState(state.get).sealers() == (S1, S2, S3, S4, NEW)
    assert [e[0] for e in events] == ["Proposed", "Voted", "Voted", "Executed"]
    with pytest.raises(Revert, match="executed"):
        contract(state, C).vote(pid, True)


def test_rejection_expiry_and_double_votes() -> None:
    state = fresh()
    pid = contract(state, A).propose("remove_node", [S4], 20)
    with pytest.raises(Revert, match="already voted"):
        contract(state, A).vote(pid, True)
    assert contract(state, B).vote(pid, False) == "open"
    assert contract(state, C).vote(pid, False) == "rejected"
    assert S4 in GovernanceState(state.get).sealers()
    late = contract(state, A).propose("remove_node", [S4], 20)
    with pytest.raises(Revert, match="expired at block 20"):
        contract(state, B, number=21).vote(late, True)


def test_only_members_propose_and_vote() -> None:
    state = fresh()
    with pytest.raises(PermissionDenied, match="not a committee member"):
        contract(state, OUTSIDER).propose("add_sealer", [NEW], 100)
    pid = contract(state, A).propose("add_sealer", [NEW], 100)
    with pytest.raises(PermissionDenied):
        contract(state, OUTSIDER).vote(pid, True)


@pytest.mark.parametrize(
    "kind, params, match",
    [
        ("remove_node", [S1], None),
        ("add_sealer", [S1], "already a sealer"),
        ("add_sealer", [b"short"], "32-byte node id"),
        ("set_config", ["tx_count_limit", 0], r"\[1, 10000\]"),
        ("set_config", ["nonsense", 1], "unknown config key"),
        ("remove_member", [OUTSIDER], "not a committee member"),
        ("set_threshold", [4], "exceed the committee's total weight 3"),
        ("launch_missiles", [], "unknown proposal kind"),
    ],
)
def test_bad_proposals_are_refused_at_propose_time(kind, params, match) -> None:
    state = fresh()
    if match is None:
        contract(state, A).propose(kind, params, 100)  # a valid one, for contrast
        return
    with pytest.raises((BadTransaction, Revert), match=match):
        contract(state, A).propose(kind, params, 100)


def test_cannot_remove_last_sealer_or_last_member() -> None:
    state = DictState(genesis_writes(GovernanceGenesis(((A, 1),), 1, (S1,), (A,))))
    with pytest.raises(Revert, match="no sealer"):
        contract(state, A).propose("remove_node", [S1], 100)
    with pytest.raises(Revert, match="no sealer"):
        contract(state, A).propose("add_observer", [S1], 100)
    with pytest.raises(Revert, match="last committee member"):
        contract(state, A).propose("remove_member", [A], 100)


def test_single_member_committee_executes_immediately_and_every_kind_applies() -> None:
    state = DictState(genesis_writes(GovernanceGenesis(((A, 1),), 1, (S1, S2), (A,))))
    state.put(ARB_KEY, canonical.encode([]))
    gov = contract(state, A)
    for kind, params in [
        ("add_observer", [NEW]), ("set_config", ["tx_count_limit", 50]), ("revoke_node_cert", [(12345).to_bytes(2, "big")]),
        ("grant_deploy", [B]), ("revoke_deploy", [A]), ("grant_send", [C]), ("register_arbitrator", [C]),
        ("add_member", [B, 2]), ("set_threshold", [2]),
    ]:
        gov.propose(kind, params, 100)
    r = GovernanceState(state.get)
    assert r.observers() == (NEW,) and r.config()["tx_count_limit"] == 50 and r.revoked() == (12345,)
    assert r.deployers() == (B,) and r.senders() == (C,) and canonical.decode(state.get(ARB_KEY)) == [C]
    assert dict(r.committee()) == {A: 1, B: 2} and r.threshold() == 2
    assert r.may_deploy(B) and not r.may_deploy(A)


def test_a_proposal_that_became_invalid_cannot_execute() -> None:
    state = fresh()
    p1 = contract(state, A).propose("remove_node", [S4], 100)
    p2 = contract(state, A).propose("remove_node", [S4], 100)
    contract(state, B).vote(p1, True)
    with pytest.raises(Revert, match="neither a sealer"):
        contract(state, B).vote(p2, True)
    assert canonical.decode(state.get(KEY_SEALERS)) == [S1, S2, S3]


def test_genesis_refuses_locked_configurations() -> None:
    with pytest.raises(ValueError, match="at least one sealer"):
        genesis_writes(GovernanceGenesis(((A, 1),), 1, (), ()))
    with pytest.raises(ValueError, match="threshold"):
        genesis_writes(GovernanceGenesis(((A, 1),), 2, (S1,), ()))
