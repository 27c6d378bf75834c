"""``consortium case``: the arbitration flow over notarized evidence (contracts/evidence.py).

    case open CASE_ID --party ADDRESS --party ADDRESS [...] --arbitrator ADDRESS
    case attach CASE_ID KEY|PROOF|FILE         (a party; the evidence as cli/evidence_ref.py resolves it)
    case rule CASE_ID (--ruling FILE | --ruling-hash HASH) --summary TEXT   (the case's arbitrator)
    case show CASE_ID
    case proof CASE_ID --out CASE.proof.json [--evidence-proof PROOF ...]    (cli/case_proof_cmd.py)
    case verify CASE.proof.json --genesis GENESIS [--evidence FILE ...]

The arbitrator must be registered first by the governance committee
(``consortium evidence register-arbitrator ADDRESS``, a proposal members vote on). Register with
``case_cmd.register(sub)`` in cli/main.py.
"""

from __future__ import annotations

import argparse
from typing import Any

from consortium.cli import case_proof_cmd
from consortium.cli.common import add_key, add_rpc, client, emit
from consortium.cli.errors import CliError
from consortium.cli.evidence_cmd import EXIT_NOT_VERIFIED, parse_address, transact
from consortium.cli.evidence_ref import add_evidence_ref, hash_of, not_found_hint, resolve
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.verify import iso_time
from consortium.execution.genesis import EVIDENCE_NAME

PAGE = 100


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="open arbitration cases, attach evidence, rule",
                       description="The arbitration flow: open a case, attach notarized evidence, rule.")
    cs = p.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    o = cs.add_parser("open", help="open a case (a party or the arbitrator)")
    o.add_argument("case_id", metavar="CASE_ID", help="case id (1-64 characters)")
    o.add_argument("--party", action="append", default=[], required=True, metavar="ADDRESS",
                   help="a party's address (repeat: 2 to 16 parties)")
    o.add_argument("--arbitrator", required=True, metavar="ADDRESS", help="a registered arbitrator's address")
    add_rpc(o)
    add_key(o)
    o.set_defaults(func=_open)

    a = cs.add_parser("attach", help="attach notarized evidence to an open case (a party)")
    a.add_argument("case_id", metavar="CASE_ID")
    add_evidence_ref(a)
    add_rpc(a)
    add_key(a)
    a.set_defaults(func=_attach)

    r = cs.add_parser("rule", help="record the ruling and close the case (the case's arbitrator)")
    r.add_argument("case_id", metavar="CASE_ID")
    ruling = r.add_mutually_exclusive_group(required=True)
    ruling.add_argument("--ruling", metavar="FILE", help="the ruling document (its SHA-256 is recorded)")
    ruling.add_argument("--ruling-hash", metavar="HASH", help="SHA-256 of the ruling document (0x…)")
    r.add_argument("--summary", required=True, help="short public summary of the ruling (at most 2048 characters)")
    add_rpc(r)
    add_key(r)
    r.set_defaults(func=_rule)

    s = cs.add_parser("show", help="show a case, its evidence and its ruling")
    s.add_argument("case_id", metavar="CASE_ID")
    add_rpc(s)
    s.set_defaults(func=_show)

    case_proof_cmd.register(cs)


def _open(args: argparse.Namespace) -> int:
    parties = [parse_address(a, "--party") for a in args.party]
    arbitrator = parse_address(args.arbitrator, "--arbitrator")
    with client(args) as c:
        receipt = transact(args, c, "open_case", [args.case_id, parties, arbitrator])
    emit(args, receipt, [("case", args.case_id), ("status", "OPEN"), ("parties", ", ".join(args.party)),
                         ("arbitrator", args.arbitrator), ("transaction", receipt["transactionHash"]),
                         ("block", receipt["blockNumber"])])
    return 0


def _attach(args: argparse.Namespace) -> int:
    ref = resolve(args)
    with client(args) as c:
        try:
            receipt = transact(args, c, "attach", [args.case_id, ref.key])
        except CliError as exc:
            raise CliError(f"{exc}{not_found_hint(ref) if 'not notarized' in str(exc) else ''}", exc.exit_code) from None
    emit(args, receipt, [("case", args.case_id), ("evidence", f"{to_hex(ref.key)}  ({ref.source})"),
                         ("position", receipt["output"]), ("transaction", receipt["transactionHash"]),
                         ("block", receipt["blockNumber"])])
    return 0


def _rule(args: argparse.Namespace) -> int:
    if args.ruling is not None:
        ruling_hash = hash_of(args.ruling)[0]
    else:
        try:
            ruling_hash = from_hex(args.ruling_hash, size=32, what="--ruling-hash")
        except HexError as exc:
            raise CliError(str(exc)) from None
    with client(args) as c:
        receipt = transact(args, c, "rule", [args.case_id, ruling_hash, args.summary])
    emit(args, receipt, [("case", args.case_id), ("status", "CLOSED"), ("ruling", to_hex(ruling_hash)),
                         ("summary", args.summary), ("transaction", receipt["transactionHash"]),
                         ("block", receipt["blockNumber"])])
    return 0


def _show(args: argparse.Namespace) -> int:
    with client(args) as c:
        case = c.call(EVIDENCE_NAME, "get_case", [args.case_id])
        if case is None:
            raise CliError(f"no case {args.case_id!r} on this chain", EXIT_NOT_VERIFIED)
        evidence: list[Any] = []
        while len(evidence) < case["evidence_count"]:
            page = c.call(EVIDENCE_NAME, "case_evidence", [args.case_id, len(evidence), PAGE])
            if not page:
                break
            evidence += page
    case["evidence"] = evidence
    emit(args, case, _case_rows(case))
    return 0


def _case_rows(case: dict[str, Any]) -> list[tuple[str, Any]]:
    def b(v: Any) -> Any:
        return v.get("$bytes") if isinstance(v, dict) and "$bytes" in v else v

    rows: list[tuple[str, Any]] = [
        ("case", case["case_id"]),
        ("status", case["status"]),
        ("arbitrator", b(case["arbitrator"])),
        ("parties", ", ".join(b(p) for p in case["parties"])),
        ("opened", f"block {case['opened_block']}, {iso_time(case['opened_timestamp'])}, by {b(case['opened_by'])}"),
    ]
    for i, h in enumerate(case["evidence"]):
        rows.append(("evidence" if i == 0 else "", b(h)))
    if not case["evidence"]:
        rows.append(("evidence", "none"))
    ruling = case.get("ruling")
    if ruling:
        rows += [("ruling", b(ruling["hash"])), ("summary", ruling["summary"]),
                 ("ruled", f"block {ruling['block']}, {iso_time(ruling['timestamp'])}")]
    return rows
