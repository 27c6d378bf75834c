"""Account and node key files.

Format (JSON, UTF-8), documented in docs/protocol.md::

    {"type": "consortium-key", "version": 1, "suite": "ed25519-sha256",
     "secret": "0x<32-byte seed>", "public_key": "0x…", "address": "0x…"}

The public key and address are redundant on purpose: a reader can check the
file is intact, and a person can see whose key it is without loading it.
Files are created with mode 0600 atomically (never world-readable, not even
for an instant), and an existing file is never overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from consortium.crypto.suite import CryptoError, KeyPair, get_suite
from consortium.encoding.hexbytes import HexError, from_hex, to_hex

KEY_FILE_TYPE = "consortium-key"


class KeyFileError(CryptoError):
    """A key file is missing, unreadable, malformed, or inconsistent."""


def key_to_json(key: KeyPair) -> str:
    return json.dumps(
        {
            "type": KEY_FILE_TYPE,
            "version": 1,
            "suite": key.suite.name,
            "secret": to_hex(key.secret),
            "public_key": to_hex(key.public_key),
            "address": to_hex(key.address),
        },
        indent=2,
    ) + "\n"


def write_secret_file(path: Path | str, data: bytes, *, overwrite: bool = False) -> None:
    """Create ``path`` with mode 0600 and write ``data``; refuse to clobber unless asked."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def save_key(key: KeyPair, path: Path | str, *, overwrite: bool = False) -> None:
    write_secret_file(path, key_to_json(key).encode(), overwrite=overwrite)


def load_key(path: Path | str) -> KeyPair:
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    return key_from_json(raw, source=str(path))


def key_from_json(raw: str, *, source: str = "key file") -> KeyPair:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != KEY_FILE_TYPE:
        raise KeyFileError(f"{source} is not a consortium key file (missing \"type\": \"{KEY_FILE_TYPE}\")")
    if doc.get("version") != 1:
        raise KeyFileError(f"{source}: unsupported key file version {doc.get('version')!r}")
    suite = get_suite(str(doc.get("suite")))
    try:
        secret = from_hex(doc.get("secret"), size=suite.secret_size, what="secret")
    except HexError as exc:
        raise KeyFileError(f"{source}: {exc}") from None
    key = KeyPair(secret, suite)
    if "public_key" in doc and doc["public_key"] != to_hex(key.public_key):
        raise KeyFileError(f"{source}: public_key does not match the secret (file edited or corrupted)")
    if "address" in doc and doc["address"] != to_hex(key.address):
        raise KeyFileError(f"{source}: address does not match the secret (file edited or corrupted)")
    return key
