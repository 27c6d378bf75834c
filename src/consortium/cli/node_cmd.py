"""``consortium node start``: run one node in the foreground until SIGTERM or SIGINT.

Whatever stops the node — a taken port, a full disk, a locked data directory, a safety
halt — ends in one line saying why and what to do, logged at CRITICAL (so it is in the log
file and on stderr) and given back as the exit status; never a bare traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
from pathlib import Path

from consortium.cli import org_cmd
from consortium.cli.errors import CliError
from consortium.node.toml_io import ConfigError

EXIT_FAILED = 2
EXIT_HALTED = 3
log = logging.getLogger("consortium.node")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run a node", description="Run a consortium node.")
    ns = p.add_subparsers(dest="node_command", metavar="ACTION", required=True)
    start = ns.add_parser(
        "start", help="run one node in the foreground (SIGTERM/SIGINT stop it cleanly)",
        description="Run one node in the foreground. Logs go to stderr, or to [log] file in the config "
                    "(rotated by size). SIGTERM or SIGINT shut it down cleanly; SIGHUP re-reads the [log] "
                    "settings (levels, per-module levels, format).",
    )
    start.add_argument("--config", required=True, help="the node's config.toml (e.g. DIR/node0/config.toml)")
    start.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       help="override the config's log level")
    start.add_argument("--log-format", choices=("text", "json"), help="override the config's log format")
    start.add_argument("--log-file", help="log to this file (rotated) instead of the config's [log] file / stderr")
    start.set_defaults(func=_start)
    org_cmd.register_node_new(ns)
    org_cmd.register_node_join(ns)

    backup = ns.add_parser(
        "backup", help="write a consistent, checksummed backup of a RUNNING node (ledger, vote state, config)",
        description="Ask the running node (over DATA_DIR/admin.sock) for a backup: a LevelDB snapshot of its "
                    "ledger (and anchors), its vote state, config, genesis and certificates, in one tar file "
                    "with a SHA-256 manifest. The node keeps running and committing. The private key is not "
                    "included: keep it in your key storage; restore takes it with --key.")
    backup.add_argument("--config", required=True, help="the running node's config.toml")
    backup.add_argument("--out", required=True, help="backup file to write (e.g. node0-2026-11-30.backup)")
    backup.add_argument("--json", action="store_true", help="machine-readable output (errors too, on stderr)")
    backup.add_argument("--timeout", type=float, default=3600, metavar="SECONDS", help="give up after (default 3600)")
    backup.set_defaults(func=_backup)

    restore = ns.add_parser(
        "restore", help="check a backup and lay it out as a node folder (then start the node: it syncs)",
        description="Verify every checksum of BACKUP, lay it out in DIR (a new or empty folder) with the node's "
                    "key from --key, and check that the key matches the certificate and the ledger copy ends "
                    "at the block the manifest names. Start the node afterwards; it syncs what was committed "
                    "since the backup. Never run it while the original node (same key) runs.")
    restore.add_argument("backup", help="a file written by 'consortium node backup'")
    restore.add_argument("--dir", required=True, help="node folder to create (must not exist, or be empty)")
    restore.add_argument("--key", required=True, help="the node's private key file (node.key) from your key storage")
    restore.add_argument("--json", action="store_true", help="machine-readable output (errors too, on stderr)")
    restore.set_defaults(func=_restore)


def _backup(args: argparse.Namespace) -> int:
    import json

    import aiohttp

    from consortium.node.config import load_config
    from consortium.ops.backup import SOCKET_NAME

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    sock = config.data_dir / SOCKET_NAME
    if not sock.exists():
        raise CliError(f"node {config.name} does not seem to run: no admin socket at {sock} "
                       "(backups are taken from a running node; a stopped node's folder can be copied as it is)")
    out = Path(args.out).resolve()

    async def ask() -> tuple[int, dict]:
        connector = aiohttp.UnixConnector(path=str(sock))
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=args.timeout)) as s:
            async with s.post("http://node/backup", json={"out": str(out)}) as r:
                return r.status, await r.json(content_type=None)

    try:
        status, doc = asyncio.run(ask())
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        raise CliError(f"cannot reach node {config.name} at {sock}: {exc.__class__.__name__} {exc}") from None
    if status != 200:
        raise CliError(f"backup failed: {doc.get('error', status)}")
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"backup of {doc['node']} at block {doc['height']} ({doc['headHash'][:14]}…) written to {doc['file']}")
        print(f"  {doc['bytes']} bytes, sha256 {doc['sha256']}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    import json

    from consortium.ops.backup import BackupError, restore_backup
    from consortium.storage.kv import StorageError

    try:
        info = restore_backup(Path(args.backup), Path(args.dir), Path(args.key))
    except (BackupError, StorageError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot restore into {args.dir}: {exc.strerror or exc} ({exc.filename})") from None
    if args.json:
        print(json.dumps(info))
    else:
        print(f"restored {info['node']} at block {info['height']} (backup of {info['created']}) into {info['dir']}")
        print(f"  start it: consortium node start --config {info['dir']}/config.toml  (it syncs the newer blocks)")
    return 0


def _start(args: argparse.Namespace) -> int:
    from consortium.chain.ledger import BlockRejected
    from consortium.node import gc_tuning
    from consortium.node.config import load_config
    from consortium.node.event_loop import loop_factory, loop_name
    from consortium.node.genesis import load_genesis
    from consortium.node.runtime import Node
    from consortium.ops.logs import NodeLogging
    from consortium.storage.kv import StorageError

    try:
        config = load_config(args.config)
        genesis = load_genesis(config.genesis_path)
        factory, loop = loop_factory(), loop_name()
    except (ConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    try:
        logs = NodeLogging(config.name, config.log, level_override=args.log_level, format_override=args.log_format,
                           file_override=Path(args.log_file).resolve() if args.log_file else None)
    except OSError as exc:
        raise CliError(f"cannot open the log file: {exc.strerror} ({exc.filename})") from None
    try:
        node = Node(config, genesis)
    except (StorageError, BlockRejected, ConfigError, OSError, ValueError) as exc:
        return _fatal(exc, config, starting=True)
    try:
        collector = gc_tuning.tune()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    log.info("event loop: %s; garbage collector: %s", loop, collector)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_serve(node, logs))


def _fatal(exc: BaseException, config, *, starting: bool = False) -> int:
    """Log the one-line cause at CRITICAL (log file and stderr) and return the exit status."""
    from consortium.node.driver import NodeHalted
    from consortium.ops.fatal import explain, known, leaves

    message = known(exc, config)
    if message is None:
        if starting:
            message = f"cannot start node {config.name}: {exc}"
        else:  # a bug: the traceback goes to the log (not to stderr) for whoever fixes it
            message = explain(exc, config)
            log.error("traceback of the unexpected error:", exc_info=exc)
    log.critical("%s", message)
    return EXIT_HALTED if any(isinstance(e, NodeHalted) for e in leaves(exc)) else EXIT_FAILED


async def _serve(node, logs) -> int:
    """The composition root: the node, then RPC on top of it, until SIGTERM/SIGINT."""
    from consortium.explorer import PREFIX as EXPLORER
    from consortium.explorer import mount
    from consortium.ops.fatal import PortInUse
    from consortium.rpc.node_api import NodeRpcApi
    from consortium.rpc.server import RpcServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: logs.reload(node.config.path))
    api = NodeRpcApi(node)
    cfg = node.config
    rpc = RpcServer(api.dispatcher, cfg.rpc.host, cfg.rpc.port, ws_handler=api.hub.handle)
    mount(rpc.app, api, dispatcher=api.dispatcher, genesis_path=cfg.genesis_path)  # read-only web UI
    from consortium.ops.admin import AdminServer

    admin = AdminServer(node)
    ops = None
    if cfg.ops.port:
        from consortium.ops.metrics import NodeMetrics
        from consortium.ops.server import OpsServer

        metrics = NodeMetrics(node)
        api.dispatcher.observer = metrics.on_rpc
        ops = OpsServer(node, metrics, cfg.ops.host, cfg.ops.port)
    try:
        async with node.running():
            try:
                if ops is not None:  # before RPC: probes see the node start (503 until it is ready)
                    await ops.start()
                await admin.start()
                try:
                    await rpc.start()
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        raise PortInUse("rpc", cfg.rpc.host, cfg.rpc.port) from None
                    raise
                api.rpc_url = f"http://{cfg.rpc.host}:{rpc.port}"
                log.info("explorer at %s%s/", api.rpc_url, EXPLORER)
                await stop.wait()
            finally:
                await rpc.close()
                await admin.close()
                if ops is not None:
                    await ops.close()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: B902 - every failure ends in one explained line
        return _fatal(exc, cfg)
    return 0
