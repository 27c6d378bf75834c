"""Source to code object: parse, validate, rewrite, compile — once per distinct source.

Compiled contracts are cached by code hash (SHA-256 of the UTF-8 source) in a
bounded process-wide LRU: calls never re-parse, and every contract deployed
with the same source shares one code object. A code object is immutable and
carries no state, so sharing it across executors and threads is safe.
"""

from __future__ import annotations

import ast
import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from types import CodeType

from consortium.execution.errors import ContractRejected
from consortium.execution.limits import MAX_SOURCE_BYTES
from consortium.execution.parsing import parse_contract
from consortium.execution.rewrite import rewrite
from consortium.execution.stack import fixed_recursion_budget
from consortium.execution.validate import ContractSpec, validate

CONTRACT_FILENAME = "<contract>"
"""Filename of every compiled contract; tracebacks use it to find the contract's line."""
_CACHE_SIZE = 256
COMPILE_RECURSION_BUDGET = 1000
"""Recursion levels parse/validate/rewrite/compile may use (see execution.stack): the same on
every node, so a borderline-deep contract is refused everywhere or nowhere. MAX_AST_DEPTH keeps
accepted contracts far below it."""


@dataclass(frozen=True)
class CompiledContract:
    code_hash: bytes
    source: str
    spec: ContractSpec
    code: CodeType


_cache: OrderedDict[bytes, CompiledContract] = OrderedDict()
_lock = threading.Lock()


def code_hash(source: str) -> bytes:
    return hashlib.sha256(source.encode("utf-8")).digest()


def check_contract(source: str) -> ContractSpec:
    """Validate contract source without deploying it; raises :class:`ContractRejected`."""
    return compile_contract(source).spec


def compile_contract(source: str) -> CompiledContract:
    """Compile (or fetch from the cache) a contract. Raises :class:`ContractRejected`."""
    if not isinstance(source, str):
        raise ContractRejected(0, "source", f"contract source must be a str, got {type(source).__name__}")
    if len(source) <= MAX_SOURCE_BYTES:  # larger sources are refused by parse_contract
        try:
            h = code_hash(source)
        except UnicodeEncodeError:
            h = b""
        with _lock:
            hit = _cache.get(h)
            if hit is not None:
                _cache.move_to_end(h)
                return hit
    h = code_hash(source)
    # Warnings are silenced: under "python -W error" a SyntaxWarning would become an error, and a
    # node's warning filters must not decide whether a contract is accepted.
    with fixed_recursion_budget(COMPILE_RECURSION_BUDGET), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree = parse_contract(source)
            spec = validate(tree)
            module = rewrite(tree, spec)
            code = compile(module, CONTRACT_FILENAME, "exec", dont_inherit=True, optimize=0)
        except ContractRejected:
            raise
        except RecursionError:
            raise ContractRejected(0, "nesting", "the source is nested too deeply to compile") from None
        except (SyntaxError, ValueError, MemoryError) as exc:
            # The validator accepted something CPython cannot compile (e.g. its block nesting limit).
            raise ContractRejected(getattr(exc, "lineno", 0) or 0, "compile", str(exc)) from None
    compiled = CompiledContract(h, source, spec, code)
    with _lock:
        _cache[h] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _unparse(source: str) -> str:
    """The rewritten module as source text (for debugging and docs)."""
    tree = parse_contract(source)
    return ast.unparse(rewrite(tree, validate(tree)))
