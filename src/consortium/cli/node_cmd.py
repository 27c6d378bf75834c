"""``consortium node start``: run one node in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from consortium.cli import org_cmd
from consortium.cli.errors import CliError
from consortium.node.toml_io import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run a node", description="Run a consortium node.")
    ns = p.add_subparsers(dest="node_command", metavar="ACTION", required=True)
    start = ns.add_parser(
        "start", help="run one node in the foreground (SIGTERM/SIGINT stop it cleanly)",
        description="Run one node in the foreground. Logs go to stderr; SIGTERM or SIGINT shut it down cleanly.",
    )
    start.add_argument("--config", required=True, help="the node's config.toml (e.g. DIR/node0/config.toml)")
    start.add_argument("--log-level", help="override the config's log level (debug, info, warning, error)")
    start.set_defaults(func=_start)
    org_cmd.register_node_new(ns)


def _start(args: argparse.Namespace) -> int:
    from consortium.chain.ledger import BlockRejected
    from consortium.node.config import load_config
    from consortium.node.genesis import load_genesis
    from consortium.node.runtime import Node
    from consortium.storage.kv import StorageError

    try:
        config = load_config(args.config)
        genesis = load_genesis(config.genesis_path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    level = (args.log_level or config.log_level).upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO), stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s " + config.name + " %(name)s: %(message)s",
    )
    try:
        node = Node(config, genesis)
    except (StorageError, BlockRejected, ConfigError, OSError, ValueError) as exc:
        raise CliError(f"cannot start node {config.name}: {exc}") from None
    return asyncio.run(_serve(node))


async def _serve(node) -> int:
    """The composition root: the node, then RPC on top of it, until SIGTERM/SIGINT."""
    from consortium.node.driver import NodeHalted
    from consortium.rpc.node_api import NodeRpcApi
    from consortium.rpc.server import RpcServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    api = NodeRpcApi(node)
    rpc = RpcServer(api.dispatcher, node.config.rpc.host, node.config.rpc.port, ws_handler=api.hub.handle)
    try:
        async with node.running():
            await rpc.start()
            api.rpc_url = f"http://{node.config.rpc.host}:{rpc.port}"
            try:
                await stop.wait()
            finally:
                await rpc.close()
    except OSError as exc:
        logging.getLogger("consortium.node").error("node failed: %s", exc)
        return 2
    except BaseExceptionGroup as group:  # a task of the node's TaskGroup failed
        halted = group.subgroup(NodeHalted)
        if halted is None:
            raise
        logging.getLogger("consortium.node").critical("node halted: %s", halted.exceptions[0])
        return 3
    return 0
