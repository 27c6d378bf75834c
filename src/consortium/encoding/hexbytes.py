"""0x-hex, the one textual form of hashes, addresses, keys and signatures (RPC, CLI, proofs)."""

from __future__ import annotations


class HexError(ValueError):
    """Text is not 0x-prefixed hex of the expected length."""


def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


_HEX_DIGITS = "0123456789abcdefABCDEF"


def from_hex(text: object, *, size: int | None = None, what: str = "value") -> bytes:
    """Parse 0x-hex; ``size`` (in bytes) is enforced when given.

    The 0x prefix is required so that a decimal number or a file name passed by
    mistake is refused instead of being read as hex.
    """
    if not isinstance(text, str):
        raise HexError(f"{what}: expected a 0x-hex string, got {type(text).__name__}")
    if not text.startswith(("0x", "0X")):
        raise HexError(f"{what}: {text[:20]!r} must start with 0x")
    body = text[2:]
    if body.strip(_HEX_DIGITS):  # bytes.fromhex would skip whitespace: "0xab cd" is not hex (docs/protocol.md §1)
        raise HexError(f"{what}: {text[:20]!r}… contains characters that are not hex digits")
    if len(body) % 2:
        raise HexError(f"{what}: odd number of hex digits")
    try:
        data = bytes.fromhex(body)
    except ValueError:
        raise HexError(f"{what}: {text[:20]!r}… contains characters that are not hex digits") from None
    if size is not None and len(data) != size:
        raise HexError(f"{what}: expected {size} bytes ({2 * size} hex digits), got {len(data)}")
    return data
