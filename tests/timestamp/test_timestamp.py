"""RFC 3161 tokens from a real TSA (OpenSSL's ``openssl ts -reply``): parse, verify, and every refusal."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from tests.helpers.tsa import POLICY1, POLICY2, TsaFiles, stamp

from consortium.crypto import timestamp as ts
from consortium.crypto.timestamp import TimestampError, TrustedTsa, build_request, parse_response, verify_token

DATA = b"checkpoint bytes to anchor"


def trusted(t: TsaFiles, policy: str = "") -> TrustedTsa:
    return TrustedTsa(t.name, t.ca_der, policy)


def token_from(t: TsaFiles, data: bytes = DATA, **kw) -> ts.TimestampToken:
    return parse_response(stamp(t, build_request(data).der, **kw), normalize=True)


def test_a_token_verifies_against_the_tsa_root(tsa: TsaFiles) -> None:
    req = build_request(DATA)
    before = datetime.now(UTC).replace(microsecond=0)
    token = parse_response(stamp(tsa, req.der), normalize=True)
    v = verify_token(token, ts.sha256(DATA), [trusted(tsa)], nonce=req.nonce)
    assert v.tsa == "Test TSA A"
    assert v.imprint == req.digest == ts.sha256(DATA)
    assert v.policy == POLICY1
    assert before - timedelta(seconds=2) <= v.gen_time <= datetime.now(UTC) + timedelta(seconds=2)
    assert v.accuracy == timedelta(seconds=1) and v.latest == v.gen_time + timedelta(seconds=1)


def test_the_trusted_tsa_is_found_among_several(tsa: TsaFiles, other_tsa: TsaFiles) -> None:
    v = verify_token(token_from(other_tsa), ts.sha256(DATA), [trusted(tsa), trusted(other_tsa)])
    assert v.tsa == "Test TSA B"


def test_over_http_with_the_rfc3161_transport(tsa: TsaFiles, tsa_server) -> None:
    req = build_request(DATA)
    http = urllib.request.Request(tsa_server.url, data=req.der, headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(http, timeout=30) as r:
        assert r.headers["Content-Type"] == "application/timestamp-reply"
        reply = r.read()
    v = verify_token(parse_response(reply, normalize=True), req.digest, [trusted(tsa)], nonce=req.nonce)
    assert v.tsa == tsa.name and tsa_server.served() == 1


def test_openssl_chain_order_needs_normalizing_and_stays_valid(tsa: TsaFiles) -> None:
    """OpenSSL sends its certificate SET OF in chain order; the strict parser refuses that as it arrives."""
    reply = stamp(tsa, build_request(DATA).der)
    with pytest.raises(TimestampError) as exc:
        parse_response(reply)
    assert exc.value.kind == ts.MALFORMED
    token = parse_response(reply, normalize=True)
    assert token.der != reply and len(token.der) == len(reply)
    assert parse_response(token.der).der == token.der  # normalized bytes are strict DER
    verify_token(token, ts.sha256(DATA), [trusted(tsa)])


def test_a_token_over_another_hash_is_refused(tsa: TsaFiles) -> None:
    with pytest.raises(TimestampError) as exc:
        verify_token(token_from(tsa, b"another checkpoint"), ts.sha256(DATA), [trusted(tsa)])
    assert exc.value.kind == ts.OTHER_HASH and "not 0x" in exc.value.message


def test_a_token_from_an_unlisted_tsa_is_refused(tsa: TsaFiles, other_tsa: TsaFiles) -> None:
    with pytest.raises(TimestampError) as exc:
        verify_token(token_from(other_tsa), ts.sha256(DATA), [trusted(tsa)])
    assert exc.value.kind == ts.OTHER_TSA
    assert "Test TSA B" in exc.value.message and "Test TSA A" in exc.value.message


def test_no_trusted_tsa_at_all(tsa: TsaFiles) -> None:
    with pytest.raises(TimestampError) as exc:
        verify_token(token_from(tsa), ts.sha256(DATA), [])
    assert exc.value.kind == ts.OTHER_TSA


def test_a_flipped_byte_in_the_signed_time_breaks_the_signature(tsa: TsaFiles) -> None:
    token = token_from(tsa)
    stamp_text = token.gen_time.strftime("%Y%m%d%H%M%S").encode()
    at = token.der.index(stamp_text) + 3  # a digit of the year inside the signed TSTInfo
    altered = bytearray(token.der)
    altered[at] = ord("9") if altered[at] != ord("9") else ord("8")
    forged = parse_response(bytes(altered))
    assert forged.gen_time != token.gen_time  # it parses, and claims another time
    with pytest.raises(TimestampError) as exc:
        verify_token(forged, ts.sha256(DATA), [trusted(tsa)])
    assert exc.value.kind == ts.BAD_SIGNATURE and "Test TSA A" in exc.value.message


def test_the_policy_named_for_the_tsa_is_enforced(tsa: TsaFiles) -> None:
    verify_token(token_from(tsa), ts.sha256(DATA), [trusted(tsa, POLICY1)])
    with pytest.raises(TimestampError) as exc:
        verify_token(token_from(tsa, policy=POLICY2), ts.sha256(DATA), [trusted(tsa, POLICY1)])
    assert exc.value.kind == ts.POLICY and POLICY2 in exc.value.message


def test_a_replayed_reply_fails_the_nonce_check(tsa: TsaFiles) -> None:
    old = token_from(tsa)
    with pytest.raises(TimestampError) as exc:
        verify_token(old, ts.sha256(DATA), [trusted(tsa)], nonce=build_request(DATA).nonce)
    assert "nonce" in exc.value.message


@pytest.mark.parametrize("reply", [b"", b"\x30\x03\x02\x01\x02", b"\x30" * 70_000, b"<html>502 Bad Gateway</html>"])
def test_not_a_reply(reply: bytes) -> None:
    with pytest.raises(TimestampError) as exc:
        parse_response(reply, normalize=True)
    assert exc.value.kind == ts.MALFORMED


def test_a_rejection_is_not_a_token() -> None:
    # TimeStampResp { status { status 2 (rejection), statusString "no" } } with no token
    rejection = bytes.fromhex("300b3009020102300404026e6f")
    with pytest.raises(TimestampError) as exc:
        parse_response(rejection)
    assert "did not grant" in exc.value.message or exc.value.kind == ts.MALFORMED


def test_trusted_tsa_entries_are_checked(tsa: TsaFiles) -> None:
    with pytest.raises(ValueError, match="not a DER X.509"):
        TrustedTsa("x", b"not a certificate")
    with pytest.raises(ValueError, match="printable"):
        TrustedTsa("", tsa.ca_der)
    with pytest.raises(ValueError, match="dotted OID"):
        TrustedTsa("x", tsa.ca_der, "policy one")
