"""Hypothesis against the proof decoder and verifier: whatever the file holds, the answer is a typed
refusal (MalformedBundle / UnsupportedBundle / NotVerified) or a verification — never a crash."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.evidence.conftest import DOC, Notarized
from tests.evidence.evidence_chain import file_hash, make_genesis

from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex
from consortium.evidence import MalformedBundle, NotVerified, UnsupportedBundle, load_bundle, verify_bundle

GENESIS = make_genesis()
HASH = file_hash(DOC)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaves = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
               | st.binary(max_size=40).map(lambda b: "0x" + b.hex()))
json_values = st.recursive(json_leaves, lambda children: st.lists(children, max_size=5)
                           | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=25)


def outcome(data: bytes) -> str:
    """The verifier's whole pipeline on proof-file bytes; any other exception fails the test."""
    try:
        bundle = load_bundle(data)
    except (MalformedBundle, UnsupportedBundle) as exc:
        return getattr(exc, "code", "unsupported")
    try:
        verify_bundle(GENESIS, bundle, HASH)
    except NotVerified as exc:
        return exc.code
    return "verified"


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, prefix + (i,))
    return out


def replaced(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@FUZZ
@given(value=json_values)
def test_arbitrary_json_is_refused_cleanly(value: Any) -> None:
    assert outcome(json.dumps(value).encode()) != "verified"


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_cleanly(data: bytes) -> None:
    assert outcome(data) != "verified"


@FUZZ
@given(data=st.data())
def test_any_subtree_replaced_never_crashes(notarized: Notarized, data: st.DataObject) -> None:
    doc = notarized.full.to_json()
    path = data.draw(st.sampled_from(paths(doc)))
    value = data.draw(json_values)
    outcome(json.dumps(replaced(doc, path, value)).encode())


@FUZZ
@given(data=st.data())
def test_any_changed_hex_digit_is_not_verified(notarized: Notarized, data: st.DataObject) -> None:
    doc = notarized.full.to_json()
    hex_paths = [p for p in paths(doc) if isinstance(get(doc, p), str) and get(doc, p).startswith("0x")]
    path = data.draw(st.sampled_from(hex_paths))
    text = get(doc, path)
    assume(len(text) > 2)
    i = data.draw(st.integers(2, len(text) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789abcdef" if d != text[i].lower()]))
    edited = text[:i] + digit + text[i + 1:]
    if outcome(json.dumps(replaced(doc, path, edited)).encode()) == "verified":
        # The one malleable part: an RFC 6962 proof's (index, size) is not authenticated, only its path
        # and leaf. What the bundle proves (this leaf under this root) is unchanged.
        assert path[-1] in ("transactionProof", "receiptProof"), path
        assert canonical.decode(from_hex(edited))[2] == canonical.decode(from_hex(text))[2]


@FUZZ
@given(data=st.data())
def test_any_edited_byte_of_the_file_never_crashes(notarized: Notarized, data: st.DataObject) -> None:
    text = bytearray(notarized.full.dumps().encode())
    i = data.draw(st.integers(0, len(text) - 1))
    text[i] = data.draw(st.integers(0, 255))
    outcome(bytes(text))


@FUZZ
@given(data=st.data())
def test_every_truncation_is_malformed(notarized: Notarized, data: st.DataObject) -> None:
    text = notarized.full.dumps().encode()
    cut = data.draw(st.integers(0, len(text) - 2))  # the last byte is a newline: cutting it changes nothing
    assert outcome(text[:cut]) == "malformed-proof"
