"""Canonical encoding: round trips, canonical-form enforcement, and fuzzing of the decoder."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.encoding import DecodeError, EncodingError, decode, encode
from consortium.encoding.hexbytes import HexError, from_hex, to_hex

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
scalars = st.none() | st.booleans() | ints | st.text(max_size=50) | st.binary(max_size=50)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(values)
def test_round_trip(value: object) -> None:
    assert decode(encode(value)) == value


@given(st.dictionaries(st.text(max_size=8), ints, max_size=8))
def test_map_encoding_ignores_insertion_order(d: dict) -> None:
    reversed_d = dict(reversed(list(d.items())))
    assert encode(d) == encode(reversed_d)


@pytest.mark.parametrize("bad", [1.5, 2**64, -(2**63) - 1, {1: 2}, {b"k": 1}, object(), {"a": 0.0}, [set()]])
def test_refuses_non_canonical_values(bad: object) -> None:
    with pytest.raises(EncodingError):
        encode(bad)  # type: ignore[arg-type]


def test_refuses_deep_nesting() -> None:
    v: list = []
    for _ in range(40):
        v = [v]
    with pytest.raises(EncodingError):
        encode(v)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty"),
        (msgpack.packb(1.5), "float"),
        (b"\xd1\x00\x01", "non-shortest int16 for 1"),
        (msgpack.packb({"b": 1, "a": 2}), "unsorted map"),
        (b"\x81\x01\x02", "int map key"),
        (msgpack.packb(1) + b"\x00", "trailing byte"),
        (b"\x92\x01", "truncated array"),
        (msgpack.packb(msgpack.ExtType(5, b"x")), "ext type"),
        (b"\xc1", "reserved byte"),
        (b"\xa1\xff", "bad utf-8"),
        (b"\x91" * 100 + b"\x00", "too deep"),
    ],
)
def test_decoder_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError):
        decode(raw)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_decoder_fuzz_raises_only_decode_error(raw: bytes) -> None:
    try:
        value = decode(raw)
    except DecodeError:
        return
    assert encode(value) == raw  # whatever it accepts is canonical


def test_hex() -> None:
    assert from_hex(to_hex(b"\x01\xab"), size=2) == b"\x01\xab"
    for bad in ["01ab", "0x1", "0xzz", 12, "0x" + "00" * 3, "0x01 ab", "0x 01ab", "0x01\tab"]:
        with pytest.raises(HexError):
            from_hex(bad, size=2)


def reference_encode(value) -> bytes:
    """A deliberately naive canonical encoder: sort every map by UTF-8 key bytes, then pack."""

    def norm(v):
        if isinstance(v, dict):
            return {k: norm(v[k]) for k in sorted(v, key=lambda s: s.encode("utf-8"))}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    return msgpack.packb(norm(value), use_bin_type=True)


@given(values)
def test_encoder_matches_the_naive_reference(value) -> None:
    assert encode(value) == reference_encode(value)


@given(st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6), ints, max_size=8))
def test_key_order_is_utf8_byte_order_for_any_code_points(d) -> None:
    assert encode(d) == reference_encode(d)


def test_subclasses_encode_as_their_base_types() -> None:
    from enum import IntEnum

    class Status(IntEnum):
        OK = 0

    assert encode([Status.OK, True]) == encode([0, True])
    with pytest.raises(EncodingError, match="UTF-8"):
        encode("\ud800")


def _old_rule(data: bytes) -> bool:
    """The decoder's earlier definition of canonical: msgpack decodes it and the encoder gives the same bytes."""
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True, timestamp=0,
                                ext_hook=lambda code, d: (_ for _ in ()).throw(ValueError("ext")))
        return encode(value) == data
    except Exception:
        return False


@settings(max_examples=400)
@given(values, st.data())
def test_single_pass_decoder_accepts_exactly_what_decode_and_re_encode_accepted(value: object, data) -> None:
    """The one-pass check (walk + pack-compare) against the old rule (decode, encode, compare), on
    canonical bytes with one byte changed, inserted or removed."""
    raw = bytearray(encode(value))
    i = data.draw(st.integers(0, len(raw)))
    how = data.draw(st.sampled_from(["flip", "insert", "delete", "none"]))
    if how == "flip" and i < len(raw):
        raw[i] ^= data.draw(st.integers(1, 255))
    elif how == "insert":
        raw.insert(i, data.draw(st.integers(0, 255)))
    elif how == "delete" and i < len(raw):
        del raw[i]
    mutated = bytes(raw)
    try:
        decode(mutated)
        accepted = True
    except DecodeError:
        accepted = False
    assert accepted == _old_rule(mutated)


@given(st.lists(values, max_size=6), st.binary(max_size=3))
def test_reader_hands_out_each_items_exact_bytes(items: list, tail: bytes) -> None:
    from consortium.encoding.canonical import Reader

    data = encode(items)
    r = Reader(data)
    n = r.array("x")
    got = [r.item() for _ in range(n)]
    r.end()
    assert [v for v, _ in got] == decode(data) and [raw for _, raw in got] == [encode(v) for v in items]
    if tail:
        r = Reader(data + tail)
        for _ in range(r.array("x")):
            r.raw_item()
        with pytest.raises(DecodeError):
            r.end()
