"""Parsers for JSON-RPC params: each checks one JSON value and converts it, or raises ValueError.

The error text is shown to the client after "param 'name': ", so it says what
was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consortium.encoding.hexbytes import HexError, from_hex


def hex_bytes(size: int | None = None, *, max_size: int = 2 * 1024 * 1024) -> Callable[[Any], bytes]:
    def parse(value: Any) -> bytes:
        try:
            data = from_hex(value, size=size, what="value")
        except HexError as exc:
            raise ValueError(str(exc).removeprefix("value: ")) from None
        if len(data) > max_size:
            raise ValueError(f"{len(data)} bytes exceeds the limit of {max_size}")
        return data

    return parse


hash32 = hex_bytes(32)
address = hex_bytes(20)


def block_number(value: Any) -> int | str:
    """A block number as a JSON integer, 0x-hex, decimal string, or "latest"."""
    if value == "latest":
        return "latest"
    if isinstance(value, bool):
        raise ValueError("expected a block number, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            raise ValueError(f"expected a block number (integer, 0x-hex or \"latest\"), got {value[:32]!r}") from None
    else:
        raise ValueError(f"expected a block number, got {type(value).__name__}")
    if not 0 <= number < 2**63:
        raise ValueError(f"block number {number} is out of range")
    return number


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {json_type(value)}")
    return value


def text(max_len: int = 256) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {json_type(value)}")
        if len(value) > max_len:
            raise ValueError(f"string of {len(value)} characters exceeds the limit of {max_len}")
        return value

    return parse


def json_array(max_len: int = 64) -> Callable[[Any], list]:
    def parse(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"expected an array, got {json_type(value)}")
        if len(value) > max_len:
            raise ValueError(f"array of {len(value)} items exceeds the limit of {max_len}")
        return value

    return parse


def json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
