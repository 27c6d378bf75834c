"""The node's admin socket: ``DATA_DIR/admin.sock`` (mode 0600), for operations on the running node.

A UNIX socket, not a TCP port: who may ask for a backup is decided by file permissions
(the node's operator account), and nothing of it is reachable from the network.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aiohttp import web

from consortium.node.runtime import Node
from consortium.ops.backup import SOCKET_NAME, BackupError, make_backup
from consortium.storage.kv import StorageError

log = logging.getLogger("consortium.ops")
MAX_SOCKET_PATH = 107


class AdminServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.path = node.config.data_dir / SOCKET_NAME
        self._runner: web.AppRunner | None = None
        self._busy = asyncio.Lock()
        app = web.Application()
        app.router.add_post("/backup", self._backup)
        self.app = app

    async def start(self) -> None:
        if len(str(self.path)) > MAX_SOCKET_PATH:
            log.warning("no admin socket (backups): %s is longer than a UNIX socket path may be", self.path)
            return
        if self.path.is_socket():
            self.path.unlink()  # left by a node that was killed (this node holds the data dir's lock)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        old = os.umask(0o177)
        try:
            await web.UnixSite(self._runner, str(self.path)).start()
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            self.path.unlink(missing_ok=True)

    async def _backup(self, request: web.Request) -> web.Response:
        try:
            doc = await request.json()
            out = Path(doc["out"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'expected {"out": "/path/to/file"}'}, status=400)
        if not out.is_absolute():
            return web.json_response({"error": "the backup path must be absolute"}, status=400)
        async with self._busy:  # one backup at a time
            log.info("backup to %s started", out)
            try:
                info = await asyncio.to_thread(make_backup, self.node, out)
            except (BackupError, StorageError, OSError) as exc:
                log.error("backup to %s failed: %s", out, exc)
                return web.json_response({"error": str(exc)}, status=500)
        log.info("backup to %s done: height %d, %d bytes, sha256 %s", out, info["height"], info["bytes"], info["sha256"])
        return web.json_response(info)
