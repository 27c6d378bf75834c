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

from collections.abc import Callable
from typing import Any, NamedTuple

from consortium.encoding.canonical import INT_MAX, INT_MIN
from consortium.execution.errors import OutOfGas, SandboxViolation
from consortium.execution.limits import (
    BYTES_PER_GAS,
    G_LOOP,
    G_POW_BIT,
    INT_BOUND,
    MAX_CALL_DEPTH,
    MAX_COLLECTION_LEN,
    MAX_INT_BITS,
    MAX_NESTING,
    MAX_STR_LEN,
)

NoneType = type(None)
TYPE_NAMES: dict[type, str] = {
    NoneType: "none", bool: "bool", int: "int", str: "str", bytes: "bytes", list: "list", dict: "dict", range: "range",
}


class Meter:
    """Gas left and current call depth of the running transaction."""

    __slots__ = ("remaining", "depth")

    def __init__(self) -> None:
        self.remaining = 0
        self.depth = 0


def type_name(value: object) -> str:
    return TYPE_NAMES.get(type(value), type(value).__name__)


def too_long(kind: str, n: int, limit: int) -> SandboxViolation:
    return SandboxViolation(f"{kind} result would be {n} long; the limit is {limit}")


def _int_too_big() -> SandboxViolation:
    return SandboxViolation(f"integer result exceeds {MAX_INT_BITS} bits")


def no_method(obj: object, name: str) -> SandboxViolation:
    return SandboxViolation(f"method {name}() is not available on {type_name(obj)} values")


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Give a helper the name contract authors see in error messages."""
    fn.__name__ = name
    fn.__qualname__ = name
    return fn


class Primitives(NamedTuple):
    """The shared checks and prices the method and function tables are built on."""

    charge: Callable[[int], None]
    weigh: Callable[..., tuple[int, int]]
    int_ok: Callable[[int], int]
    is_int: Callable[[object], bool]
    fmt: Callable[..., str]
    coll: Callable[[Any], Any]
    contains_cost: Callable[[list[Any], Any], None]
    sort_cost: Callable[[Any], None]


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
                raise too_long(ta.__name__, n, MAX_STR_LEN)
            charge(n // BYTES_PER_GAS)
            return a + b
        if ta is list and type(b) is list:
            n = len(a) + len(b)
            if n > MAX_COLLECTION_LEN:
                raise too_long("list", n, MAX_COLLECTION_LEN)
            charge(n)
            return a + b
        r = a + b  # bool/int mixes; every other combination raises TypeError here
        return int_ok(r) if type(r) is int else r

    def iop_add(a: Any, b: Any) -> Any:
        if type(a) is list and type(b) is list:
            n = len(a) + len(b)
            if n > MAX_COLLECTION_LEN:
                raise too_long("list", n, MAX_COLLECTION_LEN)
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
                raise too_long("list", n, MAX_COLLECTION_LEN)
            charge(n)
        else:
            if n > MAX_STR_LEN:
                raise too_long(type(seq).__name__, n, MAX_STR_LEN)
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
                raise too_long("dict", n, MAX_COLLECTION_LEN)
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
            raise too_long("dict", len(obj) + 1, MAX_COLLECTION_LEN)
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
            raise too_long(type(x).__name__, len(x), MAX_COLLECTION_LEN)
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
            raise too_long("str", len(r), MAX_STR_LEN)
        return r

    def fstr(*parts: str) -> str:
        n = 0
        for p in parts:
            n += len(p)
        if n > MAX_STR_LEN:
            raise too_long("f-string", n, MAX_STR_LEN)
        charge(n // BYTES_PER_GAS)
        return "".join(parts)

    def sort_cost(items: Any) -> None:
        w = weigh(items)[0]
        charge(w * max(1, len(items).bit_length()))

    helpers: dict[str, Callable[..., Any]] = {
        "__gas": gas, "__tick": tick, "__enter": enter, "__leave": leave,
        "__op_add": op_add, "__iop_add": iop_add, "__op_sub": op_sub, "__op_mul": op_mul,
        "__op_pow": op_pow, "__op_lshift": op_lshift, "__op_rshift": op_rshift,
        "__op_floordiv": op_floordiv, "__op_mod": op_mod, "__op_or": op_or, "__op_xor": op_xor,
        "__op_and": op_and, "__cmp_eq": cmp_eq, "__cmp_ne": cmp_ne, "__cmp_lt": cmp_lt,
        "__cmp_le": cmp_le, "__cmp_gt": cmp_gt, "__cmp_ge": cmp_ge, "__in": op_in,
        "__setitem": setitem, "__delitem": delitem, "__augitem": augitem, "__slice": slice_,
        "__coll": coll, "__fmt": fmt, "__fstr": fstr,
    }
    from consortium.execution.functions import provided_functions  # noqa: PLC0415 - they import this module
    from consortium.execution.methods import value_methods  # noqa: PLC0415

    prims = Primitives(charge, weigh, int_ok, is_int, fmt, coll, contains_cost, sort_cost)
    for name, fn in value_methods(prims).items():
        helpers[f"__mc_{name}"] = _named(fn, name)
    for name, fn in provided_functions(prims).items():
        helpers[name] = fn if name.startswith("__") else _named(fn, name)
    return helpers, weigh, charge
