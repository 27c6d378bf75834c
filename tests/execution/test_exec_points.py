"""contracts/points.py: a points ledger with transfers (shows the runtime is general)."""

from __future__ import annotations

import pytest
from tests.execution.chainkit import ALICE, BOB, CAROL, MALLORY, Chain

from consortium.execution import contract_source
from consortium.ledger import ReceiptStatus

S = ReceiptStatus


@pytest.fixture
def points(chain: Chain) -> bytes:
    return chain.deployed(ALICE, contract_source("points"), "Arbitration Credits", "ARB", 1_000_000, name="points")


def balances(chain: Chain, address: bytes) -> list[int]:
    return [chain.view(address, "balance_of", k.address) for k in (ALICE, BOB, CAROL)]


def test_constructor_and_info(chain: Chain, points: bytes) -> None:
    assert chain.view(points, "info") == {"name": "Arbitration Credits", "symbol": "ARB", "issuer": ALICE.address,
                                          "cap": 1_000_000, "supply": 0}
    for args, error in ((("", "ARB", 1), "name must be"), (("n", "A-B", 1), "symbol must be"),
                        (("n", "ARB", 0), "cap must be a positive int"), (("n", "ARB", 2**63), "cap must be")):
        receipt = chain.deploy(ALICE, contract_source("points"), *args)
        assert receipt.status == S.REVERTED and error in receipt.error


def test_mint_is_issuer_only_and_capped(chain: Chain, points: bytes) -> None:
    minted = chain.send(ALICE, points, "mint", BOB.address, 600_000)
    assert minted.ok and [e.name for e in minted.events] == ["Minted"]
    assert chain.view(points, "total_supply") == 600_000
    over = chain.send(ALICE, points, "mint", BOB.address, 400_001)
    assert over.status == S.REVERTED and over.error == "minting 400001 would exceed the cap"
    denied = chain.send(BOB, points, "mint", BOB.address, 1)
    assert denied.status == S.PERMISSION_DENIED and denied.error == "only the issuer can mint"
    for amount in (0, -5, "1", 2**63):
        assert chain.send(ALICE, points, "mint", BOB.address, amount).status == S.REVERTED
    assert chain.send(ALICE, points, "mint", b"short", 1).status == S.REVERTED
    assert balances(chain, points) == [0, 600_000, 0]


def test_transfer(chain: Chain, points: bytes) -> None:
    chain.send(ALICE, points, "mint", BOB.address, 100)
    moved = chain.send(BOB, points, "transfer", CAROL.address, 30)
    assert moved.ok and moved.output == 70
    assert dict(moved.events[0].fields) == {"source": BOB.address, "to": CAROL.address, "amount": 30}
    assert balances(chain, points) == [0, 70, 30]
    short = chain.send(BOB, points, "transfer", CAROL.address, 71)
    assert short.status == S.REVERTED and short.error == "balance of 70 is less than 71"
    self_transfer = chain.send(BOB, points, "transfer", BOB.address, 1)
    assert self_transfer.status == S.REVERTED and "same account" in self_transfer.error
    everything = chain.send(CAROL, points, "transfer", ALICE.address, 30)
    assert everything.ok and everything.output == 0
    assert balances(chain, points) == [30, 70, 0]
    assert chain.view(points, "total_supply") == 100


def test_allowances(chain: Chain, points: bytes) -> None:
    chain.send(ALICE, points, "mint", BOB.address, 100)
    assert chain.send(BOB, points, "approve", CAROL.address, 40).ok
    assert chain.view(points, "allowance", BOB.address, CAROL.address) == 40
    too_much = chain.send(CAROL, points, "transfer_from", BOB.address, CAROL.address, 41)
    assert too_much.status == S.PERMISSION_DENIED and too_much.error == "allowance of 40 is less than 41"
    stranger = chain.send(MALLORY, points, "transfer_from", BOB.address, MALLORY.address, 1)
    assert stranger.status == S.PERMISSION_DENIED
    assert chain.send(CAROL, points, "transfer_from", BOB.address, ALICE.address, 25).ok
    assert chain.view(points, "allowance", BOB.address, CAROL.address) == 15
    assert balances(chain, points) == [25, 75, 0]
    assert chain.send(CAROL, points, "transfer_from", BOB.address, CAROL.address, 15).ok
    assert chain.view(points, "allowance", BOB.address, CAROL.address) == 0
    assert chain.send(BOB, points, "approve", CAROL.address, 5).ok
    assert chain.send(BOB, points, "approve", CAROL.address, 0).ok
    assert chain.view(points, "allowance", BOB.address, CAROL.address) == 0
    assert chain.send(BOB, points, "approve", CAROL.address, -1).status == S.REVERTED


def test_burn(chain: Chain, points: bytes) -> None:
    chain.send(ALICE, points, "mint", BOB.address, 10)
    burned = chain.send(BOB, points, "burn", 4)
    assert burned.ok and [e.name for e in burned.events] == ["Burned"]
    assert chain.view(points, "total_supply") == 6 and balances(chain, points)[1] == 6
    too_much = chain.send(BOB, points, "burn", 7)
    assert too_much.status == S.REVERTED and too_much.error == "balance of 6 is less than 7"
    assert chain.send(ALICE, points, "mint", CAROL.address, 999_994).ok, "burning frees room under the cap"
