"""Account and node key files: plain (version 1) or passphrase-encrypted (version 2).

Formats (JSON, UTF-8), documented in docs/protocol.md §3::

    {"type": "consortium-key", "version": 1, "suite": "ed25519-sha256",
     "secret": "0x<32-byte seed>", "public_key": "0x…", "address": "0x…"}

    {"type": "consortium-key", "version": 2, "suite": "ed25519-sha256",
     "public_key": "0x…", "address": "0x…",
     "kdf": {"name": "argon2id13", "opslimit": 3, "memlimit": 268435456, "salt": "0x<16 bytes>"},
     "cipher": {"name": "xchacha20poly1305-ietf", "nonce": "0x<24 bytes>", "ciphertext": "0x<48 bytes>"}}

Version 2 derives a 32-byte key from the passphrase with Argon2id (libsodium's
``crypto_pwhash`` through PyNaCl: memory-hard, so a stolen file resists guessing on
GPUs) and seals the seed with XChaCha20-Poly1305, the file's public fields as
associated data. A wrong passphrase and an altered file fail the same way, after
the same full key derivation: the error says which file, never how close a guess was.

The public key and address are redundant on purpose: a reader can check the file
is intact, and a person can see whose key it is without the passphrase. Files are
written with mode 0600 through a temporary file in the same folder, fsynced and
then linked into place, so a full disk or a crash never leaves a truncated or
empty key file; an existing file is never overwritten unless asked. A key file
that group or others can read or write is refused, with the ``chmod`` that fixes it.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.utils

from consortium.crypto.suite import CryptoError, KeyPair, get_suite
from consortium.encoding import canonical
from consortium.encoding.hexbytes import HexError, from_hex, to_hex

KEY_FILE_TYPE = "consortium-key"
PLAIN_VERSION = 1
ENCRYPTED_VERSION = 2
KDF_NAME = "argon2id13"
CIPHER_NAME = "xchacha20poly1305-ietf"
DEFAULT_OPSLIMIT = argon2id.OPSLIMIT_MODERATE
DEFAULT_MEMLIMIT = argon2id.MEMLIMIT_MODERATE
"""libsodium's "moderate" Argon2id cost: 3 passes over 256 MiB (about 1 s on one core)."""
MAX_OPSLIMIT = 16
MAX_MEMLIMIT = argon2id.MEMLIMIT_SENSITIVE
"""Bounds on what a file may ask for: a hostile key file cannot make loading it take minutes or GiBs."""
MAX_KEY_FILE_BYTES = 64 * 1024
PASSPHRASE_ENV = "CONSORTIUM_KEY_PASSPHRASE"
PASSPHRASE_FILE_ENV = "CONSORTIUM_KEY_PASSPHRASE_FILE"

Passphrase = bytes | Callable[[], bytes] | None
"""A passphrase, a function that obtains one (asked only if the file is encrypted), or None."""


class KeyFileError(CryptoError):
    """A key file is missing, unreadable, malformed, or inconsistent."""


class PassphraseRequired(KeyFileError):
    """The key file is encrypted and no passphrase was available."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the key file (or the file was altered)."""


class InsecureKeyFile(KeyFileError):
    """Group or others may read or write the key file."""


# --- writing --------------------------------------------------------------------------------------


def key_to_json(key: KeyPair) -> str:
    return json.dumps(
        {
            "type": KEY_FILE_TYPE,
            "version": PLAIN_VERSION,
            "suite": key.suite.name,
            "secret": to_hex(key.secret),
            "public_key": to_hex(key.public_key),
            "address": to_hex(key.address),
        },
        indent=2,
    ) + "\n"


def _associated_data(suite: str, public_key: bytes, address: bytes) -> bytes:
    return canonical.encode([KEY_FILE_TYPE, ENCRYPTED_VERSION, suite, public_key, address])


