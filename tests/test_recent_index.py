"""Admission's in-memory replay index (chain/recent.py): what it records at commit is what it is asked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consortium.chain.recent import RecentIndex, nonce_fingerprint, tx_fingerprint

triples = st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=20, max_size=20),
                    st.integers(0, 2**64 - 1))


@given(st.lists(st.lists(triples, max_size=6), min_size=1, max_size=6), st.integers(1, 4))
def test_a_block_in_the_window_is_found_and_one_that_left_is_forgotten(blocks: list, window: int) -> None:
    index = RecentIndex(window)
    for number, keys in enumerate(blocks, start=1):
        index.add_block(number, keys)
    last = len(blocks)
    kept = [k for number, keys in enumerate(blocks, start=1) if number > last - window for k in keys]
    for tx_hash, sender, nonce in kept:
        assert index.may_hold_tx(tx_hash) and index.may_hold_nonce(sender, nonce)
    # The counts are keyed by the module's fingerprint functions and count each kept transaction once.
    assert sum(index._txs.values()) == len(kept) == sum(index._nonces.values())
    assert set(index._txs) == {tx_fingerprint(h) for h, _, _ in kept}
    assert set(index._nonces) == {nonce_fingerprint(s, n) for _, s, n in kept}
    assert len(index) == len(kept)
