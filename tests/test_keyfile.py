"""Key files people can be trusted with: passphrase encryption (Argon2id + XChaCha20-Poly1305), private modes
enforced, atomic writes, and a decoder that answers every malformed file with a KeyFileError."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.crypto import KeyPair
from consortium.crypto import keyfile as K
from consortium.crypto.keyfile import (
    InsecureKeyFile,
    KeyFileError,
    PassphraseRequired,
    WrongPassphrase,
    key_from_json,
    load_key,
    save_key,
    write_secret_file,
)

KEY = KeyPair(bytes(range(32)))
FAST = {"opslimit": 1, "memlimit": 8192}
"""The cheapest Argon2id libsodium allows: these tests check the format, not the cost."""


def encrypted(tmp_path: Path, passphrase: bytes = b"correct horse battery staple") -> Path:
    path = tmp_path / "alice.json"
    save_key(KEY, path, passphrase=passphrase, **FAST)
    return path


def test_an_encrypted_key_round_trips_and_hides_the_secret(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    text = path.read_text()
    assert KEY.secret.hex() not in text and json.loads(text)["version"] == 2
    assert json.loads(text)["address"] == "0x" + KEY.address.hex()  # whose key it is, without the passphrase
    assert load_key(path, b"correct horse battery staple").secret == KEY.secret
    assert (path.stat().st_mode & 0o777) == 0o600


def test_default_cost_is_libsodium_moderate() -> None:
    assert (K.DEFAULT_OPSLIMIT, K.DEFAULT_MEMLIMIT) == (3, 256 * 1024 * 1024)


def test_a_wrong_passphrase_and_an_altered_file_get_the_same_answer(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    with pytest.raises(WrongPassphrase) as wrong:
        load_key(path, b"correct horse battery stapler")
    doc = json.loads(path.read_text())
    ct = bytearray(bytes.fromhex(doc["cipher"]["ciphertext"][2:]))
    ct[0] ^= 1
    doc["cipher"]["ciphertext"] = "0x" + ct.hex()
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase) as altered:
        load_key(path, b"correct horse battery staple")
    assert str(wrong.value) == str(altered.value) == f"wrong passphrase for {path} (or the file was altered)"


def test_public_fields_are_bound_to_the_ciphertext(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    doc = json.loads(path.read_text())
    doc["address"] = "0x" + KeyPair(b"\x09" * 32).address.hex()
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        load_key(path, b"correct horse battery staple")


def test_no_passphrase_says_how_to_give_one(tmp_path: Path, monkeypatch) -> None:
    path = encrypted(tmp_path)
    with pytest.raises(PassphraseRequired, match="CONSORTIUM_KEY_PASSPHRASE_FILE"):
        load_key(path)
    monkeypatch.delenv(K.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(K.PASSPHRASE_FILE_ENV, raising=False)
    with pytest.raises(PassphraseRequired):
        load_key(path, K.interactive_passphrase("passphrase: "))  # no terminal under pytest


def test_services_read_the_passphrase_from_a_file_or_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = encrypted(tmp_path, b"s3rvice")
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("s3rvice\n")
    monkeypatch.setenv(K.PASSPHRASE_FILE_ENV, str(secret_file))
    assert load_key(path, K.interactive_passphrase("x")).address == KEY.address
    monkeypatch.delenv(K.PASSPHRASE_FILE_ENV)
    monkeypatch.setenv(K.PASSPHRASE_ENV, "s3rvice")
    assert load_key(path, K.interactive_passphrase("x")).address == KEY.address
    monkeypatch.setenv(K.PASSPHRASE_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(KeyFileError, match="cannot read the passphrase file"):
        load_key(path, K.interactive_passphrase("x"))


def test_a_plain_key_never_asks_for_a_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    save_key(KEY, path)

    def ask() -> bytes:
        raise AssertionError("asked for a passphrase of a plain key file")
    assert load_key(path, ask).secret == KEY.secret


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o622])
def test_a_key_others_can_read_or_write_is_refused_with_the_chmod(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.json"
    save_key(KEY, path)
    path.chmod(mode)
    with pytest.raises(InsecureKeyFile) as info:
        load_key(path)
    assert f"run 'chmod 600 {path}'" in str(info.value) and f"{mode:04o}" in str(info.value)
    path.chmod(0o600)
    assert load_key(path).address == KEY.address
    path.chmod(0o400)
    assert load_key(path).address == KEY.address


def test_writes_are_atomic_on_a_full_disk(tmp_path: Path, monkeypatch) -> None:
    """A write that fails halfway leaves no key file (not even an empty one) and no temporary file."""
    path = tmp_path / "k.json"
    real_write = os.write
    calls = {"n": 0}

    def full_disk(fd: int, data) -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data)[:10])
    monkeypatch.setattr(K.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_key(KEY, path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    save_key(KEY, path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_key(KeyPair(b"\x07" * 32), path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]
    write_secret_file(path, b"replaced", overwrite=True)
    assert path.read_bytes() == b"replaced" and (path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["kdf"].update(memlimit=2**40), "kdf.memlimit must be an integer"),
    (lambda d: d["kdf"].update(opslimit=10**6), "kdf.opslimit must be an integer"),
    (lambda d: d["kdf"].update(name="scrypt"), "unsupported key derivation"),
    (lambda d: d["cipher"].update(name="aes-gcm"), "unsupported cipher"),
    (lambda d: d["kdf"].update(salt="0x00"), "kdf.salt"),
    (lambda d: d.update(secret="0x" + "00" * 32), "exactly the fields"),
])
def test_hostile_encrypted_files_are_refused_before_the_kdf(tmp_path: Path, edit, words: str) -> None:
    doc = json.loads(encrypted(tmp_path).read_text())
    edit(doc)
    with pytest.raises(KeyFileError, match=words):
        key_from_json(json.dumps(doc), passphrase=b"x")


_hexes = st.binary(max_size=50).map(lambda b: "0x" + b.hex())
_leaf = st.none() | st.booleans() | st.integers(-2, 2**70) | st.text(max_size=10) | _hexes
_val = st.recursive(_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
                    max_leaves=6)
_docs = st.fixed_dictionaries({
    "type": st.sampled_from(["consortium-key", "x"]), "version": st.sampled_from([1, 2, 3, True, "2"]),
    "suite": st.sampled_from(["ed25519-sha256", "sm2"]), "public_key": _val, "address": _val,
    "kdf": st.fixed_dictionaries({"name": st.sampled_from(["argon2id13", "x"]), "opslimit": st.sampled_from([1, 0, 99]),
                                  "memlimit": st.sampled_from([8192, 1, 2**40]), "salt": _hexes | _val}) | _val,
    "cipher": st.fixed_dictionaries({"name": st.sampled_from(["xchacha20poly1305-ietf", "x"]), "nonce": _hexes,
                                     "ciphertext": _hexes}) | _val,
}, optional={"secret": _hexes | _val})


@settings(max_examples=300, deadline=None)
@given(st.one_of(_docs.map(json.dumps), st.text(max_size=200)), st.binary(max_size=8))
def test_fuzzed_key_files_get_a_key_file_error(raw: str, passphrase: bytes) -> None:
    try:
        key_from_json(raw, passphrase=passphrase)
    except KeyFileError as exc:
        assert str(exc)


def test_account_commands_with_an_encrypted_key(tmp_path: Path, monkeypatch, capsys) -> None:
    from consortium.cli.main import main

    monkeypatch.setattr(K, "DEFAULT_OPSLIMIT", 1)
    monkeypatch.setattr(K, "DEFAULT_MEMLIMIT", 8192)
    monkeypatch.setattr(K.save_key, "__kwdefaults__", {"overwrite": False, "passphrase": None, **FAST})
    monkeypatch.delenv(K.PASSPHRASE_ENV, raising=False)
    secret = tmp_path / "pass"
    secret.write_text("hunter22\n")
    path = tmp_path / "a.json"
    assert main(["account", "new", "--out", str(path), "--encrypt"]) == 2  # no terminal, no passphrase source
    assert "set CONSORTIUM_KEY_PASSPHRASE_FILE" in capsys.readouterr().err and not path.exists()
    monkeypatch.setenv(K.PASSPHRASE_FILE_ENV, str(secret))
    assert main(["account", "new", "--out", str(path), "--encrypt", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert json.loads(path.read_text())["version"] == 2
    assert main(["account", "show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["address"] == made["address"]
    secret.write_text("wrong\n")
    assert main(["account", "show", str(path)]) == 2
    assert f"wrong passphrase for {path}" in capsys.readouterr().err
    plain = tmp_path / "p.json"
    assert main(["account", "new", "--out", str(plain)]) == 0
    capsys.readouterr()
    assert main(["account", "encrypt", str(plain)]) == 0
    assert json.loads(plain.read_text())["version"] == 2
    plain.chmod(0o644)
    assert main(["account", "show", str(plain)]) == 2
    assert f"chmod 600 {plain}" in capsys.readouterr().err
