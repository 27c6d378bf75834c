"""The operations HTTP listener, apart from JSON-RPC: /metrics, /healthz, /readyz, /version.

Separate from RPC so that it can be exposed to the monitoring network only (it carries no
transactions and no secrets) and so that probes never queue behind client traffic.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sys

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consortium import __version__
from consortium.encoding.hexbytes import to_hex
from consortium.node.runtime import Node
from consortium.ops.fatal import PortInUse
from consortium.ops.health import Health, report
from consortium.ops.metrics import NodeMetrics

log = logging.getLogger("consortium.ops")


class OpsServer:
    def __init__(self, node: Node, metrics: NodeMetrics, host: str, port: int) -> None:
        self.node = node
        self.metrics = metrics
        self.health = Health(node)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/version", self._version)
        app.router.add_get("/", self._index)
        self.app = app

    async def start(self) -> None:
        self._heartbeat = asyncio.create_task(self.health.heartbeat(), name="ops-heartbeat")
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse("ops", self.host, self.port) from None
            raise
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("operations endpoint on http://%s:%d (/metrics /healthz /readyz /version)", self.host, self.port)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = report(self.health.liveness())
        return web.json_response(body, status=status)

    async def _readyz(self, request: web.Request) -> web.Response:
        status, body = report(self.health.readiness())
        return web.json_response(body, status=status)

    async def _version(self, request: web.Request) -> web.Response:
        node = self.node
        return web.json_response({
            "version": __version__, "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "chainId": node.genesis.chain_id, "groupId": node.genesis.group_id,
            "genesisHash": to_hex(node.genesis.hash()), "nodeId": to_hex(node.node_id), "name": node.config.name,
        })

    async def _index(self, request: web.Request) -> web.Response:
        return web.json_response({"endpoints": ["/metrics", "/healthz", "/readyz", "/version"]})
