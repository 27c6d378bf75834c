"""``consortium tx``, ``consortium block``, ``consortium status``: read a running chain."""

from __future__ import annotations

import argparse

from consortium.cli.common import add_rpc, client, emit, parse_hash, receipt_table
from consortium.cli.errors import CliError


def register(sub: argparse._SubParsersAction) -> None:
    tx = sub.add_parser("tx", help="inspect transactions", description="Inspect committed transactions.")
    txs = tx.add_subparsers(dest="tx_command", metavar="ACTION", required=True)
    receipt = txs.add_parser("receipt", help="show a transaction's receipt")
    receipt.add_argument("hash", help="transaction hash (0x…)")
    add_rpc(receipt)
    receipt.set_defaults(func=_receipt)
    show = txs.add_parser("show", help="show a committed transaction")
    show.add_argument("hash", help="transaction hash (0x…)")
    add_rpc(show)
    show.set_defaults(func=_tx_show)

    block = sub.add_parser("block", help="inspect blocks", description="Inspect committed blocks.")
    bs = block.add_subparsers(dest="block_command", metavar="ACTION", required=True)
    bshow = bs.add_parser("show", help="show a block by number (or 'latest')")
    bshow.add_argument("number", help="block number or 'latest'")
    bshow.add_argument("--transactions", action="store_true", help="include full transactions")
    add_rpc(bshow)
    bshow.set_defaults(func=_block_show)

    status = sub.add_parser("status", help="height, view, sealers, peers, sync and time-anchoring state of a node")
    add_rpc(status)
    status.set_defaults(func=_status)


def _receipt(args: argparse.Namespace) -> int:
    tx_hash = parse_hash(args.hash, "transaction hash")
    with client(args) as c:
        r = c.request("getTransactionReceipt", args.hash)
    if r is None:
        raise CliError(f"no receipt for 0x{tx_hash.hex()}: the transaction is pending or unknown to this node", 1)
    emit(args, r, receipt_table(r))
    return 0


def _tx_show(args: argparse.Namespace) -> int:
    parse_hash(args.hash, "transaction hash")
    with client(args) as c:
        t = c.request("getTransaction", args.hash)
    emit(args, t, [(k, v) for k, v in t.items()])
    return 0


def _block_show(args: argparse.Namespace) -> int:
    number: int | str = args.number
    if number != "latest":
        try:
            number = int(number)
        except ValueError:
            raise CliError(f"block number must be an integer or 'latest', got {args.number!r}") from None
    with client(args) as c:
        b = c.request("getBlockByNumber", number, args.transactions)
    rows = [(k, v) for k, v in b.items() if k not in ("signatures", "transactions", "sealerList")]
    rows.append(("sealers", len(b["sealerList"])))
    rows.append(("signatures", [s["sealerIndex"] for s in b["signatures"]]))
    rows.append(("transactions", len(b["transactions"]) if not args.transactions else b["transactions"]))
    emit(args, b, rows)
    return 0


def _status(args: argparse.Namespace) -> int:
    with client(args) as c:
        doc = {
            "node": c.request("getNodeInfo"),
            "blockNumber": c.request("getBlockNumber"),
            "consensus": c.request("getConsensusStatus"),
            "sealers": c.request("getSealerList"),
            "observers": c.request("getObserverList"),
            "peers": c.request("getPeers"),
            "sync": c.request("getSyncStatus"),
            "pending": c.request("getPendingTxSize"),
            "anchoring": c.request("getAnchorStatus"),
        }
    rows = [
        ("node", doc["node"].get("nodeId")),
        ("chain", f"{doc['node'].get('chainId')}/{doc['node'].get('groupId')}"),
        ("height", doc["blockNumber"]),
        ("view", doc["consensus"].get("view")),
        ("role", doc["node"].get("role")),
        ("sealers", len(doc["sealers"])),
        ("observers", len(doc["observers"])),
        ("peers", len(doc["peers"])),
        ("pending txs", doc["pending"]),
        ("sync", doc["sync"]),
        ("anchoring", anchoring_text(doc["anchoring"])),
        *(("certificate", w) for w in doc["node"].get("certificateWarnings", [])),
    ]
    quorum = doc["consensus"].get("quorum")
    if quorum is not None:
        text = f"{'ok' if quorum['ok'] else 'LOST'}: hears {quorum['heard']} of {quorum['sealers']} sealers, needs {quorum['needed']}"
        if quorum["silent"]:
            text += "; silent: " + ", ".join(f"{s['name']} ({s['nodeId'][:14]})" if s["name"] else s["nodeId"][:14]
                                              for s in quorum["silent"])
        rows.insert(5, ("quorum", text))
    emit(args, doc, rows)
    return 0


def anchoring_text(a: dict) -> str:
    """One line on RFC 3161 time anchoring (getAnchorStatus): how far, how late, and whether the TSA answers."""
    lag = f"lag {a['pendingBlocks']} block{'s' if a['pendingBlocks'] != 1 else ''}"
    last = ""
    if a.get("anchoredTo"):
        cp = a.get("lastCheckpoint") or {}
        last = (f"blocks {cp.get('first', '?')}-{a['anchoredTo']} time-stamped {a.get('lastTime') or '(time unknown)'}"
                f" by {a.get('lastTsa') or '(a TSA no longer trusted)'}")
    if a.get("failures"):
        return (f"DELAYED since {a.get('failingSince') or '?'}: {a['failures']} failed round(s), {lag}"
                f"{'; last anchored ' + last if last else ''}; last error: {a.get('lastError', '')}")
    if a.get("enabled"):
        return f"ok, {lag}; last anchored {last}" if last else f"on, nothing anchored yet ({lag})"
    trusted = ", ".join(a.get("trustedTsas") or []) or "none"
    if last:
        return f"off on this node (anchors shared by peers: {lag}; last {last})"
    return f"off (no [anchor] on this node and no anchor from a peer; trusted TSAs: {trusted})"
