"""AST rewriting: gas metering and checked operations, inserted into validated contract code.

The rewritten module has no class: each method ``m`` becomes a module-level
function ``__m_m`` without ``self`` (``self.m(...)`` becomes ``__m_m(...)``),
so the contract never holds an object with Python attribute machinery behind
it. Then:

* gas: every statement list starts with ``__gas(n)`` (its statement count;
  loop bodies add the per-iteration price), every function body starts with
  ``__enter(n)`` (call price, depth check) inside ``try/finally: __leave()``,
  every comprehension element passes ``__tick()``;
* every operator whose cost or result size depends on its operands (``+ * **
  << % ==`` ..., ``in``, slicing, item assignment, f-strings, method calls)
  becomes a call of a checked helper that prices the work and refuses
  oversize results *before* computing them (``10**10**8`` is refused in
  microseconds);
* tuple displays become lists (a contract never holds a tuple, so no
  value can be a hashable deep structure);
* ``storage[...]`` forms become storage helper calls.

Names beginning with ``__`` are refused in contract source, so the helper
names introduced here cannot be reached or shadowed by the contract.
"""

from __future__ import annotations

import ast
from typing import Any

from consortium.execution.language import CONTEXT_FIELDS, METHOD_NAMES, SELF, STORAGE
from consortium.execution.limits import G_CALL, G_LOOP, G_STATEMENT
from consortium.execution.validate import ContractSpec

METHOD_PREFIX = "__m_"
TEMP = "__v"
TEMP_PREFIX = "__t"

BINOP_HELPERS: dict[type, str] = {
    ast.Add: "__op_add", ast.Sub: "__op_sub", ast.Mult: "__op_mul", ast.FloorDiv: "__op_floordiv",
    ast.Mod: "__op_mod", ast.Pow: "__op_pow", ast.LShift: "__op_lshift", ast.RShift: "__op_rshift",
    ast.BitOr: "__op_or", ast.BitXor: "__op_xor", ast.BitAnd: "__op_and",
}
CMP_HELPERS: dict[type, str] = {
    ast.Eq: "__cmp_eq", ast.NotEq: "__cmp_ne", ast.Lt: "__cmp_lt", ast.LtE: "__cmp_le",
    ast.Gt: "__cmp_gt", ast.GtE: "__cmp_ge", ast.In: "__in",
}
HELPER_NAMES = frozenset(
    set(BINOP_HELPERS.values()) | set(CMP_HELPERS.values()) | {f"__mc_{m}" for m in METHOD_NAMES} | {
        "__gas", "__tick", "__enter", "__leave", "__iop_add", "__setitem", "__delitem", "__augitem",
        "__slice", "__coll", "__fstr", "__fmt", "__s_load", "__s_get", "__s_has", "__s_store",
        "__s_delete", "__s_aug", "__deny",
    }
)
"""Every runtime helper the rewritten code may name (the runtime must provide exactly these)."""


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _call(fn: str, args: list[ast.expr], keywords: list[ast.keyword] | None = None, like: ast.AST | None = None) -> ast.Call:
    node = ast.Call(func=_name(fn), args=args, keywords=keywords or [])
    if like is not None:
        ast.copy_location(node, like)
    return node


def _charge(n: int, like: ast.AST) -> ast.stmt:
    return ast.copy_location(ast.Expr(value=_call("__gas", [ast.Constant(n)])), like)


def _const(v: Any) -> ast.Constant:
    return ast.Constant(value=v)


