"""The names that make up the contract language, shared by the validator and the runtime.

Keeping them in one module means the deploy-time allow-list and the run-time
tables cannot drift apart: a name the validator accepts is a name the runtime
implements, and nothing else is reachable.
"""

from __future__ import annotations

API_FUNCTIONS = frozenset({
    # the contract API
    "require", "authorize", "revert", "emit", "sha256", "typeof", "from_hex",
    # checked replacements of Python builtins
    "len", "range", "str", "repr", "int", "bool", "list", "dict", "bytes", "hex",
    "min", "max", "sum", "abs", "sorted", "reversed", "enumerate", "zip",
})
"""Functions a contract may call by name. They can only be called, never passed as values."""

CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "msg": frozenset({"sender", "contract"}),
    "block": frozenset({"number", "timestamp", "chain_id", "group_id"}),
    "tx": frozenset({"hash", "nonce"}),
}
"""``msg.sender`` etc.: the read-only context of the running transaction."""

STORAGE = "storage"
STORAGE_METHODS = frozenset({"get"})
SELF = "self"
CONSTRUCTOR = "constructor"
"""Name of the method run once at deploy; it can be neither called by a transaction nor by
``self.constructor()``."""

METHODS_BY_TYPE: dict[str, frozenset[str]] = {
    "str": frozenset({
        "startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip", "split", "join",
        "find", "index", "replace", "count", "isdigit", "isalpha", "isalnum", "encode",
    }),
    "bytes": frozenset({"hex", "startswith", "endswith", "decode", "find", "index", "count", "join"}),
    "int": frozenset({"bit_length", "to_bytes"}),
    "list": frozenset({
        "append", "extend", "insert", "pop", "remove", "index", "count", "reverse", "sort", "copy", "clear",
    }),
    "dict": frozenset({"get", "keys", "values", "items", "pop", "setdefault", "update", "copy", "clear"}),
}
"""Methods callable on values, by type. Everything else (``format``, ``mro``, ``gi_frame``,
``ljust``, ...) is refused at deploy, whatever the receiver."""

METHOD_NAMES = frozenset().union(*METHODS_BY_TYPE.values())

RESERVED_NAMES = API_FUNCTIONS | frozenset(CONTEXT_FIELDS) | {STORAGE, SELF}
"""Names a contract may not bind (assign, use as parameter or loop variable)."""

VALUE_TYPES = ("none", "bool", "int", "str", "bytes", "list", "dict", "range")
"""What ``typeof`` can answer: the only kinds of value a contract ever holds."""
