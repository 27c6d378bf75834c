"""Literals and constant expressions: module constants and parameter defaults, evaluated at deploy."""

from __future__ import annotations

import ast

from consortium.execution.errors import rejection
from consortium.execution.limits import MAX_INT_BITS, MAX_LITERAL_LEN

ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
                  ast.BitOr, ast.BitXor, ast.BitAnd)


def const_eval(node: ast.expr, known: dict[str, object] | None = None) -> object:
    """Evaluate a constant expression: literals, earlier module constants, and bounded int
    arithmetic on them. Used for module constants and parameter defaults."""
    return _const_eval(node, known or {})


def _const_eval(node: ast.expr, known: dict[str, object]) -> object:
    if isinstance(node, ast.Constant):
        check_literal(node)
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        v = _const_eval(node.operand, known)
        if type(v) is not int:
            raise rejection(node, "constant", "unary operators in constants apply to integers only")
        return -v if isinstance(node.op, ast.USub) else (v if isinstance(node.op, ast.UAdd) else ~v)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ALLOWED_BINOPS):
        a, b = _const_eval(node.left, known), _const_eval(node.right, known)
        if type(a) is not int or type(b) is not int:
            raise rejection(node, "constant", "operators in constants apply to integers only")
        result = _const_binop(node, node.op, a, b)
        if abs(result).bit_length() > MAX_INT_BITS:
            raise rejection(node, "constant", f"value exceeds {MAX_INT_BITS} bits")
        return result
    raise rejection(node, "constant",
                  "constants must be None, True, False, int, str or bytes literals, earlier constants, "
                  "or integer arithmetic on them (mutable module state would leak between calls)")


def _const_binop(node: ast.AST, op: ast.operator, a: int, b: int) -> int:
    try:
        if isinstance(op, ast.Pow):
            if b < 0 or (abs(a) > 1 and (abs(a).bit_length() - 1) * b > MAX_INT_BITS):
                raise rejection(node, "constant", f"power exceeds {MAX_INT_BITS} bits or is negative")
            return a ** b
        if isinstance(op, ast.LShift):
            if b < 0 or a.bit_length() + b > MAX_INT_BITS + 1:
                raise rejection(node, "constant", f"shift exceeds {MAX_INT_BITS} bits or is negative")
            return a << b
        if isinstance(op, ast.RShift):
            return a >> b if b < (1 << 16) else (0 if a >= 0 else -1)
        ops = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__, ast.FloorDiv: int.__floordiv__,
               ast.Mod: int.__mod__, ast.BitOr: int.__or__, ast.BitXor: int.__xor__, ast.BitAnd: int.__and__}
        return ops[type(op)](a, b)
    except ZeroDivisionError:
        raise rejection(node, "constant", "division by zero") from None


def check_literal(node: ast.Constant) -> None:
    v = node.value
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, int):
        if abs(v).bit_length() > MAX_INT_BITS:
            raise rejection(node, "integer literal", f"exceeds {MAX_INT_BITS} bits")
        return
    if isinstance(v, (str, bytes)):
        if len(v) > MAX_LITERAL_LEN:
            raise rejection(node, "string literal", f"{len(v)} long; the limit is {MAX_LITERAL_LEN}")
        return
    if isinstance(v, float):
        raise rejection(node, "float literal", "floats are not deterministic across platforms; use integers")
    if isinstance(v, complex):
        raise rejection(node, "complex literal", "only integers are supported")
    raise rejection(node, "literal", f"{type(v).__name__} literals are not allowed")