def _is_storage(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == STORAGE


class _ExprRewriter(ast.NodeTransformer):
    """Rewrites expressions bottom-up (children first, then the node itself)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        return _call(BINOP_HELPERS[type(node.op)], [node.left, node.right], like=node)

    def __init__(self, constants: frozenset[str] = frozenset()) -> None:
        self.temps = 0
        self.constants = constants

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) and _is_storage(node.comparators[0]):
            call = _call("__s_has", [self.visit(node.left)], like=node)
            return ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=call), node) if isinstance(node.ops[0], ast.NotIn) else call
        operands = [self.visit(node.left)] + [
            c if self.literal_tuple(c) else self.visit(c) for c in node.comparators]
        if len(node.ops) == 1:
            return self.compare_pair(operands[0], node.ops[0], operands[1], node)
        # a < b < c  ->  __cmp_lt(a, (__t1 := b)) and __cmp_lt(__t1, c): each operand evaluated once,
        # and evaluation stops at the first false comparison, as in Python.
        parts: list[ast.expr] = []
        left = operands[0]
        for i, op in enumerate(node.ops):
            right = operands[i + 1]
            if i < len(node.ops) - 1:
                self.temps += 1
                temp = f"{TEMP_PREFIX}{self.temps}"
                right = ast.copy_location(ast.NamedExpr(target=ast.Name(id=temp, ctx=ast.Store()), value=right), node)
                parts.append(self.compare_pair(left, op, right, node))
                left = _name(temp)
            else:
                parts.append(self.compare_pair(left, op, right, node))
        return ast.copy_location(ast.BoolOp(op=ast.And(), values=parts), node)

    @staticmethod
    def literal_tuple(node: ast.expr) -> bool:
        """A tuple display of literals right of ``in``: kept as an (immutable, constant) tuple."""
        return isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in node.elts)

    def small_scalar(self, node: ast.expr) -> bool:
        """True if ``node`` always evaluates to a scalar that compares in O(1) (or O(literal size)):
        a literal, a module constant, or the result of len()/typeof()/bool()."""
        if isinstance(node, ast.NamedExpr):
            node = node.value
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.constants
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            return True
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("len", "typeof", "bool"))

    def native_ok(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> bool:
        """Comparisons whose cost is bounded by a literal need no checked helper: comparing any
        value with a scalar stops at the type or the length (literals are at most 4 KiB); ``x in``
        a literal string or a display of literals scans only the literal."""
        if isinstance(op, (ast.In, ast.NotIn)):
            if isinstance(right, ast.Constant) and isinstance(right.value, (str, bytes)):
                return True
            return self.literal_tuple(right)
        return self.small_scalar(left) or self.small_scalar(right)

    def compare_pair(self, left: ast.expr, op: ast.cmpop, right: ast.expr, like: ast.AST) -> ast.expr:
        if isinstance(op, (ast.Is, ast.IsNot)) or self.native_ok(left, op, right):
            return ast.copy_location(ast.Compare(left=left, ops=[op], comparators=[right]), like)
        helper = CMP_HELPERS[ast.In if isinstance(op, ast.NotIn) else type(op)]
        call = _call(helper, [left, right], like=like)
        if isinstance(op, ast.NotIn):
            return ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=call), like)
        return call

    def visit_Call(self, node: ast.Call) -> ast.expr:
        f = node.func
        args = [self.visit(a) for a in node.args]
        keywords = [ast.keyword(arg=k.arg, value=self.visit(k.value)) for k in node.keywords]
        if isinstance(f, ast.Name):
            node.args, node.keywords = args, keywords
            return node
        assert isinstance(f, ast.Attribute)
        if isinstance(f.value, ast.Name) and f.value.id == SELF:
            return _call(METHOD_PREFIX + f.attr, args, keywords, like=node)
        if _is_storage(f.value):
            return _call(f"__s_{f.attr}", args, keywords, like=node)
        return _call(f"__mc_{f.attr}", [self.visit(f.value), *args], keywords, like=node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        # Only loads reach here; stores and deletes are rewritten at statement level.
        if _is_storage(node.value):
            return _call("__s_load", [self.visit(node.slice)], like=node)
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            s = node.slice
            parts = [self.visit(p) if p is not None else _const(None) for p in (s.lower, s.upper, s.step)]
            return _call("__slice", [value, *parts], like=node)
        node.value = value
        node.slice = self.visit(node.slice)
        return node

    def visit_Tuple(self, node: ast.Tuple) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.List(elts=node.elts, ctx=ast.Load()), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        parts: list[ast.expr] = []
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                conv = "r" if v.conversion == ord("r") else "s"
                parts.append(_call("__fmt", [self.visit(v.value), _const(conv)], like=v))
            else:
                parts.append(v)
        return _call("__fstr", parts, like=node)

    def _tick_comprehension(self, node: ast.ListComp | ast.DictComp) -> ast.expr:
        self.generic_visit(node)
        for gen in node.generators:
            gen.ifs.insert(0, _call("__tick", [], like=node))
        return _call("__coll", [node], like=node)

    visit_ListComp = _tick_comprehension
    visit_DictComp = _tick_comprehension


def _bound_names(fn: ast.FunctionDef) -> frozenset[str]:
    """Every name the function binds (parameters, assignment and loop targets, comprehension
    variables): in Python these are local throughout the function."""
    names = {a.arg for a in fn.args.args}
    names.update(n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)))
    return frozenset(names)


def static_cost(stmts: list[ast.stmt]) -> int:
    """Gas of one pass through ``stmts``: one per statement, plus the dearer branch of each ``if``.
    Loop bodies and loop ``else`` clauses are charged separately, when they run."""
    cost = 0
    for s in stmts:
        cost += G_STATEMENT
        if isinstance(s, ast.If):
            cost += max(static_cost(s.body), static_cost(s.orelse))
    return cost


class _FunctionRewriter:
    def __init__(self, constants: frozenset[str]) -> None:
        self.module_constants = constants
        self.expr = _ExprRewriter(constants)

    def e(self, node: ast.expr) -> ast.expr:
        return self.expr.visit(node)

    def block(self, stmts: list[ast.stmt], extra: int = 0, charged: bool = True) -> list[ast.stmt]:
        """A statement list, with its gas charge first if ``charged``.

        Only function bodies and loop bodies (and loop ``else`` clauses) are charged; the
        branches of an ``if`` are priced into the enclosing charge at their more expensive side
        (see :func:`static_cost`), so straight-line code with branches costs one helper call.
        """
        if not stmts:
            return []
        out: list[ast.stmt] = [_charge(extra + static_cost(stmts), stmts[0])] if charged else []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.Expr):
            lazy = self.lazy_check(s)
            if lazy is not None:
                return [lazy]
            s.value = self.e(s.value)
            return [s]
        if isinstance(s, ast.Return):
            if s.value is not None:
                s.value = self.e(s.value)
            return [s]
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return [ast.copy_location(ast.Pass(), s)]
            s = ast.copy_location(ast.Assign(targets=[s.target], value=s.value), s)
        if isinstance(s, ast.Assign):
            return self.assign(s)
        if isinstance(s, ast.AugAssign):
            return [self.aug_assign(s)]
        if isinstance(s, ast.Delete):
            return [self.delete(t, s) for t in s.targets]
        if isinstance(s, ast.If):
            s.test = self.e(s.test)
            s.body = self.block(s.body, charged=False) or [ast.copy_location(ast.Pass(), s)]
            s.orelse = self.block(s.orelse, charged=False)
            return [s]
        if isinstance(s, (ast.For, ast.While)):
            if isinstance(s, ast.For):
                s.iter = self.e(s.iter)
            else:
                s.test = self.e(s.test)
            s.body = self.block(s.body, extra=G_LOOP)
            s.orelse = self.block(s.orelse)
            return [s]
        return [s]  # Pass, Break, Continue

    def lazy_check(self, s: ast.Expr) -> ast.stmt | None:
        """``require(cond, message)`` as a statement becomes ``if not cond: revert(message)``,
        so the message (often an f-string) is only built when the check fails."""
        call = s.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id in ("require", "authorize") and len(call.args) == 2 and not call.keywords):
            return None
        fail = "revert" if call.func.id == "require" else "__deny"
        cond, message = (self.e(a) for a in call.args)
        raise_stmt = ast.copy_location(ast.Expr(value=_call(fail, [message], like=s)), s)
        return ast.copy_location(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=cond), body=[raise_stmt], orelse=[]), s)

    def assign(self, s: ast.Assign) -> list[ast.stmt]:
        value = self.e(s.value)
        if len(s.targets) == 1:
            return [self.store(s.targets[0], value, s)]
        out: list[ast.stmt] = [ast.copy_location(
            ast.Assign(targets=[ast.Name(id=TEMP, ctx=ast.Store())], value=value), s)]
        out.extend(self.store(t, _name(TEMP), s) for t in s.targets)
        return out

    def store(self, target: ast.expr, value: ast.expr, like: ast.stmt) -> ast.stmt:
        if isinstance(target, ast.Subscript):
            if _is_storage(target.value):
                call = _call("__s_store", [self.e(target.slice), value], like=like)
            else:
                call = _call("__setitem", [self.e(target.value), self.e(target.slice), value], like=like)
            return ast.copy_location(ast.Expr(value=call), like)
        return ast.copy_location(ast.Assign(targets=[target], value=value), like)

    def aug_assign(self, s: ast.AugAssign) -> ast.stmt:
        helper = "__iop_add" if isinstance(s.op, ast.Add) else BINOP_HELPERS[type(s.op)]
        value = self.e(s.value)
        t = s.target
        if isinstance(t, ast.Name):
            load = ast.Name(id=t.id, ctx=ast.Load())
            return ast.copy_location(
                ast.Assign(targets=[ast.Name(id=t.id, ctx=ast.Store())], value=_call(helper, [load, value], like=s)), s)
        assert isinstance(t, ast.Subscript)
        op_helper = BINOP_HELPERS[type(s.op)]
        if _is_storage(t.value):
            call = _call("__s_aug", [self.e(t.slice), _name(op_helper), value], like=s)
        else:
            call = _call("__augitem", [self.e(t.value), self.e(t.slice), _name(op_helper), value], like=s)
        return ast.copy_location(ast.Expr(value=call), s)

    def delete(self, t: ast.expr, like: ast.stmt) -> ast.stmt:
        if isinstance(t, ast.Subscript):
            if _is_storage(t.value):
                call = _call("__s_delete", [self.e(t.slice)], like=like)
            else:
                call = _call("__delitem", [self.e(t.value), self.e(t.slice)], like=like)
            return ast.copy_location(ast.Expr(value=call), like)
        return ast.copy_location(ast.Delete(targets=[t]), like)

    def function(self, fn: ast.FunctionDef, defaults: tuple[object, ...]) -> ast.FunctionDef:
        body = [s for i, s in enumerate(fn.body)
                if not (i == 0 and isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))] or [
            ast.copy_location(ast.Pass(), fn)]
        # Module constants hold scalars, unless the method rebinds the name (then it is a local).
        self.expr.constants = self.module_constants - _bound_names(fn)
        inner = self.block(body)
        # The first charge folds into __enter: one helper call on entry instead of two.
        first = inner[0]
        assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Call)
        first_cost = first.value.args[0]
        assert isinstance(first_cost, ast.Constant) and isinstance(first_cost.value, int)

        enter = ast.copy_location(ast.Expr(value=_call("__enter", [_const(G_CALL + first_cost.value)])), fn)
        guarded = ast.copy_location(ast.Try(
            body=inner[1:] or [ast.copy_location(ast.Pass(), fn)], handlers=[], orelse=[],
            finalbody=[ast.copy_location(ast.Expr(value=_call("__leave", [])), fn)],
        ), fn)
        args = ast.arguments(
            posonlyargs=[], args=[ast.arg(arg=a.arg) for a in fn.args.args[1:]], vararg=None,
            kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[_const(d) for d in defaults],
        )
        new = ast.FunctionDef(name=METHOD_PREFIX + fn.name, args=args, body=[enter, guarded],
                              decorator_list=[], returns=None, type_comment=None)
        return ast.copy_location(new, fn)


def rewrite(tree: ast.Module, spec: ContractSpec) -> ast.Module:
    """Produce the executable module for a validated contract (the input tree is consumed)."""
    body: list[ast.stmt] = []
    for name, value in spec.constants.items():
        body.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=_const(value), lineno=1, col_offset=0))
    cls = next(s for s in tree.body if isinstance(s, ast.ClassDef))
    rw = _FunctionRewriter(frozenset(spec.constants))
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef):
            body.append(rw.function(fn, spec.methods[fn.name].defaults))
    module = ast.Module(body=body, type_ignores=[])
    ast.fix_missing_locations(module)
    _check_rewritten(module, spec)
    return module


def _check_rewritten(module: ast.Module, spec: ContractSpec) -> None:
    """Defence in depth: the rewritten tree may only name known helpers, read context fields,
    and compare natively where the cost is bounded by a literal.

    A bug in the rewriter that let an original expression through unchanged would show up
    here as a name, attribute or operator the runtime does not expect.
    """
    method_names = {METHOD_PREFIX + m for m in spec.methods}
    constants = frozenset(spec.constants)
    for fn in module.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        checker = _ExprRewriter(constants - _bound_names(fn))
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and node.id.startswith("__"):
                if (node.id not in HELPER_NAMES and node.id not in method_names and node.id != TEMP
                        and not (node.id.startswith(TEMP_PREFIX) and node.id[len(TEMP_PREFIX):].isdigit())):
                    raise AssertionError(f"rewriter produced unexpected name {node.id}")
            elif isinstance(node, ast.Attribute):
                if not (isinstance(node.value, ast.Name) and node.value.id in CONTEXT_FIELDS
                        and node.attr in CONTEXT_FIELDS[node.value.id]):
                    raise AssertionError(f"rewriter let attribute .{node.attr} through")
            elif isinstance(node, ast.BinOp):
                raise AssertionError("rewriter let a BinOp through")
            elif isinstance(node, ast.Compare):
                left, op, right = node.left, node.ops[0], node.comparators[0]
                if len(node.ops) != 1 or not (isinstance(op, (ast.Is, ast.IsNot)) or checker.native_ok(left, op, right)):
                    raise AssertionError("rewriter let an unbounded comparison through")
            elif isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load) and not checker.literal_tuple(node):
                raise AssertionError("rewriter let a tuple display through")
