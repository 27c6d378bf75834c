"""``consortium gov``: committee governance — propose, vote, list, show."""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

from consortium.cli.common import add_key, add_rpc, client, emit, human, load_account, receipt_table
from consortium.cli.errors import CliError
from consortium.encoding.hexbytes import HexError, from_hex
from consortium.execution.governance import CONFIG_LIMITS, GOVERNANCE_ADDRESS, KINDS

# What each kind's params are, for parsing and for --help.
PARAMS: dict[str, tuple[str, ...]] = {
    "add_sealer": ("node_id",), "add_observer": ("node_id",), "remove_node": ("node_id",),
    "set_config": ("key", "int"), "revoke_node_cert": ("serial",),
    "grant_deploy": ("address",), "revoke_deploy": ("address",), "grant_send": ("address",), "revoke_send": ("address",),
    "register_arbitrator": ("address",), "unregister_arbitrator": ("address",),
    "add_member": ("address", "int"), "remove_member": ("address",), "set_threshold": ("int",),
    "add_org": ("org", "ca_cert_file"), "remove_org": ("org",),
    "add_tsa": ("name", "tsa_ca_file", "policy"), "remove_tsa": ("name",),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    # chains of organizations: the observer's organization; a revocation by one member's CA
    "add_observer": ("node_id", "org"), "revoke_node_cert": ("org", "serial"),
}
DEFAULT_LIFETIME = 1000


def register(sub: argparse._SubParsersAction) -> None:
    kinds = "\n".join(f"  {k:<22} {' '.join(v).upper()}" for k, v in PARAMS.items())
    p = sub.add_parser(
        "gov", help="committee governance: propose, vote, list, show",
        description="Committee governance. A proposal executes in the block where approving weight reaches "
                    "the threshold.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"proposal kinds and their params:\n{kinds}\n\nset_config keys: {', '.join(sorted(CONFIG_LIMITS))}",
    )
    gs = p.add_subparsers(dest="gov_command", metavar="ACTION", required=True)
    prop = gs.add_parser("propose", help="propose a change (counts as your yes vote)")
    prop.add_argument("kind", choices=KINDS, metavar="KIND", help="one of: " + ", ".join(KINDS))
    prop.add_argument("params", nargs="*",
                      help="the kind's params: node ids and addresses as 0x-hex; a SERIAL as openssl prints it "
                           "(serial=3F2A…, 3f:2a:…), 0x-hex, or decimal digits")
    prop.add_argument("--expires", type=int, help=f"last block it may pass in (default: head + {DEFAULT_LIFETIME})")
    vote = gs.add_parser("vote", help="vote on a proposal")
    vote.add_argument("id", type=int, help="proposal id")
    vote.add_argument("choice", choices=["yes", "no"])
    lst = gs.add_parser("list", help="list proposals")
    lst.add_argument("--start", type=int, default=1)
    show = gs.add_parser("show", help="show one proposal, or the governance state with 'state'")
    show.add_argument("id", help="proposal id, or 'state'")
    for sp in (prop, vote):
        add_key(sp)
    for sp in (prop, vote, lst, show):
        add_rpc(sp)
    prop.set_defaults(func=_propose)
    vote.set_defaults(func=_vote)
    lst.set_defaults(func=_list)
    show.set_defaults(func=_show)


