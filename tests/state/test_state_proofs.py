"""Proofs: every tampered proof, key, value or root fails; decoders of untrusted bytes fail cleanly."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.state.state_reference import DEEP_PAIR, DEEP_TRIPLE, KEY_POOL, sha

from consortium.encoding import canonical
from consortium.state import (
    EMPTY_ROOT,
    InvalidStateProof,
    MalformedStateProof,
    StateProof,
    StateTree,
    verify_proof,
)
from consortium.storage.kv import MemoryStore, WriteBatch

states = st.dictionaries(st.sampled_from(KEY_POOL), st.binary(max_size=5), max_size=20)


def build(state: dict[bytes, bytes]) -> tuple[StateTree, bytes]:
    kv = MemoryStore()
    tree = StateTree(kv)
    batch = WriteBatch()
    root = tree.apply(0, state, batch)
    kv.write(batch)
    return tree, root


def fails(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    try:
        verify_proof(root, key, value, proof)
    except InvalidStateProof:
        return True
    return False


@settings(max_examples=60, deadline=None)
@given(states)
def test_verify_accepts_exactly_the_true_claims(state) -> None:
    """Soundness: a proof for one key, checked against any (key, value) claim, passes only if it is true."""
    tree, root = build(state)
    candidates = [None, b"", b"x"] + sorted(set(state.values()))
    proofs = {key: tree.get_with_proof(key, 0)[1] for key in KEY_POOL}
    for proven_key, proof in proofs.items():
        for key in KEY_POOL:
            for value in candidates:
                ok = not fails(root, key, value, proof)
                if ok:
                    assert state.get(key) == value, (proven_key, key, value)
        # ... and the true claim about its own key always passes.
        assert not fails(root, proven_key, state.get(proven_key), proof)


def _mutations(proof: StateProof):
    """Every structurally small change to a proof."""
    for d, (bitmap, hashes) in enumerate(proof.siblings):
        for at in range(0, len(hashes), 32):
            flipped = bytearray(hashes)
            flipped[at] ^= 0x01
            yield dataclasses.replace(proof, siblings=_replace_level(proof, d, (bitmap, bytes(flipped))))
        for bit in range(16):
            if not bitmap >> bit & 1:
                # Claim one more non-empty sibling (with some hash), in nibble order.
                idx = (bitmap & ((1 << bit) - 1)).bit_count()
                more = hashes[:32 * idx] + b"\x11" * 32 + hashes[32 * idx:]
                yield dataclasses.replace(proof, siblings=_replace_level(proof, d, (bitmap | 1 << bit, more)))
            else:
                idx = (bitmap & ((1 << bit) - 1)).bit_count()
                fewer = hashes[:32 * idx] + hashes[32 * idx + 32:]
                yield dataclasses.replace(proof, siblings=_replace_level(proof, d, (bitmap & ~(1 << bit), fewer)))
        yield dataclasses.replace(proof, siblings=proof.siblings[:d] + proof.siblings[d + 1:])
    yield dataclasses.replace(proof, siblings=proof.siblings + ((0, b""),))
    yield dataclasses.replace(proof, siblings=((0, b""),) + proof.siblings)
    if proof.siblings:
        yield dataclasses.replace(proof, siblings=proof.siblings[:-1])
    if proof.leaf is None:
        yield dataclasses.replace(proof, leaf=(b"\x01" * 32, b"\x02" * 32))
    else:
        kh, vh = proof.leaf
        yield dataclasses.replace(proof, leaf=None)
        yield dataclasses.replace(proof, leaf=(kh, bytes([vh[0] ^ 1]) + vh[1:]))
        yield dataclasses.replace(proof, leaf=(bytes([kh[0]]) + bytes([kh[1] ^ 1]) + kh[2:], vh))


def _replace_level(proof: StateProof, d: int, level: tuple[int, bytes]) -> tuple[tuple[int, bytes], ...]:
    return proof.siblings[:d] + (level,) + proof.siblings[d + 1:]


@settings(max_examples=40, deadline=None)
@given(states, st.sampled_from(KEY_POOL))
def test_every_tampered_proof_root_or_value_fails(state, key) -> None:
    tree, root = build(state)
    value, proof = tree.get_with_proof(key, 0)
    verify_proof(root, key, value, proof)
    n = 0
    for bad in _mutations(proof):
        if bad != proof:
            assert fails(root, key, value, bad), bad
            n += 1
    assert n > 0
    for i in range(32):
        wrong_root = bytearray(root)
        wrong_root[i] ^= 0x80
        assert fails(bytes(wrong_root), key, value, proof)
    assert fails(root, key, b"other" if value is None else None, proof)
    if value is not None:
        assert fails(root, key, value + b"\x00", proof)
        assert fails(root, key + b"\x00", value, proof)


@settings(max_examples=40, deadline=None)
@given(states, st.sampled_from(KEY_POOL), st.data())
def test_tampered_proof_bytes_fail(state, key, data) -> None:
    tree, root = build(state)
    value, proof = tree.get_with_proof(key, 0)
    encoded = proof.encode()
    at = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    corrupted = bytearray(encoded)
    corrupted[at] ^= 1 << bit
    with pytest.raises(InvalidStateProof):
        verify_proof(root, key, value, StateProof.decode(bytes(corrupted)))


def test_deep_paths_prove_both_ways() -> None:
    a, b = DEEP_PAIR
    state = {a: b"A", b: b"B", DEEP_TRIPLE[0]: b"T"}
    tree, root = build(state)
    value, proof = tree.get_with_proof(a, 0)
    assert value == b"A"
    assert len(proof.siblings) == 5  # shares four nibbles with b: leaves sit at depth 5
    verify_proof(root, a, b"A", proof)
    for other in DEEP_TRIPLE[1:]:
        # Its path (c0c...) ends at the leaf of DEEP_TRIPLE[0], the only key under nibble c.
        value, proof = tree.get_with_proof(other, 0)
        assert value is None and len(proof.siblings) == 1 and proof.leaf[0] == sha(DEEP_TRIPLE[0])
        verify_proof(root, other, None, proof)


def test_empty_tree_proofs() -> None:
    tree = StateTree(MemoryStore())
    value, proof = tree.get_with_proof(b"k", -1)
    assert value is None and proof == StateProof((), None)
    verify_proof(EMPTY_ROOT, b"k", None, proof)
    with pytest.raises(InvalidStateProof):
        verify_proof(EMPTY_ROOT, b"k", b"v", proof)
    tree, root = build({})
    assert root == EMPTY_ROOT
    verify_proof(root, b"k", None, tree.get_with_proof(b"k", 0)[1])


def test_single_leaf_tree_proves_absence_with_its_leaf() -> None:
    tree, root = build({b"only": b"1"})
    value, proof = tree.get_with_proof(b"other", 0)
    assert value is None and proof.siblings == () and proof.leaf is not None
    verify_proof(root, b"other", None, proof)
    verify_proof(root, b"only", b"1", tree.get_with_proof(b"only", 0)[1])


def test_verify_rejects_wrong_argument_types() -> None:
    proof = StateProof((), None)
    for args in [(b"short", b"k", None, proof), (EMPTY_ROOT, "k", None, proof), (EMPTY_ROOT, b"k", 5, proof),
                 (EMPTY_ROOT, b"k", None, "proof"), (EMPTY_ROOT, b"k", None, StateProof(((3, b""),), None)),
                 (EMPTY_ROOT, b"k", None, StateProof(((0, b""),) * 65, None)),
                 (EMPTY_ROOT, b"k", None, StateProof((("0", b""),), None)),
                 (EMPTY_ROOT, b"k", None, StateProof(((True, b"x" * 32),), None)),
                 (EMPTY_ROOT, b"k", None, StateProof(((1, "x" * 32),), None)),
                 (EMPTY_ROOT, b"k", None, StateProof(((1,),), None)),
                 (EMPTY_ROOT, b"k", None, StateProof([(0, b"")], None)),
                 (EMPTY_ROOT, b"k", None, StateProof((), (b"x" * 32,))),
                 (EMPTY_ROOT, b"k", None, StateProof((), ("x" * 32, b"y" * 32))),
                 (EMPTY_ROOT, b"k", None, StateProof((), b"x" * 64))]:
        with pytest.raises(InvalidStateProof):
            verify_proof(*args)


# --- decoding untrusted bytes ---------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decode_arbitrary_bytes_raises_only_malformed(data) -> None:
    try:
        proof = StateProof.decode(data)
    except MalformedStateProof:
        return
    assert StateProof.decode(proof.encode()) == proof


canonical_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(max_size=4)
    | st.binary(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
proof_shaped = st.builds(
    lambda levels, leaf, tag: [tag, levels, leaf],
    st.lists(st.lists(canonical_values, max_size=3) | canonical_values, max_size=3),
    st.none() | st.lists(st.binary(min_size=31, max_size=33), max_size=3) | canonical_values,
    st.sampled_from([35, 34, True, "35"]),
)


@settings(max_examples=300, deadline=None)
@given(canonical_values | proof_shaped)
def test_decode_arbitrary_canonical_values_raises_only_malformed(value) -> None:
    try:
        data = canonical.encode(value)
    except canonical.EncodingError:
        return
    try:
        proof = StateProof.decode(data)
    except MalformedStateProof:
        return
    assert proof.encode() == data


@settings(max_examples=200, deadline=None)
@given(states, st.sampled_from(KEY_POOL), st.binary(min_size=1, max_size=8), st.data())
def test_decode_spliced_valid_proofs_raises_only_malformed(state, key, junk, data) -> None:
    tree, _ = build(state)
    encoded = tree.get_with_proof(key, 0)[1].encode()
    at = data.draw(st.integers(min_value=0, max_value=len(encoded)))
    cut = data.draw(st.integers(min_value=at, max_value=len(encoded)))
    for candidate in (encoded[:at], encoded[:at] + junk + encoded[cut:], encoded + junk):
        try:
            StateProof.decode(candidate)
        except MalformedStateProof:
            pass


def test_decode_refuses_oversized_input_cheaply() -> None:
    with pytest.raises(MalformedStateProof):
        StateProof.decode(b"\x93" + b"\x00" * 10_000_000)


def test_malformed_is_a_value_error() -> None:
    assert issubclass(MalformedStateProof, InvalidStateProof)
    assert issubclass(InvalidStateProof, ValueError)


def test_a_leaf_off_the_key_path_is_rejected_before_hashing() -> None:
    """Cheap checks come first: a leaf that cannot be on the key's path fails without hashing the path."""
    tree, root = build({k: b"v" for k in KEY_POOL[:12]})
    value, proof = tree.get_with_proof(KEY_POOL[0], 0)
    assert proof.siblings
    kh, vh = proof.leaf
    moved = dataclasses.replace(proof, leaf=(bytes([kh[0] ^ 0xF0]) + kh[1:], vh))
    with pytest.raises(InvalidStateProof, match="not on the key's path"):
        verify_proof(root, KEY_POOL[0], value, moved)
