"""``consortium genesis new|show|install``: agree on a genesis from the members' descriptors.

Every organization runs ``genesis show`` on its copy and compares the hash with the
others out of band (a call, a signed letter) before installing it with
``--expect-hash``: a genesis that differs between organizations is refused there,
and nodes with different genesis hashes refuse each other at the handshake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from consortium.cli.errors import CliError
from consortium.cli.org_cmd import _run
from consortium.encoding import to_hex
from consortium.encoding.hexbytes import HexError, from_hex
from consortium.network.certs import fingerprint
from consortium.node.genesis import Genesis, load_genesis
from consortium.node.org_files import build_genesis, install_genesis, write_genesis

EXPIRY_WARNING_DAYS = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("genesis", help="make, show and install the genesis the members agree on",
                       description="Make a genesis from the member organizations' descriptors, show its hash and "
                                   "contents for every organization to confirm, and install it into a node.")
    gsub = p.add_subparsers(dest="genesis_command", metavar="ACTION", required=True)
    new = gsub.add_parser("new", help="genesis.toml from the organizations' org.toml descriptors")
    new.add_argument("--from", dest="descriptors", action="append", required=True, metavar="ORG.toml",
                     help="a member's descriptor; repeat once per organization (sealer order follows)")
    new.add_argument("--out", required=True, help="genesis file to write (refuses to overwrite)")
    new.add_argument("--group-id", default="group0", help="group id (default group0)")
    new.add_argument("--threshold", type=int, help="committee votes a proposal needs (default: more than half)")
    new.add_argument("--view-timeout-ms", type=int, default=3000, help="base PBFT view timeout (default 3000)")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_new)

    show = gsub.add_parser("show", help="the genesis hash and contents, to confirm out of band")
    show.add_argument("genesis", help="genesis.toml")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_show)

    inst = gsub.add_parser("install", help="put the agreed genesis into a node folder; peers from its sealers")
    inst.add_argument("genesis", help="the agreed genesis.toml")
    inst.add_argument("--node", required=True, help="the node folder (made by `consortium node new`)")
    inst.add_argument("--expect-hash", help="the hash all members confirmed; a different genesis is refused")
    inst.add_argument("--new-member", action="store_true",
                      help="this node's organization joined after genesis (governance add_org): install the "
                           "chain's original genesis anyway")
    inst.set_defaults(func=_install)


def describe(g: Genesis, now: dt.datetime | None = None) -> dict[str, object]:
    now = now or dt.datetime.now(dt.timezone.utc)
    orgs = []
    for o in g.organizations:
        cert = o.certificate()
        days = (cert.not_valid_after_utc - now).days
        orgs.append({"name": o.name, "ca_fingerprint": fingerprint(cert),
                     "ca_not_after": cert.not_valid_after_utc.strftime("%Y-%m-%d"), "ca_days_left": days,
                     "sealers": [to_hex(s.node_id) for s in g.sealers if s.org == o.name]})
    return {
        "genesis_hash": to_hex(g.hash()), "chain_id": g.chain_id, "group_id": g.group_id,
        "crypto_suite": g.crypto_suite, "timestamp_ms": g.timestamp_ms, "python": g.python,
        "organizations": orgs,
        "sealers": [{"node_id": to_hex(s.node_id), "org": s.org, "endpoint": s.endpoint} for s in g.sealers],
        "committee": [{"address": to_hex(m.address), "weight": m.weight} for m in g.committee],
        "committee_threshold": g.committee_threshold, "administrators": [to_hex(a) for a in g.administrators],
        "view_timeout_ms": g.view_timeout_ms, "max_txs_per_block": g.max_txs_per_block,
        "block_limit_window": g.block_limit_window, "contracts": list(g.contracts),
    }


def _print(info: dict) -> None:
    print(f"genesis hash {info['genesis_hash']}")
    print(f"chain {info['chain_id']}/{info['group_id']}  suite {info['crypto_suite']}  python {info['python'] or 'any'}")
    for o in info["organizations"]:
        warn = "  EXPIRES SOON" if o["ca_days_left"] < EXPIRY_WARNING_DAYS else ""
        print(f"  organization {o['name']:<16} CA {o['ca_fingerprint']}  until {o['ca_not_after']}{warn}")
    for i, s in enumerate(info["sealers"]):
        print(f"  sealer {i:<3} {s['node_id']}  {s['org'] or '-':<16} {s['endpoint']}")
    for m in info["committee"]:
        print(f"  committee {m['address']}  weight {m['weight']}")
    print(f"  threshold {info['committee_threshold']}  view timeout {info['view_timeout_ms']} ms  "
          f"max txs/block {info['max_txs_per_block']}")


def _new(args: argparse.Namespace) -> int:
    def make() -> Genesis:
        g = build_genesis(args.descriptors, group_id=args.group_id, threshold=args.threshold,
                          view_timeout_ms=args.view_timeout_ms)
        write_genesis(g, args.out)
        return g

    g = _run(args.out, make)
    info = describe(g)
    if args.json:
        print(json.dumps(info))
    else:
        print(f"genesis written to {args.out}; every organization should run `consortium genesis show` on its "
              "copy and confirm this hash:")
        _print(info)
    return 0


def _show(args: argparse.Namespace) -> int:
    info = describe(_run(args.genesis, lambda: load_genesis(args.genesis)))
    if args.json:
        print(json.dumps(info))
    else:
        _print(info)
    return 0


def _install(args: argparse.Namespace) -> int:
    expect = None
    if args.expect_hash:
        try:
            expect = from_hex(args.expect_hash, size=32, what="--expect-hash")
        except HexError as exc:
            raise CliError(str(exc)) from None
    g = _run(args.node, lambda: install_genesis(args.genesis, args.node, expect_hash=expect, new_member=args.new_member))
    print(f"genesis {to_hex(g.hash())} installed in {args.node}; start the node with "
          f"`consortium node start --config {args.node}/config.toml`")
    return 0
