"""The one canonical encoding of everything that is hashed, signed or stored.

Every ledger object, every contract value and every Merkle node becomes bytes
through this module and nowhere else, so that two nodes (or a client written in
another language) always produce the same bytes for the same value.

The encoding is MessagePack restricted to a canonical subset:

* nil, booleans, integers in [-2**63, 2**64 - 1], UTF-8 strings, binary
  strings, arrays, and maps whose keys are strings;
* every item uses its shortest MessagePack form (what ``msgpack.packb`` emits);
* map keys appear in strictly increasing order of their UTF-8 bytes, so a map
  has exactly one encoding;
* floats, extension types and timestamps are refused: they are either
  nondeterministic across platforms or ambiguous.

Decoding is strict and single-pass: msgpack (C) reads the bytes, one walk over
the decoded value refuses floats, non-string or unsorted map keys and excess
depth, and msgpack (C) packs the value again to compare with the input, which
refuses every non-shortest form and duplicate map key without a hand-written
parser and without the encoder's Python walk. Any failure raises
:class:`DecodeError` and nothing else, because decoders sit on untrusted input
(network frames, transactions, proof files, database values). :class:`Reader`
decodes the items of an array one at a time with the same checks, handing out
each item's exact bytes, so a block keeps its transactions' wire bytes and a
consensus message its block's without encoding anything again.
"""

from __future__ import annotations

import threading
from typing import Any, TypeAlias

import msgpack

Value: TypeAlias = (
    None | bool | int | str | bytes | list["Value"] | tuple["Value", ...] | dict[str, "Value"]
)
"""A canonical value: what contracts store and pass, and what ledger objects are made of."""

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
MAX_DEPTH = 32
"""Nesting bound for arrays and maps, so hostile input cannot exhaust the stack."""

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
"""Largest encoded value accepted by :func:`decode` unless the caller says otherwise."""


class EncodingError(ValueError):
    """A value cannot be encoded canonically (float, oversize int, non-str map key, ...)."""


class DecodeError(ValueError):
    """Bytes are not the canonical encoding of a value or of the expected object."""


_SCALARS = frozenset((bytes, str, type(None), bool))
"""Exact types that are canonical as they are (subclasses take the slow path and are converted)."""


def _prepare(value: Any, depth: int) -> object:
    """Check ``value`` against the canonical subset and return what msgpack should pack.

    One walk does both jobs: it refuses what msgpack would otherwise happily
    pack (floats, huge ints, non-string map keys, deep nesting) and rebuilds
    maps in canonical key order. Containers without maps inside are returned
    as they are, so the common case allocates nothing. Sorting keys as Python
    strings is sorting them by UTF-8 bytes: UTF-8 preserves code point order
    (strings that cannot be UTF-8 encoded fail in msgpack and are refused).

    Items of containers that are scalars of exact types are checked in line rather than by a
    call each (most items are): same checks, same order, so the same value or the same error.
    """
    t = type(value)
    if t in _SCALARS:
        return value
    if t is int:
        if INT_MIN <= value <= INT_MAX:
            return value
        raise EncodingError(f"integer {value} outside [-2**63, 2**64-1]")
    if t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
        out = None
        for i, item in enumerate(value):
            ti = type(item)
            if ti in _SCALARS or (ti is int and INT_MIN <= item <= INT_MAX):
                continue
            prepared = _prepare(item, depth + 1)
            if prepared is not item:
                if out is None:
                    out = list(value)
                out[i] = prepared
        return value if out is None else out
    if t is dict:
        if depth >= MAX_DEPTH:
            raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
        for key in value:
            if type(key) is not str and not isinstance(key, str):
                raise EncodingError(f"map key {key!r} is not a string")
        ordered = {}
        for k in sorted(value):
            item = value[k]
            ti = type(item)
            if ti in _SCALARS or (ti is int and INT_MIN <= item <= INT_MAX):
                ordered[k] = item
            else:
                ordered[k] = _prepare(item, depth + 1)
        return ordered
    # Subclasses (IntEnum, str subclasses, ...) and everything that is refused.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _prepare(int(value), depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return _prepare(list(value), depth)
    if isinstance(value, dict):
        return _prepare(dict(value), depth)
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in canonical data (use integers)")
    raise EncodingError(f"type {type(value).__name__} cannot be encoded canonically")


