"""RFC 6962 list Merkle tree: the root, proofs for every position, and tampering."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.ledger.merkle import InvalidListProof, ListProof, merkle_root, prove, verify_inclusion


def reference_root(items: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written recursively, as a naive reference."""
    h = lambda b: hashlib.sha256(b).digest()  # noqa: E731
    if not items:
        return h(b"")
    if len(items) == 1:
        return h(b"\x00" + items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return h(b"\x01" + reference_root(items[:k]) + reference_root(items[k:]))


@given(st.lists(st.binary(max_size=8), max_size=40))
def test_root_matches_reference(items) -> None:
    assert merkle_root(items) == reference_root(items)
    # The default suite's hash takes a direct hashlib path; any other hasher the general one.
    assert merkle_root(items, lambda b: hashlib.sha256(b).digest()) == reference_root(items)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40, unique=True), st.data())
def test_every_proof_verifies_and_tampering_fails(items, data) -> None:
    root = merkle_root(items)
    i = data.draw(st.integers(0, len(items) - 1))
    proof = prove(items, i)
    verify_inclusion(root, items[i], proof)
    assert ListProof.from_value(proof.to_value()) == proof
    with pytest.raises(InvalidListProof):
        verify_inclusion(root, items[i] + b"!", proof)
    with pytest.raises(InvalidListProof):
        verify_inclusion(bytes(32), items[i], proof)
    if len(items) > 1:
        j = data.draw(st.integers(0, len(items) - 1).filter(lambda j: j != i))
        with pytest.raises(InvalidListProof):
            verify_inclusion(root, items[i], ListProof(j, proof.size, proof.path))
    if proof.path:
        k = data.draw(st.integers(0, len(proof.path) - 1))
        bad = list(proof.path)
        bad[k] = bytes(32)
        with pytest.raises(InvalidListProof):
            verify_inclusion(root, items[i], ListProof(i, proof.size, tuple(bad)))
        with pytest.raises(InvalidListProof):
            verify_inclusion(root, items[i], ListProof(i, proof.size, proof.path[:-1]))
    with pytest.raises(InvalidListProof):
        verify_inclusion(root, items[i], ListProof(i, proof.size + 1, proof.path + (bytes(32),)))


@given(st.from_type(object))
def test_from_value_raises_only_typed_error(value) -> None:
    try:
        ListProof.from_value(value)
    except InvalidListProof:
        pass
