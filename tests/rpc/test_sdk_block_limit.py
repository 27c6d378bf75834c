"""The SDK's block-limit rule, which the gateway signs its batches with too (Client.block_limit_margin).

A minimal JSON-RPC endpoint answers the two calls the rule reads, so every window size can be
tried; the rule on a real 12-block-window cluster is in tests/gateway/test_gateway_recovery.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from consortium.client.sdk import BLOCK_LIMIT_MARGIN, Client


async def _with_node(window: int, head: int, body: Any) -> tuple[Any, list[str]]:
    calls: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        doc = await request.json()
        calls.append(doc["method"])
        if doc["method"] == "getSystemConfigByKey":
            assert doc["params"] == ["block_limit_window"]
            result: Any = str(window)
        elif doc["method"] == "getBlockNumber":
            result = head
        else:
            return web.json_response({"jsonrpc": "2.0", "id": doc["id"], "error": {"code": -32601, "message": "no"}})
        return web.json_response({"jsonrpc": "2.0", "id": doc["id"], "result": result})

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with Client(f"http://127.0.0.1:{port}/") as client:
            return await body(client), calls
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("window", "margin"), [
    (600, BLOCK_LIMIT_MARGIN), (BLOCK_LIMIT_MARGIN + 2, BLOCK_LIMIT_MARGIN), (BLOCK_LIMIT_MARGIN + 1, BLOCK_LIMIT_MARGIN - 1),
    (12, 10), (3, 1), (2, 1), (1, 1),
])
def test_margin_stays_two_blocks_inside_the_window_and_is_at_least_one(window: int, margin: int) -> None:
    async def body(client: Client) -> tuple[int, int]:
        return await client.block_limit_margin(), await client.block_limit()

    (got_margin, limit), _ = asyncio.run(_with_node(window, 41, body))
    assert (got_margin, limit) == (margin, 41 + margin)


def test_the_window_is_read_once_per_client_and_the_head_every_time() -> None:
    async def body(client: Client) -> list[int]:
        return [await client.block_limit(), await client.block_limit_margin(), await client.block_limit()]

    limits, calls = asyncio.run(_with_node(12, 5, body))
    assert limits == [15, 10, 15]
    assert calls == ["getSystemConfigByKey", "getBlockNumber", "getBlockNumber"]
