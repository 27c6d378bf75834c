"""Hypothesis strategies for ledger objects, shared by several test modules."""

from __future__ import annotations

from hypothesis import strategies as st

from consortium.crypto import KeyPair
from consortium.ledger import Block, BlockHeader, CommitSignature, Event, Receipt, Transaction

KEYS = [KeyPair(bytes([i]) * 32) for i in range(1, 5)]

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
uints = st.integers(min_value=0, max_value=2**64 - 1)
scalars = st.none() | st.booleans() | ints | st.text(max_size=20) | st.binary(max_size=20)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)
hashes = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20)


@st.composite
def transactions(draw) -> Transaction:
    key = draw(st.sampled_from(KEYS))
    tx = Transaction(
        chain_id=draw(st.text(max_size=10)),
        group_id=draw(st.text(max_size=10)),
        nonce=draw(uints),
        block_limit=draw(uints),
        sender=b"",
        to=draw(st.just(b"") | addresses),
        method=draw(st.text(max_size=12)),
        args=tuple(draw(st.lists(values, max_size=4))),
    )
    return tx.signed_by(key)


@st.composite
def headers(draw) -> BlockHeader:
    sealers = tuple(k.public_key for k in KEYS[: draw(st.integers(1, 4))])
    n_sigs = draw(st.integers(0, len(sealers)))
    return BlockHeader(
        chain_id=draw(st.text(max_size=8)),
        group_id=draw(st.text(max_size=8)),
        number=draw(uints),
        parent_hash=draw(hashes),
        timestamp=draw(uints),
        tx_root=draw(hashes),
        receipt_root=draw(hashes),
        state_root=draw(hashes),
        proposer=draw(st.sampled_from(sealers)),
        view=draw(uints),
        sealers=sealers,
        signatures=tuple(CommitSignature(i, draw(st.binary(min_size=64, max_size=64))) for i in range(n_sigs)),
    )


@st.composite
def receipts(draw) -> Receipt:
    events = draw(
        st.lists(
            st.builds(Event.make, addresses, st.text(max_size=8), st.dictionaries(st.text(max_size=5), values, max_size=3)),
            max_size=3,
        )
    )
    return Receipt(
        tx_hash=draw(hashes),
        status=draw(st.integers(0, 5)),
        output=draw(values),
        gas_used=draw(uints),
        events=tuple(events),
        error=draw(st.text(max_size=30)),
        contract_address=draw(st.just(b"") | addresses),
    )


@st.composite
def blocks(draw) -> Block:
    return Block(draw(headers()), tuple(draw(st.lists(transactions(), max_size=3))))
