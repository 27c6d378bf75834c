"""``consortium chain``: generate a chain's CA, node folders, genesis and admin accounts.

Register with ``chain_cmd.register(sub)`` in cli/main.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from consortium.cli.errors import CliError
from consortium.crypto import KeyFileError
from consortium.crypto.timestamp import TrustedTsa
from consortium.encoding import to_hex
from consortium.network import CertificateError
from consortium.node.chain_files import (
    ChainFilesError,
    ChainSpec,
    NodeEntry,
    add_node,
    new_chain,
    new_multi_host,
    parse_hosts,
)
from consortium.node.toml_io import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chain", help="generate a chain (CA, node folders, genesis, admin accounts)",
                       description="Generate the files of a new chain, or of one more node for an existing one.")
    csub = p.add_subparsers(dest="chain_command", metavar="ACTION", required=True)

    new = csub.add_parser("new", help="a local chain of N organizations (DIR/orgI, DIR/nodeI), or one package "
                                      "per host (--hosts)")
    size = new.add_mutually_exclusive_group(required=True)
    size.add_argument("--nodes", type=int, metavar="N", help="number of sealer nodes, one organization each, on --host")
    size.add_argument("--hosts", metavar="HOST:N,…",
                      help="FISCO BCOS's -l form, e.g. \"10.0.0.1:2,10.0.0.2:2\": one organization and one package "
                           "DIR/HOST per host (only its own keys), nodes listening on 0.0.0.0, advertised at HOST")
    new.add_argument("--dir", required=True, help="chain folder to create (may exist, but not hold a chain)")
    new.add_argument("--host", default="127.0.0.1", help="host the nodes listen on (default 127.0.0.1)")
    new.add_argument("--p2p-port", type=int, default=30300, help="node i listens for peers on this + i (default 30300)")
    new.add_argument("--rpc-port", type=int, default=20200, help="node i serves JSON-RPC on this + i (default 20200)")
    new.add_argument("--chain-id", default="chain0", help="chain id (default chain0)")
    new.add_argument("--group-id", default="group0", help="group id (default group0)")
    new.add_argument("--admins", type=int, default=1, metavar="K", help="administrator accounts to create (default 1)")
    new.add_argument("--tsa", action="append", default=[], metavar="NAME=CA.pem[@POLICY]",
                     help="trust this RFC 3161 time-stamping authority for anchoring (genesis [[tsa]]): its name, "
                          "the PEM certificate its tokens chain to, optionally the policy OID tokens must carry; "
                          "repeatable")
    new.add_argument("--ops-port", type=int, default=0, metavar="PORT",
                     help="node i serves /metrics, /healthz, /readyz on this + i (default: off; see docs/operations.md)")
    new.add_argument("--json", action="store_true", help="machine-readable output")
    new.set_defaults(func=_new)

    add = csub.add_parser("add-node", help="issue key, certificate and config of one more node (an observer)")
    add.add_argument("--dir", required=True, help="existing chain folder")
    add.add_argument("--host", default=None, help="host the new node listens on (default: node0's)")
    add.add_argument("--json", action="store_true", help="machine-readable output")
    add.set_defaults(func=_add)


def enable_ops(config: Path, host: str, port: int) -> None:
    """Add an ``[ops]`` table (metrics and health port) to a generated config.toml, keeping its text."""
    text = config.read_text(encoding="utf-8")
    if "\n[ops]" in text:
        raise CliError(f"{config} already has an [ops] table")
    config.write_text(text.rstrip("\n") + f'\n\n[ops]\nhost = "{host}"\nport = {port}\n', encoding="utf-8")


def _node_info(e: NodeEntry) -> dict[str, object]:
    return {"name": e.name, "dir": str(e.dir), "node_id": to_hex(e.node_id), "p2p": str(e.p2p),
            "rpc_port": e.rpc_port}


def _new_hosts(args: argparse.Namespace) -> int:
    try:
        layout = new_multi_host(args.dir, parse_hosts(args.hosts), p2p_port=args.p2p_port, rpc_port=args.rpc_port,
                                chain_id=args.chain_id, group_id=args.group_id)
    except (ChainFilesError, ConfigError, CertificateError, KeyFileError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the packages under {args.dir}: {exc.strerror} ({exc.filename})") from None
    if args.json:
        print(json.dumps({"dir": str(layout.root), "genesis_hash": to_hex(layout.genesis.hash()),
                          "nodes": [_node_info(e) for e in layout.nodes]}))
        return 0
    print(f"chain {layout.genesis.chain_id}/{layout.genesis.group_id}: one package per host in {layout.root}")
    print(f"genesis hash {to_hex(layout.genesis.hash())}")
    for e in layout.nodes:
        print(f"  {e.dir.parent.name}/{e.name:<7} reached at {str(e.p2p):<21} rpc {e.rpc_port:<5} id {to_hex(e.node_id)}")
    print("copy each DIR/HOST to its host and run scripts/start_all.sh DIR/HOST there")
    return 0


def _new(args: argparse.Namespace) -> int:
    if args.hosts:
        return _new_hosts(args)
    try:
        spec = ChainSpec(nodes=args.nodes, host=args.host, p2p_port=args.p2p_port, rpc_port=args.rpc_port,
                         chain_id=args.chain_id, group_id=args.group_id, admins=args.admins,
                         tsas=tuple(_tsa_arg(a) for a in args.tsa))
        if args.ops_port and not 1 <= args.ops_port <= 65535 - (args.nodes - 1):
            raise CliError(f"--ops-port {args.ops_port}: ports {args.ops_port}..{args.ops_port + args.nodes - 1} "
                           "must lie in 1-65535")
        taken = {*range(args.p2p_port, args.p2p_port + args.nodes), *range(args.rpc_port, args.rpc_port + args.nodes)}
        if args.ops_port and taken & {*range(args.ops_port, args.ops_port + args.nodes)}:
            raise CliError(f"--ops-port {args.ops_port}: the ops ports overlap the P2P or RPC ports")
        layout = new_chain(args.dir, spec)
        if args.ops_port:
            for e in layout.nodes:
                enable_ops(e.dir / "config.toml", args.host, args.ops_port + e.index)
    except (ChainFilesError, ConfigError, CertificateError, KeyFileError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the chain under {args.dir}: {exc.strerror} ({exc.filename})") from None
    info: dict[str, Any] = {
        "dir": str(layout.root), "chain_id": layout.genesis.chain_id, "group_id": layout.genesis.group_id,
        "genesis_hash": to_hex(layout.genesis.hash()), "nodes": [_node_info(e) for e in layout.nodes],
        "administrators": [{"address": to_hex(a), "key_file": str(f)}
                           for a, f in zip(layout.genesis.administrators, layout.admin_key_files, strict=True)],
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"chain {info['chain_id']}/{info['group_id']} created in {info['dir']}")
    print(f"genesis hash {info['genesis_hash']}")
    for e in layout.nodes:
        print(f"  {e.name:<7} p2p {str(e.p2p):<21} rpc {e.rpc_port:<5} id {to_hex(e.node_id)}")
    for admin in info["administrators"]:

        print(f"  admin   {admin['address']}  {admin['key_file']}")
    return 0


def _tsa_arg(text: str) -> TrustedTsa:
    name, sep, rest = text.partition("=")
    path, _, policy = rest.partition("@")
    if not sep or not name or not path:
        raise CliError(f"--tsa {text!r}: expected NAME=CA.pem or NAME=CA.pem@POLICY-OID")
    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
        return TrustedTsa(name, cert.public_bytes(serialization.Encoding.DER), policy)
    except OSError as exc:
        raise CliError(f"--tsa {name}: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CliError(f"--tsa {name}: {path} is not a usable PEM certificate: {exc}") from None


def _add(args: argparse.Namespace) -> int:
    try:
        entry = add_node(args.dir, host=args.host)
    except (ChainFilesError, ConfigError, CertificateError, KeyFileError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the node under {args.dir}: {exc.strerror} ({exc.filename})") from None
    if args.json:
        print(json.dumps(_node_info(entry)))
    else:
        print(f"{entry.name} created in {entry.dir} (observer until governance adds it as a sealer)")
        print(f"  p2p {entry.p2p}  rpc {entry.rpc_port}  id {to_hex(entry.node_id)}")
    return 0
