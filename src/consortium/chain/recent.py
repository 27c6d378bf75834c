"""Admission's replay index in memory: the transactions of the last ``block_limit_window`` blocks.

Replay protection refuses a transaction already on chain (by hash) and a (sender,
nonce) pair used within the window (chain/admission.py). Asking LevelDB twice per
transaction cost the txpool and every replica a disk read each, on the hot path.
But only the window can matter: a transaction committed in block ``b`` had
``block_limit <= b - 1 + window``, so once the head passes ``b - 1 + window`` no
copy of it can pass the block-limit check again; and the nonce rule itself only
looks at the window. So this index holds exactly the last ``window`` blocks,
rebuilt from the block store's per-block key lists at start-up and extended at
every commit.

To stay small (the window can hold hundreds of thousands of transactions) it keeps
64-bit fingerprints, not keys: a miss is exact ("not in the window"), and a hit is
confirmed against the block store, so a fingerprint collision costs one disk read,
never a wrong answer. Fingerprints are plain byte slices and integer arithmetic,
never Python's seeded ``hash()``, so the index behaves identically on every node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

_MASK = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15


def tx_fingerprint(tx_hash: bytes) -> int:
    return int.from_bytes(tx_hash[:8], "big")


def nonce_fingerprint(sender_address: bytes, nonce: int) -> int:
    return (int.from_bytes(sender_address[:8], "big") ^ ((nonce * _MIX) & _MASK)) & _MASK


class RecentIndex:
    """Fingerprints of the transactions (hashes and (sender, nonce) pairs) of the blocks in the window."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("the block-limit window must be at least 1 block")
        self.window = window
        self._blocks: deque[tuple[int, list[int], list[int]]] = deque()
        self._txs: dict[int, int] = {}
        self._nonces: dict[int, int] = {}
        """fingerprint -> how many transactions in the window have it (collisions are counted)."""

    def __len__(self) -> int:
        return sum(len(t) for _, t, _ in self._blocks)

    def add_block(self, number: int, keys: Iterable[tuple[bytes, bytes, int]]) -> None:
        """Record block ``number``'s (hash, sender address, nonce) triples, then forget blocks that
        left the window (numbers ``<= number - window``)."""
        if self._blocks and number <= self._blocks[-1][0]:
            raise ValueError(f"block {number} added after block {self._blocks[-1][0]}")
        txs, nonces = [], []
        tx_counts, nonce_counts = self._txs, self._nonces
        for tx_hash, sender, nonce in keys:
            # tx_fingerprint and nonce_fingerprint, and _inc, written out: this runs per transaction
            # at every commit.
            f = int.from_bytes(tx_hash[:8], "big")
            tx_counts[f] = tx_counts.get(f, 0) + 1
            txs.append(f)
            f = (int.from_bytes(sender[:8], "big") ^ ((nonce * _MIX) & _MASK)) & _MASK
            nonce_counts[f] = nonce_counts.get(f, 0) + 1
            nonces.append(f)
        self._blocks.append((number, txs, nonces))
        while self._blocks and self._blocks[0][0] <= number - self.window:
            _, old_txs, old_nonces = self._blocks.popleft()
            for f in old_txs:
                _dec(self._txs, f)
            for f in old_nonces:
                _dec(self._nonces, f)

    def may_hold_tx(self, tx_hash: bytes) -> bool:
        """False: no transaction with this hash was committed in the window. True: maybe (confirm)."""
        return tx_fingerprint(tx_hash) in self._txs

    def may_hold_nonce(self, sender_address: bytes, nonce: int) -> bool:
        """False: the pair was not used in the window. True: maybe (confirm)."""
        return nonce_fingerprint(sender_address, nonce) in self._nonces


def _dec(counts: dict[int, int], key: int) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
