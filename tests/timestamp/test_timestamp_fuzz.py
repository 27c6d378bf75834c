"""Hypothesis against the TSA reply decoder and token verifier: untrusted bytes give a TimestampError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.tsa import TsaFiles, make_tsa, stamp

from consortium.crypto import timestamp as ts
from consortium.crypto.timestamp import TimestampError, TrustedTsa, build_request, parse_response, verify_token

DATA = b"fuzzed checkpoint"


@pytest.fixture(scope="module")
def reply(tmp_path_factory: pytest.TempPathFactory) -> tuple[TsaFiles, bytes]:
    tsa = make_tsa(tmp_path_factory.mktemp("tsa-fuzz"), "Fuzz TSA")
    return tsa, stamp(tsa, build_request(DATA).der)


def _check(data: bytes, tsa: TsaFiles) -> None:
    for normalize in (False, True):
        try:
            token = parse_response(data, normalize=normalize)
        except TimestampError as exc:
            assert exc.kind == ts.MALFORMED and exc.message
            continue
        try:
            v = verify_token(token, ts.sha256(DATA), [TrustedTsa(tsa.name, tsa.ca_der)])
        except TimestampError as exc:
            assert exc.kind in (ts.MALFORMED, ts.OTHER_HASH, ts.OTHER_TSA, ts.BAD_SIGNATURE, ts.POLICY) and exc.message
        else:
            assert v.imprint == ts.sha256(DATA)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_random_bytes(reply: tuple[TsaFiles, bytes], data: bytes) -> None:
    _check(data, reply[0])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_replies(reply: tuple[TsaFiles, bytes], data: st.DataObject) -> None:
    tsa, good = reply
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        kind = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]), label="kind")
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        if kind == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif kind == "set":
            raw[at] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "cut":
            del raw[at:at + data.draw(st.integers(1, 64), label="len")]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16), label="ins")
        if not raw:
            raw = bytearray(b"\x30")
    _check(bytes(raw), tsa)


def test_every_single_byte_flip_is_refused_or_harmless(reply: tuple[TsaFiles, bytes]) -> None:
    """Exhaustive over positions: a flipped byte either leaves the signed content intact (certificate set order,
    unsigned parts) or is refused with a reason; it never verifies as a different claim."""
    tsa, good = reply
    original = parse_response(good, normalize=True)
    for at in range(len(good)):
        raw = bytearray(good)
        raw[at] ^= 0x01
        try:
            token = parse_response(bytes(raw), normalize=True)
            v = verify_token(token, ts.sha256(DATA), [TrustedTsa(tsa.name, tsa.ca_der)])
        except TimestampError:
            continue
        assert (v.gen_time, v.serial, v.policy, v.imprint) == (original.gen_time, original.serial, original.policy,
                                                             original.imprint), f"byte {at}"