def encrypted_key_to_json(key: KeyPair, passphrase: bytes, *, opslimit: int = DEFAULT_OPSLIMIT,
                          memlimit: int = DEFAULT_MEMLIMIT) -> str:
    """The version-2 file of ``key`` sealed under ``passphrase``."""
    if not passphrase:
        raise KeyFileError("an empty passphrase protects nothing; choose one")
    salt = nacl.utils.random(argon2id.SALTBYTES)
    nonce = nacl.utils.random(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    derived = argon2id.kdf(32, passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        key.secret, _associated_data(key.suite.name, key.public_key, key.address), nonce, derived)
    return json.dumps({
        "type": KEY_FILE_TYPE, "version": ENCRYPTED_VERSION, "suite": key.suite.name,
        "public_key": to_hex(key.public_key), "address": to_hex(key.address),
        "kdf": {"name": KDF_NAME, "opslimit": opslimit, "memlimit": memlimit, "salt": to_hex(salt)},
        "cipher": {"name": CIPHER_NAME, "nonce": to_hex(nonce), "ciphertext": to_hex(ciphertext)},
    }, indent=2) + "\n"


def write_secret_file(path: Path | str, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically; refuse to clobber unless asked.

    The bytes go to a temporary file in the same folder (created 0600), are fsynced, and
    the file is then linked (or, with ``overwrite``, renamed) into place and the folder
    fsynced: readers see no file or the whole file, never a prefix or an empty one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyFileError(f"{path} already exists; refusing to overwrite a key file") from None
        _fsync_dir(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_key(key: KeyPair, path: Path | str, *, overwrite: bool = False, passphrase: bytes | None = None,
             opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT) -> None:
    """Write ``key`` (encrypted under ``passphrase`` when given) to ``path``, 0600 and atomically."""
    text = key_to_json(key) if passphrase is None else encrypted_key_to_json(
        key, passphrase, opslimit=opslimit, memlimit=memlimit)
    write_secret_file(path, text.encode(), overwrite=overwrite)


# --- reading --------------------------------------------------------------------------------------


def check_private(path: Path) -> None:
    """Refuse a key file that group or others may read or write (as ssh does)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    if stat.S_ISREG(mode) and mode & 0o077:
        raise InsecureKeyFile(f"key file {path} can be read or changed by other users (mode "
                              f"{stat.S_IMODE(mode):04o}); a private key must be private: run 'chmod 600 {path}'")


def load_key(path: Path | str, passphrase: Passphrase = None) -> KeyPair:
    """Load a key file; an encrypted one is opened with ``passphrase`` (asked for only then), else with
    the environment's (:func:`passphrase_from_environment`)."""
    path = Path(path)
    check_private(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_KEY_FILE_BYTES + 1)
    except IsADirectoryError:
        raise KeyFileError(f"{path} is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a key file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a key file (not UTF-8 text)") from None
    return key_from_json(text, source=str(path), passphrase=passphrase)


def is_encrypted(raw: str) -> bool:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("version") == ENCRYPTED_VERSION


def key_from_json(raw: str, *, source: str = "key file", passphrase: Passphrase = None) -> KeyPair:
    """Parse a key file's text; raises KeyFileError (or a subclass) with the reason, nothing else."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError(f"{source} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict) or doc.get("type") != KEY_FILE_TYPE:
        raise KeyFileError(f"{source} is not a consortium key file (missing \"type\": \"{KEY_FILE_TYPE}\")")
    version = doc.get("version")
    if version == PLAIN_VERSION and not isinstance(version, bool):
        suite = _suite(doc, source)
        secret = _hex(doc.get("secret"), suite.secret_size, "secret", source)
    elif version == ENCRYPTED_VERSION:
        suite = _suite(doc, source)
        secret = _decrypt(doc, suite.name, source, passphrase)
    else:
        raise KeyFileError(f"{source}: unsupported key file version {str(version)[:20]!r} "
                           f"(this program reads {PLAIN_VERSION} and {ENCRYPTED_VERSION})")
    if len(secret) != suite.secret_size:
        raise KeyFileError(f"{source}: the secret is {len(secret)} bytes, not {suite.secret_size}")
    key = KeyPair(secret, suite)
    if "public_key" in doc and doc["public_key"] != to_hex(key.public_key):
        raise KeyFileError(f"{source}: public_key does not match the secret (file edited or corrupted)")
    if "address" in doc and doc["address"] != to_hex(key.address):
        raise KeyFileError(f"{source}: address does not match the secret (file edited or corrupted)")
    return key


def _suite(doc: dict[str, Any], source: str) -> Any:
    try:
        return get_suite(str(doc.get("suite"))[:64])
    except CryptoError as exc:
        raise KeyFileError(f"{source}: {exc}") from None


def _hex(value: Any, size: int | None, what: str, source: str) -> bytes:
    try:
        return from_hex(value, size=size, what=what)
    except HexError as exc:
        raise KeyFileError(f"{source}: {exc}") from None


def _int(value: Any, lo: int, hi: int, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise KeyFileError(f"{source}: {what} must be an integer from {lo} to {hi}")
    return value


def _decrypt(doc: dict[str, Any], suite: str, source: str, passphrase: Passphrase) -> bytes:
    if set(doc) != {"type", "version", "suite", "public_key", "address", "kdf", "cipher"}:
        raise KeyFileError(f"{source}: an encrypted key file has exactly the fields type, version, suite, "
                           "public_key, address, kdf and cipher")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME or set(kdf) != {"name", "opslimit", "memlimit", "salt"}:
        raise KeyFileError(f"{source}: unsupported key derivation (this program reads {KDF_NAME})")
    if not isinstance(cipher, dict) or cipher.get("name") != CIPHER_NAME or set(cipher) != {"name", "nonce",
                                                                                            "ciphertext"}:
        raise KeyFileError(f"{source}: unsupported cipher (this program reads {CIPHER_NAME})")
    opslimit = _int(kdf["opslimit"], argon2id.OPSLIMIT_MIN, MAX_OPSLIMIT, "kdf.opslimit", source)
    memlimit = _int(kdf["memlimit"], argon2id.MEMLIMIT_MIN, MAX_MEMLIMIT, "kdf.memlimit", source)
    salt = _hex(kdf["salt"], argon2id.SALTBYTES, "kdf.salt", source)
    nonce = _hex(cipher["nonce"], nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "cipher.nonce", source)
    ciphertext = _hex(cipher["ciphertext"], None, "cipher.ciphertext", source)
    if len(ciphertext) > 1024:
        raise KeyFileError(f"{source}: cipher.ciphertext is too long for a key")
    public_key = _hex(doc["public_key"], None, "public_key", source)
    address = _hex(doc["address"], None, "address", source)
    secret = passphrase() if callable(passphrase) else passphrase
    if not secret:  # services (a node, a gateway) get theirs from the environment without asking
        secret = passphrase_from_environment()
    if not secret:
        raise PassphraseRequired(f"{source} is encrypted: give its passphrase (on a terminal you are asked; a "
                                 f"service sets {PASSPHRASE_FILE_ENV} to a file holding it, or {PASSPHRASE_ENV})")
    derived = argon2id.kdf(32, secret, salt, opslimit=opslimit, memlimit=memlimit)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, _associated_data(suite, public_key, address), nonce, derived)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(f"wrong passphrase for {source} (or the file was altered)") from None


def passphrase_from_environment() -> bytes | None:
    """A service's passphrase: the file named by $CONSORTIUM_KEY_PASSPHRASE_FILE (one trailing newline
    dropped), else $CONSORTIUM_KEY_PASSPHRASE; None if neither is set."""
    path = os.environ.get(PASSPHRASE_FILE_ENV)
    if path:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read the passphrase file {path} (${PASSPHRASE_FILE_ENV}): "
                               f"{exc.strerror}") from None
        return data[:-1] if data.endswith(b"\n") else data
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def interactive_passphrase(prompt: str) -> Callable[[], bytes]:
    """The environment's passphrase, else one typed on the terminal (never echoed); else none."""
    def ask() -> bytes:
        given = passphrase_from_environment()
        if given is not None:
            return given
        if sys.stdin is not None and sys.stdin.isatty():
            return getpass.getpass(prompt).encode()
        return b""
    return ask
