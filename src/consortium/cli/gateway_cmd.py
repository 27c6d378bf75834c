"""``consortium gateway``: run an evidence gateway beside a node, or write its config.

    gateway init --dir DIR --node-rpc URL --key FILE [--port N]
    gateway start --config FILE
    gateway status [--gateway URL]

Register with ``gateway_cmd.register(sub)`` in cli/main.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from consortium.cli.errors import CliError
from consortium.node.toml_io import ConfigError

DEFAULT_GATEWAY = "http://127.0.0.1:20400"


def add_gateway(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", default=os.environ.get("CONSORTIUM_GATEWAY", DEFAULT_GATEWAY),
                   help=f"evidence gateway URL (default $CONSORTIUM_GATEWAY or {DEFAULT_GATEWAY})")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gateway", help="run an evidence gateway (batches thousands of items a second)",
                       description="An evidence gateway takes evidence items over HTTP, makes them durable, "
                                   "anchors them in Merkle batches with one transaction each, and serves "
                                   "per-item proofs (docs/gateway.md).")
    gs = p.add_subparsers(dest="gateway_command", metavar="ACTION", required=True)

    init = gs.add_parser("init", help="write DIR/gateway.toml for a node and an account key")
    init.add_argument("--dir", required=True, help="gateway folder to create (config, and data/ once started)")
    init.add_argument("--node-rpc", required=True, help="the organization's node JSON-RPC URL")
    init.add_argument("--key", required=True, help="account key file that signs notarize_batch")
    init.add_argument("--port", type=int, default=20400, help="HTTP port (default 20400)")
    init.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    init.set_defaults(func=_init)

    start = gs.add_parser("start", help="run a gateway in the foreground (SIGTERM/SIGINT stop it cleanly)",
                          description="Run a gateway in the foreground. Logs go to stderr.")
    start.add_argument("--config", required=True, help="the gateway's gateway.toml")
    start.add_argument("--log-level", help="override the config's log level (debug, info, warning, error)")
    start.set_defaults(func=_start)

    st = gs.add_parser("status", help="show a running gateway's counters")
    add_gateway(st)
    st.set_defaults(func=_status)


def _init(args: argparse.Namespace) -> int:
    from consortium.gateway.config import config_text

    folder = Path(args.dir)
    target = folder / "gateway.toml"
    if target.exists():
        raise CliError(f"{target} already exists; edit it or choose another --dir")
    key = Path(args.key).resolve()
    if not key.is_file():
        raise CliError(f"--key {args.key}: no such key file (create one with 'consortium account new')")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        rel_key = os.path.relpath(key, folder.resolve())
        target.write_text(config_text(node_rpc=args.node_rpc, account_key=rel_key, port=args.port, host=args.host),
                          encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}") from None
    print(f"wrote {target}; start it with: consortium gateway start --config {target}")
    return 0


def _start(args: argparse.Namespace) -> int:
    from consortium.crypto import KeyFileError
    from consortium.gateway.config import load_gateway_config
    from consortium.gateway.service import serve
    from consortium.storage import StorageError

    try:
        config = load_gateway_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    level = (args.log_level or config.log_level).upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s gateway %(name)s: %(message)s")
    try:
        return asyncio.run(serve(config))
    except (StorageError, KeyFileError) as exc:
        raise CliError(f"cannot start the gateway: {exc}") from None


def _status(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(args.gateway.rstrip("/") + "/status", timeout=10) as r:
            doc = json.load(r)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CliError(f"cannot reach the gateway at {args.gateway}: {exc}") from None
    width = max(len(k) for k in doc)
    for k, v in doc.items():
        print(f"{k:<{width}}  {v}")
    return 0
