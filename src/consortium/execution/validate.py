"""Deploy-time allow-list: parse contract source and refuse anything outside the subset.

The check is an allow-list over the AST: every node type, name, attribute and
call form that is not explicitly accepted here is refused with the line and the
construct, so a new Python feature is refused by default. Run-time guards (in
:mod:`consortium.execution.runtime`) back every rule that cannot be decided
statically; this module is the first wall, not the only one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from consortium.execution.errors import ContractRejected, rejection
from consortium.execution.language import (
    API_FUNCTIONS,
    CONSTRUCTOR,
    CONTEXT_FIELDS,
    METHOD_NAMES,
    RESERVED_NAMES,
    SELF,
    STORAGE,
    STORAGE_METHODS,
)
from consortium.execution.literals import ALLOWED_BINOPS, check_literal, const_eval
from consortium.execution.parsing import parse_contract

__all__ = ["ContractSpec", "MethodSpec", "parse_contract", "validate"]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: tuple[str, ...]
    """Parameter names after ``self``."""
    required: int
    """How many leading parameters have no default."""
    line: int
    defaults: tuple[object, ...] = ()
    """Values of the trailing parameters' defaults (constants, evaluated at deploy)."""

    @property
    def public(self) -> bool:
        return not self.name.startswith("_") and self.name != CONSTRUCTOR

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


@dataclass(frozen=True)
class ContractSpec:
    """What validation learned about a contract: its class name, methods and module constants."""

    class_name: str
    methods: dict[str, MethodSpec]
    constants: dict[str, object]
    """Module-level constants, already evaluated (None, bool, int, str, bytes)."""

    @property
    def constructor(self) -> MethodSpec | None:
        return self.methods.get(CONSTRUCTOR)


_CONSTRUCT_NAMES: dict[type, str] = {
    ast.Import: "import statement", ast.ImportFrom: "import statement",
    ast.Global: "global statement", ast.Nonlocal: "nonlocal statement",
    ast.Try: "try statement", ast.Raise: "raise statement", ast.Assert: "assert statement",
    ast.With: "with statement", ast.AsyncWith: "async with", ast.AsyncFor: "async for",
    ast.AsyncFunctionDef: "async function", ast.FunctionDef: "nested function",
    ast.ClassDef: "nested class", ast.Lambda: "lambda", ast.Yield: "yield", ast.YieldFrom: "yield from",
    ast.Await: "await", ast.GeneratorExp: "generator expression", ast.SetComp: "set comprehension",
    ast.Set: "set literal", ast.NamedExpr: "assignment expression (:=)", ast.Starred: "star unpacking",
    ast.Match: "match statement",
}
_HINTS: dict[type, str] = {
    ast.Import: "contracts cannot import; everything available is provided by the runtime",
    ast.ImportFrom: "contracts cannot import; everything available is provided by the runtime",
    ast.Try: "contracts cannot catch errors; check with require() instead",
    ast.Raise: "use require(condition, message) to revert",
    ast.Assert: "use require(condition, message); assert is removed under python -O",
    ast.Set: "set iteration order depends on the hash seed; use a list or dict",
    ast.SetComp: "set iteration order depends on the hash seed; use a list or dict",
    ast.GeneratorExp: "use a list comprehension",
    ast.Lambda: "define a method on the contract class",
    ast.FunctionDef: "define a method on the contract class",
    ast.Global: "module-level state is not persistent; use storage",
}

_ALLOWED_BINOPS = ALLOWED_BINOPS
_ALLOWED_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot)


_reject = rejection


