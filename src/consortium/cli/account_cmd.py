"""``consortium account``: create and inspect account key files."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from consortium.cli.errors import CliError
from consortium.crypto import DEFAULT_SUITE, KeyFileError, KeyPair, get_suite, load_key, save_key
from consortium.crypto.keyfile import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    interactive_passphrase,
    passphrase_from_environment,
)
from consortium.encoding import to_hex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("account", help="create and inspect account keys", description="Create and inspect account key files.")
    asub = p.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    new = asub.add_parser("new", help="generate a new account key file (mode 0600)")
    new.add_argument("--out", required=True, help="path of the key file to create (refuses to overwrite)")
    new.add_argument("--suite", default=DEFAULT_SUITE.name, help=f"crypto suite (default {DEFAULT_SUITE.name})")
    new.add_argument("--encrypt", action="store_true",
                     help="protect the key with a passphrase (Argon2id + XChaCha20-Poly1305): asked twice on a "
                          "terminal, or taken from $CONSORTIUM_KEY_PASSPHRASE_FILE / $CONSORTIUM_KEY_PASSPHRASE")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_new)
    enc = asub.add_parser("encrypt", help="protect an existing key file with a passphrase (rewritten atomically)")
    enc.add_argument("key", help="key file")
    enc.add_argument("--json", action="store_true", help="machine-readable output")
    enc.set_defaults(func=_encrypt)
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


def new_passphrase() -> bytes:
    """From the environment (services, scripts), else typed twice on a terminal."""
    given = passphrase_from_environment()
    if given:
        return given
    if not sys.stdin.isatty():
        raise CliError(f"no terminal to ask for a passphrase: set {PASSPHRASE_FILE_ENV} to a file holding it "
                       f"(or {PASSPHRASE_ENV})")
    first = getpass.getpass("new passphrase: ").encode()
    if not first:
        raise CliError("an empty passphrase protects nothing")
    if getpass.getpass("repeat it: ").encode() != first:
        raise CliError("the two passphrases differ; nothing was written")
    return first


def _new(args: argparse.Namespace) -> int:
    try:
        key = KeyPair.generate(get_suite(args.suite))
        save_key(key, args.out, passphrase=new_passphrase() if args.encrypt else None)
    except (KeyFileError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from None
    _print_key(key, args.json, args.out)
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    try:
        key = load_key(args.key, interactive_passphrase(f"current passphrase for {args.key}: "))
        save_key(key, args.key, overwrite=True, passphrase=new_passphrase())
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.key}: {exc.strerror}") from None
    _print_key(key, args.json, args.key)
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        key = load_key(args.key, interactive_passphrase(f"passphrase for {args.key}: "))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    _print_key(key, args.json, args.key)
    return 0
