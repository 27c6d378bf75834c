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


def _start(args: argparse.Namespace) -> int:
    from consortium.chain.ledger import BlockRejected
    from consortium.node.config import load_config
    from consortium.node.genesis import load_genesis
    from consortium.node.runtime import Node
    from consortium.ops.logs import NodeLogging
    from consortium.storage.kv import StorageError

    try:
        config = load_config(args.config)
        genesis = load_genesis(config.genesis_path)
    except ConfigError as exc:
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
    return asyncio.run(_serve(node, logs))


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
                if ops is not None:
                    await ops.close()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: B902 - every failure ends in one explained line
        return _fatal(exc, cfg)
    return 0
