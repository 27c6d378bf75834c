"""Hostile contracts: known CPython sandbox escapes and denial-of-service techniques.

Each row is refused at deploy (with the line and the construct named) or stopped
at run time (with a clear reason, its state changes rolled back). After each,
the same executor runs a normal transaction correctly: the node is unharmed.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass

import pytest
from tests.execution.chainkit import ALICE, COUNTER, Chain, contract

from consortium.execution import ContractRejected, check_contract
from consortium.ledger import ReceiptStatus

DEPLOY = "deploy"
RUN = "run"
OK, REVERTED, OOG, ERROR = ReceiptStatus.OK, ReceiptStatus.REVERTED, ReceiptStatus.OUT_OF_GAS, ReceiptStatus.CONTRACT_ERROR
HOSTILE_GAS = 300_000


@dataclass(frozen=True)
class Technique:
    id: str
    description: str
    code: str
    """A method body for ``run(self)`` (or a whole module when ``module`` is set)."""
    when: str
    expect: str
    """A fragment of the deploy error or of the receipt error."""
    status: ReceiptStatus = ERROR
    line: int = 0
    """For deploy refusals: the line the error must name, counted in ``code`` (0: do not check)."""
    module: bool = False


T = Technique
TECHNIQUES = [
    # -- escapes through imports and forbidden builtins -------------------------------------------
    T("import", "import a module inside a method", "x = 1\nimport os\nreturn os.getcwd()", DEPLOY, "import statement", line=2),
    T("import_module_level", "import at module level", "import os\nclass C:\n    def run(self):\n        return 1", DEPLOY,
      "import statement", line=1, module=True),
    T("from_import", "from-import of a dangerous function", "from os import system\nsystem('id')", DEPLOY, "import statement"),
    T("dunder_import", "__import__ builtin by name", "return __import__('os')", DEPLOY, "name __import__"),
    T("builtins_dict", "reach the real builtins through __builtins__", "return __builtins__['eval']('1')", DEPLOY,
      "name __builtins__"),
    T("eval", "eval a string", "return eval('1+1')", DEPLOY, "call to eval"),
    T("exec", "exec a string", "exec('x = 1')", DEPLOY, "call to exec"),
    T("compile", "compile code at run time", "return compile('1', 'f', 'eval')", DEPLOY, "call to compile"),
    T("open", "read a node file", "return open('/etc/passwd')", DEPLOY, "call to open"),
    T("getattr", "getattr with a computed name", "return getattr(1, 'real')", DEPLOY, "call to getattr"),
    T("setattr", "setattr on an object", "setattr(self, 'x', 1)", DEPLOY, "call to setattr"),
    T("globals", "globals() to find helpers", "return globals()", DEPLOY, "call to globals"),
    T("locals", "locals() introspection", "return locals()", DEPLOY, "call to locals"),
    T("vars", "vars() introspection", "return vars()", DEPLOY, "call to vars"),
    T("dir", "dir() to enumerate attributes", "return dir(1)", DEPLOY, "call to dir"),
    T("type", "type() to reach the class hierarchy", "return type(1)", DEPLOY, "call to type"),
    T("print", "write to the node's stdout", "print('hello')", DEPLOY, "call to print"),
    T("string_code", "exec of code decoded from a hex string", "exec(from_hex('7072696e74283129').decode())", DEPLOY,
      "call to exec"),
    # -- attribute walks -------------------------------------------------------------------------
    T("class_bases_subclasses", "().__class__.__bases__[0].__subclasses__() walk", "return ().__class__.__bases__[0].__subclasses__()",
      DEPLOY, "attributes beginning with '_'"),
    T("mro", "''.__class__.__mro__ to reach object", "return ''.__class__.__mro__", DEPLOY, "attribute .__mro__"),
    T("func_globals", "a method's __globals__", "return self.run.__globals__", DEPLOY, "attribute .__globals__"),
    T("str_format_attr", "str.format reaching attributes via {0.__class__}", "return '{0.__class__}'.format(1)", DEPLOY,
      "method .format()"),
    T("format_map", "str.format_map with attribute fields", "return '{x.real}'.format_map({'x': 1})", DEPLOY,
      "method .format_map()"),
    T("gen_frame", "generator gi_frame to reach f_back/f_globals", "return (x for x in [1]).gi_frame.f_back.f_globals",
      DEPLOY, "attributes can only be read from msg, block and tx"),
    T("yield_generator", "a generator method, to get a frame object", "yield 1", DEPLOY, "yield"),
    T("frame_attr", "f_back on a value", "x = 1\nreturn x.f_back", DEPLOY, "attribute .f_back"),
    T("traceback_frame", "catch an exception and walk its traceback", "try:\n    1 // 0\nexcept Exception as e:\n    return e.with_traceback",
      DEPLOY, "try statement", line=1),
    T("raise", "raise an arbitrary exception", "raise ValueError('x')", DEPLOY, "raise statement"),
    T("mro_method", "call .mro() on a value", "return [].mro()", DEPLOY, "method .mro()"),
    T("unicode_dunder", "fullwidth letters that NFKC-normalize to __class__", "return ''.__ｃｌａｓｓ__", DEPLOY,
      "non-ASCII identifier"),
    T("unicode_eval", "fullwidth 'eval' that normalizes to eval", "return ｅｖａｌ('1')", DEPLOY, "non-ASCII identifier"),
    # -- class machinery -------------------------------------------------------------------------
    T("decorator", "a decorator runs arbitrary code at definition", "class C:\n    @staticmethod\n    def run():\n        return 1",
      DEPLOY, "decorator", line=2, module=True),
    T("metaclass", "a metaclass hooks class creation", "class M:\n    pass\nclass C(metaclass=M):\n    def run(self):\n        return 1",
      DEPLOY, "second class", module=True),
    T("inherit_builtin", "subclass a builtin to override its methods", "class C(dict):\n    def run(self):\n        return 1",
      DEPLOY, "class bases", module=True),
    T("nested_class", "a class inside a method", "class D:\n    pass\nreturn 1", DEPLOY, "nested class"),
    T("lambda", "a lambda to obtain a function object", "f = lambda: 1\nreturn 1", DEPLOY, "lambda"),
    T("nested_def", "a closure to obtain cell objects", "def f():\n    return 1\nreturn 1", DEPLOY, "nested function"),
    T("attribute_store", "set an attribute on self", "self.x = 1", DEPLOY, "attribute assignment"),
    T("self_escape", "hold self as a value", "x = self\nreturn 1", DEPLOY, "name self"),
    T("msg_escape", "hold the msg object as a value", "return msg", DEPLOY, "name msg"),
    T("storage_escape", "hold the storage object as a value", "s = storage\nreturn 1", DEPLOY, "name storage"),
    T("storage_iterate", "iterate over all of storage", "for k in storage:\n    pass", DEPLOY, "name storage"),
    T("call_constructor", "re-run the constructor to reset state", "self.constructor()", DEPLOY, "self.constructor"),
    # -- builtins shadowing ----------------------------------------------------------------------
    T("shadow_assign", "rebind a provided function", "len = 5\nreturn len", DEPLOY, "name len"),
    T("shadow_param", "a parameter named like a provided function",
      "class C:\n    def run(self, require):\n        return 1", DEPLOY, "parameter require", module=True),
    T("shadow_loop_var", "loop variable named msg", "for msg in [1]:\n    pass", DEPLOY, "name msg"),
    T("module_mutable", "module-level mutable state shared between calls", "CACHE = []\nclass C:\n    def run(self):\n        return 1",
      DEPLOY, "constant", line=1, module=True),
    # -- determinism -----------------------------------------------------------------------------
    T("float_literal", "a float literal", "return 1.5", DEPLOY, "float literal"),
    T("true_division", "true division produces floats", "return 1 / 2", DEPLOY, "true division"),
    T("complex_literal", "a complex literal", "return 1j", DEPLOY, "complex literal"),
    T("set_literal", "set iteration order depends on the hash seed", "return [x for x in {'a', 'b'}]", DEPLOY, "set literal"),
    T("set_comprehension", "set comprehension", "return {x for x in 'ab'}", DEPLOY, "set comprehension"),
    T("is_identity", "identity of ints is an implementation detail", "return 1000 is 1000", DEPLOY, "is comparison"),
    T("hash_builtin", "hash() depends on the hash seed", "return hash('a')", DEPLOY, "call to hash"),
    T("id_builtin", "id() exposes memory addresses", "return id(1)", DEPLOY, "call to id"),
    # -- other syntax ------------------------------------------------------------------------------
    T("global_stmt", "global state between calls", "global X\nX = 1", DEPLOY, "global statement"),
    T("with_stmt", "context managers", "with open('x') as f:\n    pass", DEPLOY, "with statement"),
    T("walrus", "assignment expression", "return (x := 1)", DEPLOY, "assignment expression"),
    T("assert", "assert vanishes under -O", "assert False", DEPLOY, "assert statement"),
    T("match_class_pattern", "match/case class patterns read attributes by name",
      "match 1:\n    case object(__class__=c):\n        return c", DEPLOY, "match statement"),
    T("star_args", "star-unpacking arguments", "x = [1]\nreturn max(*x)", DEPLOY, "star arguments"),
    T("format_spec_width", "f-string width spec allocates without bound", "return f'{1:>999999999}'", DEPLOY,
      "format spec"),
    T("async_def", "coroutine objects carry frames", "class C:\n    async def run(self):\n        return 1", DEPLOY,
      "async method", module=True),
    T("deep_parens", "deeply nested parentheses crash the parser",
      "class C:\n    def run(self):\n        return " + "(" * 300 + "1" + ")" * 300, DEPLOY, "syntax error", module=True),
    T("operator_chain", "a 3,000-operator chain overflows AST construction at a stack-dependent depth",
      "return 1" + "+1" * 3000, DEPLOY, "nest"),
    T("huge_source", "an oversized source", "class C:\n    def run(self):\n        return 1\n" + "#" * 70_000, DEPLOY,
      "the limit is 65536", module=True),
    T("huge_int_literal", "a 300-bit literal", "return " + "9" * 100, DEPLOY, "integer literal"),
    # -- denial of service at run time -----------------------------------------------------------
    T("str_mul_bomb", "'a' * 10**10 allocates 10 GB", "return 'a' * 10**10", RUN, "str result would be 10000000000 long"),
    T("pow_tower", "10**10**8 computes a 33-million-digit int", "return 10**10**8", RUN, "exceeds 256 bits"),
    T("shift_bomb", "1 << 10**9 allocates 128 MB", "return 1 << 10**9", RUN, "exceeds 256 bits"),
    T("mul_growth", "repeated squaring in a loop", "x = 3\nwhile True:\n    x = x * x", RUN, "exceeds 256 bits"),
    T("list_mul_bomb", "[0] * 10**9", "return [0] * 10**9", RUN, "list result would be"),
    T("list_growth", "append in an endless loop", "l = []\nwhile True:\n    l.append(1)", RUN, "list result would be 10001"),
    T("list_doubling", "extend a list with itself", "l = [1]\nwhile True:\n    l.extend(l)", RUN, "list result would be"),
    T("concat_doubling", "double a string each iteration", "s = 'a'\nwhile True:\n    s = s + s", RUN, "str result would be"),
    T("dict_growth", "insert keys in an endless loop", "d = {}\ni = 0\nwhile True:\n    d[i] = i\n    i += 1", RUN,
      "dict result would be 10001"),
    T("infinite_loop", "while True: pass", "while True:\n    pass", RUN, "out of gas", OOG),
    T("huge_range", "for over range(10**18)", "for i in range(10**18):\n    pass", RUN, "out of gas", OOG),
    T("comprehension_bomb", "a comprehension over a billion elements", "return [i for i in range(10**9)]", RUN,
      "out of gas", OOG),
    T("nested_comprehension", "nested comprehensions", "return [[j for j in range(10**5)] for i in range(10**5)]", RUN,
      "list result would be 100000 long"),
    T("string_alloc_loop", "64 KB strings allocated in a loop", "l = []\nfor i in range(10000):\n    l.append('a' * 60000)",
      RUN, "out of gas", OOG),
    T("recursion", "unbounded recursion", "return self.run()", RUN, "call depth exceeds 32"),
    T("sum_range", "sum() over 10**18 elements in C", "return sum(range(10**18))", RUN, "out of gas", OOG),
    T("max_range", "max() over 10**18 elements in C", "return max(range(10**18))", RUN, "out of gas", OOG),
    T("sorted_huge", "sorted() of a billion elements", "return sorted(range(10**9))", RUN, "sorted result would be"),
    T("deep_compare", "== on a list of 10,000 distinct 10,000-element lists",
      "a = [[0] * 10000] * 10000\nb = [[0] * 10000 for i in range(2)] * 5000\nwhile True:\n    x = a == b", RUN,
      "out of gas", OOG),
    T("deep_nesting_compare", "compare 1,000-deep nested lists (C recursion depends on the host stack)",
      "a = []\nb = []\nfor i in range(1000):\n    a = [a]\n    b = [b]\nreturn a == b", RUN, "nested deeper than 32"),
    T("cyclic_format", "str() of a list that contains itself", "l = []\nl.append(l)\nreturn str(l)", RUN, "nested deeper"),
    T("cyclic_store", "store a list that contains itself", "l = []\nl.append(l)\nstorage['x'] = l", RUN, "nested deeper"),
    T("replace_bomb", "str.replace with an empty pattern", "return ('a' * 1000).replace('', 'b' * 1000)", RUN,
      "str result would be"),
    T("join_bomb", "join of many large strings", "return ','.join(['a' * 60000] * 100)", RUN, "str result would be"),
    T("percent_format", "'%0999999999d' % 1", "return '%0999999999d' % 1", RUN, "%-formatting is not allowed"),
    T("int_parse", "int() of 5,000 digits (quadratic parse)", "return int('9' * 5000)", RUN, "parses at most 100"),
    T("bytes_alloc", "bytes(10**10)", "return bytes(10**10)", RUN, "bytes result would be"),
    T("to_bytes_bomb", "(1).to_bytes(10**9)", "x = 1\nreturn x.to_bytes(10**9)", RUN, "to_bytes() length"),
    T("upper_expansion", "'ß'.upper() doubles the length", "return ('ß' * 40000).upper()", RUN, "str result would be 80000"),
    T("negative_pow", "2 ** -1 is a float", "return 2 ** -1", RUN, "negative exponent"),
    T("store_range", "store a non-data object", "storage['x'] = range(10)", RUN, "not storable data"),
    T("return_range", "return a non-data object", "return range(5)", RUN, "not storable data"),
    T("store_big_int", "store an int outside the canonical range", "storage['x'] = 2**70", RUN, "outside [-2**63, 2**64-1]"),
    T("huge_value", "store a value over the 64 KiB limit", "storage['x'] = ['a' * 60000, 'b' * 60000]", RUN,
      "the limit is 65536"),
    T("huge_key", "a storage key over the 512-byte limit", "storage['k' * 1000] = 1", RUN, "storage key"),
    T("event_flood", "a hundred events in one transaction", "for i in range(100):\n    emit('E', i=i)", RUN,
      "more than 64 events"),
    T("event_huge", "an event over the 8 KiB limit", "emit('E', data='a' * 60000)", RUN, "would exceed 40960 bytes"),
    T("wrong_type_method", "call a list method on an int", "x = 5\nx.append(1)", RUN, "not available on int"),
    T("codec_lookup", "str.encode('rot13') would import a codec module from disk", "return 'x'.encode('rot13')", RUN,
      "TypeError", REVERTED),
    T("range_contains_scan", "'a' in range(10**18) scans linearly in CPython", "return 'a' in range(10**18)", RUN, "", OK),
]


_SNIPPET_FIRST_LINE = 5
"""Line of the source where a method-body snippet starts (see _source)."""


def _source(t: Technique) -> str:
    if t.module:
        return t.code
    return contract(
        "def run(self):\n    storage['pwned'] = True\n" + textwrap.indent(t.code, "    ")
        + "\n\ndef pwned(self):\n    return storage.get('pwned')\n"
    )


def test_technique_table_is_large_and_distinct() -> None:
    assert len(TECHNIQUES) >= 40
    assert len({t.id for t in TECHNIQUES}) == len(TECHNIQUES)
    assert len({t.code for t in TECHNIQUES}) == len(TECHNIQUES)


def _assert_node_unharmed(chain: Chain) -> None:
    counter = chain.deployed(ALICE, COUNTER, 41)
    receipt = chain.send(ALICE, counter, "inc")
    assert receipt.ok, receipt.error
    assert receipt.output == 42
    assert [e.name for e in receipt.events] == ["Incremented"]
    assert chain.view(counter, "get") == 42


@pytest.mark.parametrize("t", TECHNIQUES, ids=[t.id for t in TECHNIQUES])
def test_hostile_contract_is_stopped(t: Technique) -> None:
    chain = Chain(gas_limit=HOSTILE_GAS)
    source = _source(t)
    if t.when == DEPLOY:
        with pytest.raises(ContractRejected) as info:
            check_contract(source)
        assert t.expect in str(info.value)
        if t.line:
            expected = t.line if t.module else t.line + _SNIPPET_FIRST_LINE - 1
            assert info.value.line == expected, str(info.value)
        receipt = chain.deploy(ALICE, source)
        assert receipt.status == ReceiptStatus.BAD_TRANSACTION
        assert t.expect in receipt.error and receipt.error.startswith("contract rejected:")
        assert receipt.contract_address == b""
        assert chain.state.data == {}, "a refused deploy must write nothing"
    else:
        address = chain.deployed(ALICE, source)
        started = time.perf_counter()
        receipt = chain.send(ALICE, address, "run")
        elapsed = time.perf_counter() - started
        assert receipt.status == t.status, (receipt.status, receipt.error)
        assert t.expect in receipt.error
        if t.status != OK:
            assert chain.view(address, "pwned") is None, "state changes of the stopped transaction were kept"
            assert receipt.events == ()
            assert 0 < receipt.gas_used <= HOSTILE_GAS
        assert elapsed < 30, "sanity bound only; the figures belong to benchmarks"
    _assert_node_unharmed(chain)


def test_out_of_gas_uses_the_whole_limit_and_keeps_the_block_going() -> None:
    chain = Chain(gas_limit=HOSTILE_GAS)
    spin = chain.deployed(ALICE, contract("def run(self):\n    storage['x'] = 1\n    while True:\n        pass"))
    counter = chain.deployed(ALICE, COUNTER)
    result = chain.block(chain.tx(ALICE, spin, "run"), chain.tx(ALICE, counter, "inc", 5))
    first, second = result.receipts
    assert first.status == OOG and first.gas_used == HOSTILE_GAS
    assert first.error == f"out of gas (limit {HOSTILE_GAS})"
    assert second.ok and second.output == 5
    assert result.gas_used == first.gas_used + second.gas_used
    assert not any(k.endswith(b"x") for k in result.writes if k.startswith(b"cs/" + spin))


def test_a_local_shadowing_a_constant_is_not_compared_natively() -> None:
    # LIMIT is a scalar module constant, but this method rebinds it to a huge shared structure:
    # the comparison must go through the priced helper, not native ==.
    source = contract(
        "def run(self):\n    LIMIT = [[0] * 10000] * 10000\n    other = [[0] * 10000 for i in range(2)] * 5000\n"
        "    while True:\n        x = LIMIT == other",
        constants="LIMIT = 5\n",
    )
    chain = Chain(gas_limit=HOSTILE_GAS)
    address = chain.deployed(ALICE, source)
    receipt = chain.send(ALICE, address, "run")
    assert receipt.status == OOG
    _assert_node_unharmed(chain)
