"""notarize_batch(root, count) as the verifier reads it: a boolean is no count (Python's True == 1 made
notarize_batch(root, true) pass for a batch of one; the page's verifier refused it — found by the cross-check,
tests/web/test_verifier_crosscheck.py)."""

from __future__ import annotations

import pytest

from consortium.crypto import DEFAULT_SUITE, KeyPair
from consortium.evidence import NotVerified
from consortium.evidence.calls import evidence_targets, parse_notarize_batch
from consortium.ledger.transaction import Transaction

ROOT = bytes(range(32))
CHAIN = ("chain0", "group0")


def batch_tx(count: object) -> Transaction:
    to = evidence_targets(DEFAULT_SUITE)[0]
    return Transaction(*CHAIN, 1, 100, b"", to, "notarize_batch", (ROOT, count)).signed_by(KeyPair(b"\x07" * 32))


def test_a_count_of_one_is_a_batch_of_one() -> None:
    assert parse_notarize_batch(batch_tx(1), ROOT, 1, chain=CHAIN, suite=DEFAULT_SUITE).metadata == {"batch_size": 1}


@pytest.mark.parametrize("count", [True, False, b"\x01", "1", 2])
def test_anything_else_is_not_that_batch(count: object) -> None:
    with pytest.raises(NotVerified) as info:
        parse_notarize_batch(batch_tx(count), ROOT, 1, chain=CHAIN, suite=DEFAULT_SUITE)
    assert info.value.code == "not-a-notarization"
