"""Parsing contract source: size bounds, ASCII identifiers, and a syntax tree of bounded shape.

Everything here runs before any rule of the language is checked, on input that
is entirely untrusted, so every failure (including the parser's own recursion
and memory errors) becomes a :class:`ContractRejected`.
"""

from __future__ import annotations

import ast
import io
import tokenize
import unicodedata

from consortium.execution.errors import ContractRejected
from consortium.execution.limits import MAX_AST_DEPTH, MAX_AST_NODES, MAX_SOURCE_BYTES


def parse_contract(source: str) -> ast.Module:
    """Parse with size and identifier checks; every failure is a :class:`ContractRejected`."""
    if not isinstance(source, str):
        raise ContractRejected(0, "source", f"contract source must be a str, got {type(source).__name__}")
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:
        raise ContractRejected(0, "source", "contract source is not valid Unicode (lone surrogate)") from None
    if size > MAX_SOURCE_BYTES:
        raise ContractRejected(0, "source", f"contract source is {size} bytes; the limit is {MAX_SOURCE_BYTES}")
    if "\x00" in source:
        raise ContractRejected(0, "source", "contract source contains a NUL byte")
    _check_identifiers_ascii(source)
    try:
        tree = ast.parse(source, filename="<contract>", mode="exec", type_comments=False)
    except SyntaxError as exc:
        raise ContractRejected(exc.lineno or 0, "syntax error", exc.msg or "invalid syntax") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ContractRejected(0, "syntax error", f"source too deeply nested or malformed ({type(exc).__name__})") from None
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:  # iterative: the check must not itself recurse
        node, depth = stack.pop()
        count += 1
        if count > MAX_AST_NODES:
            raise ContractRejected(0, "source", f"contract has more than {MAX_AST_NODES} syntax nodes")
        if depth > MAX_AST_DEPTH:
            raise ContractRejected(getattr(node, "lineno", 0), "nesting",
                                   f"expressions and blocks may nest at most {MAX_AST_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def _check_identifiers_ascii(source: str) -> None:
    """Refuse non-ASCII identifiers before the parser NFKC-normalizes them.

    ``ｅｖａｌ`` and ``__ｃｌａｓｓ__`` become ``eval`` and ``__class__`` inside the AST; the
    validator would catch those, but a look-alike name is a readability trap in a contract
    other members must audit, so it is refused outright (strings and comments may be any text).
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        line = getattr(exc, "lineno", 0) or (exc.args[1][0] if len(exc.args) > 1 and isinstance(exc.args[1], tuple) else 0)
        raise ContractRejected(line, "syntax error", str(exc.args[0]) if exc.args else "cannot tokenize") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ContractRejected(0, "syntax error", f"cannot tokenize ({type(exc).__name__})") from None
    for tok in tokens:
        if tok.type == tokenize.NAME and not tok.string.isascii():
            normal = unicodedata.normalize("NFKC", tok.string)
            raise ContractRejected(
                tok.start[0], "non-ASCII identifier",
                f"{tok.string!r} is not allowed (Python would read it as {normal!r}); use ASCII names",
            )
