"""The ``consortium`` command: one argparse tree, each subcommand group in its own module.

Exit codes: 0 success, 1 a negative answer (e.g. evidence NOT VERIFIED),
2 usage or I/O error. Errors print one line on stderr that says what to fix; with
``--json`` that line is a JSON object ``{"error": {"message": …, "exit": N}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from consortium import __version__
from consortium.cli import (
    account_cmd,
    case_cmd,
    chain_cmd,
    contract_cmd,
    evidence_cmd,
    gateway_cmd,
    genesis_cmd,
    gov_cmd,
    node_cmd,
    org_cmd,
    query_cmd,
)
from consortium.cli.errors import CliError

EXIT_OK = 0
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consortium",
        description="A permissioned consortium blockchain node for notarizing electronic evidence.",
    )
    parser.add_argument("--version", action="version", version=f"consortium {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    account_cmd.register(sub)
    chain_cmd.register(sub)
    org_cmd.register(sub)
    genesis_cmd.register(sub)
    node_cmd.register(sub)
    query_cmd.register(sub)
    evidence_cmd.register(sub)
    case_cmd.register(sub)
    contract_cmd.register(sub)
    gov_cmd.register(sub)
    gateway_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except CliError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": {"message": str(exc), "exit": exc.exit_code}}, ensure_ascii=False),
                  file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. head: not an error worth a traceback
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
