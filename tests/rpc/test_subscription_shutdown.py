"""WebSocket subscription handlers end cleanly and never swallow their own cancellation.

A handler that is cancelled (the RPC server shutting down) while it waits for its
writer task to stop must still end cancelled: swallowing the CancelledError would
let shutdown believe the handler finished normally and leave the task's
cancellation request unaccounted for (asyncio.timeout and TaskGroup rely on it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from consortium.rpc.subscriptions import SubscriptionHub


async def _serve(hub: SubscriptionHub, seen: dict[str, Any]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        seen["task"] = asyncio.current_task()
        try:
            response = await hub.handle(request)
        except asyncio.CancelledError:
            seen["outcome"] = "cancelled"
            raise
        seen["outcome"] = "returned"
        return response

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/ws"


async def _until(cond: Any) -> None:
    async with asyncio.timeout(5):
        while not cond():
            await asyncio.sleep(0.01)


async def test_a_client_that_leaves_ends_the_handler_and_its_writer() -> None:
    hub = SubscriptionHub(lambda n: (), lambda name: None)
    seen: dict[str, Any] = {}
    runner, url = await _serve(hub, seen)
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": ["newBlocks"]})
            assert (await ws.receive_json())["result"] == "0x1"
            assert hub.subscriber_count == 1
        await _until(lambda: "outcome" in seen)
        assert seen["outcome"] == "returned"
        assert hub.subscriber_count == 0
    finally:
        await runner.cleanup()


async def test_cancelling_a_handler_while_its_writer_stops_still_cancels_it(monkeypatch) -> None:
    hub = SubscriptionHub(lambda n: (), lambda name: None)
    seen: dict[str, Any] = {}
    writer_stopping = asyncio.Event()
    real_writer = hub._writer

    async def slow_to_stop(sub: Any) -> None:
        # A writer caught mid-send on a slow socket takes a moment to stop.
        try:
            await real_writer(sub)
        except asyncio.CancelledError:
            writer_stopping.set()
            await asyncio.sleep(0.2)
            raise

    monkeypatch.setattr(hub, "_writer", slow_to_stop)
    runner, url = await _serve(hub, seen)
    try:
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(url)
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": ["newBlocks"]})
            await ws.receive_json()
            await ws.close()  # the handler now waits for its writer to stop...
            await asyncio.wait_for(writer_stopping.wait(), 5)
            seen["task"].cancel()  # ...when the server shuts down
            await _until(lambda: "outcome" in seen)
        assert seen["outcome"] == "cancelled"
        assert hub.subscriber_count == 0
    finally:
        await runner.cleanup()
