"""``consortium org`` and ``consortium node new``: an organization's own identity, on its own machine.

Only public material leaves an organization: its descriptor ``org.toml`` (CA
certificate, node ids and certificates, endpoints, committee addresses). Keys
stay in its folder.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from consortium.cli.errors import CliError
from consortium.crypto import KeyFileError
from consortium.encoding import to_hex
from consortium.network import CertificateError
from consortium.network.certs import fingerprint
from consortium.node.org_files import NodeFiles, new_node, new_node_csr, new_org, sign_csr
from consortium.node.toml_io import ConfigError


def _run(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ConfigError, CertificateError, KeyFileError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {what}: {exc.strerror} ({exc.filename})") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("org", help="an organization's own CA, accounts and descriptor",
                       description="Create and run an organization's identity: its CA (which certifies its "
                                   "nodes), its committee accounts, and org.toml, the public descriptor it sends "
                                   "to the other members.")
    osub = p.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    new = osub.add_parser("new", help="create DIR with the organization's CA, admin account(s) and org.toml")
    new.add_argument("--dir", required=True, help="the organization's folder (keep it on its own machine)")
    new.add_argument("--name", required=True, help="organization name, e.g. bank (A-Z a-z 0-9 _ . -)")
    new.add_argument("--chain-id", default="chain0", help="the chain it will be a member of (default chain0)")
    new.add_argument("--admins", type=int, default=1, metavar="K", help="committee accounts to create (default 1)")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_org_new)

    sign = osub.add_parser("sign-csr", help="certify a node from its CSR (made on its host by `node new --csr`)")
    sign.add_argument("csr", help="the node's node.csr")
    sign.add_argument("--org", required=True, help="the organization's folder (holds ca/ca.key)")
    sign.add_argument("--name", required=True, help="the node's name within the organization")
    sign.add_argument("--endpoint", required=True, help="host:port where other organizations reach the node")
    sign.add_argument("--role", default="sealer", choices=("sealer", "observer"),
                      help="what the organization asks for (default sealer)")
    sign.add_argument("--out", help="certificate file to write (default: node.crt beside the CSR)")
    sign.add_argument("--json", action="store_true", help="machine-readable output")
    sign.set_defaults(func=_sign)


def register_node_new(ns: argparse._SubParsersAction) -> None:
    new = ns.add_parser(
        "new", help="make a node of an organization: key, certificate from its CA, config.toml",
        description="Make a node package: its key (never leaves it), a certificate from the organization's CA "
                    "(--org) or a certificate signing request (--csr, when the CA is on another machine), and "
                    "config.toml. Install the agreed genesis with `consortium genesis install`.")
    who = new.add_mutually_exclusive_group(required=True)
    who.add_argument("--org", help="the organization's folder (holds ca/ca.key); the node is listed in its org.toml")
    who.add_argument("--csr", action="store_true", help="no CA here: write node.csr for `consortium org sign-csr`")
    new.add_argument("--name", required=True, help="node name within the organization, e.g. node0")
    new.add_argument("--out", help="node folder (default ORG/nodes/NAME; required with --csr)")
    new.add_argument("--host", default="127.0.0.1", help="address the node listens on (default 127.0.0.1)")
    new.add_argument("--p2p-port", type=int, default=30300, help="P2P port it listens on (default 30300)")
    new.add_argument("--rpc-port", type=int, default=20200, help="JSON-RPC port (default 20200)")
    new.add_argument("--advertise", help="host:port other nodes dial, when not --host:--p2p-port (NAT, 0.0.0.0)")
    new.add_argument("--role", default="sealer", choices=("sealer", "observer"),
                     help="what the organization asks genesis or the committee for (default sealer)")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_node_new)


def register_node_join(ns: argparse._SubParsersAction) -> None:
    join = ns.add_parser(
        "join", help="prove this observer runs, holds its key and has synced (before it may become a sealer)",
        description="Send governance's join transaction signed with this node's own key, naming the head it "
                    "has synced to. The committee's add_sealer for this node is accepted only within "
                    "1800 blocks of a join. Run it on the node's host once the node has caught up.")
    join.add_argument("--config", required=True, help="the node's config.toml")
    join.add_argument("--rpc", help="the node's JSON-RPC URL (default: from its config)")
    join.add_argument("--json", action="store_true", help="machine-readable output")
    join.set_defaults(func=_node_join)


def _node_join(args: argparse.Namespace) -> int:
    from consortium.client import ClientError, SyncClient
    from consortium.execution.governance import GOVERNANCE_ADDRESS
    from consortium.network.certs import load_node_keypair
    from consortium.node.config import load_config

    config = _run(args.config, lambda: load_config(args.config))
    key = _run(args.config, lambda: load_node_keypair(config.key_path))
    host = config.rpc.host if config.rpc.host not in ("0.0.0.0", "::") else "127.0.0.1"
    url = args.rpc or f"http://{host}:{config.rpc.port}"
    try:
        with SyncClient(url) as c:
            head = c.block_number()
            receipt = c.transact(key, GOVERNANCE_ADDRESS, "join", [head])
    except ClientError as exc:
        raise CliError(f"cannot send the join through {url}: {exc}") from None
    if receipt.get("statusName") != "OK":
        raise CliError(f"join refused: {receipt.get('error') or receipt.get('statusName')}")
    if args.json:
        print(json.dumps({"node_id": to_hex(key.public_key), "head": head, "block": receipt.get("blockNumber")}))
    else:
        print(f"node {to_hex(key.public_key)} joined at block {receipt.get('blockNumber')} (head {head}); the "
              "committee may now vote add_sealer for it")
    return 0


def _org_new(args: argparse.Namespace) -> int:
    desc = _run(args.dir, lambda: new_org(args.dir, args.name, args.chain_id, admins=args.admins))
    info = {"name": desc.name, "chain_id": desc.chain_id, "descriptor": desc.source,
            "ca_fingerprint": fingerprint(desc.ca_cert), "admins": [to_hex(a) for a in desc.admins]}
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"organization {desc.name} (chain {desc.chain_id}) created in {args.dir}")
    print(f"  CA fingerprint (SHA-256) {info['ca_fingerprint']}")
    for a in info["admins"]:
        print(f"  admin {a}")
    print(f"  descriptor {desc.source}: send it to the other members; keep ca/ and accounts/ here")
    return 0


def _node_info(files: NodeFiles) -> dict[str, object]:
    return {"name": files.name, "dir": str(files.dir), "node_id": to_hex(files.node_id),
            "listen": str(files.listen), "endpoint": files.endpoint, "rpc_port": files.rpc_port,
            "certified": files.cert_serial is not None}


def _node_new(args: argparse.Namespace) -> int:
    if args.csr:
        if not args.out:
            raise CliError("--csr needs --out DIR: the node folder to create on this host")
        files = _run(args.out, lambda: new_node_csr(args.out, args.name, host=args.host, p2p_port=args.p2p_port,
                                                    rpc_port=args.rpc_port, advertise=args.advertise))
    else:
        files = _run(args.out or args.org, lambda: new_node(
            args.org, args.name, host=args.host, p2p_port=args.p2p_port, rpc_port=args.rpc_port,
            advertise=args.advertise, role=args.role, out=args.out))
    if args.json:
        print(json.dumps(_node_info(files)))
        return 0
    print(f"node {files.name} created in {files.dir}")
    print(f"  id {to_hex(files.node_id)}  listens {files.listen}  reached at {files.endpoint}  rpc {files.rpc_port}")
    if args.csr:
        print(f"  send {files.dir / 'node.csr'} to your organization's CA: consortium org sign-csr …")
    else:
        print(f"  listed in {args.org}/org.toml as {args.role}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    node = _run(args.out or args.csr, lambda: sign_csr(args.org, args.csr, name=args.name, endpoint=args.endpoint,
                                                       role=args.role, out=args.out))
    if args.json:
        print(json.dumps({"name": node.name, "node_id": to_hex(node.node_id), "endpoint": node.endpoint,
                          "role": node.role, "serial": hex(node.cert.serial_number)}))
    else:
        print(f"certified node {node.name} id {to_hex(node.node_id)} (serial {node.cert.serial_number:#x}); "
              f"listed in {args.org}/org.toml as {node.role}")
    return 0
