"""``python tests/evidence/cli_shim.py ARGS``: the consortium CLI, with the evidence, case and contract
command groups registered if cli/main.py does not register them yet (then this is just ``consortium``)."""

from __future__ import annotations

import sys

from consortium.cli import case_cmd, contract_cmd, evidence_cmd
from consortium.cli import main as cli_main

_build = cli_main.build_parser


def build_parser():  # type: ignore[no-untyped-def]
    parser = _build()
    sub = next(a for a in parser._actions if isinstance(getattr(a, "choices", None), dict))
    for module, name in ((evidence_cmd, "evidence"), (case_cmd, "case"), (contract_cmd, "contract")):
        if name not in sub.choices:
            module.register(sub)
    return parser


if __name__ == "__main__":
    cli_main.build_parser = build_parser
    sys.argv[0] = "consortium"
    sys.exit(cli_main.main(sys.argv[1:]))
