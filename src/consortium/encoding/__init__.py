"""Bottom layer: the canonical byte encoding and hex helpers. Imports nothing from consortium."""

from consortium.encoding.canonical import DecodeError, EncodingError, Value, decode, encode
from consortium.encoding.hexbytes import HexError, from_hex, to_hex

__all__ = ["DecodeError", "EncodingError", "HexError", "Value", "decode", "encode", "from_hex", "to_hex"]
