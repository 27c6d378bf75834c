"""The HTTP side of JSON-RPC: aiohttp, POST only, bounded bodies, one Dispatcher.

Kept thin on purpose: everything about JSON-RPC semantics is in
:mod:`consortium.rpc.jsonrpc`, testable without sockets.
"""

from __future__ import annotations

import logging

from aiohttp import web

from consortium.rpc.errors import INVALID_REQUEST, RpcError
from consortium.rpc.jsonrpc import Dispatcher

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024


def make_app(dispatcher: Dispatcher, *, max_body: int = MAX_BODY, ws_handler=None) -> web.Application:
    """POST / for JSON-RPC; GET /ws for subscriptions when ``ws_handler`` is given."""
    app = web.Application(client_max_size=max_body)

    async def post(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_body:
            return _too_large(max_body)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(max_body)
        response = await dispatcher.handle_body(body)
        if response is None:
            return web.Response(status=204)
        return web.Response(body=response, content_type="application/json")

    async def get(request: web.Request) -> web.StreamResponse:
        return web.json_response({"service": "consortium JSON-RPC 2.0", "usage": "POST a JSON-RPC request to /"})

    app.router.add_post("/", post)
    app.router.add_get("/", get)
    if ws_handler is not None:
        app.router.add_get("/ws", ws_handler)
    return app


def _too_large(limit: int) -> web.Response:
    err = RpcError(INVALID_REQUEST, f"invalid request: body exceeds the limit of {limit} bytes")
    return web.json_response({"jsonrpc": "2.0", "id": None, "error": err.to_json()}, status=413)


class RpcServer:
    """Runs the app on host:port; ``close()`` is idempotent."""

    def __init__(self, dispatcher: Dispatcher, host: str, port: int, *, max_body: int = MAX_BODY,
                 ws_handler=None) -> None:
        self.app = make_app(dispatcher, max_body=max_body, ws_handler=ws_handler)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("JSON-RPC listening on http://%s:%d", self.host, self.port)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
