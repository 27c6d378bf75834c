"""Build tests/evidence/fixtures/ed25519-acceptance.json: Ed25519 edge cases and the chain's verdict on each.

Run ``python -m tests.evidence.ed25519_vectors`` to regenerate (deterministic). The
file is meant for second implementations of the verifier (docs/protocol.md §11.5):
every vector must get the ``accept`` verdict shown.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.evidence.ed25519_math import BASE, IDENTITY, L, P, add, encode, h512, mul, order8_point

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ed25519-acceptance.json"
MESSAGE = b"consortium ed25519 acceptance vectors"


def _sig(r_enc: bytes, s: int) -> bytes:
    return r_enc + s.to_bytes(32, "little")


def generate() -> list[dict[str, object]]:
    a = 0x1234567 * 99991 % L
    A = mul(a, BASE)
    T8 = order8_point()
    out: list[dict[str, object]] = []

    def vec(name: str, pk: bytes, sig: bytes, accept: bool, msg: bytes = MESSAGE, why: str = "") -> None:
        out.append({"name": name, "publicKey": pk.hex(), "message": msg.hex(), "signature": sig.hex(),
                    "accept": accept, "why": why})

    r = 777
    R = mul(r, BASE)
    k = h512(encode(R), encode(A), MESSAGE) % L
    s = (r + k * a) % L
    vec("valid", encode(A), _sig(encode(R), s), True, why="[S]B = R + [k]A")
    vec("wrong message", encode(A), _sig(encode(R), s), False, MESSAGE + b"!", why="equation fails")
    vec("S not reduced (S + L)", encode(A), _sig(encode(R), s + L), False, why="S must be < L")
    vec("public key = identity (small order)", encode(IDENTITY), _sig(encode(R), r), False,
        why="A of small order; OpenSSL accepts")
    non_canonical_identity = (1 + P).to_bytes(32, "little")
    vec("public key = identity, non-canonical encoding (y = 1 + p)", non_canonical_identity, _sig(encode(R), r),
        False, why="A not canonically encoded and of small order; OpenSSL accepts")
    for rr in range(1, 1000):  # a key of order 8: the equation holds when 8 divides k
        R8 = mul(rr, BASE)
        if h512(encode(R8), encode(T8), MESSAGE) % L % 8 == 0:
            vec("public key of order 8", encode(T8), _sig(encode(R8), rr), False,
                why="A of small order; OpenSSL accepts")
            break
    kz = h512(encode(IDENTITY), encode(A), MESSAGE) % L
    vec("R = identity (small order)", encode(A), _sig(encode(IDENTITY), kz * a % L), False,
        why="R of small order; OpenSSL accepts")
    kzn = h512(non_canonical_identity, encode(A), MESSAGE) % L
    vec("R = identity, non-canonical encoding", encode(A), _sig(non_canonical_identity, kzn * a % L), False,
        why="R not canonically encoded and of small order")
    Am = add(A, T8)
    found = set()
    for rr in range(1, 1000):
        Rm = mul(rr, BASE)
        km = h512(encode(Rm), encode(Am), MESSAGE) % L
        cofactorless = km % 8 == 0
        if cofactorless in found:
            continue
        found.add(cofactorless)
        vec(f"mixed-order public key (A + T8), {'k divisible by 8' if cofactorless else 'k not divisible by 8'}",
            encode(Am), _sig(encode(Rm), (rr + km * a) % L), cofactorless,
            why="cofactorless equation holds" if cofactorless else "only the cofactored equation holds")
        if len(found) == 2:
            break
    Rt = add(R, T8)
    kt = h512(encode(Rt), encode(A), MESSAGE) % L
    vec("mixed-order R (rB + T8)", encode(A), _sig(encode(Rt), (r + kt * a) % L), False,
        why="only the cofactored equation holds")
    return out


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps({"suite": "ed25519-sha256", "vectors": generate()}, indent=2) + "\n")
    print(f"wrote {FIXTURE}")