class _Packers(threading.local):
    """One msgpack packer per thread: ``msgpack.packb`` builds a new Packer on every call (half a
    microsecond, more than packing a short value), and a packer's buffer must not be shared
    between threads."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(use_bin_type=True).pack


_PACKERS = _Packers()


def pack(value: object) -> bytes:
    """``msgpack.packb(value, use_bin_type=True)`` with this thread's packer. Not a canonical
    encoder: only for values already known canonical (:func:`encode` checks; callers that build
    fixed-shape records pack their checked scalars with it)."""
    return _PACKERS.pack(value)


def encode(value: Value) -> bytes:
    """Encode a canonical value. Raises :class:`EncodingError` for anything else."""
    prepared = _prepare(value, 0)
    try:
        return _PACKERS.pack(prepared)
    except UnicodeEncodeError as exc:
        raise EncodingError(f"text is not valid UTF-8 (lone surrogate?): {exc.reason}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # pragma: no cover - _prepare guards
        raise EncodingError(str(exc)) from exc


def array_header(length: int) -> bytes:
    """The canonical MessagePack header of an array of ``length`` items.

    ``array_header(n) + b"".join(encode(x) for x in items)`` is exactly
    ``encode(list(items))``; this lets an array be built from items whose
    encodings are already known (cached transaction bytes) without re-encoding.
    """
    if length < 16:
        return bytes((0x90 | length,))
    if length < 2**16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Value:
    """Decode canonical bytes into a value (arrays become lists).

    Raises :class:`DecodeError` for anything that is not exactly the canonical
    encoding of one value: truncation, trailing bytes, floats, extension
    types, non-string or unsorted map keys, non-shortest forms, excess depth.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise DecodeError(f"encoded value is {len(data)} bytes; the limit is {max_size}")
    if not data:
        raise DecodeError("empty input")
    try:
        value = msgpack.unpackb(data, **_UNPACK)
    except Exception as exc:  # msgpack raises assorted types on garbage; all mean "bad bytes"
        raise _malformed(exc) from None
    check_canonical(value, data)
    return value


def check_canonical(value: Value, data: bytes) -> None:
    """Raise :class:`DecodeError` unless ``data`` is the canonical encoding of ``value`` (just decoded from it).

    The walk refuses what packing would reproduce faithfully but the canonical
    subset forbids (floats, unsorted or non-string keys, depth); packing again
    refuses non-shortest forms and duplicate keys (a dict keeps one of them).
    """
    _check_value(value, 0)
    try:
        again = _PACKERS.pack(value)
    except Exception as exc:  # pragma: no cover - a decoded value always packs
        raise DecodeError(f"not canonical: {exc.__class__.__name__}") from None
    if again != data:
        raise DecodeError("not canonical: re-encoding differs (non-shortest form or duplicate map key)")


def _check_value(value: Value, depth: int) -> None:
    t = type(value)
    if t is list:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"not canonical: value nested deeper than {MAX_DEPTH} levels")
        for item in value:  # type: ignore[union-attr]
            if type(item) in _NESTED:
                _check_value(item, depth + 1)
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"not canonical: value nested deeper than {MAX_DEPTH} levels")
        previous: str | None = None
        for key, item in value.items():  # type: ignore[union-attr]
            if type(key) is not str:
                raise DecodeError(f"not canonical: map key {key!r} is not a string")
            # Code point order is UTF-8 byte order; a decoded dict holds no key twice.
            if previous is not None and key < previous:
                raise DecodeError("not canonical: map keys are not in sorted order")
            previous = key
            if type(item) in _NESTED:
                _check_value(item, depth + 1)
    elif t is float:
        raise DecodeError("not canonical: floats are not allowed in canonical data (use integers)")


_NESTED = (list, dict, float)
_UNPACK: dict[str, Any] = {}  # filled below, once _refuse_ext exists


def _malformed(exc: Exception) -> DecodeError:
    if isinstance(exc, DecodeError):
        return exc
    if isinstance(exc, (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError)):
        return DecodeError(f"malformed encoding: {exc}")
    if isinstance(exc, (ValueError, TypeError, UnicodeDecodeError, RecursionError, MemoryError)):
        return DecodeError(f"malformed encoding: {exc.__class__.__name__}: {exc}")
    return DecodeError(f"malformed encoding: {exc.__class__.__name__}")


def _refuse_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"extension type {code} is not allowed")


_UNPACK.update(raw=False, use_list=True, strict_map_key=True, ext_hook=_refuse_ext, timestamp=0)


