"""Methods callable on contract values (``s.split()``, ``l.append()``, ``d.items()``...).

The rewriter turns ``x.name(...)`` into ``__mc_name(x, ...)``; each function here
checks the receiver's exact type, prices the work and refuses oversize results
before producing them. Methods not listed in language.METHODS_BY_TYPE do not
exist for contracts (refused at deploy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consortium.execution.checked import Primitives, no_method, too_long, type_name
from consortium.execution.errors import SandboxViolation
from consortium.execution.limits import BYTES_PER_GAS, G_BUILTIN, MAX_COLLECTION_LEN, MAX_STR_LEN


def value_methods(prims: Primitives) -> dict[str, Callable[..., Any]]:
    """One function per method name, dispatching on the receiver's exact type."""
    charge, weigh, int_ok, is_int, fmt, coll, contains_cost, sort_cost = prims

    def text_search(obj: Any, name: str) -> None:
        t = type(obj)
        if t is not str and t is not bytes:
            raise no_method(obj, name)
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
            raise no_method(obj, name)
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)

    def bounded_str(r: str) -> str:
        if len(r) > MAX_STR_LEN:
            raise too_long("str", len(r), MAX_STR_LEN)
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
            raise no_method(obj, "join")
        if type(items) is not list:
            raise TypeError(f"join() takes a list, not {type_name(items)}")
        charge(G_BUILTIN + len(items))
        n = len(obj) * max(0, len(items) - 1)
        for x in items:
            if type(x) is not t:
                raise TypeError(f"join() items must be {t.__name__}, found {type_name(x)}")
            n += len(x)
        if n > MAX_STR_LEN:
            raise too_long(t.__name__, n, MAX_STR_LEN)
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
            raise too_long("str", n, MAX_STR_LEN)
        charge(n // BYTES_PER_GAS)
        return obj.replace(old, new, count)

    def m_encode(obj: Any) -> bytes:
        str_only(obj, "encode")
        r = obj.encode("utf-8")
        if len(r) > MAX_STR_LEN:
            raise too_long("bytes", len(r), MAX_STR_LEN)
        return r

    def m_decode(obj: Any) -> str:
        if type(obj) is not bytes:
            raise no_method(obj, "decode")
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)
        return obj.decode("utf-8")

    def m_hex(obj: Any) -> str:
        if type(obj) is not bytes:
            raise no_method(obj, "hex")
        if 2 * len(obj) > MAX_STR_LEN:
            raise too_long("str", 2 * len(obj), MAX_STR_LEN)
        charge(G_BUILTIN + len(obj) // BYTES_PER_GAS)
        return obj.hex()

    def m_bit_length(obj: Any) -> int:
        if not is_int(obj):
            raise no_method(obj, "bit_length")
        return obj.bit_length()

    def m_to_bytes(obj: Any, length: Any = 1, byteorder: Any = "big", signed: Any = False) -> bytes:
        if not is_int(obj):
            raise no_method(obj, "to_bytes")
        if not is_int(length) or not 0 <= length <= MAX_STR_LEN:
            raise SandboxViolation(f"to_bytes() length must be an int in [0, {MAX_STR_LEN}]")
        charge(G_BUILTIN + length // BYTES_PER_GAS)
        return obj.to_bytes(length, byteorder, signed=bool(signed))

    def list_only(obj: Any, name: str) -> None:
        if type(obj) is not list:
            raise no_method(obj, name)

    def m_append(obj: Any, x: Any) -> None:
        list_only(obj, "append")
        if len(obj) >= MAX_COLLECTION_LEN:
            raise too_long("list", len(obj) + 1, MAX_COLLECTION_LEN)
        obj.append(x)

    def m_extend(obj: Any, items: Any) -> None:
        list_only(obj, "extend")
        if type(items) not in (list, str, bytes, dict, range):
            raise TypeError(f"extend() takes a list, not {type_name(items)}")
        n = len(obj) + len(items)
        if n > MAX_COLLECTION_LEN:
            raise too_long("list", n, MAX_COLLECTION_LEN)
        charge(len(items))
        obj.extend(items)

    def m_insert(obj: Any, index: Any, x: Any) -> None:
        list_only(obj, "insert")
        if len(obj) >= MAX_COLLECTION_LEN:
            raise too_long("list", len(obj) + 1, MAX_COLLECTION_LEN)
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
        raise no_method(obj, "pop")

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

    def m_copy(obj: Any) -> Any:
        t = type(obj)
        if t is not list and t is not dict:
            raise no_method(obj, "copy")
        charge(len(obj))
        return obj.copy()

    def m_clear(obj: Any) -> None:
        t = type(obj)
        if t is not list and t is not dict:
            raise no_method(obj, "clear")
        obj.clear()

    def dict_only(obj: Any, name: str) -> None:
        if type(obj) is not dict:
            raise no_method(obj, name)

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
            raise too_long("dict", len(obj) + 1, MAX_COLLECTION_LEN)
        return obj.setdefault(key, default)

    def m_update(obj: Any, other: Any) -> None:
        dict_only(obj, "update")
        if type(other) is not dict:
            raise TypeError(f"update() takes a dict, not {type_name(other)}")
        charge(len(other))
        new = sum(1 for k in other if k not in obj)
        if len(obj) + new > MAX_COLLECTION_LEN:
            raise too_long("dict", len(obj) + new, MAX_COLLECTION_LEN)
        obj.update(other)

    return {
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

