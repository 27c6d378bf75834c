"""The batch tree: RFC 6962 over a batch's item encodings, with every level kept for paths.

It is exactly the tree of :mod:`consortium.ledger.merkle` (leaf ``H(0x00 || item)``,
node ``H(0x01 || left || right)``, odd last node promoted), so a path it gives is
checked by ``ledger.merkle.verify_inclusion`` — RFC 9162 §2.1.3.2 verbatim — and the
offline verifier needs nothing from this package. Items are domain-separated from
transactions and receipts by their type tag (evidence/item.py), not by other prefixes.

``ledger.merkle.prove`` rebuilds the tree for every path; a gateway serves thousands
of paths per batch, so this keeps the levels (2n hashes, 64 bytes per item) and cuts
each path out in O(log n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from consortium.crypto.suite import DEFAULT_SUITE
from consortium.ledger.merkle import LEAF_PREFIX, NODE_PREFIX, ListProof

Hasher = Callable[[bytes], bytes]


class BatchTree:
    """All levels of the RFC 6962 tree over ``leaves`` (item encodings), bottom level first."""

    __slots__ = ("levels",)

    def __init__(self, leaves: Sequence[bytes], hasher: Hasher = DEFAULT_SUITE.hash) -> None:
        if not leaves:
            raise ValueError("a batch holds at least one item")
        level = [hasher(LEAF_PREFIX + leaf) for leaf in leaves]
        levels = [level]
        while len(level) > 1:
            nxt = [hasher(NODE_PREFIX + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            levels.append(nxt)
            level = nxt
        self.levels: tuple[list[bytes], ...] = tuple(levels)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def path(self, index: int) -> ListProof:
        """The audit path of leaf ``index`` (RFC 9162 §2.1.3.1), bottom-up."""
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} outside a batch of {self.size}")
        path = []
        i = index
        for level in self.levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i //= 2
        return ListProof(index, self.size, tuple(path))

    def memory_bytes(self) -> int:
        """Rough footprint, for the gateway's memory budget of cached trees."""
        return sum(len(level) for level in self.levels) * 90
