"""JSON-RPC 2.0 semantics, checked against the examples of the specification itself."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.rpc import params as P
from consortium.rpc.errors import RpcError, application_error
from consortium.rpc.jsonrpc import Dispatcher, Param
from consortium.rpc.server import RpcServer


def make_dispatcher() -> tuple[Dispatcher, list]:
    notified: list = []
    d = Dispatcher(max_batch=10)

    async def subtract(minuend, subtrahend):
        return minuend - subtrahend

    async def update(*args):
        notified.append(args)

    async def get_data():
        return ["hello", 5]

    async def boom():
        raise RuntimeError("secret internal detail")

    async def full():
        raise application_error("txpool_full", "txpool full (10 pending); retry after the next block")

    d.add("subtract", subtract, [Param("minuend", int), Param("subtrahend", int)])
    d.add("update", update, [Param(f"a{i}", lambda v: v, default=None) for i in range(5)])
    d.add("notify_hello", update, [Param("a", lambda v: v, default=None)])
    d.add("notify_sum", update, [Param(f"a{i}", lambda v: v, default=None) for i in range(3)])
    d.add("sum", lambda *a: _async(sum(a)), [Param(f"a{i}", int, default=0) for i in range(3)])
    d.add("get_data", get_data)
    d.add("boom", boom)
    d.add("full", full)
    d.add("block", lambda n: _async(n), [Param("number", P.block_number)])
    d.add("hash", lambda h: _async(h.hex()), [Param("hash", P.hash32)])
    return d, notified


async def _async(value):
    return value


def call(d: Dispatcher, body: str):
    out = asyncio.run(d.handle_body(body.encode()))
    return None if out is None else json.loads(out)


# The examples of https://www.jsonrpc.org/specification §7, verbatim.
SPEC_EXAMPLES = [
    ('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}', {"jsonrpc": "2.0", "result": 19, "id": 1}),
    ('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}', {"jsonrpc": "2.0", "result": -19, "id": 2}),
    ('{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
     {"jsonrpc": "2.0", "result": 19, "id": 3}),
    ('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', None),
    ('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
     {"jsonrpc": "2.0", "error": {"code": -32601}, "id": "1"}),
    ('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
     {"jsonrpc": "2.0", "error": {"code": -32700}, "id": None}),
    ('{"jsonrpc": "2.0", "method": 1, "params": "bar"}', {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}),
    ('[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]',
     {"jsonrpc": "2.0", "error": {"code": -32700}, "id": None}),
    ("[]", {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}),
    ("[1]", [{"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}]),
    ("[1,2,3]", [{"jsonrpc": "2.0", "error": {"code": -32600}, "id": None}] * 3),
    ("""[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]""", [
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600}, "id": None},
        {"jsonrpc": "2.0", "error": {"code": -32601}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"},
    ]),
    ("""[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]""", None),
]


def _strip_messages(doc):
    """The spec fixes codes, not message texts: compare codes and ids only."""
    if isinstance(doc, list):
        return [_strip_messages(d) for d in doc]
    if isinstance(doc, dict) and "error" in doc:
        return {**doc, "error": {"code": doc["error"]["code"]}}
    return doc


@pytest.mark.parametrize("body, expected", SPEC_EXAMPLES)
def test_specification_examples(body, expected) -> None:
    d, _ = make_dispatcher()
    assert _strip_messages(call(d, body)) == expected


def test_notifications_run_but_get_no_reply() -> None:
    d, notified = make_dispatcher()
    assert call(d, '{"jsonrpc": "2.0", "method": "update", "params": [1,2]}') is None
    assert notified == [(1, 2, None, None, None)]


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ('{"jsonrpc": "2.0", "method": "subtract", "params": [1], "id": 1}', -32602, "missing required param 'subtrahend'"),
        ('{"jsonrpc": "2.0", "method": "subtract", "params": [1,2,3], "id": 1}', -32602, "at most 2 params"),
        ('{"jsonrpc": "2.0", "method": "subtract", "params": {"x": 1}, "id": 1}', -32602, "no param named 'x'"),
        ('{"jsonrpc": "2.0", "method": "block", "params": ["abc"], "id": 1}', -32602, "param 'number'"),
        ('{"jsonrpc": "2.0", "method": "block", "params": [true], "id": 1}', -32602, "boolean"),
        ('{"jsonrpc": "2.0", "method": "hash", "params": ["0x12"], "id": 1}', -32602, "expected 32 bytes"),
        ('{"jsonrpc": "2.0", "method": "hash", "params": ["zz"], "id": 1}', -32602, "must start with 0x"),
        ('{"jsonrpc": "1.0", "method": "get_data", "id": 1}', -32600, '"jsonrpc" must be exactly "2.0"'),
        ('{"jsonrpc": "2.0", "method": "get_data", "id": [1]}', -32600, "id must be"),
        ('{"jsonrpc": "2.0", "method": "boom", "id": 1}', -32603, "internal error"),
        ('{"jsonrpc": "2.0", "method": "full", "id": 1}', 10008, "txpool full"),
    ],
)
def test_errors_say_what_to_fix(body, code, fragment) -> None:
    d, _ = make_dispatcher()
    reply = call(d, body)
    assert reply["error"]["code"] == code
    assert fragment in reply["error"]["message"]
    assert "secret internal detail" not in reply["error"]["message"]


def test_batch_limit() -> None:
    d, _ = make_dispatcher()
    body = json.dumps([{"jsonrpc": "2.0", "method": "get_data", "id": i} for i in range(11)])
    assert call(d, body)["error"]["code"] == -32600


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["jsonrpc", "method", "params", "id", "x"]), c),
    max_leaves=15,
)


@settings(max_examples=300)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_bodies_always_get_a_well_formed_reply(body: bytes) -> None:
    d, _ = make_dispatcher()
    out = asyncio.run(d.handle_body(body))
    if out is None:
        return
    doc = json.loads(out)
    for item in doc if isinstance(doc, list) else [doc]:
        assert item["jsonrpc"] == "2.0" and "id" in item
        assert ("result" in item) != ("error" in item)
        if "error" in item:
            assert isinstance(item["error"]["code"], int) and item["error"]["message"]


async def test_http_server_limits_and_status_codes() -> None:
    d, _ = make_dispatcher()
    server = RpcServer(d, "127.0.0.1", 0, max_body=1000)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=b'{"jsonrpc":"2.0","method":"get_data","id":1}') as r:
                assert r.status == 200 and (await r.json())["result"] == ["hello", 5]
            async with session.post(url, data=b'{"jsonrpc":"2.0","method":"update"}') as r:
                assert r.status == 204
            async with session.post(url, data=b"x" * 5000) as r:
                assert r.status == 413 and (await r.json())["error"]["code"] == -32600
            async with session.post(url, data=b'{"jsonrpc":"2.0","method":"get_data","id":2}') as r:
                assert (await r.json())["result"] == ["hello", 5]  # still serving
    finally:
        await server.close()
        await server.close()  # idempotent


def test_rpc_error_json_shape() -> None:
    assert RpcError(1, "m", {"k": 1}).to_json() == {"code": 1, "message": "m", "data": {"k": 1}}


json_safe_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=10) | st.binary(max_size=10),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5).filter(lambda k: k != "$bytes"), c, max_size=4),
    max_leaves=12,
)


@given(json_safe_values)
def test_contract_values_survive_json(value) -> None:
    from consortium.encoding import encode
    from consortium.rpc.views import value_from_json, value_to_json

    again = value_from_json(json.loads(json.dumps(value_to_json(value))))
    assert encode(again) == encode(value)


@pytest.mark.parametrize("doc", [1.5, {"$bytes": "nothex"}, 2**64, [[[[{"a": 0.1}]]]]])
def test_bad_json_values_are_refused(doc) -> None:
    from consortium.rpc.views import ValueJsonError, value_from_json

    with pytest.raises(ValueJsonError):
        value_from_json(doc)
