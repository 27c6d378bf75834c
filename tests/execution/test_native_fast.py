"""The native evidence contract's hot path (notarize) and the executor's argument thaw are fast, and
produce exactly what the general code does.

Notarize encodes its key and record without the general encoder when they have their usual plain
shape, builds its events with their fields already in order, and the executor thaws arguments with
scalars handled in line. Each piece is compared with the general code by hypothesis; and whole
notarize calls with arbitrary arguments are compared with the sandboxed contract (the
specification): receipts (gas aside) and write sets identical.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consortium.crypto.suite import KeyPair
from consortium.encoding import canonical
from consortium.execution import EVIDENCE_ADDRESS, BlockContext, DictReader, Executor, genesis_writes
from consortium.execution.errors import BadTransaction
from consortium.execution.executor import _thaw, _thaw_args
from consortium.execution.limits import BYTES_PER_GAS, MAX_NESTING
from consortium.execution.native_evidence import _ev_key, _evidence_record_bytes
from consortium.ledger import Transaction
from consortium.ledger.receipt import Receipt

ints = st.integers(min_value=-(2**64), max_value=2**65)
texts = st.text(max_size=12) | st.just("\ud800") | st.sampled_from(["", "é", "☃"])
plain = st.none() | st.booleans() | ints | texts | st.binary(max_size=40)


def outcome(fn: Any) -> tuple[str, object]:
    try:
        return "ok", fn()
    except Exception as exc:  # compared, not swallowed
        return "raised", (type(exc), str(exc))


@given(st.binary(min_size=30, max_size=34) | plain | st.lists(plain, max_size=2))
@example(b"\x00" * 32)
@example(bytearray(32))
def test_ev_key_is_the_encoded_key(evidence_hash: Any) -> None:
    assert outcome(lambda: _ev_key(evidence_hash)) == outcome(lambda: canonical.encode(["ev", evidence_hash]))


meta_keys = st.sampled_from(["case_id", "file_name", "media_type", "note", "size"]) | texts
records = st.fixed_dictionaries({  # in the order notarize writes them (canonical)
    "block": ints | st.just(True),
    "hash": st.binary(min_size=32, max_size=32) | plain,
    "metadata": st.dictionaries(meta_keys, plain | st.lists(plain, max_size=2), max_size=5) | plain,
    "signatures": st.just([]) | st.lists(plain, max_size=1),
    "signers": st.lists(st.binary(min_size=20, max_size=20) | plain, max_size=4) | plain,
    "status": st.sampled_from(["PENDING", "COMPLETE"]) | plain,
    "submitter": st.binary(min_size=20, max_size=20) | plain,
    "timestamp": ints,
    "tx": st.binary(min_size=32, max_size=32) | plain,
}) | st.fixed_dictionaries({  # in the order of the contract's source

    "hash": st.binary(min_size=32, max_size=32) | plain,
    "submitter": st.binary(min_size=20, max_size=20) | plain,
    "block": ints | st.just(True),
    "timestamp": ints,
    "tx": st.binary(min_size=32, max_size=32) | plain,
    "metadata": st.dictionaries(meta_keys, plain | st.lists(plain, max_size=2), max_size=5) | plain,
    "signers": st.lists(st.binary(min_size=20, max_size=20) | plain, max_size=4) | plain,
    "signatures": st.just([]) | st.lists(plain, max_size=1),
    "status": st.sampled_from(["PENDING", "COMPLETE"]) | plain,
})


@settings(max_examples=1000)
@given(records)
@example({"hash": b"h" * 32, "submitter": b"s" * 20, "block": 7, "timestamp": 2**64, "tx": b"t" * 32,
          "metadata": {"size": 1}, "signers": [], "signatures": [], "status": "COMPLETE"})
@example({"hash": b"h" * 32, "submitter": b"s" * 20, "block": 7, "timestamp": 9, "tx": b"t" * 32,
          "metadata": {"note": "\ud800", "size": 2**64}, "signers": [], "signatures": [], "status": "COMPLETE"})
@example({"block": 7, "hash": b"h" * 32, "metadata": {"size": 1, "note": "n"}, "signatures": [], "signers": [],
          "status": "COMPLETE", "submitter": b"s" * 20, "timestamp": 9, "tx": b"t" * 32})
def test_record_bytes_are_the_encoded_record(record: dict[str, Any]) -> None:
    fast = outcome(lambda: _evidence_record_bytes(record))
    assert fast[0] == "ok"  # it never raises: it steps aside (None) for anything it does not handle
    if fast[1] is not None:
        assert fast[1] == canonical.encode(record)


def test_record_bytes_take_the_usual_record() -> None:
    record = {"block": 7, "hash": b"h" * 32,
              "metadata": {"case_id": "K", "file_name": "a.pdf", "media_type": "application/pdf", "size": 10},
              "signatures": [], "signers": [b"a" * 20, b"b" * 20], "status": "PENDING", "submitter": b"s" * 20,
              "timestamp": 1_700_000_000_000, "tx": b"t" * 32}
    assert _evidence_record_bytes(record) == canonical.encode(record)
    record["metadata"] = {"size": 10, "case_id": "K"}  # keys out of order: the general encoder
    assert _evidence_record_bytes(record) is None


# --- the executor's thaw --------------------------------------------------------------------------
def _reference_thaw(value: Any, weight: list[int], depth: int) -> Any:
    """executor._thaw before scalars were handled in line, verbatim."""
    if isinstance(value, (list, tuple)):
        if depth >= MAX_NESTING:
            raise BadTransaction(f"arguments are nested deeper than {MAX_NESTING} levels")
        weight[0] += 1 + len(value)
        return [_reference_thaw(v, weight, depth + 1) for v in value]
    if isinstance(value, dict):
        if depth >= MAX_NESTING:
            raise BadTransaction(f"arguments are nested deeper than {MAX_NESTING} levels")
        weight[0] += 1 + len(value)
        return {k: _reference_thaw(v, weight, depth + 1) for k, v in value.items()}
    if isinstance(value, (str, bytes)):
        weight[0] += len(value) // BYTES_PER_GAS
    return value


class Text(str):
    pass


def _typed(value: Any) -> Any:
    """A value with the exact type of every part spelled out, so [1] and [True] differ."""
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def _nest(depth: int) -> Any:
    v: Any = ()
    for _ in range(depth):
        v = (v,)
    return v


args = st.lists(st.recursive(
    plain | st.binary(min_size=60, max_size=200) | st.just(Text("subclass" * 10)) | st.just(2.5),
    lambda c: st.lists(c, max_size=4).map(tuple) | st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=4),
    max_leaves=20), max_size=4)


@settings(max_examples=800)
@given(args)
@example([_nest(MAX_NESTING)])
@example([_nest(MAX_NESTING + 1)])
@example([{"a": _nest(MAX_NESTING)}])
@example(["x" * 100, _nest(MAX_NESTING + 3)])
def test_thaw_args_is_the_reference_thaw(values: list[Any]) -> None:
    fast_weight, reference_weight = [0], [0]
    fast = outcome(lambda: _typed(_thaw_args(values, fast_weight)))
    reference = outcome(lambda: _typed([_reference_thaw(a, reference_weight, 0) for a in values]))
    assert fast == reference
    assert fast_weight == reference_weight
    one_weight = [0]
    for a in values:
        if fast[0] == "ok":
            _thaw(a, one_weight, 0)
    if fast[0] == "ok":
        assert one_weight == reference_weight


# --- whole notarize calls, native against the sandbox ---------------------------------------------
ALICE, BOB, ARB = (KeyPair(bytes([i]) * 32) for i in (31, 32, 33))
GENESIS = genesis_writes(arbitrators=[ARB.address], chain_id="d", group_id="g")
NATIVE, SANDBOX = Executor(native_evidence=True), Executor(native_evidence=False)
addresses = st.sampled_from([ALICE.address, BOB.address, ARB.address]) | st.binary(min_size=19, max_size=21)
metadata = (st.fixed_dictionaries({}, optional={
    "case_id": st.text(max_size=66), "file_name": st.text(max_size=10), "media_type": st.just("application/pdf"),
    "note": st.text(max_size=10), "size": st.integers(-1, 2**63)})
            | st.dictionaries(st.sampled_from(["case_id", "file_name", "media_type", "note", "size"]) | st.text(max_size=4),
                            st.integers(-2, 2**63) | st.text(max_size=70) | st.booleans() | st.none(), max_size=5)
            | st.lists(st.integers(-5, 5), max_size=1) | st.text(max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["notarize", "notarize_batch"]),
                          st.sampled_from([b"\x07" * 32, b"\x08" * 32]) | st.binary(min_size=32, max_size=32)
                          | st.binary(min_size=31, max_size=33),
                          metadata, st.lists(addresses, max_size=3) | st.text(max_size=2), st.integers(-1, 3)),
                min_size=1, max_size=6))
def test_native_notarize_is_the_sandboxed_contract(calls: list[tuple[str, bytes, Any, Any, int]]) -> None:
    txs = []
    for nonce, (method, evidence_hash, meta, signers, count) in enumerate(calls):
        call_args = (evidence_hash, meta, signers) if method == "notarize" else (evidence_hash, count)
        txs.append(Transaction("d", "g", nonce, 100, ALICE.public_key, EVIDENCE_ADDRESS, method, call_args))
    ctx = BlockContext("d", "g", 3, 1_700_000_000_000)
    native = NATIVE.execute_block(DictReader(dict(GENESIS)), ctx, txs)
    sandboxed = SANDBOX.execute_block(DictReader(dict(GENESIS)), ctx, txs)
    assert native.writes == sandboxed.writes

    def without_gas(r: Receipt) -> bytes:
        return dataclasses.replace(r, gas_used=0).encode()

    assert [without_gas(r) for r in native.receipts] == [without_gas(r) for r in sandboxed.receipts]
    assert [r.events for r in native.receipts] == [r.events for r in sandboxed.receipts]
