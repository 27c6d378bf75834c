"""A real chain (LevelDB, the contract, governance, the node's RPC methods) that runs one arbitration case,
with a two-member committee (threshold 2) registering the arbitrator, for the case-proof tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.evidence.evidence_chain import ADMIN, ALICE, ARBITER, BOB, file_hash, make_genesis
from tests.evidence.rpc_node import InstantNode

from consortium.crypto import KeyPair
from consortium.evidence.commitment import Opening, new_salt
from consortium.execution.governance import GOVERNANCE_ADDRESS
from consortium.node.genesis import CommitteeMember, Genesis

MEMBER = KeyPair(b"\x58" * 32)
CASE_ID = "CASE-2026-0042"
CHAT = b"2026-11-02 bob: I will refund the 6 broken chairs within 7 days.\n"
PHOTO = b"\x89PNG... a photo of six broken chairs"
RULING = b"Case CASE-2026-0042: Bob refunds 6 chairs (EUR 270) to Alice within 14 days.\n"


def committee_genesis(threshold: int = 2, base: Genesis | None = None) -> Genesis:
    return dataclasses.replace(base or make_genesis(), committee=(CommitteeMember(ADMIN.address), CommitteeMember(MEMBER.address)),
                               committee_threshold=threshold)


@dataclass
class CaseChain:
    chain: InstantNode
    chat: Opening
    photo: Opening

    @property
    def genesis(self) -> Genesis:
        return self.chain.genesis


def gov(chain: InstantNode, key: KeyPair, method: str, args: list[Any]) -> Any:
    """Send one governance call in its own block; returns the call's output (a proposal id for propose)."""
    tx = chain.tx(key, method, args, to=GOVERNANCE_ADDRESS)
    chain.produce([tx])
    receipt, _ = chain.ledger.receipt(tx.hash)  # type: ignore[misc]
    assert receipt.ok, receipt.error
    return receipt.output


def run_case(path: Path, *, threshold: int = 2, rule: bool = True, executor: Any = None,
             before_rule: Callable[[InstantNode], None] | None = None, base: Genesis | None = None,
             before_register: Callable[[InstantNode], None] | None = None, proposer: KeyPair = ADMIN,
             voters: tuple[KeyPair, ...] | None = None, first_empty: bool = True) -> CaseChain:
    chain = InstantNode(path, committee_genesis(threshold, base), executor=executor)
    if first_empty:
        chain.produce([])  # block 1: nothing, so the registration below executes after a certified state
    if before_register is not None:
        before_register(chain)  # e.g. committee changes
    pid = gov(chain, proposer, "propose", ["register_arbitrator", [ARBITER.address], 1000])
    for voter in voters if voters is not None else ((MEMBER,) if threshold > 1 else ()):
        gov(chain, voter, "vote", [pid, True])
    chat = Opening(file_hash(CHAT), new_salt())
    photo = Opening.public(file_hash(PHOTO))
    for key, opening, signers in ((ALICE, chat, [BOB.address]), (BOB, photo, [])):
        _, receipt = chain.transact(key, "notarize", [opening.key, {"case_id": CASE_ID}, signers])
        assert receipt.ok, receipt.error
    _, receipt = chain.transact(BOB, "sign", [chat.key])
    assert receipt.ok, receipt.error
    for key, args in ((ALICE, [CASE_ID, [ALICE.address, BOB.address], ARBITER.address]),):
        _, receipt = chain.transact(key, "open_case", args)
        assert receipt.ok, receipt.error
    for key, opening in ((ALICE, chat), (BOB, photo)):
        _, receipt = chain.transact(key, "attach", [CASE_ID, opening.key])
        assert receipt.ok, receipt.error
    if before_rule is not None:
        before_rule(chain)
    if rule:
        _, receipt = chain.transact(ARBITER, "rule", [CASE_ID, file_hash(RULING), "Bob refunds 6 chairs"])
        assert receipt.ok, receipt.error
    return CaseChain(chain, chat, photo)
