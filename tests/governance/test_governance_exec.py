"""Governance and permissions through the real executor: transactions, receipts, events, deploy refusal."""

from __future__ import annotations

from consortium.crypto import KeyPair
from consortium.execution import BlockContext, DictReader, Executor, genesis_writes
from consortium.execution.governance import (
    GOVERNANCE_ADDRESS,
    GovernanceGenesis,
    GovernanceState,
)
from consortium.execution.governance import genesis_writes as gov_genesis
from consortium.execution.keys import name_address
from consortium.ledger import ReceiptStatus, Transaction

ADMIN, MEMBER2, USER = (KeyPair(bytes([i]) * 32) for i in (1, 2, 3))
S = [bytes([10 + i]) * 32 for i in range(4)]
CTX = BlockContext(chain_id="c", group_id="g", number=5, timestamp=1)


def chain() -> DictReader:
    state = DictReader()
    state.apply(genesis_writes([ADMIN.address]))
    state.apply(gov_genesis(GovernanceGenesis(((ADMIN.address, 1), (MEMBER2.address, 1)), 2, tuple(S),
                                              (ADMIN.address,))))
    return state


def run(state: DictReader, key: KeyPair, to: bytes, method: str, args, nonce: int = 1):
    tx = Transaction("c", "g", nonce, 100, b"", to, method, tuple(args)).signed_by(key)
    result = Executor().execute_block(state, CTX, [tx])
    state.apply(result.writes)
    return result.receipts[0]


def test_propose_and_vote_by_name_and_address() -> None:
    state = chain()
    r = run(state, ADMIN, name_address("governance"), "propose", ["add_sealer", [b"\x99" * 32], 50])
    assert r.status == ReceiptStatus.OK and r.output == 1
    assert [e.name for e in r.events] == ["Proposed", "Voted"]
    r = run(state, MEMBER2, GOVERNANCE_ADDRESS, "vote", [1, True], nonce=2)
    assert r.status == ReceiptStatus.OK and r.output == "executed"
    assert GovernanceState(state.get).sealers()[-1] == b"\x99" * 32


def test_non_member_gets_permission_denied_and_nothing_changes() -> None:
    state = chain()
    r = run(state, USER, GOVERNANCE_ADDRESS, "propose", ["add_sealer", [b"\x99" * 32], 50])
    assert r.status == ReceiptStatus.PERMISSION_DENIED and "not a committee member" in r.error
    assert GovernanceState(state.get).sealers() == tuple(S)


def test_deploy_needs_permission_until_granted() -> None:
    state = chain()
    source = "class C:\n    def hello(self):\n        return 1\n"
    r = run(state, USER, b"", "", [source])
    assert r.status == ReceiptStatus.PERMISSION_DENIED and "may not deploy" in r.error
    assert run(state, ADMIN, b"", "", [source], nonce=7).status == ReceiptStatus.OK
    run(state, ADMIN, GOVERNANCE_ADDRESS, "propose", ["grant_deploy", [USER.address], 50], nonce=8)
    run(state, MEMBER2, GOVERNANCE_ADDRESS, "vote", [1, True], nonce=9)
    assert run(state, USER, b"", "", [source], nonce=10).status == ReceiptStatus.OK


def test_register_arbitrator_reaches_the_evidence_contract() -> None:
    state = chain()
    run(state, ADMIN, GOVERNANCE_ADDRESS, "propose", ["register_arbitrator", [USER.address], 50])
    run(state, MEMBER2, GOVERNANCE_ADDRESS, "vote", [1, True], nonce=2)
    result = Executor().call(state, CTX, name_address("evidence"), "is_arbitrator", [USER.address])
    assert result.ok and result.output is True


def test_reads_and_bad_calls() -> None:
    state = chain()
    ex = Executor()
    assert ex.call(state, CTX, GOVERNANCE_ADDRESS, "threshold", []).output == 2
    bad = ex.call(state, CTX, GOVERNANCE_ADDRESS, "explode", [])
    assert not bad.ok and "has no method 'explode'" in bad.error
