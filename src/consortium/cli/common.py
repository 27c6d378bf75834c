"""Options and output helpers shared by the CLI commands that talk to a node."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from consortium.cli.errors import CliError
from consortium.client import ClientError, SyncClient
from consortium.crypto import KeyFileError, KeyPair, load_key
from consortium.encoding.hexbytes import HexError, from_hex
from consortium.rpc.views import ValueJsonError, value_from_json

DEFAULT_RPC = "http://127.0.0.1:20200"


def add_rpc(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc", default=os.environ.get("CONSORTIUM_RPC", DEFAULT_RPC),
                   help=f"node JSON-RPC URL (default $CONSORTIUM_RPC or {DEFAULT_RPC})")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")


def add_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", default=os.environ.get("CONSORTIUM_KEY"),
                   help="account key file that signs the transaction (default $CONSORTIUM_KEY)")


def load_account(args: argparse.Namespace) -> KeyPair:
    if not args.key:
        raise CliError("this command sends a transaction: give --key FILE (create one with 'consortium account new')")
    try:
        return load_key(args.key)
    except KeyFileError as exc:
        raise CliError(str(exc)) from None


@contextmanager
def client(args: argparse.Namespace) -> Iterator[SyncClient]:
    """A SyncClient whose errors become one-line CLI errors."""
    c = SyncClient(args.rpc)
    try:
        yield c
    except ClientError as exc:
        raise CliError(str(exc)) from None
    finally:
        c.close()


def parse_json_args(text: str | None) -> list:
    if not text:
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"arguments must be a JSON array, e.g. '[\"case-1\", 42]': {exc}") from None
    if not isinstance(doc, list):
        raise CliError("arguments must be a JSON array, e.g. '[\"case-1\", 42]'")
    try:
        return [value_from_json(v) for v in doc]
    except ValueJsonError as exc:
        raise CliError(f"bad argument: {exc}") from None


def parse_hash(text: str, what: str = "hash") -> bytes:
    try:
        return from_hex(text, size=32, what=what)
    except HexError as exc:
        raise CliError(str(exc)) from None


def emit(args: argparse.Namespace, doc: Any, table: list[tuple[str, Any]] | None = None) -> None:
    """Print ``doc`` as JSON with --json, else the readable ``table`` (or indented JSON)."""
    if getattr(args, "json", False) or table is None:
        print(json.dumps(doc, indent=None if getattr(args, "json", False) else 2, ensure_ascii=False))
        return
    width = max((len(k) for k, _ in table), default=0)
    for key, value in table:
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        print(f"{key:<{width}}  {value}")


def receipt_table(r: dict) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("transaction", r["transactionHash"]),
        ("block", r.get("blockNumber")),
        ("status", f"{r['statusName']} ({r['status']})"),
        ("gas used", r["gasUsed"]),
    ]
    if r.get("contractAddress"):
        rows.append(("contract", r["contractAddress"]))
    if r.get("error"):
        rows.append(("error", r["error"]))
    rows.append(("output", r["output"]))
    for e in r.get("events", []):
        rows.append((f"event {e['name']}", e["fields"]))
    return rows
