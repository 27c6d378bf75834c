"""Checked operations: the run-time half of the sandbox, for values.

Rewritten contract code calls these helpers instead of Python's operators,
methods and builtins. Each one prices its work in gas and refuses oversize
results *before* allocating them, so a contract cannot turn one statement into
seconds of CPU or gigabytes of memory.

The values a contract can hold are only None, bool, int, str, bytes, list,
dict and range (tuple displays become lists, ``items()`` returns lists), so
every operation below only has those types to consider; anything else reaching
a helper is refused. Operations whose cost depends on how deep a value is
(``==`` on nested lists, ``in``, ``sorted``, formatting, encoding) first walk
the value with :func:`weigh`, charging one gas per element and refusing
nesting deeper than ``MAX_NESTING`` — which also keeps CPython's own recursion
far below its limit, so outcomes never depend on the host's stack depth.

All helpers are closures over one :class:`Meter` (see :func:`make_helpers`),
so two executors in one process never share gas accounting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from consortium.encoding.canonical import INT_MAX, INT_MIN
from consortium.execution.errors import OutOfGas, PermissionDenied, Revert, SandboxViolation
from consortium.execution.limits import (
    BYTES_PER_GAS,
    G_BUILTIN,
    G_HASH,
    G_LOOP,
    G_POW_BIT,
    INT_BOUND,
    MAX_CALL_DEPTH,
    MAX_COLLECTION_LEN,
    MAX_ERROR_LEN,
    MAX_INT_BITS,
    MAX_INT_PARSE_LEN,
    MAX_NESTING,
    MAX_STR_LEN,
)

NoneType = type(None)
_TYPE_NAMES: dict[type, str] = {
    NoneType: "none", bool: "bool", int: "int", str: "str", bytes: "bytes", list: "list", dict: "dict", range: "range",
}
_MISSING: Any = object()


class Meter:
    """Gas left and current call depth of the running transaction."""

    __slots__ = ("remaining", "depth")

    def __init__(self) -> None:
        self.remaining = 0
        self.depth = 0


def type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _too_long(kind: str, n: int, limit: int) -> SandboxViolation:
    return SandboxViolation(f"{kind} result would be {n} long; the limit is {limit}")


def _int_too_big() -> SandboxViolation:
    return SandboxViolation(f"integer result exceeds {MAX_INT_BITS} bits")


def _no_method(obj: object, name: str) -> SandboxViolation:
    return SandboxViolation(f"method {name}() is not available on {type_name(obj)} values")


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Give a helper the name contract authors see in error messages."""
    fn.__name__ = name
    fn.__qualname__ = name
    return fn


Weigh = Callable[..., tuple[int, int]]
Charge = Callable[[int], None]


