"""Evidence items and the batch tree: encodings byte for byte, intake codecs, and hypothesis against
every decoder of untrusted item bytes (a typed InvalidItem naming the item, never a crash)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consortium.encoding import canonical
from consortium.evidence.item import (
    BINARY_MAGIC,
    MAX_METADATA_BYTES,
    EvidenceItem,
    InvalidItem,
    encode_items_binary,
    items_from_binary,
    items_from_json,
)
from consortium.gateway.tree import BatchTree
from consortium.ledger.merkle import merkle_root, prove, verify_inclusion

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
C = bytes(range(32))

field_names = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
field_values = st.text(max_size=40) | st.integers(min_value=0, max_value=2**63 - 1)
metadata = st.dictionaries(field_names, field_values, max_size=4)
items = st.builds(EvidenceItem.create, st.binary(min_size=32, max_size=32), metadata)


def test_item_encoding_is_the_canonical_array() -> None:
    plain = EvidenceItem.create(C)
    assert plain.encoded == canonical.encode([48, C, {}]) == bytes([0x93, 0x30, 0xC4, 0x20]) + C + b"\x80"
    meta = {"ref": "TX-2026-0001", "amount": 125000}
    rich = EvidenceItem.create(C, meta)
    assert rich.encoded == canonical.encode([48, C, meta])
    assert EvidenceItem.decode(rich.encoded) == rich
    assert EvidenceItem.decode(plain.encoded).metadata == {}


@pytest.mark.parametrize(("meta", "reason"), [
    ({"Ref": "x"}, "field name 'Ref'"),
    ({"9x": "x"}, "field name '9x'"),
    ({"a" * 33: "x"}, "field name"),
    ({"note": 1.5}, "metadata.note must be a string or a non-negative integer"),
    ({"flag": True}, "metadata.flag must be a string"),
    ({"n": -1}, "metadata.n must be an integer in [0, 2**63 - 1]"),
    ({"n": 2**63}, "metadata.n must be an integer"),
    ({"note": "x" * 257}, "metadata.note is 257 characters"),
    ({f"f{i}": i for i in range(17)}, "17 fields"),
    ({f"f{i}": "y" * 250 for i in range(5)}, f"at most {MAX_METADATA_BYTES}"),
    (["not", "a", "map"], "metadata must be a map"),
])
def test_bad_metadata_is_refused_with_the_field(meta: Any, reason: str) -> None:
    with pytest.raises(InvalidItem, match=reason.replace("[", r"\[").replace("*", r"\*")):
        EvidenceItem.create(C, meta)


@pytest.mark.parametrize("raw", [
    canonical.encode([1, C, {}]),                       # a transaction's tag
    canonical.encode([48, C[:31], {}]),                 # short commitment
    canonical.encode([48, C, {}, 1]),                   # extra field
    canonical.encode([48, C, []]),                      # metadata not a map
    canonical.encode([48, C, {"Bad": 1}]),              # bad field name
    bytes([0x93, 0x30, 0xC5, 0x00, 0x20]) + C + b"\x80",  # bin16 where bin8 is canonical
    b"",
])
def test_item_decoder_refuses(raw: bytes) -> None:
    with pytest.raises(InvalidItem):
        EvidenceItem.decode(raw)


def test_binary_body_round_trip_and_layout() -> None:
    batch = [EvidenceItem.create(bytes([i]) * 32, {"seq": i} if i % 2 else None) for i in range(5)]
    body = encode_items_binary(batch)
    assert body[:4] == BINARY_MAGIC
    assert body[4:4 + 34] == bytes(32) + b"\x00\x00"  # item 0: no metadata
    meta1 = canonical.encode({"seq": 1})
    assert body[38:38 + 34 + len(meta1)] == b"\x01" * 32 + len(meta1).to_bytes(2, "big") + meta1
    assert items_from_binary(body, max_items=5) == batch


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "starts with"),
    (b"JSON", "starts with"),
    (BINARY_MAGIC, "no items"),
    (BINARY_MAGIC + bytes(33), "item 0: truncated"),
    (BINARY_MAGIC + bytes(34) + b"\x01" * 32 + b"\x00\x05ab", "item 1 .*truncated: metadata length 5"),
    (BINARY_MAGIC + bytes(32) + b"\x00\x01\x80", "item 0 .*non-empty map"),
    (BINARY_MAGIC + bytes(32) + b"\x00\x01\xc1", "item 0 .*not a canonical map"),
    (BINARY_MAGIC + bytes(32) + b"\x04\x01" + bytes(1025), "item 0 .*at most 1024"),
    (BINARY_MAGIC + bytes(34) * 3, "more than 2 items"),
])
def test_binary_body_errors_name_the_item(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidItem, match=reason):
        items_from_binary(body, max_items=2)


def test_json_body_errors_name_the_item() -> None:
    good = {"commitment": "0x" + C.hex()}
    with pytest.raises(InvalidItem, match=r"item 1: commitment: expected 32 bytes"):
        items_from_json({"items": [good, {"commitment": "0x1234"}]}, max_items=10)
    with pytest.raises(InvalidItem, match=r"item 0 \(0x0001.*\): metadata.x must be"):
        items_from_json({"items": [{**good, "metadata": {"x": [1]}}]}, max_items=10)
    with pytest.raises(InvalidItem, match="item 0: unknown fields salt"):
        items_from_json({"items": [{**good, "salt": "0x"}]}, max_items=10)
    with pytest.raises(InvalidItem, match="at most 1 per request"):
        items_from_json({"items": [good, good]}, max_items=1)
    with pytest.raises(InvalidItem, match="no items"):
        items_from_json({"items": []}, max_items=1)
    with pytest.raises(InvalidItem, match="must be a JSON object"):
        items_from_json([good], max_items=1)
    assert items_from_json({"items": [good]}, max_items=1) == [EvidenceItem.create(C)]


@FUZZ
@given(st.lists(items, min_size=1, max_size=20))
def test_binary_codec_round_trips(batch: list[EvidenceItem]) -> None:
    assert items_from_binary(encode_items_binary(batch), max_items=20) == batch
    assert items_from_json(json.loads(json.dumps({"items": [i.to_json() for i in batch]})), max_items=20) == batch


@FUZZ
@given(st.binary(max_size=200))
def test_binary_decoder_never_crashes(tail: bytes) -> None:
    for body in (tail, BINARY_MAGIC + tail):
        try:
            out = items_from_binary(body, max_items=8)
        except InvalidItem:
            continue
        assert encode_items_binary(out) == body  # whatever is accepted is the one encoding of what it means


@FUZZ
@given(st.binary(max_size=120) | items.map(lambda i: i.encoded))
def test_item_decoder_never_crashes(data: bytes) -> None:
    try:
        item = EvidenceItem.decode(data)
    except InvalidItem:
        return
    assert item.encoded == data


json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70)
json_values = st.recursive(json_leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c,
                                                                                             max_size=4), max_leaves=20)


@FUZZ
@given(json_values | st.fixed_dictionaries({"items": st.lists(
    st.fixed_dictionaries({"commitment": st.binary(max_size=34).map(lambda b: "0x" + b.hex())},
                          optional={"metadata": json_values}), max_size=4)}))
def test_json_decoder_never_crashes(doc: Any) -> None:
    try:
        items_from_json(doc, max_items=4)
    except InvalidItem:
        pass


@FUZZ
@given(st.lists(st.binary(max_size=50), min_size=1, max_size=70))
def test_batch_tree_is_the_ledger_tree(leaves: list[bytes]) -> None:
    tree = BatchTree(leaves)
    assert tree.root == merkle_root(leaves)
    for i in range(len(leaves)):
        path = tree.path(i)
        assert path == prove(leaves, i)
        verify_inclusion(tree.root, leaves[i], path)
