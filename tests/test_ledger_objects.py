"""Ledger objects: canonical round trips, hashes, signatures, and fuzzed decoders."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.encoding import DecodeError, encode
from consortium.ledger import Block, BlockHeader, InvalidTransaction, Receipt, Transaction
from consortium.ledger.transaction import MAX_TX_SIZE
from strategies import KEYS, blocks, headers, receipts, transactions


@given(transactions())
def test_transaction_round_trip_and_signature(tx: Transaction) -> None:
    again = Transaction.decode(tx.encode())
    assert again == tx and again.hash == tx.hash
    again.verify_signature()


@given(headers())
def test_header_round_trip_hash_excludes_signatures(h: BlockHeader) -> None:
    again = BlockHeader.decode(h.encode())
    assert again == h
    assert again.with_signatures(()).hash == h.hash


@given(receipts())
def test_receipt_round_trip(r: Receipt) -> None:
    assert Receipt.decode(r.encode()) == r


@settings(max_examples=50)
@given(blocks())
def test_block_round_trip(b: Block) -> None:
    assert Block.decode(b.encode()) == b


FIELDS_COVERED_BY_HASH = ["chain_id", "group_id", "nonce", "block_limit", "to", "method", "args"]


@pytest.mark.parametrize("name", FIELDS_COVERED_BY_HASH)
def test_changing_any_field_changes_hash_and_breaks_signature(name: str) -> None:
    tx = Transaction("chain0", "group0", 7, 100, b"", b"\x01" * 20, "notarize", (b"h",)).signed_by(KEYS[0])
    new_value = {"chain_id": "chain1", "group_id": "g", "nonce": 8, "block_limit": 101, "to": b"\x02" * 20,
                 "method": "sign", "args": (b"i",)}[name]
    forged = dataclasses.replace(tx, **{name: new_value})
    assert forged.hash != tx.hash
    with pytest.raises(InvalidTransaction, match="does not verify"):
        forged.verify_signature()


def test_signature_by_another_key_is_refused() -> None:
    tx = Transaction("c", "g", 1, 10, b"", b"", "", ("code",)).signed_by(KEYS[0])
    forged = dataclasses.replace(tx, sender=KEYS[1].public_key)
    with pytest.raises(InvalidTransaction):
        forged.verify_signature()


def test_oversize_transaction_refused() -> None:
    tx = Transaction("c", "g", 1, 10, b"", b"", "", ("x" * MAX_TX_SIZE,)).signed_by(KEYS[0])
    with pytest.raises(InvalidTransaction, match="limit"):
        tx.encode()
    with pytest.raises(DecodeError, match="limit"):
        Transaction.decode(b"\x00" * (MAX_TX_SIZE + 1))


@pytest.mark.parametrize("cls", [Transaction, BlockHeader, Receipt, Block])
@settings(max_examples=300)
@given(raw=st.binary(max_size=300))
def test_decoders_raise_only_decode_error_on_garbage(cls, raw: bytes) -> None:
    try:
        cls.decode(raw)
    except DecodeError:
        pass


@pytest.mark.parametrize("cls, strategy", [(Transaction, transactions()), (BlockHeader, headers()), (Receipt, receipts())])
@settings(max_examples=200)
@given(data=st.data())
def test_decoders_on_mutated_valid_objects(cls, strategy, data) -> None:
    raw = bytearray(data.draw(strategy).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        cls.decode(bytes(raw))
    except DecodeError:
        pass


@pytest.mark.parametrize(
    "value, match",
    [
        ([2, "c"], "expected 10 fields"),
        ([9, "c", "g", 1, 1, b"", b"", "m", [], b""], "unknown type tag"),
        ([1, "c", "g", -1, 1, b"", b"", "m", [], b""], "nonce"),
        ([1, "c", "g", 1, 1, b"", b"\x01" * 5, "m", [], b""], "transaction.to"),
        ([1, "c", "g", True, 1, b"", b"", "m", [], b""], "nonce"),
        ([1, 1, "g", 1, 1, b"", b"", "m", [], b""], "chain_id"),
    ],
)
def test_transaction_decode_errors_name_the_field(value, match) -> None:
    with pytest.raises(DecodeError, match=match):
        Transaction.decode(encode(value))


def test_header_signatures_must_be_strictly_increasing() -> None:
    h = BlockHeader("c", "g", 1, bytes(32), 0, bytes(32), bytes(32), bytes(32), b"p", 0, (b"p", b"q"))
    v = h.to_value()
    v[12] = [[1, b"s" * 64], [0, b"s" * 64]]
    with pytest.raises(DecodeError, match="strictly increasing"):
        BlockHeader.decode(encode(v))


@settings(max_examples=50)
@given(blocks())
def test_cached_and_concatenated_encodings_equal_the_plain_canonical_encoding(b: Block) -> None:
    assert b.encode() == encode(b.to_value())
    for tx in b.transactions:
        assert tx.encode() == encode(tx.to_value()) and tx.signing_bytes() == encode(tx.unsigned_value())
        assert Transaction.decode(tx.encode()).encode() == tx.encode()


@given(st.integers(0, 70_000))
def test_array_header_matches_msgpack(n: int) -> None:
    from consortium.encoding.canonical import array_header

    assert encode([None] * n)[: len(array_header(n))] == array_header(n)
