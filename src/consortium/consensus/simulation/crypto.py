"""Real cryptography, memoised: the simulator's one concession to speed.

A broadcast is verified by every receiver with identical inputs, and Ed25519
verification is a deterministic function of (key, message, signature), so a
memo returns exactly what the real check would. Nothing is faked: a forged or
garbled signature misses the memo and is checked for real.
"""

from __future__ import annotations

import hashlib

import nacl.signing

from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite, KeyPair

_MEMO_LIMIT = 200_000


class MemoSuite(CryptoSuite):
    """Delegates to ``inner``; remembers verification results, signatures and derived keys."""

    def __init__(self, inner: CryptoSuite = DEFAULT_SUITE) -> None:
        self._inner = inner
        self.name = inner.name
        self.public_key_size = inner.public_key_size
        self.signature_size = inner.signature_size
        self.secret_size = inner.secret_size
        self._verified: dict[tuple[bytes, bytes, bytes], bool] = {}
        self._public: dict[bytes, bytes] = {}
        self._signed: dict[tuple[bytes, bytes], bytes] = {}
        self._signers: dict[bytes, nacl.signing.SigningKey] = {}

    def hash(self, data: bytes) -> bytes:
        return self._inner.hash(data)

    def sign(self, secret: bytes, message: bytes) -> bytes:
        key = (secret, message)
        sig = self._signed.get(key)
        if sig is None:
            if len(self._signed) > _MEMO_LIMIT:
                self._signed.clear()
            signer = self._signers.get(secret)
            if signer is None or self._inner is not DEFAULT_SUITE:
                sig = self._inner.sign(secret, message)
                if self._inner is DEFAULT_SUITE:
                    self._signers[secret] = nacl.signing.SigningKey(secret)
            else:
                sig = signer.sign(message).signature
            self._signed[key] = sig
        return sig

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        key = (public_key, message, signature)
        ok = self._verified.get(key)
        if ok is None:
            if len(self._verified) > _MEMO_LIMIT:
                self._verified.clear()
            ok = self._verified[key] = self._inner.verify(public_key, message, signature)
        return ok

    def public_key(self, secret: bytes) -> bytes:
        pub = self._public.get(secret)
        if pub is None:
            pub = self._public[secret] = self._inner.public_key(secret)
        return pub

    def new_secret(self) -> bytes:  # pragma: no cover - the simulator derives its keys
        raise NotImplementedError("simulated nodes use derived keys")


SIM_SUITE = MemoSuite()


def sim_key(label: str, index: int) -> KeyPair:
    """A fixed test key (never used outside tests): sha256(label || index) as the Ed25519 seed."""
    return KeyPair(hashlib.sha256(f"consortium-sim/{label}/{index}".encode()).digest(), SIM_SUITE)
