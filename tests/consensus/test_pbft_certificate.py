"""verify_commit_certificate: the check block sync and the offline evidence verifier rely on."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.consensus.harness import Cluster

from consortium.consensus import (
    BadSeal,
    DuplicateSealer,
    InvalidCommitCertificate,
    TooFewSeals,
    UnknownSealer,
    verify_commit_certificate,
)
from consortium.consensus.simulation.crypto import SIM_SUITE, sim_key
from consortium.consensus.verify import header_hash
from consortium.ledger.block import BlockHeader, CommitSignature, commit_seal_payload


@pytest.fixture(scope="module")
def committed() -> BlockHeader:
    c = Cluster(4)
    c.run()
    header = c.nodes[0].ledger.blocks[1].header
    assert len(header.signatures) == 3
    return header


def test_a_certificate_from_consensus_verifies(committed: BlockHeader) -> None:
    verify_commit_certificate(committed, SIM_SUITE)


def test_too_few_seals_fail(committed: BlockHeader) -> None:
    with pytest.raises(TooFewSeals):
        verify_commit_certificate(committed.with_signatures(committed.signatures[:2]), SIM_SUITE)
    with pytest.raises(TooFewSeals):
        verify_commit_certificate(committed.with_signatures([]), SIM_SUITE)


def test_one_sealer_counted_twice_fails(committed: BlockHeader) -> None:
    s = committed.signatures
    with pytest.raises(DuplicateSealer):
        verify_commit_certificate(replace(committed, signatures=(s[0], s[0], s[1])), SIM_SUITE)


def test_a_sealer_set_listing_one_node_twice_fails(committed: BlockHeader) -> None:
    sealers = committed.sealers
    doubled = replace(committed, sealers=(sealers[0], sealers[1], sealers[2], sealers[0]))
    with pytest.raises(DuplicateSealer):
        verify_commit_certificate(doubled, SIM_SUITE)


def test_a_seal_from_outside_the_sealer_set_fails(committed: BlockHeader) -> None:
    outsider = sim_key("outsider", 0)
    seal = outsider.sign(commit_seal_payload(header_hash(committed, SIM_SUITE), committed.commit_view))
    with pytest.raises(UnknownSealer):
        verify_commit_certificate(committed.with_signatures([*committed.signatures[:2], CommitSignature(7, seal)]),
                                  SIM_SUITE)
    # an outsider's valid seal placed at a sealer's index is simply a bad seal
    with pytest.raises(BadSeal):
        verify_commit_certificate(committed.with_signatures([*committed.signatures[:2], CommitSignature(3, seal)]),
                                  SIM_SUITE)


def test_a_seal_over_another_hash_fails(committed: BlockHeader) -> None:
    other = replace(committed, timestamp=committed.timestamp + 1)  # another block, same sealers
    key = sim_key("sealer", 3)
    wrong = key.sign(commit_seal_payload(header_hash(other, SIM_SUITE), committed.commit_view))
    with pytest.raises(BadSeal):
        verify_commit_certificate(committed.with_signatures([*committed.signatures[:2], CommitSignature(3, wrong)]),
                                  SIM_SUITE)
    # and the whole certificate does not carry over to a modified header
    with pytest.raises(BadSeal):
        verify_commit_certificate(replace(other, signatures=committed.signatures), SIM_SUITE)


def test_a_signature_over_the_bare_hash_is_not_a_commit_seal(committed: BlockHeader) -> None:
    """Seals are domain-separated (commit_seal_payload): signing the raw hash does not count."""
    key = sim_key("sealer", 3)
    raw = key.sign(header_hash(committed, SIM_SUITE))
    with pytest.raises(BadSeal):
        verify_commit_certificate(committed.with_signatures([*committed.signatures[:2], CommitSignature(3, raw)]),
                                  SIM_SUITE)


def test_an_extra_invalid_seal_spoils_an_otherwise_sufficient_certificate(committed: BlockHeader) -> None:
    (missing,) = set(range(4)) - {s.sealer_index for s in committed.signatures}
    with pytest.raises(BadSeal):
        verify_commit_certificate(
            committed.with_signatures([*committed.signatures, CommitSignature(missing, b"\0" * 64)]), SIM_SUITE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=300), st.binary(max_size=70)), max_size=6))
def test_arbitrary_signature_lists_only_raise_the_typed_error(committed: BlockHeader,
                                                              sigs: list[tuple[int, bytes]]) -> None:
    header = replace(committed, signatures=tuple(CommitSignature(i, s) for i, s in sigs))
    with pytest.raises(InvalidCommitCertificate):
        verify_commit_certificate(header, SIM_SUITE)


def test_seals_bind_the_commit_view(committed: BlockHeader) -> None:
    """Claiming another commit view invalidates every seal: seals of different views never combine."""
    verify_commit_certificate(committed, SIM_SUITE)
    with pytest.raises(BadSeal):
        verify_commit_certificate(committed.with_signatures(committed.signatures, committed.commit_view + 1), SIM_SUITE)
