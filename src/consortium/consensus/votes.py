"""The log of validly signed votes (PREPAREs or COMMITs) at one height.

One vote per (view, sender) for one phase: a second, different vote from the
same sender for the same view is equivocation, reported with the first so it
can be kept as evidence. Votes are kept by sender index, and listed in index
order, so every node that holds the same votes builds the same certificate.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

from consortium.consensus.messages import Commit, Prepare

V = TypeVar("V", Prepare, Commit)


class AddResult(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


class VoteLog(Generic[V]):
    def __init__(self) -> None:
        self._by_view: dict[int, dict[int, V]] = {}

    def add(self, view: int, sender_index: int, vote: V) -> tuple[AddResult, V | None]:
        """Record ``vote``; on CONFLICT also return the vote already held (the evidence)."""
        votes = self._by_view.setdefault(view, {})
        held = votes.get(sender_index)
        if held is None:
            votes[sender_index] = vote
            return AddResult.NEW, None
        if held.block_hash == vote.block_hash and held.signing_bytes == vote.signing_bytes:
            return AddResult.DUPLICATE, None
        return AddResult.CONFLICT, held

    def has_vote(self, view: int, sender_index: int) -> bool:
        return sender_index in self._by_view.get(view, {})

    def voters(self, view: int, block_hash: bytes) -> list[tuple[int, V]]:
        """Votes for ``block_hash`` in ``view``, ordered by sender index."""
        votes = self._by_view.get(view, {})
        return sorted(((i, v) for i, v in votes.items() if v.block_hash == block_hash), key=lambda t: t[0])

    def views(self) -> list[int]:
        return sorted(self._by_view)

    def prune_below(self, view: int) -> None:
        for v in [v for v in self._by_view if v < view]:
            del self._by_view[v]