def validate(tree: ast.Module) -> ContractSpec:
    """Check the whole module against the allow-list and describe the contract."""
    _check_names_and_attributes(tree)
    constants: dict[str, object] = {}
    class_node: ast.ClassDef | None = None
    for i, stmt in enumerate(tree.body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.ClassDef):
            if class_node is not None:
                raise _reject(stmt, "second class", "a contract module holds exactly one class")
            class_node = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            name, value = _module_constant(stmt, constants)
            if name in constants:
                raise _reject(stmt, "constant", f"{name!r} is assigned twice")
            constants[name] = value
        else:
            raise _reject(stmt, _construct(stmt),
                          "only constant assignments and one contract class are allowed at module level")
    if class_node is None:
        raise ContractRejected(0, "contract class", "the module must define one contract class")
    methods = _class_methods(class_node, constants)
    clash = set(constants) & set(methods)
    for name in sorted(clash):
        raise _reject(class_node, "name clash", f"{name!r} is both a module constant and a method")
    for fn in class_node.body:
        if isinstance(fn, ast.FunctionDef):
            _FunctionChecker(fn, methods, constants).check()
    return ContractSpec(class_node.name, methods, constants)


def _construct(node: ast.AST) -> str:
    return _CONSTRUCT_NAMES.get(type(node), type(node).__name__)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _check_names_and_attributes(tree: ast.AST) -> None:
    """Refuse dunder names and underscore attributes anywhere, before any other rule.

    This is the rule every classic escape needs to break (``().__class__.__mro__``,
    ``f.__globals__``, ``__builtins__``, ``__import__``), so it is checked first and
    everywhere, with the clearest message. The one exception is ``self._helper``: private
    methods of the contract, which the rewriter turns into plain function names.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not (
                isinstance(node.value, ast.Name) and node.value.id == SELF and not node.attr.startswith("__")):
            raise _reject(node, f"attribute .{node.attr}",
                          "attributes beginning with '_' are not accessible from contracts")
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            name = node.name
        elif isinstance(node, ast.keyword) and node.arg is not None:
            name = node.arg
        elif isinstance(node, ast.alias):
            name = node.name
        if name is not None and name.startswith("__"):
            raise _reject(node, f"name {name}", "names beginning with '__' are reserved to the runtime")


def _module_constant(stmt: ast.Assign | ast.AnnAssign, known: dict[str, object]) -> tuple[str, object]:
    target: ast.expr
    if isinstance(stmt, ast.AnnAssign):

        target, value = stmt.target, stmt.value
    else:
        if len(stmt.targets) != 1:
            raise _reject(stmt, "constant", "assign one module constant per statement")
        target, value = stmt.targets[0], stmt.value
    if not isinstance(target, ast.Name):
        raise _reject(stmt, "constant", "a module constant must be assigned to a plain name")
    if target.id in RESERVED_NAMES:
        raise _reject(stmt, f"name {target.id}", f"{target.id!r} is provided by the runtime and cannot be redefined")
    if value is None:
        raise _reject(stmt, "constant", f"{target.id!r} has no value")
    return target.id, const_eval(value, known)


def _class_methods(cls: ast.ClassDef, constants: dict[str, object]) -> dict[str, MethodSpec]:
    if cls.bases or cls.keywords:
        raise _reject(cls, "class bases", "the contract class may not inherit or take a metaclass")
    if cls.decorator_list:
        raise _reject(cls.decorator_list[0], "decorator", "decorators are not allowed")
    methods: dict[str, MethodSpec] = {}
    for i, stmt in enumerate(cls.body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.Pass):
            continue
        if not isinstance(stmt, ast.FunctionDef):
            what = "async method" if isinstance(stmt, ast.AsyncFunctionDef) else _construct(stmt)
            raise _reject(stmt, what, "the contract class body may hold only methods (put constants at module level)")
        if stmt.decorator_list:
            raise _reject(stmt.decorator_list[0], "decorator", "decorators are not allowed")
        a = stmt.args
        if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg:
            raise _reject(stmt, "parameters", "only plain positional parameters are allowed (no /, *args, keyword-only, **kwargs)")
        if not a.args or a.args[0].arg != SELF:
            raise _reject(stmt, f"method {stmt.name}", "the first parameter of a method must be 'self'")
        params = tuple(p.arg for p in a.args[1:])
        for p in a.args[1:]:
            if p.arg in RESERVED_NAMES:
                raise _reject(p, f"parameter {p.arg}", f"{p.arg!r} is provided by the runtime and cannot be a parameter")
        if len(set(params)) != len(params):
            raise _reject(stmt, "parameters", "duplicate parameter name")
        defaults = tuple(const_eval(d, constants) for d in a.defaults)
        if stmt.name in methods:
            raise _reject(stmt, f"method {stmt.name}", "defined twice")
        methods[stmt.name] = MethodSpec(stmt.name, params, len(params) - len(a.defaults), stmt.lineno, defaults)
    return methods


class _FunctionChecker:
    """Checks one method body. Name resolution is static: every name must be a parameter,
    a local assigned somewhere in the method, a module constant or a provided function."""

    def __init__(self, fn: ast.FunctionDef, methods: dict[str, MethodSpec], constants: dict[str, object]) -> None:
        self.fn = fn
        self.methods = methods
        self.constants = constants
        self.locals = {a.arg for a in fn.args.args[1:]}
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.locals.add(node.id)

    def check(self) -> None:
        self.block(self.fn.body)

    # -- statements ------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Expr):
            self.expr(s.value)
        elif isinstance(s, ast.Assign):
            for t in s.targets:
                self.target(t)
            self.expr(s.value)
        elif isinstance(s, ast.AnnAssign):
            if not isinstance(s.target, ast.Name) or not s.simple:
                raise _reject(s, "annotated assignment", "annotate plain names only")
            self.bind(s.target)
            if s.value is not None:
                self.expr(s.value)
        elif isinstance(s, ast.AugAssign):
            if not isinstance(s.op, _ALLOWED_BINOPS):
                raise self.bad_op(s, s.op)
            if isinstance(s.target, ast.Name):
                self.bind(s.target)
            elif isinstance(s.target, ast.Subscript):
                self.subscript_target(s.target)
            else:
                raise _reject(s, "augmented assignment", "the target must be a name or a subscript")
            self.expr(s.value)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.expr(s.value)
        elif isinstance(s, ast.If):
            self.expr(s.test)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, ast.For):
            self.loop_target(s.target)
            self.expr(s.iter)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, ast.While):
            self.expr(s.test)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, (ast.Break, ast.Continue, ast.Pass)):
            pass
        elif isinstance(s, ast.Delete):
            for t in s.targets:
                if isinstance(t, ast.Subscript):
                    self.subscript_target(t)
                elif isinstance(t, ast.Name):
                    self.bind(t)
                else:
                    raise _reject(t, "del", "only names and subscripts can be deleted")
        else:
            raise _reject(s, _construct(s), _HINTS.get(type(s), "this statement is not part of the contract language"))

    def bind(self, name: ast.Name) -> None:
        if name.id in RESERVED_NAMES:
            raise _reject(name, f"name {name.id}", f"{name.id!r} is provided by the runtime and cannot be rebound")

    def target(self, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.bind(t)
        elif isinstance(t, ast.Subscript):
            self.subscript_target(t)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for elt in t.elts:
                if not isinstance(elt, ast.Name):
                    raise _reject(elt, "unpacking", "unpack into plain names only")
                self.bind(elt)
        elif isinstance(t, ast.Attribute):
            raise _reject(t, "attribute assignment", "contracts keep state in storage, not in attributes")
        else:
            raise _reject(t, _construct(t), "cannot assign to this")

    def loop_target(self, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.bind(t)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for elt in t.elts:
                if not isinstance(elt, ast.Name):
                    raise _reject(elt, "loop target", "loop over plain names only")
                self.bind(elt)
        else:
            raise _reject(t, "loop target", "loop over plain names only")

    def subscript_target(self, t: ast.Subscript) -> None:
        if isinstance(t.slice, ast.Slice):
            raise _reject(t, "slice assignment", "assign or delete single items only")
        if isinstance(t.value, ast.Name) and t.value.id == STORAGE:
            self.expr(t.slice)
            return
        self.expr(t.value)
        self.expr(t.slice)

    # -- expressions -----------------------------------------------------------------------
    def bad_op(self, node: ast.AST, op: ast.AST) -> ContractRejected:
        if isinstance(op, ast.Div):
            return _reject(node, "true division (/)", "it produces floats; use // for integer division")
        return _reject(node, f"operator {type(op).__name__}", "not supported")

    def expr(self, e: ast.expr) -> None:
        if isinstance(e, ast.Constant):
            check_literal(e)
        elif isinstance(e, ast.Name):
            self.name_load(e)
        elif isinstance(e, ast.BinOp):
            if not isinstance(e.op, _ALLOWED_BINOPS):
                raise self.bad_op(e, e.op)
            self.expr(e.left)
            self.expr(e.right)
        elif isinstance(e, ast.UnaryOp):
            self.expr(e.operand)
        elif isinstance(e, ast.BoolOp):
            for v in e.values:
                self.expr(v)
        elif isinstance(e, ast.Compare):
            self.compare(e)
        elif isinstance(e, ast.IfExp):
            self.expr(e.test)
            self.expr(e.body)
            self.expr(e.orelse)
        elif isinstance(e, ast.Dict):
            for k, v in zip(e.keys, e.values, strict=True):
                if k is None:
                    raise _reject(e, "dict unpacking (**)", "not supported")
                self.expr(k)
                self.expr(v)
        elif isinstance(e, (ast.List, ast.Tuple)):
            for elt in e.elts:
                if isinstance(elt, ast.Starred):
                    raise _reject(elt, "star unpacking", "not supported")
                self.expr(elt)
        elif isinstance(e, (ast.ListComp, ast.DictComp)):
            self.comprehension(e)
        elif isinstance(e, ast.Call):
            self.call(e)
        elif isinstance(e, ast.Attribute):
            self.context_attribute(e)
        elif isinstance(e, ast.Subscript):
            if isinstance(e.value, ast.Name) and e.value.id == STORAGE:
                if isinstance(e.slice, ast.Slice):
                    raise _reject(e, "storage slice", "storage is a mapping; it cannot be sliced")
                self.expr(e.slice)
                return
            self.expr(e.value)
            if isinstance(e.slice, ast.Slice):
                for part in (e.slice.lower, e.slice.upper, e.slice.step):
                    if part is not None:
                        self.expr(part)
            else:
                self.expr(e.slice)
        elif isinstance(e, ast.JoinedStr):
            for v in e.values:
                if isinstance(v, ast.FormattedValue):
                    if v.format_spec is not None:
                        raise _reject(v, "f-string format spec",
                                      "format specs (widths, precision) are not allowed; format values explicitly")
                    if v.conversion not in (-1, ord("s"), ord("r")):
                        raise _reject(v, "f-string conversion", "only !s and !r are allowed")
                    self.expr(v.value)
                elif not (isinstance(v, ast.Constant) and isinstance(v.value, str)):
                    raise _reject(v, "f-string", "unexpected f-string part")
        else:
            raise _reject(e, _construct(e), _HINTS.get(type(e), "this expression is not part of the contract language"))

    def name_load(self, e: ast.Name) -> None:
        n = e.id
        if n in API_FUNCTIONS:
            raise _reject(e, f"name {n}", f"{n}() is provided by the runtime and can only be called, not used as a value")
        if n in CONTEXT_FIELDS:
            fields = ", ".join(f"{n}.{f}" for f in sorted(CONTEXT_FIELDS[n]))
            raise _reject(e, f"name {n}", f"{n} can only be used as {fields}")
        if n == STORAGE:
            raise _reject(e, "name storage", "storage can only be used as storage[key], storage.get(key) or key in storage")
        if n == SELF:
            raise _reject(e, "name self", "self can only be used to call methods: self.method(...)")
        if n not in self.locals and n not in self.constants:
            raise _reject(e, f"name {n}", f"unknown name {n!r} (not a parameter, local, module constant or provided function)")

    def compare(self, e: ast.Compare) -> None:
        operands = [e.left, *e.comparators]
        for i, op in enumerate(e.ops):
            left, right = operands[i], operands[i + 1]
            if not isinstance(op, _ALLOWED_CMPOPS):
                raise _reject(e, "comparison", "not supported")
            if isinstance(op, (ast.Is, ast.IsNot)):
                if not any(isinstance(x, ast.Constant) and x.value is None for x in (left, right)):
                    raise _reject(e, "is comparison", "'is' is only allowed with None (identity of other values is an implementation detail); use ==")
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, ast.Name) and right.id == STORAGE:
                if len(e.ops) != 1:
                    raise _reject(e, "chained comparison", "'in storage' cannot be part of a chained comparison")
                self.expr(left)
                return
        for x in operands:
            self.expr(x)

    def comprehension(self, e: ast.ListComp | ast.DictComp) -> None:
        for gen in e.generators:
            if gen.is_async:
                raise _reject(e, "async comprehension", "not supported")
            self.loop_target(gen.target)
            self.expr(gen.iter)
            for cond in gen.ifs:
                self.expr(cond)
        if isinstance(e, ast.ListComp):
            self.expr(e.elt)
        else:
            self.expr(e.key)
            self.expr(e.value)

    def call_args(self, e: ast.Call) -> None:
        for a in e.args:
            if isinstance(a, ast.Starred):
                raise _reject(a, "star arguments (*args)", "pass arguments explicitly")
            self.expr(a)
        for k in e.keywords:
            if k.arg is None:
                raise _reject(e, "keyword unpacking (**kwargs)", "pass keyword arguments explicitly")
            self.expr(k.value)

    def call(self, e: ast.Call) -> None:
        f = e.func
        if isinstance(f, ast.Name):
            if f.id not in API_FUNCTIONS:
                what = "a method: call it as self.%s(...)" % f.id if f.id in self.methods else "not a provided function"
                raise _reject(e, f"call to {f.id}", f"{f.id!r} is {what}")
        elif isinstance(f, ast.Attribute):
            recv = f.value
            if isinstance(recv, ast.Name) and recv.id == SELF:
                if f.attr not in self.methods:
                    raise _reject(e, f"call to self.{f.attr}", f"the contract has no method {f.attr!r}")
                if f.attr == "constructor":
                    raise _reject(e, "call to self.constructor", "the constructor runs once, at deploy")
                if e.keywords:
                    raise _reject(e, "keyword arguments", "call contract methods with positional arguments")
            elif isinstance(recv, ast.Name) and recv.id == STORAGE:
                if f.attr not in STORAGE_METHODS:
                    raise _reject(e, f"storage.{f.attr}", "storage supports storage[key], storage.get(key, default), key in storage and del storage[key]")
            else:
                if f.attr not in METHOD_NAMES:
                    raise _reject(e, f"method .{f.attr}()", "not an allowed method (see docs/contracts.md for the list)")
                self.expr(recv)
        else:
            raise _reject(e, "call", "only provided functions, self.method(...) and methods of values can be called")
        self.call_args(e)

    def context_attribute(self, e: ast.Attribute) -> None:
        if isinstance(e.value, ast.Name) and e.value.id in CONTEXT_FIELDS:
            if e.attr in CONTEXT_FIELDS[e.value.id]:
                return
            fields = ", ".join(sorted(CONTEXT_FIELDS[e.value.id]))
            raise _reject(e, f"attribute {e.value.id}.{e.attr}", f"{e.value.id} has only: {fields}")
        raise _reject(e, f"attribute .{e.attr}",
                      "attributes can only be read from msg, block and tx; methods can only be called")