def make_helpers(meter: Meter) -> tuple[dict[str, Callable[..., Any]], Weigh, Charge]:
    """Build the value helpers and checked builtins bound to ``meter``.

    Returns the mapping from the names the rewritten code uses (``__op_add``,
    ``__mc_append``, ``len``, ...) to functions, and the host-side ``weigh`` and
    ``charge`` (for the storage and event helpers, which contract code cannot name).
    """

    def charge(n: int) -> None:
        r = meter.remaining - n
        meter.remaining = r
        if r < 0:
            raise OutOfGas("out of gas")

    def weigh(value: object, max_size: int | None = None, what: str = "value", data: bool = False) -> tuple[int, int]:
        """Charge one gas per element (and per BYTES_PER_GAS bytes) of ``value``, walked to the bottom.

        Refuses nesting deeper than MAX_NESTING (cycles included) and, given ``max_size``, a value
        whose size bound exceeds it (for ``data``: an upper bound of its canonical encoding). With
        ``data`` it also refuses anything the canonical encoding cannot hold (ranges, non-str map
        keys, integers outside [-2**63, 2**64-1]), so callers need not encode just to check. The
        walk stops as soon as gas runs out, so a huge shared structure costs at most the gas left.
        Returns (gas charged, size bound).
        """
        budget = meter.remaining
        w = 0
        size = 0
        stack: list[tuple[Any, int]] = [([value], -1)]  # a wrapper list, so the root is walked as a child
        while stack:
            container, d = stack.pop()
            if d >= MAX_NESTING:
                raise SandboxViolation(f"{what} is nested deeper than {MAX_NESTING} levels (or contains itself)")
            if type(container) is dict:
                n = len(container)
                if data:
                    for k in container:
                        if type(k) is not str:
                            raise SandboxViolation(f"{what}: map keys must be str, found {type_name(k)}")
                children: Any = [*container, *container.values()]
            else:
                n = len(container)
                children = container
            w += 1 + n
            size += 5 + n
            if w > budget:
                break
            for v in children:
                t = type(v)
                if t is str:
                    k = len(v)
                    w += k // BYTES_PER_GAS
                    size += 5 + (k if v.isascii() else len(v.encode("utf-8", "surrogatepass")))
                elif t is bytes:
                    k = len(v)
                    w += k // BYTES_PER_GAS
                    size += 5 + k
                elif t is int:
                    size += 9
                    if data and not INT_MIN <= v <= INT_MAX:
                        raise SandboxViolation(f"{what}: integer {v} outside the storable range [-2**63, 2**64-1]")
                elif t is list or t is dict or t is tuple:
                    stack.append((v, d + 1))
                elif t is bool or v is None:
                    size += 1
                elif data:
                    raise SandboxViolation(f"{what}: {type_name(v)} values are not storable data")
                else:
                    size += 20
            if w > budget:
                break
            if max_size is not None and size > max_size:
                raise SandboxViolation(f"{what} would exceed {max_size} bytes")
        charge(w)
        return w, size

    def int_ok(r: int) -> int:
        if -INT_BOUND < r < INT_BOUND:
            return r
        raise _int_too_big()

    def is_int(x: object) -> bool:
        t = type(x)
        return t is int or t is bool

    # -- gas and calls -------------------------------------------------------------------------
    def gas(n: int) -> None:
        charge(n)

    def tick() -> bool:
        charge(G_LOOP)
        return True

    def enter(n: int) -> None:
        meter.depth += 1
        if meter.depth > MAX_CALL_DEPTH:
            raise SandboxViolation(f"call depth exceeds {MAX_CALL_DEPTH} (runaway recursion?)")
        charge(n)

    def leave() -> None:
        meter.depth -= 1

    # -- operators -----------------------------------------------------------------------------
    def op_add(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is int and type(b) is int:
            r = a + b
            if -INT_BOUND < r < INT_BOUND:
                return r
            raise _int_too_big()
        if (ta is str or ta is bytes) and type(b) is ta:
            n = len(a) + len(b)
            if n > MAX_STR_LEN:
                raise _too_long(ta.__name__, n, MAX_STR_LEN)
            charge(n // BYTES_PER_GAS)
            return a + b
        if ta is list and type(b) is list:
            n = len(a) + len(b)
            if n > MAX_COLLECTION_LEN:
                raise _too_long("list", n, MAX_COLLECTION_LEN)
            charge(n)
            return a + b
        r = a + b  # bool/int mixes; every other combination raises TypeError here
        return int_ok(r) if type(r) is int else r

    def iop_add(a: Any, b: Any) -> Any:
        if type(a) is list and type(b) is list:
            n = len(a) + len(b)
            if n > MAX_COLLECTION_LEN:
                raise _too_long("list", n, MAX_COLLECTION_LEN)
            charge(len(b))
            a.extend(b)
            return a
        return op_add(a, b)

    def op_sub(a: Any, b: Any) -> Any:
        r = a - b
        return int_ok(r) if type(r) is int else r

    def op_mul(a: Any, b: Any) -> Any:
        ia, ib = is_int(a), is_int(b)
        if ia and ib:
            if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
                raise _int_too_big()
            return int_ok(a * b)
        if ib and type(a) in (str, bytes, list):
            seq, k = a, b
        elif ia and type(b) in (str, bytes, list):
            seq, k = b, a
        else:
            return a * b  # raises TypeError
        n = len(seq) * k if k > 0 else 0
        if type(seq) is list:
            if n > MAX_COLLECTION_LEN:
                raise _too_long("list", n, MAX_COLLECTION_LEN)
            charge(n)
        else:
            if n > MAX_STR_LEN:
                raise _too_long(type(seq).__name__, n, MAX_STR_LEN)
            charge(n // BYTES_PER_GAS)
        return seq * k

    def op_pow(a: Any, b: Any) -> Any:
        if is_int(a) and is_int(b):
            if b < 0:
                raise SandboxViolation("negative exponent (the result would be a float)")
            if b > 1 and abs(a) > 1 and (abs(a).bit_length() - 1) * b >= MAX_INT_BITS:
                raise _int_too_big()
            charge(G_POW_BIT * b.bit_length())
            return int_ok(a ** b)
        return a ** b  # raises TypeError

    def op_lshift(a: Any, b: Any) -> Any:
        if is_int(a) and is_int(b):
            if b < 0:
                raise ValueError("negative shift count")
            if a == 0:
                return 0
            if a.bit_length() + b > MAX_INT_BITS:
                raise _int_too_big()
            return int_ok(a << b)
        return a << b

    def op_rshift(a: Any, b: Any) -> Any:
        return a >> b

    def op_floordiv(a: Any, b: Any) -> Any:
        return a // b

    def op_mod(a: Any, b: Any) -> Any:
        if type(a) is str or type(a) is bytes:
            raise SandboxViolation("%-formatting is not allowed; use f-strings")
        return a % b

    def op_or(a: Any, b: Any) -> Any:
        if type(a) is dict and type(b) is dict:
            n = len(a) + len(b)
            if n > MAX_COLLECTION_LEN:
                raise _too_long("dict", n, MAX_COLLECTION_LEN)
            charge(n)
        return a | b

    def op_xor(a: Any, b: Any) -> Any:
        return a ^ b

    def op_and(a: Any, b: Any) -> Any:
        return a & b

    # -- comparisons ---------------------------------------------------------------------------
    def cmp_cost(a: Any, b: Any) -> None:
        ta = type(a)
        if ta is str or ta is bytes:
            n = len(a)
            if n > 64:
                charge(n // BYTES_PER_GAS)
        elif ta is list or ta is dict:
            weigh(a)
            weigh(b)

    def cmp_eq(a: Any, b: Any) -> bool:
        ta = type(a)
        if ta is str or ta is bytes:
            if len(a) > 64:
                charge(len(a) // BYTES_PER_GAS)
        elif ta is list or ta is dict:
            weigh(a)
            weigh(b)
        return a == b

    def cmp_ne(a: Any, b: Any) -> bool:
        ta = type(a)
        if ta is str or ta is bytes:
            if len(a) > 64:
                charge(len(a) // BYTES_PER_GAS)
        elif ta is list or ta is dict:
            weigh(a)
            weigh(b)
        return a != b

    def cmp_lt(a: Any, b: Any) -> bool:
        if type(a) is not int:
            cmp_cost(a, b)
        return a < b

    def cmp_le(a: Any, b: Any) -> bool:
        if type(a) is not int:
            cmp_cost(a, b)
        return a <= b

    def cmp_gt(a: Any, b: Any) -> bool:
        if type(a) is not int:
            cmp_cost(a, b)
        return a > b

    def cmp_ge(a: Any, b: Any) -> bool:
        if type(a) is not int:
            cmp_cost(a, b)
        return a >= b

    def contains_cost(items: list[Any], x: Any) -> None:
        """Price a linear search of ``items`` for ``x``: a scalar compares in O(1) (or O(len) for
        equal-length str/bytes) against each element; a container may compare deeply."""
        tx = type(x)
        if tx is str or tx is bytes:
            charge(len(items) * (1 + len(x) // BYTES_PER_GAS))
        elif tx is int or tx is bool or x is None:
            charge(len(items))
        else:
            weigh(items)
            weigh(x)

    def op_in(x: Any, c: Any) -> bool:
        tc = type(c)
        if tc is dict:
            if type(x) is str or type(x) is bytes:
                charge(len(x) // BYTES_PER_GAS)
            return x in c
        if tc is str or tc is bytes:
            charge(1 + len(c) // BYTES_PER_GAS)
            return x in c
        if tc is list:
            contains_cost(c, x)
            return x in c
        if tc is range:
            # range falls back to a linear scan for non-int operands; nothing else can match.
            return x in c if is_int(x) else False
        return x in c  # raises TypeError

    # -- items, slices, collections ------------------------------------------------------------
    def setitem(obj: Any, key: Any, value: Any) -> None:
        if type(obj) is dict and len(obj) >= MAX_COLLECTION_LEN and key not in obj:
            raise _too_long("dict", len(obj) + 1, MAX_COLLECTION_LEN)
        obj[key] = value

    def delitem(obj: Any, key: Any) -> None:
        if type(obj) is list:
            charge(len(obj))
        del obj[key]

    def augitem(obj: Any, key: Any, op: Callable[[Any, Any], Any], value: Any) -> None:
        setitem(obj, key, op(obj[key], value))

    def slice_(obj: Any, lo: Any, hi: Any, step: Any) -> Any:
        r = obj[lo:hi:step]
        t = type(r)
        if t is str or t is bytes:
            charge(len(r) // BYTES_PER_GAS)
        elif t is list:
            charge(len(r))
        return r

    def coll(x: Any) -> Any:
        if len(x) > MAX_COLLECTION_LEN:
            raise _too_long(type(x).__name__, len(x), MAX_COLLECTION_LEN)
        return x

    # -- formatting ----------------------------------------------------------------------------
    def fmt(v: Any, conv: str = "s") -> str:
        t = type(v)
        if t is str:
            if conv == "s":
                return v
            charge(len(v) // BYTES_PER_GAS)
            r = repr(v)
        elif t is int or t is bool or v is None:
            return repr(v)
        elif t in (bytes, list, dict, range):
            weigh(v, MAX_STR_LEN, "formatted value")
            r = repr(v)
        else:
            raise SandboxViolation(f"cannot format a value of type {type_name(v)}")
        if len(r) > MAX_STR_LEN:
            raise _too_long("str", len(r), MAX_STR_LEN)
        return r

    def fstr(*parts: str) -> str:
        n = 0
        for p in parts:
            n += len(p)
        if n > MAX_STR_LEN:
            raise _too_long("f-string", n, MAX_STR_LEN)
        charge(n // BYTES_PER_GAS)
        return "".join(parts)

    # -- methods (one function per method name, dispatching on the receiver's exact type) ------
    def text_search(obj: Any, name: str) -> None:
        t = type(obj)
        if t is not str and t is not bytes:
            raise _no_method(obj, name)
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)

    def m_startswith(obj: Any, prefix: Any, start: Any = None, end: Any = None) -> bool:
        text_search(obj, "startswith")
        return obj.startswith(prefix, start, end)

    def m_endswith(obj: Any, suffix: Any, start: Any = None, end: Any = None) -> bool:
        text_search(obj, "endswith")
        return obj.endswith(suffix, start, end)

    def m_find(obj: Any, sub: Any, start: Any = None, end: Any = None) -> int:
        text_search(obj, "find")
        return obj.find(sub, start, end)

    def str_only(obj: Any, name: str) -> None:
        if type(obj) is not str:
            raise _no_method(obj, name)
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)

    def bounded_str(r: str) -> str:
        if len(r) > MAX_STR_LEN:
            raise _too_long("str", len(r), MAX_STR_LEN)
        return r

    def m_lower(obj: Any) -> str:
        str_only(obj, "lower")
        return bounded_str(obj.lower())

    def m_upper(obj: Any) -> str:
        str_only(obj, "upper")
        return bounded_str(obj.upper())

    def strip_cost(obj: str, chars: Any) -> None:
        # Each stripped character is looked up in ``chars``: price the product, not the sum.
        if type(chars) is str:
            charge(len(obj) * (len(chars) // BYTES_PER_GAS))

    def m_strip(obj: Any, chars: Any = None) -> str:
        str_only(obj, "strip")
        strip_cost(obj, chars)
        return obj.strip(chars)

    def m_lstrip(obj: Any, chars: Any = None) -> str:
        str_only(obj, "lstrip")
        strip_cost(obj, chars)
        return obj.lstrip(chars)

    def m_rstrip(obj: Any, chars: Any = None) -> str:
        str_only(obj, "rstrip")
        strip_cost(obj, chars)
        return obj.rstrip(chars)

    def m_isdigit(obj: Any) -> bool:
        str_only(obj, "isdigit")
        return obj.isdigit()

    def m_isalpha(obj: Any) -> bool:
        str_only(obj, "isalpha")
        return obj.isalpha()

    def m_isalnum(obj: Any) -> bool:
        str_only(obj, "isalnum")
        return obj.isalnum()

    def m_split(obj: Any, sep: Any = None, maxsplit: Any = -1) -> list[str]:
        str_only(obj, "split")
        r = obj.split(sep, maxsplit)
        charge(len(r))
        return coll(r)

    def m_join(obj: Any, items: Any) -> Any:
        t = type(obj)
        if t is not str and t is not bytes:
            raise _no_method(obj, "join")
        if type(items) is not list:
            raise TypeError(f"join() takes a list, not {type_name(items)}")
        charge(G_BUILTIN + len(items))
        n = len(obj) * max(0, len(items) - 1)
        for x in items:
            if type(x) is not t:
                raise TypeError(f"join() items must be {t.__name__}, found {type_name(x)}")
            n += len(x)
        if n > MAX_STR_LEN:
            raise _too_long(t.__name__, n, MAX_STR_LEN)
        charge(n // BYTES_PER_GAS)
        return obj.join(items)

    def m_replace(obj: Any, old: Any, new: Any, count: Any = -1) -> str:
        str_only(obj, "replace")
        if type(old) is not str or type(new) is not str or not is_int(count):
            raise TypeError("replace() takes (old: str, new: str, count: int)")
        occurrences = obj.count(old) if old else len(obj) + 1
        if count >= 0:
            occurrences = min(occurrences, count)
        n = len(obj) + occurrences * (len(new) - len(old))
        if n > MAX_STR_LEN:
            raise _too_long("str", n, MAX_STR_LEN)
        charge(n // BYTES_PER_GAS)
        return obj.replace(old, new, count)

    def m_encode(obj: Any) -> bytes:
        str_only(obj, "encode")
        r = obj.encode("utf-8")
        if len(r) > MAX_STR_LEN:
            raise _too_long("bytes", len(r), MAX_STR_LEN)
        return r

    def m_decode(obj: Any) -> str:
        if type(obj) is not bytes:
            raise _no_method(obj, "decode")
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)
        return obj.decode("utf-8")

    def m_hex(obj: Any) -> str:
        if type(obj) is not bytes:
            raise _no_method(obj, "hex")
        if 2 * len(obj) > MAX_STR_LEN:
            raise _too_long("str", 2 * len(obj), MAX_STR_LEN)
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)
        return obj.hex()

    def m_bit_length(obj: Any) -> int:
        if not is_int(obj):
            raise _no_method(obj, "bit_length")
        return obj.bit_length()

    def m_to_bytes(obj: Any, length: Any = 1, byteorder: Any = "big", signed: Any = False) -> bytes:
        if not is_int(obj):
            raise _no_method(obj, "to_bytes")
        if not is_int(length) or not 0 <= length <= MAX_STR_LEN:
            raise SandboxViolation(f"to_bytes() length must be an int in [0, {MAX_STR_LEN}]")
        charge(G_BUILTIN + length // BYTES_PER_GAS)
        return obj.to_bytes(length, byteorder, signed=bool(signed))

    def list_only(obj: Any, name: str) -> None:
        if type(obj) is not list:
            raise _no_method(obj, name)

    def m_append(obj: Any, x: Any) -> None:
        list_only(obj, "append")
        if len(obj) >= MAX_COLLECTION_LEN:
            raise _too_long("list", len(obj) + 1, MAX_COLLECTION_LEN)
        obj.append(x)

    def m_extend(obj: Any, items: Any) -> None:
        list_only(obj, "extend")
        if type(items) not in (list, str, bytes, dict, range):
            raise TypeError(f"extend() takes a list, not {type_name(items)}")
        n = len(obj) + len(items)
        if n > MAX_COLLECTION_LEN:
            raise _too_long("list", n, MAX_COLLECTION_LEN)
        charge(len(items))
        obj.extend(items)

    def m_insert(obj: Any, index: Any, x: Any) -> None:
        list_only(obj, "insert")
        if len(obj) >= MAX_COLLECTION_LEN:
            raise _too_long("list", len(obj) + 1, MAX_COLLECTION_LEN)
        charge(len(obj))
        obj.insert(index, x)

    def m_pop(obj: Any, *args: Any) -> Any:
        t = type(obj)
        if t is list:
            if args:
                charge(len(obj))
            return obj.pop(*args)
        if t is dict:
            return obj.pop(*args)
        raise _no_method(obj, "pop")

    def m_remove(obj: Any, x: Any) -> None:
        list_only(obj, "remove")
        contains_cost(obj, x)
        obj.remove(x)

    def m_index(obj: Any, x: Any, *args: Any) -> int:
        t = type(obj)
        if t is list:
            contains_cost(obj, x)
        else:
            text_search(obj, "index")
        return obj.index(x, *args)

    def m_count(obj: Any, x: Any) -> int:
        t = type(obj)
        if t is list:
            contains_cost(obj, x)
        else:
            text_search(obj, "count")
        return obj.count(x)

    def m_reverse(obj: Any) -> None:
        list_only(obj, "reverse")
        charge(len(obj))
        obj.reverse()

    def m_sort(obj: Any, reverse: Any = False) -> None:
        list_only(obj, "sort")
        sort_cost(obj)
        obj.sort(reverse=bool(reverse))

    def sort_cost(items: Any) -> None:
        w = weigh(items)[0]
        charge(w * max(1, len(items).bit_length()))

    def m_copy(obj: Any) -> Any:
        t = type(obj)
        if t is not list and t is not dict:
            raise _no_method(obj, "copy")
        charge(len(obj))
        return obj.copy()

    def m_clear(obj: Any) -> None:
        t = type(obj)
        if t is not list and t is not dict:
            raise _no_method(obj, "clear")
        obj.clear()

    def dict_only(obj: Any, name: str) -> None:
        if type(obj) is not dict:
            raise _no_method(obj, name)

    def m_get(obj: Any, key: Any, default: Any = None) -> Any:
        dict_only(obj, "get")
        return obj.get(key, default)

    def m_keys(obj: Any) -> list[Any]:
        dict_only(obj, "keys")
        charge(len(obj))
        return list(obj)

    def m_values(obj: Any) -> list[Any]:
        dict_only(obj, "values")
        charge(len(obj))
        return list(obj.values())

    def m_items(obj: Any) -> list[list[Any]]:
        dict_only(obj, "items")
        charge(2 * len(obj))
        return [[k, v] for k, v in obj.items()]

    def m_setdefault(obj: Any, key: Any, default: Any = None) -> Any:
        dict_only(obj, "setdefault")
        if len(obj) >= MAX_COLLECTION_LEN and key not in obj:
            raise _too_long("dict", len(obj) + 1, MAX_COLLECTION_LEN)
        return obj.setdefault(key, default)

    def m_update(obj: Any, other: Any) -> None:
        dict_only(obj, "update")
        if type(other) is not dict:
            raise TypeError(f"update() takes a dict, not {type_name(other)}")
        charge(len(other))
        new = sum(1 for k in other if k not in obj)
        if len(obj) + new > MAX_COLLECTION_LEN:
            raise _too_long("dict", len(obj) + new, MAX_COLLECTION_LEN)
        obj.update(other)

    # -- builtins ------------------------------------------------------------------------------
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
            raise _too_long(what, n, MAX_COLLECTION_LEN)
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
                raise _too_long("bytes", len(x), MAX_STR_LEN)
            charge(len(x))
            return bytes(x)
        if t is int:
            if not 0 <= x <= MAX_STR_LEN:
                raise _too_long("bytes", x, MAX_STR_LEN)
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
        return [list(t) for t in zip(*lists)]

    def b_sha256(data: Any) -> bytes:
        if type(data) is not bytes:
            raise TypeError(f"sha256() hashes bytes, not {type_name(data)}" + ("; use s.encode()" if type(data) is str else ""))
        charge(G_HASH + len(data) // BYTES_PER_GAS)
        return hashlib.sha256(data).digest()

    def b_typeof(x: Any) -> str:
        name = _TYPE_NAMES.get(type(x))
        return name if name is not None else type_name(x)

    def b_from_hex(s: Any) -> bytes:
        if type(s) is not str:
            raise TypeError(f"from_hex() takes a str, not {type_name(s)}")
        if len(s) > 2 * MAX_STR_LEN + 2:
            raise _too_long("bytes", len(s) // 2, MAX_STR_LEN)
        charge(G_BUILTIN + len(s) // BYTES_PER_GAS)
        return bytes.fromhex(s[2:] if s[:2] in ("0x", "0X") else s)

    helpers: dict[str, Callable[..., Any]] = {
        "__gas": gas, "__tick": tick, "__enter": enter, "__leave": leave,
        "__op_add": op_add, "__iop_add": iop_add, "__op_sub": op_sub, "__op_mul": op_mul,
        "__op_pow": op_pow, "__op_lshift": op_lshift, "__op_rshift": op_rshift,
        "__op_floordiv": op_floordiv, "__op_mod": op_mod, "__op_or": op_or, "__op_xor": op_xor,
        "__op_and": op_and, "__cmp_eq": cmp_eq, "__cmp_ne": cmp_ne, "__cmp_lt": cmp_lt,
        "__cmp_le": cmp_le, "__cmp_gt": cmp_gt, "__cmp_ge": cmp_ge, "__in": op_in,
        "__setitem": setitem, "__delitem": delitem, "__augitem": augitem, "__slice": slice_,
        "__coll": coll, "__fmt": fmt, "__fstr": fstr, "__deny": _named(deny, "authorize"),
    }
    methods = {
        "startswith": m_startswith, "endswith": m_endswith, "find": m_find, "lower": m_lower,
        "upper": m_upper, "strip": m_strip, "lstrip": m_lstrip, "rstrip": m_rstrip,
        "isdigit": m_isdigit, "isalpha": m_isalpha, "isalnum": m_isalnum, "split": m_split,
        "join": m_join, "replace": m_replace, "encode": m_encode, "decode": m_decode, "hex": m_hex,
        "bit_length": m_bit_length, "to_bytes": m_to_bytes, "append": m_append, "extend": m_extend,
        "insert": m_insert, "pop": m_pop, "remove": m_remove, "index": m_index, "count": m_count,
        "reverse": m_reverse, "sort": m_sort, "copy": m_copy, "clear": m_clear, "get": m_get,
        "keys": m_keys, "values": m_values, "items": m_items, "setdefault": m_setdefault,
        "update": m_update,
    }
    for name, fn in methods.items():
        helpers[f"__mc_{name}"] = _named(fn, name)
    builtins = {
        "require": require, "authorize": authorize, "revert": revert, "len": b_len, "range": b_range, "str": b_str,
        "repr": b_repr, "int": b_int, "bool": b_bool, "list": b_list, "dict": b_dict,
        "bytes": b_bytes, "hex": b_hex, "min": b_min, "max": b_max, "sum": b_sum, "abs": b_abs,
        "sorted": b_sorted, "reversed": b_reversed, "enumerate": b_enumerate, "zip": b_zip,
        "sha256": b_sha256, "typeof": b_typeof, "from_hex": b_from_hex,
    }
    for name, fn in builtins.items():
        helpers[name] = _named(fn, name)
    return helpers, weigh, charge
