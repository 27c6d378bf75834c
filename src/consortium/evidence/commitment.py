"""The salted commitment: what goes on chain for a notarization instead of the file's bare hash.

A bare SHA-256 on a public ledger is a dictionary oracle: evidence with little
entropy (an ID number, an amount, "I agree") is recovered by hashing guesses.
So by default the chain holds::

    commitment = SHA-256("consortium/evidence-commitment/v1" || 0x00 || salt || file_sha256)

with ``salt`` 32 bytes from the OS's CSPRNG, kept by the submitter and handed to
the arbitrator inside the proof bundle. Every input has a fixed length, and the
ASCII prefix (33 bytes plus a zero byte) separates this use of SHA-256 from every
other one in the protocol (docs/protocol.md §11.1). Without the salt the
commitment reveals nothing a guess can confirm; with it anyone recomputes it.

The *public-hash* mode (an :class:`Opening` without a salt) puts the file's
SHA-256 itself on chain, for documents meant to be looked up by hash (a public
ruling, a published contract template). It must be asked for explicitly.

The chain never learns which mode was used: both are 32 opaque bytes, the
contract's key for the record (``["ev", key]``), for co-signing and for case
attachment. The functions here are pure; only :func:`new_salt` reads randomness.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from consortium.encoding.hexbytes import HexError, from_hex, to_hex

COMMITMENT_DOMAIN = b"consortium/evidence-commitment/v1\x00"
"""34 bytes: the ASCII tag and a zero byte (no other hashed input in the protocol starts so)."""
SALT_SIZE = 32
FILE_HASH_SIZE = 32
COMMITMENT_SIZE = 32


class InvalidOpening(ValueError):
    """A salt or file hash of the wrong shape (a typed refusal for decoders of untrusted input)."""


def new_salt() -> bytes:
    """32 fresh bytes from the OS's CSPRNG. Never derive a salt from the file: it must be unguessable."""
    return secrets.token_bytes(SALT_SIZE)


def commit(file_hash: bytes, salt: bytes) -> bytes:
    """The salted commitment to the file whose SHA-256 is ``file_hash``."""
    if len(file_hash) != FILE_HASH_SIZE:
        raise InvalidOpening(f"a file hash is {FILE_HASH_SIZE} bytes (SHA-256), got {len(file_hash)}")
    if len(salt) != SALT_SIZE:
        raise InvalidOpening(f"a commitment salt is {SALT_SIZE} bytes, got {len(salt)}")
    return hashlib.sha256(COMMITMENT_DOMAIN + salt + file_hash).digest()


@dataclass(frozen=True)
class Opening:
    """What turns a file into the 32-byte key its record has on chain.

    ``salt is None`` is the explicit public-hash mode: the key is the file's SHA-256.
    """

    file_hash: bytes
    salt: bytes | None

    def __post_init__(self) -> None:
        if len(self.file_hash) != FILE_HASH_SIZE:
            raise InvalidOpening(f"a file hash is {FILE_HASH_SIZE} bytes (SHA-256), got {len(self.file_hash)}")
        if self.salt is not None and len(self.salt) != SALT_SIZE:
            raise InvalidOpening(f"a commitment salt is {SALT_SIZE} bytes, got {len(self.salt)}")

    @classmethod
    def salted(cls, file_hash: bytes) -> Opening:
        """A fresh private opening (the default for notarizing)."""
        return cls(file_hash, new_salt())

    @classmethod
    def public(cls, file_hash: bytes) -> Opening:
        return cls(file_hash, None)

    @property
    def is_public(self) -> bool:
        return self.salt is None

    @property
    def key(self) -> bytes:
        """The 32 bytes on chain: the commitment, or the file hash in public-hash mode."""
        return self.file_hash if self.salt is None else commit(self.file_hash, self.salt)

    @property
    def mode(self) -> str:
        return "public" if self.salt is None else "salted"

    def to_json(self) -> dict[str, Any]:
        """The bundle's ``evidence`` member (docs/protocol.md §11.1)."""
        return {"fileHash": to_hex(self.file_hash), "salt": None if self.salt is None else to_hex(self.salt)}

    @classmethod
    def from_json(cls, obj: Any, what: str = "evidence") -> Opening:
        """Parse untrusted JSON: exactly ``{"fileHash": 0x…32, "salt": 0x…32 | null}``; raises InvalidOpening."""
        if not isinstance(obj, dict):
            raise InvalidOpening(f"{what} must be a JSON object {{\"fileHash\", \"salt\"}}")
        if set(obj) != {"fileHash", "salt"}:
            names = ", ".join(sorted(str(k) for k in obj))[:200]
            raise InvalidOpening(f"{what} must have exactly the fields fileHash and salt, not: {names}")
        try:
            file_hash = from_hex(obj["fileHash"], size=FILE_HASH_SIZE, what=f"{what}.fileHash")
            salt = None if obj["salt"] is None else from_hex(obj["salt"], size=SALT_SIZE, what=f"{what}.salt")
        except HexError as exc:
            raise InvalidOpening(str(exc)) from None
        return cls(file_hash, salt)


