"""``consortium account``: create and inspect account key files."""

from __future__ import annotations

import argparse
import json

from consortium.cli.errors import CliError
from consortium.crypto import DEFAULT_SUITE, KeyFileError, KeyPair, get_suite, load_key, save_key
from consortium.encoding import to_hex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("account", help="create and inspect account keys", description="Create and inspect account key files.")
    asub = p.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    new = asub.add_parser("new", help="generate a new account key file (mode 0600)")
    new.add_argument("--out", required=True, help="path of the key file to create (refuses to overwrite)")
    new.add_argument("--suite", default=DEFAULT_SUITE.name, help=f"crypto suite (default {DEFAULT_SUITE.name})")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_new)
    show = asub.add_parser("show", help="print the address and public key of a key file")
    show.add_argument("key", help="key file")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_show)


def _print_key(key: KeyPair, as_json: bool, path: str) -> None:
    info = {"address": to_hex(key.address), "public_key": to_hex(key.public_key), "suite": key.suite.name, "file": path}
    if as_json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:<11} {v}")


def _new(args: argparse.Namespace) -> int:
    try:
        key = KeyPair.generate(get_suite(args.suite))
        save_key(key, args.out)
    except (KeyFileError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from None
    _print_key(key, args.json, args.out)
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        key = load_key(args.key)
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    _print_key(key, args.json, args.key)
    return 0
