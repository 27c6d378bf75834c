"""The exact Ed25519 acceptance rules of docs/protocol.md §11.5, pinned on crafted edge cases.

libsodium (through PyNaCl) is the chain's verifier; OpenSSL is the common other choice, and it
accepts small-order keys and R values that libsodium refuses. A second implementation of the
offline verifier must give every vector in fixtures/ed25519-acceptance.json its ``accept``
verdict, or two verifiers built from the spec disagree on the same proof.
"""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.evidence.ed25519_math import IDENTITY, L, mul, order8_point
from tests.evidence.ed25519_vectors import FIXTURE, generate

from consortium.crypto.suite import ED25519_SHA256

VECTORS = json.loads(FIXTURE.read_text())["vectors"]


def test_the_fixture_is_what_the_generator_makes() -> None:
    assert VECTORS == generate()
    assert {v["accept"] for v in VECTORS} == {True, False} and len(VECTORS) >= 10


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_chain_suite_gives_each_vector_its_verdict(vector: dict) -> None:
    pk, msg, sig = (bytes.fromhex(vector[k]) for k in ("publicKey", "message", "signature"))
    assert ED25519_SHA256.verify(pk, msg, sig) is vector["accept"], vector["why"]


def openssl_accepts(vector: dict) -> bool:
    pk, msg, sig = (bytes.fromhex(vector[k]) for k in ("publicKey", "message", "signature"))
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


def test_openssl_disagrees_exactly_on_small_order_points() -> None:
    """Why the rules must be written down: a verifier on OpenSSL accepts these; ours must not."""
    differ = {v["name"] for v in VECTORS if openssl_accepts(v) != v["accept"]}
    assert differ == {v["name"] for v in VECTORS if "OpenSSL accepts" in v["why"]}
    assert differ  # the divergence is real


def test_small_order_claims_are_true() -> None:
    t8 = order8_point()
    assert mul(8, t8) == IDENTITY and mul(4, t8) != IDENTITY
    s_not_reduced = next(v for v in VECTORS if v["name"].startswith("S not reduced"))
    assert int.from_bytes(bytes.fromhex(s_not_reduced["signature"])[32:], "little") >= L
