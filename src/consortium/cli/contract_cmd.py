"""``consortium contract``: deploy contracts, send calls, and query read-only.

    contract deploy FILE [--name NAME] [--args JSON]
    contract call NAME_OR_ADDRESS METHOD [JSON_ARGS]     (a transaction: waits, prints the output)
    contract query NAME_OR_ADDRESS METHOD [JSON_ARGS]    (read-only RPC ``call``: changes nothing)
    contract code NAME_OR_ADDRESS

A deploy is a transaction with an empty ``to``, the contract's name as
``method`` (empty: no name) and ``[source, *constructor args]`` as ``args``;
the executor claims the name in the registry in the same transaction, so
``--name`` either registers it or the deploy fails. Arguments are a JSON array;
bytes are written ``{"$bytes": "0x…"}``. Register with ``contract_cmd.register(sub)``.
"""

from __future__ import annotations

import argparse
from typing import Any

from consortium.cli.common import add_key, add_rpc, client, emit, load_account, parse_json_args, receipt_table
from consortium.cli.errors import CliError
from consortium.cli.evidence_cmd import parse_address, rpc_refusal
from consortium.client import RpcCallError
from consortium.encoding.hexbytes import to_hex

EXIT_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("contract", help="deploy, call and query contracts",
                       description="Deploy contracts, send transactions to them, and query them read-only.")
    cs = p.add_subparsers(dest="contract_command", metavar="ACTION", required=True)

    d = cs.add_parser("deploy", help="deploy a contract from a source file")
    d.add_argument("file", help="contract source (.py, the contract language of docs/contracts.md)")
    d.add_argument("--name", default="", help="register the contract under this name (a-z, 0-9, _ . -)")
    d.add_argument("--args", default=None, metavar="JSON", help="constructor arguments as a JSON array")
    add_rpc(d)
    add_key(d)
    d.set_defaults(func=_deploy)

    c = cs.add_parser("call", help="send a transaction calling METHOD, wait, and print its output")
    c.add_argument("contract", metavar="NAME_OR_ADDRESS")
    c.add_argument("method")
    c.add_argument("call_args", nargs="?", default=None, metavar="JSON_ARGS", help="arguments as a JSON array")
    add_rpc(c)
    add_key(c)
    c.set_defaults(func=_call)

    q = cs.add_parser("query", help="run METHOD read-only on the latest state (no transaction)")
    q.add_argument("contract", metavar="NAME_OR_ADDRESS")
    q.add_argument("method")
    q.add_argument("call_args", nargs="?", default=None, metavar="JSON_ARGS", help="arguments as a JSON array")
    q.add_argument("--from", dest="sender", default=None, metavar="ADDRESS",
                   help="address the contract sees as msg.sender (default: 20 zero bytes)")
    add_rpc(q)
    q.set_defaults(func=_query)

    code = cs.add_parser("code", help="print a deployed contract's source")
    code.add_argument("contract", metavar="NAME_OR_ADDRESS")
    add_rpc(code)
    code.set_defaults(func=_code)


def _check_receipt(receipt: dict[str, Any], what: str) -> None:
    if receipt.get("status") != 0:
        raise CliError(f"{what} failed: {receipt.get('statusName')}: {receipt.get('error') or 'no reason given'} "
                       f"(transaction {receipt.get('transactionHash')}, block {receipt.get('blockNumber')})",
                       EXIT_FAILED)


def _deploy(args: argparse.Namespace) -> int:
    try:
        with open(args.file, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the contract source {args.file}: {getattr(exc, 'strerror', None) or exc}") from None
    ctor_args = parse_json_args(args.args)
    key = load_account(args)
    with client(args) as c:
        try:
            receipt = c.transact(key, b"", args.name, [source, *ctor_args])
        except RpcCallError as exc:
            raise rpc_refusal(exc, "deploy") from None
    _check_receipt(receipt, "deploy")
    rows = [("contract", receipt["contractAddress"]), ("name", args.name or "(none)"),
            ("transaction", receipt["transactionHash"]), ("block", receipt["blockNumber"]),
            ("gas used", receipt["gasUsed"])]
    emit(args, receipt, rows)
    return 0


def _call(args: argparse.Namespace) -> int:
    call_args = parse_json_args(args.call_args)
    key = load_account(args)
    with client(args) as c:
        try:
            receipt = c.transact(key, args.contract, args.method, call_args)
        except RpcCallError as exc:
            raise rpc_refusal(exc, f"{args.contract}.{args.method}") from None
    emit(args, receipt, receipt_table(receipt))
    _check_receipt(receipt, f"{args.contract}.{args.method}")
    return 0


def _query(args: argparse.Namespace) -> int:
    call_args = parse_json_args(args.call_args)
    sender = b""
    if args.sender:
        sender = parse_address(args.sender, "--from")
    with client(args) as c:
        try:
            out = c.call(args.contract, args.method, call_args, sender=sender)
        except RpcCallError as exc:
            raise rpc_refusal(exc, f"{args.contract}.{args.method}") from None
    emit(args, out, None if isinstance(out, (dict, list)) else [("output", out)])
    return 0


def _code(args: argparse.Namespace) -> int:
    with client(args) as c:
        try:
            address = c.resolve(args.contract)
            source = c.request("getCode", to_hex(address))
        except RpcCallError as exc:
            raise rpc_refusal(exc, args.contract) from None
    if args.json:
        emit(args, {"address": to_hex(address), "source": source})
    else:
        print(source, end="" if source.endswith("\n") else "\n")
    return 0
