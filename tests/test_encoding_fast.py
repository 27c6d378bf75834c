"""The encoder's fast paths produce exactly the reference encoding, and exactly its errors.

``canonical.encode`` checks scalar items in line and packs with a per-thread packer;
events and receipts splice their encodings from parts. Each is compared here, by hypothesis,
with the reference: the canonical encoder as it was before those fast paths (kept below,
verbatim), over plain values and over the odd ones (subclasses, tuples, floats, big
integers, non-string or unsorted keys, lone surrogates, deep nesting). Equal bytes, or the
same exception type and message.
"""

from __future__ import annotations

import threading
from enum import IntEnum
from typing import Any

import msgpack
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consortium.crypto.suite import DEFAULT_SUITE
from consortium.encoding import canonical
from consortium.encoding.canonical import INT_MAX, INT_MIN, MAX_DEPTH, EncodingError
from consortium.ledger.receipt import Event, Receipt, ReceiptStatus, freeze


# --- the reference: canonical.encode before the fast paths, verbatim -----------------------------
def _reference_prepare(value: Any, depth: int) -> object:
    t = type(value)
    if t is bytes or t is str or value is None or t is bool:
        return value
    if t is int:
        if INT_MIN <= value <= INT_MAX:
            return value
        raise EncodingError(f"integer {value} outside [-2**63, 2**64-1]")
    if t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
        out = None
        for i, item in enumerate(value):
            prepared = _reference_prepare(item, depth + 1)
            if prepared is not item:
                if out is None:
                    out = list(value)
                out[i] = prepared
        return value if out is None else out
    if t is dict:
        if depth >= MAX_DEPTH:
            raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
        for key in value:
            if type(key) is not str and not isinstance(key, str):
                raise EncodingError(f"map key {key!r} is not a string")
        return {k: _reference_prepare(value[k], depth + 1) for k in sorted(value)}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _reference_prepare(int(value), depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return _reference_prepare(list(value), depth)
    if isinstance(value, dict):
        return _reference_prepare(dict(value), depth)
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in canonical data (use integers)")
    raise EncodingError(f"type {type(value).__name__} cannot be encoded canonically")


def reference_encode(value: Any) -> bytes:
    prepared = _reference_prepare(value, 0)
    try:
        return msgpack.packb(prepared, use_bin_type=True)
    except UnicodeEncodeError as exc:
        raise EncodingError(f"text is not valid UTF-8 (lone surrogate?): {exc.reason}") from None


def reference_make(address: bytes, name: str, fields: dict) -> Event:
    ordered = tuple((k, freeze(v)) for k, v in sorted(fields.items(), key=lambda kv: kv[0].encode("utf-8")))
    return Event(address, name, ordered)


def outcome(fn: Any, *args: Any) -> tuple[str, object]:
    """("ok", result) or ("raised", (exception type, message))."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # compared, not swallowed
        return "raised", (type(exc), str(exc))


# --- odd values ----------------------------------------------------------------------------------
class Colour(IntEnum):
    RED = 1
    BIG = 2**63


class Text(str):
    pass


class Blob(bytes):
    pass


class Items(list):
    pass


class Fields(dict):
    pass


def _nest(depth: int) -> list:
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


ints = st.integers(min_value=-(2**64), max_value=2**65)  # a little outside the range on both sides
texts = st.text(max_size=8) | st.just("\ud800") | st.sampled_from(["", "a", "é", "☃", "\U0001f600"])
scalars = (st.none() | st.booleans() | ints | texts | st.binary(max_size=40) | st.just(1.5)
           | st.sampled_from([Colour.RED, Colour.BIG, Text("t"), Blob(b"b"), object()]))
keys = texts | st.sampled_from([1, b"k", Text("k")])
values = st.recursive(
    scalars,
    lambda c: (st.lists(c, max_size=5) | st.lists(c, max_size=5).map(tuple) | st.lists(c, max_size=3).map(Items)
               | st.dictionaries(keys, c, max_size=5) | st.dictionaries(texts, c, max_size=3).map(Fields)),
    max_leaves=25,
)


@settings(max_examples=1500)
@given(values)
@example(_nest(MAX_DEPTH))
@example(_nest(MAX_DEPTH + 1))
@example({"b": [1, 2**64], "a": 1.5})
@example([2**64, "\ud800"])
@example(["\ud800", 2**64])
@example({"\ud800": 1, 1: 2})
def test_encode_matches_the_reference(value: Any) -> None:
    assert outcome(canonical.encode, value) == outcome(reference_encode, value)


@given(st.recursive(st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX) | st.text(max_size=8) | st.binary(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4), c, max_size=4),
                    max_leaves=12))
def test_pack_is_packb(value: Any) -> None:
    assert canonical.pack(value) == msgpack.packb(value, use_bin_type=True)


def test_a_failed_pack_leaves_the_packer_clean() -> None:
    with pytest.raises(EncodingError):
        canonical.encode(["abc", "\ud800"])
    assert canonical.encode([1, "x"]) == b"\x92\x01\xa1x"


def test_each_thread_packs_with_its_own_packer() -> None:
    """Threads encoding at once (the node's worker threads and its event loop) never mix bytes."""
    errors: list[str] = []
    items = [{"n": i, "data": bytes([i % 256]) * (i % 300), "t": "x" * (i % 70)} for i in range(400)]
    expected = [reference_encode(v) for v in items]

    def work() -> None:
        for _ in range(20):
            for v, want in zip(items, expected, strict=True):
                if canonical.encode(v) != want:
                    errors.append("mixed")
                    return

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --- events and receipts -------------------------------------------------------------------------
field_values = st.recursive(
    st.none() | st.booleans() | ints | texts | st.binary(max_size=40) | st.sampled_from([Colour.RED, Text("t"), Blob(b"b")]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3),
    max_leaves=8,
)
field_dicts = st.dictionaries(texts | st.sampled_from(["hash", "case_id", "signers", "submitter"]), field_values,
                              max_size=6)


@settings(max_examples=800)
@given(field_dicts)
@example({"b": 1, "a": 2, "é": 3, "z": 4})
@example({"\ud800": 1})
@example({"hash": b"h" * 32, "case_id": "c", "signers": 0, "submitter": b"s" * 20})
def test_event_make_matches_the_reference(fields: dict) -> None:
    made = outcome(Event.make, b"a" * 20, "Notarized", fields)
    reference = outcome(reference_make, b"a" * 20, "Notarized", fields)
    assert made == reference
    if made[0] == "ok":
        assert outcome(made[1].encode) == outcome(reference_encode, made[1].to_value())  # type: ignore[union-attr]


@settings(max_examples=800)
@given(st.binary(max_size=30) | st.sampled_from([Blob(b"x"), "text"]), texts,
       st.lists(st.tuples(keys, field_values), max_size=5))
@example(b"a", "E", [("b", 1), ("a", 2)])  # not in key order
@example(b"a", "E", [("a", 1), ("a", 2)])  # a key twice
@example(b"a", "E", [("", 1), ("", 2)])
@example(b"a", "E", [(1, 1)])
@example(b"a", "\ud800", [("a", 1)])
@example(b"a", "E", [("a", "\ud800")])
@example(b"a", "E", [("a", 2**64), ("b", "\ud800")])
def test_event_encoding_matches_the_reference_for_any_fields(address: Any, name: str, fields: list) -> None:
    """Events built directly (or decoded) may hold anything: the fast path must notice and step aside."""
    event = Event(address, name, tuple(fields))
    assert outcome(event.encode) == outcome(lambda: reference_encode(event.to_value()))
    presorted = Event.presorted(address, name, tuple(fields))
    assert presorted == event
    assert outcome(presorted.encode) == outcome(lambda: reference_encode(event.to_value()))


def test_presorted_is_make_for_sorted_fields() -> None:
    fields = {"submitter": b"s" * 20, "hash": b"h" * 32, "signers": 2, "case_id": "c-1"}
    made = Event.make(b"a" * 20, "Notarized", fields)
    direct = Event.presorted(b"a" * 20, "Notarized", tuple(sorted(fields.items())))
    assert direct == made and direct.encode() == made.encode() and hash(direct) == hash(made)


statuses = st.sampled_from(list(ReceiptStatus)) | st.integers(-1, 300) | st.sampled_from([Colour.RED, True])
outputs = field_values | st.just(("a", ("b", 1)))


@settings(max_examples=800)
@given(st.binary(max_size=40) | st.just("h"), statuses, outputs, ints | st.just(Colour.RED),
       st.lists(st.builds(Event.make, st.binary(max_size=20), st.text(max_size=6),
                          st.dictionaries(st.text(max_size=6), field_values, max_size=5))
                | st.builds(Event, st.binary(max_size=20), texts,
                            st.lists(st.tuples(keys, field_values), max_size=4).map(tuple)), max_size=3)
       | st.just(("not an event",)),
       texts, st.binary(max_size=32) | st.just("c"))
@example(b"h" * 32, ReceiptStatus.OK, "COMPLETE", 1234, [], "", b"")
@example(b"h" * 32, ReceiptStatus.REVERTED, None, 2**64, [], "\ud800", b"")
@example(b"h" * 32, -1, None, 0, [], "", b"")
def test_receipt_encoding_matches_the_reference(tx_hash: Any, status: Any, output: Any, gas: Any, events: Any,
                                                error: str, contract: Any) -> None:
    receipt = Receipt(tx_hash, status, output, gas, tuple(events), error, contract)
    assert outcome(receipt.encode) == outcome(lambda: reference_encode(receipt.to_value()))
    quick = Receipt.fields_of(tx_hash, status, output, gas, tuple(events), error, contract)
    assert quick == receipt and quick.__dict__ == {k: v for k, v in receipt.__dict__.items() if k != "_encoded"}
    assert outcome(quick.encode) == outcome(lambda: reference_encode(receipt.to_value()))


def test_a_receipt_is_encoded_once() -> None:
    receipt = Receipt(b"h" * 32, ReceiptStatus.OK, "COMPLETE", 1, (Event.make(b"a", "E", {"x": 1}),))
    assert receipt.encode() is receipt.encode()
    assert Receipt.decode(receipt.encode()) == receipt


# --- freeze and transaction fields ---------------------------------------------------------------
def reference_freeze(value: Any) -> Any:
    """canonical.freeze before scalars were kept in line, verbatim."""
    if isinstance(value, list):
        return tuple(reference_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: reference_freeze(v) for k, v in value.items()}
    return value


def _typed(value: Any) -> Any:
    """The value with every part's exact type spelled out (so (1,) and (True,) differ)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, dict):
        return (type(value).__name__, [(k, _typed(v)) for k, v in value.items()])
    return (type(value).__name__, value)


@settings(max_examples=800)
@given(values)
@example([[1, (2, [3])], {"a": [4]}])
def test_freeze_matches_the_reference(value: Any) -> None:
    assert _typed(freeze(value)) == _typed(reference_freeze(value))


def reference_checked(v: list) -> dict:
    """Transaction._checked before its fields were checked in line, verbatim (as a dict of fields)."""
    from consortium.encoding.canonical import DecodeError, field_bytes, field_int, field_list, field_str
    from consortium.ledger.transaction import ADDRESS_SIZE, MAX_ARGS, MAX_ID_LEN, MAX_METHOD_LEN

    to = field_bytes(v[6], "transaction.to")
    if to and len(to) != ADDRESS_SIZE:
        raise DecodeError(f"transaction.to: expected empty (deploy) or {ADDRESS_SIZE} bytes, got {len(to)}")
    return dict(
        chain_id=field_str(v[1], "transaction.chain_id", max_len=MAX_ID_LEN),
        group_id=field_str(v[2], "transaction.group_id", max_len=MAX_ID_LEN),
        nonce=field_int(v[3], "transaction.nonce"),
        block_limit=field_int(v[4], "transaction.block_limit"),
        sender=field_bytes(v[5], "transaction.sender", max_size=128),
        to=to,
        method=field_str(v[7], "transaction.method", max_len=MAX_METHOD_LEN),
        args=tuple(freeze(a) for a in field_list(v[8], "transaction.args", max_len=MAX_ARGS)),
        signature=field_bytes(v[9], "transaction.signature", max_size=128),
    )


def _near(n: int) -> st.SearchStrategy[int]:
    return st.integers(max(0, n - 2), n + 2)


_GOOD_FIELDS = [1, "chain", "group", 7, 9, b"s" * 32, b"t" * 20, "notarize", [b"h", {"a": [1]}], b"x" * 64]
_FIELD_VARIANTS = [
    st.just(1),
    st.text(max_size=3) | _near(64).map(lambda n: "c" * n) | st.just(Text("t")) | st.just(b"c"),
    st.text(max_size=3) | _near(64).map(lambda n: "g" * n) | st.integers(),
    st.sampled_from([0, -1, INT_MAX, INT_MAX + 1, True, "1", Colour.RED]),
    st.sampled_from([0, -1, INT_MAX, INT_MAX + 1, False]),
    st.binary(max_size=4) | _near(128).map(lambda n: b"s" * n) | st.just(Blob(b"s")) | st.just("s"),
    st.sampled_from([b"", b"t" * 20, b"t" * 19, b"t" * 21, "t", Blob(b"t" * 20), Blob(b"")]),
    st.text(max_size=3) | _near(64).map(lambda n: "m" * n) | st.none(),
    st.lists(values, max_size=3) | _near(64).map(lambda n: [0] * n) | st.just((1, 2)) | st.just({"a": 1}),
    st.binary(max_size=4) | _near(128).map(lambda n: b"x" * n) | st.just(0),
]


@st.composite
def tx_fields(draw: Any) -> list:
    """A well-formed transaction's fields with one to three of them replaced by edge or wrong values."""
    v = list(_GOOD_FIELDS)
    for i in draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)):
        v[i] = draw(_FIELD_VARIANTS[i])
    return v


@settings(max_examples=1500)
@given(tx_fields())
def test_transaction_fields_match_the_reference(v: list) -> None:
    from consortium.ledger.transaction import Transaction

    def fields() -> dict:
        tx = Transaction._checked(v, DEFAULT_SUITE)
        return {k: _typed(tx.__dict__[k]) for k in ("chain_id", "group_id", "nonce", "block_limit", "sender", "to",
                                                    "method", "args", "signature")}

    def reference() -> dict:
        return {k: _typed(x) for k, x in reference_checked(v).items()}

    assert outcome(fields) == outcome(reference)