def parse_params(kind: str, raw: list[str]) -> list[Any]:
    if kind not in PARAMS:
        raise CliError(f"{kind}: not supported by `gov propose` (see its own command)")
    spec = PARAMS[kind]
    if kind in OPTIONAL and len(raw) == len(OPTIONAL[kind]):
        spec = OPTIONAL[kind]
    if len(raw) != len(spec):
        forms = [PARAMS[kind], *([OPTIONAL[kind]] if kind in OPTIONAL else [])]
        raise CliError(f"{kind} takes: {' or '.join(' '.join(w.upper() for w in f) for f in forms)}")
    out: list[Any] = []
    for what, text in zip(spec, raw, strict=True):
        try:
            if what == "node_id":
                out.append(from_hex(text, size=32, what="node id"))
            elif what == "address":
                out.append(from_hex(text, size=20, what="address"))
            elif what in ("key", "org", "name", "policy"):  # policy: a TSA policy OID, or "" for any
                out.append(text)
            elif what == "tsa_ca_file":  # the CA certificate a TSA's tokens chain to, on chain as DER
                out.append(_pem_certificate(text))
            elif what == "ca_cert_file":
                out.append(_org_ca_der(text))
            elif what == "serial":  # on chain as big-endian bytes (serials reach 160 bits)
                n = parse_serial(text)
                out.append(n.to_bytes((n.bit_length() + 7) // 8, "big"))
            else:  # int, serial
                out.append(int(text, 0))
        except (HexError, ValueError) as exc:
            raise CliError(f"{kind}: bad {what} {text!r}: {exc}") from None
    return out


def _org_ca_der(path: str) -> bytes:
    """An organization's ca.crt, checked fully here (governance checks only its shape) and sent as DER."""
    from consortium.network.certs import CertificateError, cert_der, check_org_ca, load_cert

    try:
        cert = load_cert(path)
        check_org_ca(cert, path)
    except CertificateError as exc:
        raise ValueError(str(exc)) from None
    return cert_der(cert)


def _pem_certificate(path: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        with open(path, "rb") as f:
            return x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def parse_serial(text: str) -> int:
    """A certificate serial as people copy it: ``openssl x509 -serial`` (``serial=3F2A…``, hex), the
    colon form of ``openssl x509 -text`` (``3f:2a:…``), ``0x3f2a…``, or plain digits (decimal)."""
    t = text.strip()
    if t.lower().startswith("serial="):
        t, base = t[7:], 16
    elif ":" in t:
        t, base = t.replace(":", ""), 16
    elif t.lower().startswith("0x"):
        t, base = t[2:], 16
    elif t.isdigit():
        base = 10
    else:
        base = 16  # openssl's bare hex, e.g. 3F2A09…
    digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    if not t or any(c not in digits for c in t):
        raise ValueError("a serial is hex as openssl prints it (serial=3F2A…, 3f:2a:…, 0x3f2a…) or decimal digits")
    n = int(t, base)
    if not 0 < n < 2**160:
        raise ValueError("a certificate serial is a positive integer below 2**160")
    return n


def _send(args: argparse.Namespace, method: str, params: list[Any]) -> int:
    key = load_account(args)
    with client(args) as c:
        receipt = c.transact(key, GOVERNANCE_ADDRESS, method, params)
    emit(args, receipt, receipt_table(receipt))
    return 0 if receipt["status"] == 0 else 1


def _propose(args: argparse.Namespace) -> int:
    params = parse_params(args.kind, args.params)
    expires = args.expires
    if expires is None:
        with client(args) as c:
            expires = c.block_number() + DEFAULT_LIFETIME
    return _send(args, "propose", [args.kind, params, expires])


def _vote(args: argparse.Namespace) -> int:
    return _send(args, "vote", [args.id, args.choice == "yes"])


def _list(args: argparse.Namespace) -> int:
    with client(args) as c:
        proposals = c.call(GOVERNANCE_ADDRESS, "list_proposals", [args.start, 100])
    if args.json:
        emit(args, proposals)
        return 0
    if not proposals:
        print("no proposals")
    for p in proposals:
        print(f"#{p['id']:<4} {p['status']:<9} {p['kind']:<22} votes {len(p['votes'])}  expires {p['expires']}")
    return 0


STATE_ITEMS = ("committee", "threshold", "sealers", "observers", "revoked", "deployers", "senders", "config")
ORG_ITEMS = ("orgs", "node_orgs", "joins", "revoked_certs")
"""Present on chains of organizations only (a genesis that lists them)."""


def _show(args: argparse.Namespace) -> int:
    with client(args) as c:
        if args.id == "state":
            doc = {name: c.call(GOVERNANCE_ADDRESS, name) for name in STATE_ITEMS}
            for name in ORG_ITEMS:
                value = c.call(GOVERNANCE_ADDRESS, name)
                if value is not None:
                    doc[name] = value
            emit(args, doc, state_table(doc))
            return 0
        try:
            pid = int(args.id)
        except ValueError:
            raise CliError("give a proposal id or 'state'") from None
        doc = c.call(GOVERNANCE_ADDRESS, "get_proposal", [pid])
    emit(args, doc, [(k, v) for k, v in doc.items()])
    return 0


def state_table(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """``gov show state`` for people: the gv/ entries, and the organizations in words — each member with
    its CA certificate's fingerprint, each node with its organization and role, joins, revocations."""
    rows: list[tuple[str, Any]] = [(k, v) for k, v in doc.items() if k not in ORG_ITEMS]
    d = human({k: doc[k] for k in ORG_ITEMS if k in doc})
    sealers, observers = human(doc.get("sealers") or []), human(doc.get("observers") or [])

    def listed(label: str, lines: list[str]) -> None:
        rows.extend((label if i == 0 else "", line) for i, line in enumerate(lines))

    if "orgs" in d:
        listed("organizations", [f"{name} (CA certificate SHA-256 {hashlib.sha256(from_hex(der)).hexdigest()[:16]}…)"
                                 for name, der in d["orgs"]] or ["none"])
    if "node_orgs" in d:
        role = {**{n: "observer" for n in observers}, **{n: "sealer" for n in sealers}}
        listed("nodes", [f"{node} of {org} ({role.get(node, 'not on chain')})" for node, org in d["node_orgs"]]
               or ["none"])
    if "joins" in d:
        listed("joined", [f"{node} at block {block}" for node, block in d["joins"]] or ["none"])
    if "revoked_certs" in d:
        listed("revoked certificates", [f"{org}: serial 0x{serial[2:].upper()}" for org, serial in d["revoked_certs"]]
               or ["none"])
    return rows
