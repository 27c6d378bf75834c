"""consensus.quorum against a deliberately naive reference (as etcd raft's quorum/quick_test.go)."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.consensus.quorum import (
    QuorumError,
    count_votes,
    has_quorum,
    has_weak_quorum,
    leader_index,
    max_faulty,
    quorum_size,
)


def naive_f(n: int) -> int:
    """Largest f such that n >= 3f + 1, found by counting up."""
    f = 0
    while n >= 3 * (f + 1) + 1:
        f += 1
    return f


def intersect_in_an_honest_sealer(n: int, q: int) -> bool:
    """Enumerate every pair of q-subsets of n sealers: do they always share more than f members?"""
    f = naive_f(n)
    subsets = [set(c) for c in combinations(range(n), q)]
    return all(len(a & b) > f for a in subsets for b in subsets)


@pytest.mark.parametrize("n", range(1, 11))
def test_quorum_is_safe_and_reachable_by_the_honest_sealers_alone(n: int) -> None:
    f, q = max_faulty(n), quorum_size(n)
    assert f == naive_f(n)
    assert intersect_in_an_honest_sealer(n, q)  # safety, by enumeration
    assert q == n - naive_f(n)  # liveness: the largest size the honest sealers can always reach


@given(st.integers(min_value=1, max_value=10_000))
def test_quorum_arithmetic_for_any_size(n: int) -> None:
    f, q = max_faulty(n), quorum_size(n)
    assert n >= 3 * f + 1 and n < 3 * (f + 1) + 1
    assert 2 * q - n >= f + 1  # two quorums share an honest sealer
    assert q <= n - f  # the honest ones suffice
    if n == 3 * f + 1:
        assert q == 2 * f + 1


@given(st.integers(min_value=1, max_value=40), st.lists(st.integers(min_value=-5, max_value=50), max_size=80))
def test_vote_counting_matches_a_set(n: int, voters: list[int]) -> None:
    distinct_valid = {v for v in voters if 0 <= v < n}
    assert count_votes(voters, n) == len(distinct_valid)
    assert has_quorum(voters, n) == (len(distinct_valid) >= n - naive_f(n))
    assert has_weak_quorum(voters, n) == (len(distinct_valid) >= naive_f(n) + 1)


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=2**40),
       st.integers(min_value=1, max_value=300))
def test_leader_rotates_with_height_and_view(height: int, view: int, n: int) -> None:
    assert leader_index(height, view, n) == (height + view) % n
    assert leader_index(height + 1, view, n) == (leader_index(height, view, n) + 1) % n
    assert leader_index(height, view + 1, n) == (leader_index(height, view, n) + 1) % n


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(QuorumError):
        quorum_size(0)
    with pytest.raises(QuorumError):
        leader_index(1, -1, 4)