class Reader:
    """Strict, sequential decoding of one canonical array whose items are wanted as bytes too.

    ``Reader(data).array(n)`` reads the array header; then each :meth:`item`
    returns the next item's value and its exact bytes (a slice of ``data``),
    checked exactly as :func:`decode` checks a whole value; :meth:`end` refuses
    trailing bytes. A block is decoded this way so that each transaction keeps
    the bytes it arrived as (its hash and Merkle leaf are computed from them),
    and a consensus message so that its attached block does.
    """

    __slots__ = ("_data", "_unpacker")

    def __init__(self, data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        if len(data) > max_size:
            raise DecodeError(f"encoded value is {len(data)} bytes; the limit is {max_size}")
        if not data:
            raise DecodeError("empty input")
        self._data = data
        self._unpacker = msgpack.Unpacker(max_buffer_size=max(len(data), 1), **_UNPACK)
        self._unpacker.feed(data)

    def array(self, what: str, *, length: int | None = None, max_len: int | None = None) -> int:
        """Read an array header (shortest form), optionally of exactly ``length`` or at most ``max_len`` items."""
        start = self._unpacker.tell()
        try:
            n = self._unpacker.read_array_header()
        except msgpack.OutOfData:
            raise DecodeError(f"{what}: truncated") from None
        except Exception:
            raise DecodeError(f"{what}: expected an array") from None

        if self._data[start:self._unpacker.tell()] != array_header(n):
            raise DecodeError(f"{what}: not canonical (array header not in its shortest form)")
        if length is not None and n != length:
            raise DecodeError(f"{what}: expected {length} fields, got {n}")
        if max_len is not None and n > max_len:
            raise DecodeError(f"{what}: {n} items exceeds the limit of {max_len}")
        return n

    def item(self) -> tuple[Value, bytes]:
        """The next item and its exact bytes, checked canonical."""
        start = self._unpacker.tell()
        try:
            value = self._unpacker.unpack()
        except msgpack.OutOfData:
            raise DecodeError("malformed encoding: truncated") from None
        except Exception as exc:
            raise _malformed(exc) from None
        raw = self._data[start:self._unpacker.tell()]
        check_canonical(value, raw)
        return value, raw

    def value(self) -> Value:
        return self.item()[0]

    def raw_item(self) -> bytes:
        """The next item's bytes, not decoded (the caller decodes them strictly, e.g. ``Block.decode``)."""
        start = self._unpacker.tell()
        try:
            self._unpacker.skip()
        except msgpack.OutOfData:
            raise DecodeError("malformed encoding: truncated") from None
        except Exception as exc:
            raise _malformed(exc) from None
        return self._data[start:self._unpacker.tell()]

    def end(self) -> None:
        if self._unpacker.tell() != len(self._data):
            raise DecodeError(f"malformed encoding: {len(self._data) - self._unpacker.tell()} trailing bytes")


# --- helpers for ledger objects -------------------------------------------------------------
#
# Ledger objects encode as an array whose first element is a small integer tag naming
# the object type and its format version. Distinct tags give domain separation: the
# bytes hashed for a transaction can never be mistaken for those of a block header.


def expect_array(value: Value, tag: int, length: int, what: str) -> list[Value]:
    """Check that ``value`` is ``[tag, ...]`` with ``length`` elements in all."""
    if not isinstance(value, list):
        raise DecodeError(f"{what}: expected an array, got {type(value).__name__}")
    if len(value) != length:
        raise DecodeError(f"{what}: expected {length} fields, got {len(value)}")
    if value[0] != tag or isinstance(value[0], bool):
        raise DecodeError(f"{what}: unknown type tag {value[0]!r} (expected {tag})")
    return value


def field_int(value: Value, what: str, *, lo: int = 0, hi: int = INT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"{what}: expected an integer")
    if not lo <= value <= hi:
        raise DecodeError(f"{what}: {value} outside [{lo}, {hi}]")
    return value


def field_bytes(value: Value, what: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError(f"{what}: expected bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise DecodeError(f"{what}: expected {size} bytes, got {len(value)}")
    if max_size is not None and len(value) > max_size:
        raise DecodeError(f"{what}: {len(value)} bytes exceeds the limit of {max_size}")
    return value


def field_str(value: Value, what: str, *, max_len: int | None = None) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{what}: expected a string, got {type(value).__name__}")
    if max_len is not None and len(value) > max_len:
        raise DecodeError(f"{what}: {len(value)} characters exceeds the limit of {max_len}")
    return value


def field_list(value: Value, what: str, *, max_len: int | None = None) -> list[Value]:
    if not isinstance(value, list):
        raise DecodeError(f"{what}: expected an array, got {type(value).__name__}")
    if max_len is not None and len(value) > max_len:
        raise DecodeError(f"{what}: {len(value)} items exceeds the limit of {max_len}")
    return value


def freeze(value: Value) -> Value:
    """Turn decoded lists into tuples (recursively) for storage in immutable objects.

    Items of exact scalar types are kept in line rather than by a call each (freeze returns them
    as they are); tuples are returned as they are, whatever they hold.
    """
    t = type(value)
    if t is list:
        return tuple([v if type(v) in _FROZEN else freeze(v) for v in value])  # type: ignore[union-attr]
    if t is dict:
        return {k: (v if type(v) in _FROZEN else freeze(v)) for k, v in value.items()}  # type: ignore[union-attr]
    if t in _FROZEN or t is tuple:
        return value
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    return value


_FROZEN = frozenset((bytes, str, int, bool, type(None)))
"""Exact types that :func:`freeze` returns as they are."""

