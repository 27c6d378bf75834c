"""The salted evidence commitment (docs/protocol.md §11.1): the documented bytes, and its decoder fuzzed."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_protocol_doc import examples

from consortium.evidence.commitment import (
    COMMITMENT_DOMAIN,
    InvalidOpening,
    Opening,
    commit,
    load_opening_file,
    new_salt,
    opening_file_text,
)

FILE = b"hello, arbitration\n"
FILE_HASH = hashlib.sha256(FILE).digest()


def test_the_documented_example_is_what_the_code_computes() -> None:
    ex = examples()
    salt = ex["commitment_salt"]
    assert ex["commitment_input"] == b"consortium/evidence-commitment/v1\x00" + salt + FILE_HASH
    assert len(ex["commitment_input"]) == 98 and len(COMMITMENT_DOMAIN) == 34
    assert commit(FILE_HASH, salt) == ex["commitment"] == hashlib.sha256(ex["commitment_input"]).digest()
    assert Opening(FILE_HASH, salt).key == ex["commitment"]


def test_salt_changes_the_commitment_and_public_mode_is_the_bare_hash() -> None:
    a, b = Opening.salted(FILE_HASH), Opening.salted(FILE_HASH)
    assert a.salt != b.salt and a.key != b.key and FILE_HASH not in (a.key, b.key)
    assert Opening.public(FILE_HASH).key == FILE_HASH and Opening.public(FILE_HASH).mode == "public"
    assert len(new_salt()) == 32 and new_salt() != new_salt()


@pytest.mark.parametrize("file_hash, salt", [(b"\x00" * 31, b"\x00" * 32), (b"\x00" * 32, b"\x00" * 33),
                                              (b"", b"")])
def test_wrong_sizes_are_refused(file_hash: bytes, salt: bytes) -> None:
    with pytest.raises(InvalidOpening, match="bytes"):
        commit(file_hash, salt)
    with pytest.raises(InvalidOpening):
        Opening(file_hash, salt)


def test_json_round_trip() -> None:
    for opening in (Opening.salted(FILE_HASH), Opening.public(FILE_HASH)):
        assert Opening.from_json(opening.to_json()) == opening
    assert Opening.public(FILE_HASH).to_json() == {"fileHash": "0x" + FILE_HASH.hex(), "salt": None}


@pytest.mark.parametrize("obj, words", [
    (None, "JSON object"),
    ({"fileHash": "0x" + "00" * 32}, "exactly the fields"),
    ({"fileHash": "0x" + "00" * 32, "salt": None, "x": 1}, "exactly the fields"),
    ({"fileHash": "0x" + "00" * 31, "salt": None}, "fileHash: expected 32 bytes"),
    ({"fileHash": "0x" + "00" * 32, "salt": "0x00"}, "salt: expected 32 bytes"),
    ({"fileHash": "0x" + "00" * 32, "salt": 7}, "salt: expected a 0x-hex string"),
])
def test_malformed_openings_get_a_reason(obj, words: str) -> None:
    with pytest.raises(InvalidOpening, match=words):
        Opening.from_json(obj)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70)
    | st.binary(min_size=0, max_size=40).map(lambda b: "0x" + b.hex()),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["fileHash", "salt", "x"]), c, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzzed_openings_parse_or_are_refused_with_invalid_opening(obj) -> None:
    try:
        opening = Opening.from_json(obj)
    except InvalidOpening as exc:
        assert str(exc)
        return
    assert Opening.from_json(opening.to_json()) == opening


def test_opening_file_round_trip_and_refusals() -> None:
    opening = Opening.salted(FILE_HASH)
    assert load_opening_file(opening_file_text(opening).encode()) == opening
    for data, words in ((b"", "UTF-8 JSON"), (b"\xff", "UTF-8 JSON"), (b"[]", "not an evidence opening file"),
                        (b'{"type": "consortium-evidence-opening", "version": 2, "evidence": {}}', "version"),
                        (b'{"type": "consortium-evidence-opening", "version": 1}', "exactly the fields"),
                        (b" " * 5000, "at most")):
        with pytest.raises(InvalidOpening, match=words):
            load_opening_file(data)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: __import__("json").dumps(
    {"type": "consortium-evidence-opening", "version": 1, "evidence": v}).encode())))
def test_fuzzed_opening_files_parse_or_are_refused(data: bytes) -> None:
    try:
        load_opening_file(data)
    except InvalidOpening as exc:
        assert str(exc)
