"""The chain's cryptographic suite: one hash function, one signature scheme, one address rule.

Callers never name Ed25519 or SHA-256 directly; they go through a
:class:`CryptoSuite`, so that a second suite (SM2/SM3, as FISCO BCOS's
national-crypto mode) is a new class plus a registry entry, chosen per chain in
the genesis file, and no caller changes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property

import nacl.bindings
import nacl.exceptions
import nacl.signing

ADDRESS_SIZE = 20
HASH_SIZE = 32


class CryptoError(ValueError):
    """A key, signature or suite name is malformed."""


class UnknownSuite(CryptoError):
    pass


class CryptoSuite(ABC):
    """What a chain needs from cryptography. Implementations must be deterministic."""

    name: str
    public_key_size: int
    signature_size: int
    secret_size: int

    @abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The chain's 32-byte hash."""

    @abstractmethod
    def sign(self, secret: bytes, message: bytes) -> bytes:
        """Sign ``message`` with the secret (seed) bytes."""

    @abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is valid; never raises for malformed input."""

    @abstractmethod
    def public_key(self, secret: bytes) -> bytes:
        """Derive the public key of a secret."""

    @abstractmethod
    def new_secret(self) -> bytes:
        """Fresh secret bytes from the OS's CSPRNG (key generation only, never consensus)."""

    def is_public_key(self, public_key: bytes) -> bool:
        """True if ``public_key`` is a usable public key of this suite (deterministic; used by governance)."""
        return len(public_key) == self.public_key_size

    def address(self, public_key: bytes) -> bytes:
        """Account address: the first 20 bytes of the hash of the public key."""
        return self.hash(public_key)[:ADDRESS_SIZE]


class Ed25519Sha256(CryptoSuite):
    """Ed25519 signatures (RFC 8032, via libsodium) and SHA-256 hashes."""

    name = "ed25519-sha256"
    public_key_size = 32
    signature_size = 64
    secret_size = 32

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def sign(self, secret: bytes, message: bytes) -> bytes:
        if len(secret) != self.secret_size:
            raise CryptoError(f"Ed25519 secret must be {self.secret_size} bytes, got {len(secret)}")
        return nacl.signing.SigningKey(secret).sign(message).signature

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != self.public_key_size or len(signature) != self.signature_size:
            return False
        try:
            nacl.signing.VerifyKey(public_key).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
            return False
        return True

    def public_key(self, secret: bytes) -> bytes:
        if len(secret) != self.secret_size:
            raise CryptoError(f"Ed25519 secret must be {self.secret_size} bytes, got {len(secret)}")
        return bytes(nacl.signing.SigningKey(secret).verify_key)

    def is_public_key(self, public_key: bytes) -> bool:
        """A point on the curve, in the prime-order subgroup, not of small order (libsodium's check)."""
        return len(public_key) == self.public_key_size and bool(
            nacl.bindings.crypto_core_ed25519_is_valid_point(public_key))

    def new_secret(self) -> bytes:
        return bytes(nacl.signing.SigningKey.generate())


ED25519_SHA256 = Ed25519Sha256()
DEFAULT_SUITE: CryptoSuite = ED25519_SHA256
_SUITES: dict[str, CryptoSuite] = {ED25519_SHA256.name: ED25519_SHA256}


def get_suite(name: str) -> CryptoSuite:
    try:
        return _SUITES[name]
    except KeyError:
        known = ", ".join(sorted(_SUITES))
        raise UnknownSuite(f"unknown crypto suite {name!r}; known suites: {known}") from None


def sha256(data: bytes) -> bytes:
    """Plain SHA-256, for things that are SHA-256 by definition (evidence file hashes)."""
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, repr=False)
class KeyPair:
    """A secret and its public key under one suite. ``repr`` never shows the secret."""

    secret: bytes
    suite: CryptoSuite = field(default=DEFAULT_SUITE)

    @classmethod
    def generate(cls, suite: CryptoSuite = DEFAULT_SUITE) -> KeyPair:
        return cls(suite.new_secret(), suite)

    @cached_property
    def public_key(self) -> bytes:
        # Cached: deriving it is a scalar multiplication, and signing code asks for it often.
        return self.suite.public_key(self.secret)

    @cached_property
    def address(self) -> bytes:
        return self.suite.address(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.suite.sign(self.secret, message)

    def __repr__(self) -> str:
        return f"KeyPair(suite={self.suite.name}, address=0x{self.address.hex()})"
