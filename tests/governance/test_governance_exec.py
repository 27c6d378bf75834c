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
    state.apply(genesis_writes())
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


def test_block_gas_limit_cuts_the_proposal_and_replicas_check_it(tmp_path) -> None:
    """A proposer stops after the transaction that reaches the limit; a replica refuses a longer block."""
    import dataclasses

    import pytest

    from consortium.chain.admission import ChainIdentity
    from consortium.chain.ledger import BlockRejected, Ledger
    from consortium.execution.executor import within_block_gas
    from consortium.storage import LevelDBStore

    def open_ledger(path) -> Ledger:
        ledger = Ledger(LevelDBStore(path), Executor(), ChainIdentity("c", "g"))
        writes = dict(genesis_writes())
        writes.update(gov_genesis(GovernanceGenesis(((ADMIN.address, 1),), 1, tuple(S), (ADMIN.address,),
                                                    {"block_gas_limit": 1_000_000})))
        ledger.ensure_genesis(timestamp=1, sealers=tuple(S), writes=writes)
        return ledger

    source = "class Burn:\n    def burn(self, n):\n        total = 0\n        for i in range(n):\n            total = total + i\n        return total\n"
    proposer, replica = open_ledger(tmp_path / "a"), open_ledger(tmp_path / "b")
    deploy = Transaction("c", "g", 1, 100, b"", b"", "burner", (source,)).signed_by(ADMIN)
    for ledger in (proposer, replica):
        ledger.commit(ledger.execute([deploy], timestamp=2, proposer=b"", view=0, sealers=tuple(S)))
    burns = [Transaction("c", "g", 10 + i, 100, b"", name_address("burner"), "burn", (100_000,)).signed_by(ADMIN)
             for i in range(10)]
    executed = proposer.execute(burns, timestamp=3, proposer=b"", view=0, sealers=tuple(S))
    kept = len(executed.block.transactions)
    assert 0 < kept < len(burns) and within_block_gas(executed.receipts, 1_000_000)
    replica.verify_and_execute(executed.block)  # the honest prefix is accepted
    from consortium.ledger import tx_root

    greedy = dataclasses.replace(executed.block, transactions=tuple(burns))
    greedy = dataclasses.replace(greedy, header=dataclasses.replace(greedy.header, tx_root=tx_root(burns)))
    with pytest.raises(BlockRejected, match="block gas limit"):
        replica.verify_and_execute(greedy)
