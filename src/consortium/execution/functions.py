"""The functions a contract calls by name: the contract API and checked Python builtins.

``require``/``authorize``/``revert`` end the transaction with a status; the
others behave like Python's builtins but price their work and refuse oversize
results (``bytes(10**10)``, ``sum(range(10**18))``, ``int("9" * 5000)``) before
doing it, and never return tuples or iterators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from consortium.execution.checked import TYPE_NAMES, Primitives, too_long, type_name
from consortium.execution.errors import PermissionDenied, Revert, SandboxViolation
from consortium.execution.limits import (
    BYTES_PER_GAS,
    G_BUILTIN,
    G_HASH,
    MAX_COLLECTION_LEN,
    MAX_ERROR_LEN,
    MAX_INT_PARSE_LEN,
    MAX_STR_LEN,
)

_MISSING: Any = object()


def provided_functions(prims: Primitives) -> dict[str, Callable[..., Any]]:
    """Name -> function, for every provided function (and ``__deny``, the lazy ``authorize``)."""
    charge, weigh, int_ok, is_int, fmt, coll, contains_cost, sort_cost = prims

    def message(m: Any) -> str:
        return (m if type(m) is str else fmt(m))[:MAX_ERROR_LEN]

    def require(cond: Any, msg: Any = "requirement failed") -> None:
        if not cond:
            raise Revert(message(msg))

    def authorize(cond: Any, msg: Any = "permission denied") -> None:
        if not cond:
            raise PermissionDenied(message(msg))

    def revert(msg: Any = "reverted") -> None:
        raise Revert(message(msg))

    def deny(msg: Any = "permission denied") -> None:
        raise PermissionDenied(message(msg))

    def b_len(x: Any) -> int:
        if type(x) not in (str, bytes, list, dict, range):
            raise TypeError(f"len() of a {type_name(x)} value")
        return len(x)

    def b_range(*args: Any) -> range:
        for a in args:
            if not is_int(a):
                raise TypeError(f"range() takes integers, not {type_name(a)}")
        return range(*args)

    def b_str(x: Any = "") -> str:
        return fmt(x, "s")

    def b_repr(x: Any) -> str:
        return fmt(x, "r")

    def b_int(x: Any = 0, base: Any = None) -> int:
        t = type(x)
        if t is int:
            return x
        if t is bool:
            return int(x)
        if t is str or t is bytes:
            if len(x) > MAX_INT_PARSE_LEN:
                raise SandboxViolation(f"int() parses at most {MAX_INT_PARSE_LEN} characters")
            return int_ok(int(x) if base is None else int(x, base))
        raise TypeError(f"int() takes a str, bytes or int, not {type_name(x)}")

    def b_bool(x: Any = False) -> bool:
        return bool(x)

    def sized(x: Any, what: str) -> int:
        if type(x) not in (str, bytes, list, dict, range):
            raise TypeError(f"{what}() takes a str, bytes, list, dict or range, not {type_name(x)}")
        n = len(x)
        if n > MAX_COLLECTION_LEN:
            raise too_long(what, n, MAX_COLLECTION_LEN)
        charge(n)
        return n

    def b_list(x: Any = _MISSING) -> list[Any]:
        if x is _MISSING:
            return []
        sized(x, "list")
        return list(x)

    def b_dict(x: Any = _MISSING, **kw: Any) -> dict[Any, Any]:
        if x is _MISSING:
            r: dict[Any, Any] = {}
        elif type(x) is dict:
            charge(len(x))
            r = dict(x)
        elif type(x) is list:
            sized(x, "dict")
            r = dict(x)
        else:
            raise TypeError(f"dict() takes a dict or a list of [key, value] pairs, not {type_name(x)}")
        if kw:
            charge(len(kw))
            r.update(kw)
        return coll(r)

    def b_bytes(x: Any = b"") -> bytes:
        t = type(x)
        if t is bytes:
            return x
        if t is list:
            if len(x) > MAX_STR_LEN:
                raise too_long("bytes", len(x), MAX_STR_LEN)
            charge(len(x))
            return bytes(x)
        if t is int:
            if not 0 <= x <= MAX_STR_LEN:
                raise too_long("bytes", x, MAX_STR_LEN)
            charge(x // BYTES_PER_GAS)
            return bytes(x)
        raise TypeError(f"bytes() takes a list of ints, bytes or a length, not {type_name(x)}"
                        + ("; use s.encode()" if t is str else ""))

    def b_hex(x: Any) -> str:
        if not is_int(x):
            raise TypeError(f"hex() takes an int, not {type_name(x)}; for bytes use b.hex()")
        return hex(x)

    def extreme(fn: Callable[..., Any], args: tuple[Any, ...], default: Any) -> Any:
        if not args:
            raise TypeError(f"{fn.__name__}() expected at least one argument")
        if len(args) == 1:
            it = args[0]
            if type(it) is range:
                charge(len(it))
            elif type(it) in (list, dict, str, bytes):
                weigh(it)
            else:
                raise TypeError(f"{fn.__name__}() of a {type_name(it)} value")
            return fn(it) if default is _MISSING else fn(it, default=default)
        weigh(list(args))
        return fn(args)

    def b_min(*args: Any, default: Any = _MISSING) -> Any:
        return extreme(min, args, default)

    def b_max(*args: Any, default: Any = _MISSING) -> Any:
        return extreme(max, args, default)

    def b_sum(items: Any, start: Any = 0) -> int:
        if type(items) not in (list, range):
            raise TypeError(f"sum() takes a list or range, not {type_name(items)}")
        if not is_int(start):
            raise TypeError("sum() adds integers only")
        charge(len(items))
        return int_ok(sum(items, start))

    def b_abs(x: Any) -> int:
        if not is_int(x):
            raise TypeError(f"abs() takes an int, not {type_name(x)}")
        return abs(x)

    def b_sorted(items: Any, reverse: Any = False) -> list[Any]:
        sized(items, "sorted")
        if type(items) is list:
            sort_cost(items)
        return sorted(items, reverse=bool(reverse))

    def b_reversed(items: Any) -> list[Any]:
        sized(items, "reversed")
        return list(reversed(items))

    def b_enumerate(items: Any, start: Any = 0) -> list[list[Any]]:
        n = sized(items, "enumerate")
        charge(n)
        if not is_int(start):
            raise TypeError("enumerate() start must be an int")
        return [[i, v] for i, v in enumerate(items, start)]

    def b_zip(*lists: Any) -> list[list[Any]]:
        if len(lists) > 16:
            raise TypeError("zip() takes at most 16 lists")
        for x in lists:
            sized(x, "zip")
        return [list(t) for t in zip(*lists, strict=False)]  # the language's zip truncates, as Python's

    def b_sha256(data: Any) -> bytes:
        if type(data) is not bytes:
            raise TypeError(f"sha256() hashes bytes, not {type_name(data)}" + ("; use s.encode()" if type(data) is str else ""))
        charge(G_HASH + len(data) // BYTES_PER_GAS)
        return hashlib.sha256(data).digest()

    def b_typeof(x: Any) -> str:
        name = TYPE_NAMES.get(type(x))
        return name if name is not None else type_name(x)

    def b_from_hex(s: Any) -> bytes:
        if type(s) is not str:
            raise TypeError(f"from_hex() takes a str, not {type_name(s)}")
        if len(s) > 2 * MAX_STR_LEN + 2:
            raise too_long("bytes", len(s) // 2, MAX_STR_LEN)
        charge(G_BUILTIN + len(s) // BYTES_PER_GAS)
        return bytes.fromhex(s[2:] if s[:2] in ("0x", "0X") else s)

    return {
        "require": require, "authorize": authorize, "revert": revert, "len": b_len, "range": b_range, "str": b_str,
        "repr": b_repr, "int": b_int, "bool": b_bool, "list": b_list, "dict": b_dict,
        "bytes": b_bytes, "hex": b_hex, "min": b_min, "max": b_max, "sum": b_sum, "abs": b_abs,
        "sorted": b_sorted, "reversed": b_reversed, "enumerate": b_enumerate, "zip": b_zip,
        "sha256": b_sha256, "typeof": b_typeof, "from_hex": b_from_hex,
        "__deny": deny,
    }
