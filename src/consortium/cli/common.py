"""Options and output helpers shared by the CLI commands that talk to a node.

What people type and read is kept apart from the wire encoding: ``--rpc`` takes
``host:port`` or a URL; contract arguments take addresses and hashes as ``0x…`` strings;
human output shows bytes as ``0x…`` (``{"$bytes": …}`` appears only with ``--json``, where
programs need the type). ``--json`` also makes errors JSON (on stderr, non-zero exit).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from consortium.cli.errors import CliError
from consortium.client import ClientError, ReceiptTimeout, SyncClient
from consortium.crypto import KeyFileError, KeyPair, load_key
from consortium.crypto.keyfile import interactive_passphrase
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.rpc.views import BYTES_KEY, ValueJsonError, value_from_json

DEFAULT_RPC = "http://127.0.0.1:20200"
DEFAULT_TIMEOUT_S = 30.0
_HEX_STRING = re.compile(r"0[xX](?:[0-9a-fA-F]{2})+")


def rpc_url(text: str) -> str:
    """A node's JSON-RPC URL from what a person types: ``host:port``, ``:port``, ``port`` or a URL."""
    raw = text.strip()
    if not raw:
        raise argparse.ArgumentTypeError("give the node's JSON-RPC address as host:port or http://host:port")
    if raw.isdigit():
        raw = f"127.0.0.1:{raw}"
    elif raw.startswith(":"):
        raw = f"127.0.0.1{raw}"
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON-RPC address: use host:port or http://host:port")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} has a bad port: use host:port with a port 1-65535") from None
    return raw if parts.path else raw + "/"


def timeout_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"--timeout must be a number of seconds (0 < s <= 86400), got {text!r}")
    return value


def add_rpc(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc", type=rpc_url, default=os.environ.get("CONSORTIUM_RPC", DEFAULT_RPC), metavar="HOST:PORT",
                   help=f"the node's JSON-RPC address, host:port or URL (default $CONSORTIUM_RPC or {DEFAULT_RPC})")
    p.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=f"give up on the node after this long, including waiting for a receipt "
                        f"(default {DEFAULT_TIMEOUT_S:.0f})")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output (errors too, on stderr)")


def add_key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", default=os.environ.get("CONSORTIUM_KEY"),
                   help="account key file that signs the transaction (default $CONSORTIUM_KEY)")


def load_account(args: argparse.Namespace) -> KeyPair:
    if not args.key:
        raise CliError("this command sends a transaction: give --key FILE (create one with 'consortium account new')")
    try:
        return load_key(args.key, interactive_passphrase(f"passphrase for {args.key}: "))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None


@contextmanager
def client(args: argparse.Namespace) -> Iterator[SyncClient]:
    """A SyncClient whose errors become one-line CLI errors."""
    c = SyncClient(args.rpc, timeout=getattr(args, "timeout", DEFAULT_TIMEOUT_S))
    try:
        yield c
    except ReceiptTimeout as exc:
        hint = f"; it may still commit: check with 'consortium tx receipt {to_hex(exc.tx_hash)}'" if exc.tx_hash else ""
        raise CliError(f"{exc}{hint}") from None
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
        return [value_from_json(typed_hex(v)) for v in doc]
    except ValueJsonError as exc:
        raise CliError(f"bad argument: {exc}") from None


def typed_hex(doc: Any) -> Any:
    """What a person types, in the wire's JSON form: a ``"0x…"`` string (even number of hex digits,
    e.g. an address or a hash) means those bytes; ``{"$str": "0x…"}`` keeps such text a string."""
    if isinstance(doc, str) and _HEX_STRING.fullmatch(doc):
        return {BYTES_KEY: doc}
    if isinstance(doc, list):
        return [typed_hex(v) for v in doc]
    if isinstance(doc, dict):
        if set(doc) == {"$str"} and isinstance(doc["$str"], str):
            return doc["$str"]
        if set(doc) == {BYTES_KEY}:
            return doc
        return {k: typed_hex(v) for k, v in doc.items()}
    return doc


def human(doc: Any) -> Any:
    """The JSON form of a value for people: ``{"$bytes": "0x…"}`` becomes ``"0x…"``."""
    if isinstance(doc, dict):
        if set(doc) == {BYTES_KEY} and isinstance(doc[BYTES_KEY], str):
            return doc[BYTES_KEY]
        return {k: human(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [human(v) for v in doc]
    return doc


def parse_hash(text: str, what: str = "hash") -> bytes:
    try:
        return from_hex(text, size=32, what=what)
    except HexError as exc:
        raise CliError(str(exc)) from None


def emit(args: argparse.Namespace, doc: Any, table: list[tuple[str, Any]] | None = None) -> None:
    """Print ``doc`` as JSON with --json, else the readable ``table`` (or indented JSON)."""
    if getattr(args, "json", False):
        print(json.dumps(doc, ensure_ascii=False))
        return
    if table is None:
        print(json.dumps(human(doc), indent=2, ensure_ascii=False))
        return
    width = max((len(k) for k, _ in table), default=0)
    for key, value in table:
        value = human(value)
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
