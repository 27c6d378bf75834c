"""Fault bounds, quorum size, leader rotation and vote counting: the arithmetic of PBFT.

Kept apart from the state machine (as etcd raft keeps ``quorum/``) so it can be
checked exhaustively against a deliberately naive reference
(tests/consensus/test_quorum.py).

With ``n`` sealers the protocol tolerates ``f = (n - 1) // 3`` Byzantine ones
and decides with ``q = n - f`` votes. For ``n = 3f + 1`` that is the textbook
``2f + 1``; for other ``n`` it stays safe and live:

* safety: two quorums intersect in ``2q - n = n - 2f >= f + 1`` sealers, so in
  at least one honest sealer, which never votes for two different things;
* liveness: the ``n - f`` honest sealers form a quorum on their own.

(``2f + 1`` would be unsafe for ``n = 3f + 2`` or ``3f + 3``: with n = 6, f = 1,
two sets of 3 can be disjoint.)
"""

from __future__ import annotations

from collections.abc import Iterable


class QuorumError(ValueError):
    """A sealer-set size or index is impossible (no sealers, negative index)."""


def max_faulty(n: int) -> int:
    """The largest ``f`` with ``n >= 3f + 1``: how many Byzantine sealers ``n`` tolerates."""
    if n < 1:
        raise QuorumError(f"a sealer set needs at least one sealer, got {n}")
    return (n - 1) // 3


def quorum_size(n: int) -> int:
    """Votes needed to decide among ``n`` sealers: ``n - f``."""
    return n - max_faulty(n)


def weak_quorum_size(n: int) -> int:
    """``f + 1``: enough votes that at least one came from an honest sealer."""
    return max_faulty(n) + 1


def leader_index(height: int, view: int, n: int) -> int:
    """Index of the leader of ``(height, view)`` in the sealer list: ``(height + view) mod n``.

    Adding the height rotates the leader every block even when no view change
    happens, as FISCO BCOS does, so one slow sealer cannot lead every height.
    """
    if n < 1:
        raise QuorumError(f"a sealer set needs at least one sealer, got {n}")
    if height < 0 or view < 0:
        raise QuorumError(f"height and view must be non-negative, got ({height}, {view})")
    return (height + view) % n


def count_votes(voters: Iterable[int], n: int) -> int:
    """Number of distinct valid sealer indexes among ``voters``.

    Duplicates and indexes outside ``[0, n)`` count for nothing: a vote count is
    a count of *sealers*, never of messages.
    """
    seen = bytearray(n)
    total = 0
    for v in voters:
        if 0 <= v < n and not seen[v]:
            seen[v] = 1
            total += 1
    return total


def has_quorum(voters: Iterable[int], n: int) -> bool:
    """True iff the distinct valid voters reach ``quorum_size(n)``."""
    return count_votes(voters, n) >= quorum_size(n)


def has_weak_quorum(voters: Iterable[int], n: int) -> bool:
    """True iff the distinct valid voters reach ``f + 1``."""
    return count_votes(voters, n) >= weak_quorum_size(n)
