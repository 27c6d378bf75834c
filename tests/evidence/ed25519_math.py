"""Textbook Ed25519 point arithmetic (RFC 8032 §5.1), for *crafting test vectors only*.

Slow, affine, variable-time: it exists so the tests can build the edge cases
(small-order keys and R values, mixed-order keys, non-canonical S and encodings)
that separate Ed25519 verifiers, and pin which of them the chain accepts
(docs/protocol.md §11.5). Nothing in the product uses it.
"""

from __future__ import annotations

import hashlib

Point = tuple[int, int]

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY: Point = (0, 1)


def inv(x: int) -> int:
    return pow(x, P - 2, P)


def add(a: Point, b: Point) -> Point:
    x1, y1 = a
    x2, y2 = b
    t = D * x1 * x2 * y1 * y2 % P
    return (x1 * y2 + x2 * y1) * inv(1 + t) % P, (y1 * y2 + x1 * x2) * inv(1 - t) % P


def mul(k: int, point: Point) -> Point:
    result = IDENTITY
    while k:
        if k & 1:
            result = add(result, point)
        point = add(point, point)
        k >>= 1
    return result


def x_of(y: int, sign: int) -> int | None:
    """The x with parity ``sign`` on the curve at ``y``, or None."""
    xx = (y * y - 1) * inv(D * y * y + 1) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * SQRT_M1 % P
    if (x * x - xx) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


_BY = 4 * inv(5) % P
BASE: Point = (x_of(_BY, 0) or 0, _BY)


def encode(point: Point) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def h512(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def order8_point() -> Point:
    """A point of order exactly 8 (a generator of the torsion subgroup)."""
    for y in range(2, 1000):
        for sign in (0, 1):
            x = x_of(y, sign)
            if x is None:
                continue
            t = mul(L, (x, y))
            if t != IDENTITY and mul(4, t) != IDENTITY:
                return t
    raise AssertionError("no torsion point found")
