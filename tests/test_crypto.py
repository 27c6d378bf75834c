"""Crypto suite and key files."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.crypto import DEFAULT_SUITE, KeyFileError, KeyPair, get_suite, load_key, save_key
from consortium.crypto.suite import CryptoError, UnknownSuite

SEED = bytes(range(32))


def test_rfc8032_test_vector_1() -> None:
    # RFC 8032 §7.1, TEST 1: empty message.
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = KeyPair(secret)
    assert key.public_key.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    sig = key.sign(b"")
    assert sig.hex().startswith("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155")
    assert DEFAULT_SUITE.verify(key.public_key, b"", sig)


def test_address_is_first_20_bytes_of_sha256_of_public_key() -> None:
    import hashlib

    key = KeyPair(SEED)
    assert key.address == hashlib.sha256(key.public_key).digest()[:20]


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=63))
def test_any_bit_flip_breaks_signature(message: bytes, pos: int) -> None:
    key = KeyPair(SEED)
    sig = bytearray(key.sign(message))
    sig[pos] ^= 1
    assert not DEFAULT_SUITE.verify(key.public_key, message, bytes(sig))


@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=80))
def test_verify_never_raises(pub: bytes, msg: bytes, sig: bytes) -> None:
    assert DEFAULT_SUITE.verify(pub, msg, sig) in (True, False)


def test_key_file_round_trip_mode_and_no_overwrite(tmp_path) -> None:
    key = KeyPair.generate()
    path = tmp_path / "k.json"
    save_key(key, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path).secret == key.secret
    with pytest.raises(KeyFileError, match="already exists"):
        save_key(KeyPair.generate(), path)
    assert load_key(path).secret == key.secret


def test_repr_never_shows_secret() -> None:
    key = KeyPair(SEED)
    assert SEED.hex() not in repr(key) and str(SEED) not in repr(key)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(secret="0x1234"), "secret"),
        (lambda d: d.update(address="0x" + "00" * 20), "address does not match"),
        (lambda d: d.update(type="other"), "not a consortium key file"),
        (lambda d: d.update(version=9), "version"),
    ],
)
def test_bad_key_files(tmp_path, edit, match) -> None:
    path = tmp_path / "k.json"
    save_key(KeyPair(SEED), path)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match=match):
        load_key(path)


def test_missing_and_garbage_key_files(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key(tmp_path / "nope.json")
    (tmp_path / "g.json").write_text("{not json")
    (tmp_path / "g.json").chmod(0o600)
    with pytest.raises(KeyFileError, match="not valid JSON"):
        load_key(tmp_path / "g.json")


def test_unknown_suite() -> None:
    with pytest.raises(UnknownSuite, match="known suites: ed25519-sha256"):
        get_suite("sm2-sm3")
    with pytest.raises(CryptoError):
        DEFAULT_SUITE.sign(b"short", b"m")
