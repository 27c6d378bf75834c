"""The verifier page's Ed25519 (WebCrypto plus the rules of docs/protocol.md §11.5 it adds in JavaScript) gives
every vector of tests/evidence/fixtures/ed25519-acceptance.json its verdict, in real Chromium — the vectors on
which libsodium and OpenSSL-based verifiers differ — and agrees with the chain's suite (libsodium) on random
keys, messages and bit-flipped signatures."""

from __future__ import annotations

import json
import random

import pytest
from tests.evidence.ed25519_vectors import FIXTURE

from consortium.crypto import KeyPair
from consortium.crypto.suite import ED25519_SHA256

pytestmark = pytest.mark.slow

VECTORS = json.loads(FIXTURE.read_text())["vectors"]

JS_VERIFY = """async (vectors) => {
  const V = window.ConsortiumVerifier, b = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
  const out = [];
  for (const v of vectors) out.push(await V.ed25519(b(v.publicKey), b(v.message), b(v.signature)));
  return out;
}"""


def page_verdicts(verifier_js, vectors: list[dict]) -> list[bool]:
    got = verifier_js.page.evaluate(JS_VERIFY, vectors)
    assert not verifier_js.errors, verifier_js.errors
    return got


def test_page_gives_each_acceptance_vector_its_verdict(verifier_js) -> None:
    got = page_verdicts(verifier_js, VECTORS)
    wrong = [(v["name"], v["why"], v["accept"]) for v, g in zip(VECTORS, got, strict=True) if g is not v["accept"]]
    assert not wrong, f"the page disagrees with protocol.md §11.5 on: {wrong}"


def test_page_agrees_with_libsodium_on_random_signatures(verifier_js) -> None:
    rng = random.Random(15)
    vectors = []
    for i in range(64):
        key = KeyPair(rng.randbytes(32))
        msg = rng.randbytes(rng.choice((0, 1, 32, 37, 200)))
        sig = bytearray(key.sign(msg))
        pk = bytearray(key.public_key)
        if i % 4 == 1:
            sig[rng.randrange(64)] ^= 1 << rng.randrange(8)
        elif i % 4 == 2:
            pk[rng.randrange(32)] ^= 1 << rng.randrange(8)
        elif i % 4 == 3 and msg:
            msg = msg[:-1]
        vectors.append({"publicKey": pk.hex(), "message": msg.hex(), "signature": sig.hex(),
                        "accept": ED25519_SHA256.verify(bytes(pk), msg, bytes(sig))})
    got = page_verdicts(verifier_js, vectors)
    assert [v["accept"] for v in vectors] == got
    assert 16 <= sum(got) < 64  # both verdicts were exercised
