"""Node-layer message bodies: round trips and fuzzing (peer bytes raise only WireError)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chainmaker import make_chain

from consortium.encoding import encode
from consortium.node import wire
from strategies import blocks, transactions


def test_round_trips() -> None:
    s = wire.Status(7, b"\x01" * 32)
    assert wire.decode_status(wire.encode_status(s)) == s
    assert wire.decode_block_request(wire.encode_block_request(5, 64)) == (5, 64)
    chain = [b for b, _ in make_chain(3)]
    assert wire.decode_blocks(wire.encode_blocks(chain)) == tuple(chain)
    txs = list(chain[1].transactions)
    assert wire.decode_transactions(wire.encode_transactions(txs)) == tuple(txs)


def test_refusals() -> None:
    with pytest.raises(wire.WireError, match="count"):
        wire.decode_block_request(encode([1, 65]))
    chain = [b for b, _ in make_chain(3)]
    with pytest.raises(wire.WireError, match="contiguous"):
        wire.decode_blocks(wire.encode_blocks([chain[0], chain[2]]))
    with pytest.raises(wire.WireError, match="head_hash"):
        wire.decode_status(encode([1, b"short"]))


DECODERS = [wire.decode_status, wire.decode_block_request, wire.decode_blocks, wire.decode_transactions]


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=200)
@given(raw=st.binary(max_size=200))
def test_fuzz_garbage(decoder, raw) -> None:
    try:
        decoder(raw)
    except wire.WireError:
        pass


@settings(max_examples=100)
@given(st.data())
def test_fuzz_mutated_valid_bodies(data) -> None:
    body = bytearray(data.draw(st.sampled_from([
        wire.encode_transactions([data.draw(transactions())]),
        wire.encode_blocks([data.draw(blocks())]),
    ])))
    for _ in range(data.draw(st.integers(1, 3))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    for decoder in (wire.decode_transactions, wire.decode_blocks):
        try:
            decoder(bytes(body))
        except wire.WireError:
            pass
