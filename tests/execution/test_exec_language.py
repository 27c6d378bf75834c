"""The contract language: what the subset accepts, how it behaves, and what it refuses.

Integer semantics are checked against a naive reference (plain Python with the
256-bit bound applied after every operation); the validator is fuzzed with
arbitrary text and with token soup, and must answer with ContractRejected or a
compiled contract, never anything else.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.execution.chainkit import ALICE, Chain, contract

from consortium.execution import (
    BlockContext,
    ContractRejected,
    DictReader,
    Executor,
    GenesisContract,
    check_contract,
)
from consortium.execution.limits import INT_BOUND
from consortium.ledger import ReceiptStatus

S = ReceiptStatus
CTX = BlockContext("c", "g", 1, 1000)
_executor = Executor(gas_limit_per_tx=200_000)


def run(methods: str, method: str = "run", *args: object, constants: str = ""):  # type: ignore[no-untyped-def]
    """Deploy ``methods`` as class C (genesis-style) and call ``method`` read-only."""
    source = contract(methods, constants)
    result = _executor.deploy_genesis(CTX, [GenesisContract("t", source)])
    address = result.receipts[0].contract_address
    return _executor.call(DictReader(dict(result.writes)), CTX, address, method, args)  # type: ignore[arg-type]


def value(methods: str, *args: object, constants: str = "") -> object:
    result = run(methods, "run", *args, constants=constants)
    assert result.ok, result.error
    return result.output


# -- accepted language ---------------------------------------------------------------------------
def test_kitchen_sink() -> None:
    out = value("""
        def run(self, xs):
            total = 0
            for i, x in enumerate(xs):
                if x % 2 == 0 and i > 0:
                    total += x
                elif x < 0:
                    continue
                else:
                    total -= 1
            squares = [x * x for x in xs if x > 0]
            table = {str(x): x for x in range(3)}
            pairs = [[k, v] for k, v in table.items()]
            a, b = 1, 2
            a, b = b, a
            n = 0
            while n < 5:
                n += 1
                if n == 4:
                    break
            else:
                n = 100
            word = "Hello, World"
            parts = word.lower().split(", ")
            text = f"{total}:{squares!r}:{'-'.join(parts)}"
            flags = [0 < n <= 4, 1 < 2 < 1, typeof(None), typeof(range(2)), len(b"abc"), -7 // 2, -7 % 2, 2 ** 10,
                     1 << 4, 255 >> 4, 6 & 3, 6 | 3, 6 ^ 3, ~5, abs(-3), min(3, 1, 2), max([4, 9]), sum([1, 2, 3]),
                     sorted([3, 1, 2], reverse=True), reversed([1, 2]), list("ab"), dict([["k", 1]]), bool([]),
                     int("42"), int("ff", 16), hex(255), bytes([104, 105]), sha256(b"")[:4], from_hex("0x0102"),
                     "abc".startswith("a"), "a,b".replace(",", ";"), "x".encode(), b"y".decode(), b"\\x01".hex(),
                     [1, 2, 3][::-1], "abcdef"[1:3], zip([1, 2], ["a", "b"]), 3 in [1, 2, 3], "z" not in "abc",
                     None is None, (5).bit_length(), (258).to_bytes(2)]
            return [total, squares, pairs, a, b, n, text, flags]
    """, [1, 2, -3, 4])
    assert out == (
        5, (1, 4, 16), (("0", 0), ("1", 1), ("2", 2)), 2, 1, 4, "5:[1, 4, 16]:hello-world",
        (True, False, "none", "range", 3, -4, 1, 1024, 16, 15, 2, 7, 5, -6, 3, 1, 9, 6, (3, 2, 1), (2, 1),
         ("a", "b"), {"k": 1}, False, 42, 255, "0xff", b"hi", bytes.fromhex("e3b0c442"), b"\x01\x02", True, "a;b",
         b"x", "y", "01", (3, 2, 1), "bc", ((1, "a"), (2, "b")), True, True, True, 3, b"\x01\x02"),
    )


def test_private_methods_constants_and_defaults() -> None:
    out = value("""
        def run(self, x=LIMIT):
            return [self._double(x), BIG, NAME, self._default()]

        def _double(self, v):
            return v * 2

        def _default(self, v=-LIMIT):
            return v
    """, constants="LIMIT = 2 ** 4\nBIG = LIMIT * 3 + 1\nNAME = 'x'\n")
    assert out == (32, 49, "x", -16)


def test_tuples_become_lists_and_items_are_lists() -> None:
    assert value("""
        def run(self):
            t = (1, 2)
            d = {"a": 1}
            return [typeof(t), typeof(d.items()[0]), typeof(enumerate([5])[0])]
    """) == ("list", "list", "list")


def test_require_message_is_only_built_on_failure() -> None:
    source = """
        def run(self, fail):
            require(not fail, self._expensive())
            return "passed"

        def _expensive(self):
            storage["built"] = True
            return "message was built"
    """
    assert value(source, False) == "passed"
    failed = run(source, "run", True)
    assert failed.status == S.REVERTED and failed.error == "message was built"


def test_authorize_and_revert() -> None:
    source = """
        def run(self, who):
            authorize(who == "admin", f"{who} may not do this")
            if who == "admin":
                revert("admins revert too")
    """
    denied = run(source, "run", "eve")
    assert denied.status == S.PERMISSION_DENIED and denied.error == "eve may not do this"
    reverted = run(source, "run", "admin")
    assert reverted.status == S.REVERTED and reverted.error == "admins revert too"


def test_list_plus_equals_is_in_place() -> None:
    assert value("""
        def run(self):
            a = [1]
            b = a
            a += [2]
            return b
    """) == (1, 2)


def test_returned_and_emitted_values_are_snapshots() -> None:
    chain = Chain()
    address = chain.deployed(ALICE, contract("""
        def run(self):
            l = [1]
            emit("E", l=l)
            l.append(2)
            return l
    """))
    receipt = chain.send(ALICE, address, "run")
    assert receipt.output == (1, 2) and dict(receipt.events[0].fields) == {"l": (1,)}


@pytest.mark.parametrize(("source", "construct", "line"), [
    ("x = ", "syntax error", 1),
    ("class C:\n    def f(self):\n        return undefined_name", "name undefined_name", 3),
    ("class C:\n    def f(self):\n        return self.g()", "call to self.g", 3),
    ("class C:\n    def f(self):\n        return g()", "call to g", 3),
    ("class C:\n    def f(x):\n        return 1", "method f", 2),
    ("class C:\n    def f(self, *a):\n        return 1", "parameters", 2),
    ("class C:\n    def f(self):\n        return 1\n    def f(self):\n        return 2", "method f", 4),
    ("class C:\n    X = 1", "Assign", 2),
    ("X = 1", "contract class", 0),
    ("class C:\n    def f(self):\n        a, b[0] = 1, 2", "unpacking", 3),
    ("class C:\n    def f(self):\n        x = [1]\n        x[0:1] = [2]", "slice assignment", 4),
    ("class C:\n    def f(self):\n        return storage[1:2]", "storage slice", 3),
    ("class C:\n    def f(self):\n        return f'{1!a}'", "f-string conversion", 3),
    ("class C:\n    def f(self):\n        return {**{}}", "dict unpacking", 3),
    ("class C:\n    def f(self):\n        return len", "name len", 3),
    ("class C:\n    def f(self):\n        return block.gaslimit", "attribute block.gaslimit", 3),
    ("class C:\n    def f(self):\n        return storage.keys()", "storage.keys", 3),
    ("class C:\n    def f(self):\n        return self.f(x=1)", "keyword arguments", 3),
    ("X = 1\nclass C:\n    def X(self):\n        return 1", "name clash", 2),
    ("X = 1 // 0\nclass C:\n    pass", "constant", 1),
    ("X = 2 ** 300\nclass C:\n    pass", "constant", 1),
    ("class C:\n    def f(self):\n        return 1 @ 2", "operator MatMult", 3),
    ("class C:\n    def f(self):\n        x: int\n        x = 'a'\n        return x", "", 0),
])
def test_refusals_name_line_and_construct(source: str, construct: str, line: int) -> None:
    if not construct:
        check_contract(source)  # accepted: annotations are ignored
        return
    with pytest.raises(ContractRejected) as info:
        check_contract(source)
    assert info.value.line == line and construct in info.value.construct, str(info.value)
    assert str(info.value).startswith(f"line {line}: " if line else construct)


# -- integer semantics against a naive reference ---------------------------------------------------
class _Refused(Exception):
    pass


_OPS = ["+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^"]


def _reference(expr: object) -> int:
    """Evaluate an expression tree with Python ints, refusing any value outside (-2**256, 2**256)."""
    if isinstance(expr, int):
        return expr
    op, a_expr, b_expr = expr  # type: ignore[misc]
    a, b = _reference(a_expr), _reference(b_expr)
    if op in ("//", "%") and b == 0:
        raise _Refused("ZeroDivisionError")
    if op in ("<<", ">>") and b < 0:
        raise _Refused("ValueError")
    if op == "**" and b < 0:
        raise _Refused("negative exponent")
    if op == "**" and abs(a) > 1 and (abs(a).bit_length() - 1) * b >= 256:
        raise _Refused("exceeds 256 bits")
    if op == "<<" and a != 0 and a.bit_length() + b > 256:
        raise _Refused("exceeds 256 bits")
    r = {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else 0, "%": a % b if b else 0,
         "&": a & b, "|": a | b, "^": a ^ b}.get(op) if op not in ("**", "<<", ">>") else (
        a ** b if op == "**" else (a << b if op == "<<" else a >> b))
    if not -INT_BOUND < r < INT_BOUND:  # type: ignore[operator]
        raise _Refused("exceeds 256 bits")
    return r  # type: ignore[return-value]


def _source(expr: object) -> str:
    if isinstance(expr, int):
        return f"({expr})"
    op, a, b = expr  # type: ignore[misc]
    return f"({_source(a)} {op} {_source(b)})"


leaves = st.integers(-300, 300) | st.sampled_from([2**255 - 1, -(2**255), 2**128, 255, 256, 64])
expressions = st.recursive(leaves, lambda sub: st.tuples(st.sampled_from(_OPS), sub, sub), max_leaves=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_integer_arithmetic_matches_the_reference(expr: object) -> None:
    result = run(f"def run(self):\n    return {_source(expr)}")
    try:
        expected = _reference(expr)
    except _Refused as refused:
        assert not result.ok and str(refused) in result.error, (result.status, result.error)
        return
    if not -(2**63) <= expected <= 2**64 - 1:
        assert result.status == S.CONTRACT_ERROR and "return value" in result.error
    else:
        assert result.ok and result.output == expected, result.error


# -- validator fuzzing ------------------------------------------------------------------------------
_TOKENS = ["class C:\n", "    def f(self", ", x", "):\n", "        ", "return ", "x", "storage", "[", "]", "(", ")",
           "__class__", ".", "append", "1", "'a'", " + ", " * ", " ** ", "\n", "for i in range(3):\n", "import os\n",
           "lambda: 0", "self.f()", "msg.sender", "{", "}", ":", ",", "yield", "while True:\n", "pass\n", "f'{x}'",
           "global x\n", "1.5", "/", " if x else ", "[i for i in x]", "del x[0]\n", " = ", "emit('E', a=1)"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_rejected_cleanly(text: str) -> None:
    try:
        check_contract(text)
    except ContractRejected:
        pass


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_token_soup_is_rejected_cleanly_or_runs_safely(tokens: list[str]) -> None:
    source = "".join(tokens)
    try:
        spec = check_contract(source)
    except ContractRejected:
        return
    # Accepted soup must also run without escaping: every public method ends with some receipt.
    result = _executor.deploy_genesis(CTX, [GenesisContract("soup", source)]) if spec.constructor is None else None
    if result is None:
        return
    address = result.receipts[0].contract_address
    for name, method in spec.methods.items():
        if method.public:
            outcome = _executor.call(DictReader(dict(result.writes)), CTX, address, name, [1] * method.required)
            assert outcome.status in set(ReceiptStatus)


# -- deploy verdicts do not depend on the host's stack depth ---------------------------------------
def _verdict(n: int) -> str:
    from consortium.execution import compiler

    compiler._cache.clear()  # the cache would answer from the first compile
    try:
        compiler.compile_contract("class C:\n    def f(self):\n        return 1" + "+1" * n)
    except ContractRejected as exc:
        return str(exc)
    return "accepted"


def _from_deeper_stack(frames: int, n: int) -> str:
    return _verdict(n) if frames == 0 else _from_deeper_stack(frames - 1, n)


def test_parser_limit_is_the_same_from_any_stack_depth() -> None:
    # CPython's AST construction fails at (recursion limit - current depth) * 3 levels; without the
    # fixed recursion budget, a node 500 frames deeper would refuse contracts others accept.
    sizes = range(2900, 3300, 25)
    shallow = [_verdict(n) for n in sizes]
    assert len(set(shallow)) == 2, "the scan must straddle the parser's limit to mean anything"
    assert [_from_deeper_stack(500, n) for n in sizes] == shallow


def test_warning_filters_do_not_decide_acceptance() -> None:
    import warnings

    from consortium.execution import compiler

    source = 'class C:\n    def f(self):\n        return "\\d"'  # invalid escape sequence: a warning, not an error
    compiler._cache.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_contract(source)