@dataclass(frozen=True)
class Unopened:
    """Evidence named by its on-chain key only: a proof of the *record* (who notarized, when, who co-signed),
    not of any file. Case proofs carry these for attachments whose salt the case's prover does not hold."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != COMMITMENT_SIZE:
            raise InvalidOpening(f"an evidence key is {COMMITMENT_SIZE} bytes, got {len(self.key)}")

    is_public = False
    mode = "unopened"

    def to_json(self) -> dict[str, Any]:
        return {"key": to_hex(self.key)}


def parse_evidence_member(obj: Any, what: str = "evidence") -> Opening | Unopened:
    """A bundle's ``evidence`` member: an opening ``{fileHash, salt}`` or an unopened ``{key}``."""
    if isinstance(obj, dict) and set(obj) == {"key"}:
        try:
            return Unopened(from_hex(obj["key"], size=COMMITMENT_SIZE, what=f"{what}.key"))
        except HexError as exc:
            raise InvalidOpening(str(exc)) from None
    return Opening.from_json(obj, what)


OPENING_FILE_TYPE = "consortium-evidence-opening"
OPENING_FILE_VERSION = 1
MAX_OPENING_FILE_BYTES = 4096


def opening_file_text(opening: Opening) -> str:
    """The small file ``evidence notarize`` writes *before* it sends the transaction, so the salt is on
    disk even if the process dies before the proof bundle is written (docs/protocol.md §11.1)."""
    doc = {"type": OPENING_FILE_TYPE, "version": OPENING_FILE_VERSION, "evidence": opening.to_json()}
    return json.dumps(doc, indent=2) + "\n"


def parse_opening_document(doc: Any) -> Opening:
    """An opening file's decoded JSON; raises InvalidOpening with the reason."""
    if not isinstance(doc, dict) or doc.get("type") != OPENING_FILE_TYPE:
        raise InvalidOpening(f"not an evidence opening file (\"type\" must be {OPENING_FILE_TYPE!r})")
    if doc.get("version") != OPENING_FILE_VERSION or isinstance(doc.get("version"), bool):
        raise InvalidOpening(f"unsupported opening file version {str(doc.get('version'))[:20]!r} "
                             f"(this program reads version {OPENING_FILE_VERSION})")
    if set(doc) != {"type", "version", "evidence"}:
        raise InvalidOpening("an opening file has exactly the fields type, version and evidence")
    return Opening.from_json(doc["evidence"])


def load_opening_file(data: bytes) -> Opening:
    """Parse an opening file's bytes; raises InvalidOpening, nothing else."""
    if len(data) > MAX_OPENING_FILE_BYTES:
        raise InvalidOpening(f"an opening file is at most {MAX_OPENING_FILE_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidOpening("an opening file is UTF-8 JSON; this is not") from None
    return parse_opening_document(doc)
