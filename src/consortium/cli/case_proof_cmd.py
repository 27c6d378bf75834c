"""``consortium case proof`` and ``case verify``: the whole case, provable offline.

    case proof CASE_ID --out CASE.proof.json [--evidence-proof PROOF ...]
    case verify CASE.proof.json --genesis GENESIS [--evidence FILE ...] [--json]

``proof`` asks a node (a courier, not a witness) for everything the case rests on;
evidence whose proof file (salt) is given is opened in the case proof, the rest is
proven as records. ``verify`` trusts only the genesis file; exit 0 VERIFIED, 1 NOT
VERIFIED, 2 usage or I/O error (as ``evidence verify``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consortium.cli.common import add_rpc, client, emit
from consortium.cli.errors import CliError
from consortium.cli.evidence_cmd import (
    EXIT_NOT_VERIFIED,
    EXIT_VERIFIED,
    certifiers_json,
    read_genesis,
    verified_json,
    write_atomically,
)
from consortium.cli.evidence_ref import hash_of, read_opening
from consortium.cli.evidence_report import certifiers_phrase, print_not_verified
from consortium.encoding.hexbytes import to_hex
from consortium.evidence import NotVerified, UnsupportedBundle
from consortium.evidence.bundle import MAX_BUNDLE_BYTES
from consortium.evidence.case_build import fetch_case_bundle
from consortium.evidence.case_bundle import load_case_bundle
from consortium.evidence.case_verify import VerifiedCase, verify_case
from consortium.evidence.commitment import Opening
from consortium.evidence.errors import EvidenceNotFound, ProofUnavailable
from consortium.evidence.verify import iso_time


def register(cs: argparse._SubParsersAction) -> None:
    p = cs.add_parser("proof", help="write the case's offline proof (opening, parties, evidence, registration, ruling)",
                      description="Collect from a node everything the case rests on, certified by the sealers: "
                                  "the opening, every attachment with its evidence proof, the arbitrator's "
                                  "registration by the committee, and the ruling.")
    p.add_argument("case_id", metavar="CASE_ID")
    p.add_argument("--out", required=True, help="case proof file to write (CASE.proof.json)")
    p.add_argument("--evidence-proof", action="append", default=[], metavar="PROOF",
                   help="an attached evidence's proof file (holds its salt): that evidence is opened in the case "
                        "proof, so the arbitrator can check the file itself (repeat)")
    add_rpc(p)
    p.set_defaults(func=_proof)

    v = cs.add_parser("verify", help="verify a case proof offline, trusting only the genesis file",
                      description="Check a case proof from the genesis file alone. Exit 0 VERIFIED, 1 NOT "
                                  "VERIFIED, 2 usage or I/O error.")
    v.add_argument("proof", metavar="CASE.proof.json")
    v.add_argument("--genesis", required=True, help="the chain's genesis.toml: the only thing trusted")
    v.add_argument("--evidence", action="append", default=[], metavar="FILE",
                   help="an evidence file you hold: it must be one of the case's opened attachments (repeat)")
    v.add_argument("--json", action="store_true", help="machine-readable JSON output")
    v.set_defaults(func=_verify)


def _proof(args: argparse.Namespace) -> int:
    openings = []
    for path in args.evidence_proof:
        opening = read_opening(path)
        if not isinstance(opening, Opening):
            raise CliError(f"{path} is not an evidence proof or opening file with a salt")
        openings.append(opening)
    with client(args) as c:
        try:
            bundle = fetch_case_bundle(c.request, args.case_id, openings)
        except EvidenceNotFound as exc:
            raise CliError(str(exc), EXIT_NOT_VERIFIED) from None
        except ProofUnavailable as exc:
            raise CliError(f"the node could not provide a case proof: {exc}") from None
    out = Path(args.out)
    write_atomically(out, bundle.dumps(), "the case proof")
    given = {o.key for o in openings}
    doc = {"case": args.case_id, "proof": str(out), "attachments": len(bundle.attachments),
           "opened": sum(1 for e in bundle.evidence if e.key in given), "ruled": bundle.ruling is not None}
    emit(args, doc, [("case", args.case_id), ("attachments", f"{doc['attachments']} ({doc['opened']} opened with "
                                                              "their salt)"),
                     ("ruling", "recorded" if doc["ruled"] else "none yet"), ("proof", str(out))])
    return 0


def _verify(args: argparse.Namespace) -> int:
    genesis = read_genesis(args.genesis)
    try:
        with open(args.proof, "rb") as f:
            data = f.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read the case proof {args.proof}: {exc.strerror}") from None
    files = [(Path(p).name, hash_of(p)[0]) for p in args.evidence]
    try:
        result = verify_case(genesis, load_case_bundle(data), files)
    except UnsupportedBundle as exc:
        raise CliError(str(exc)) from None
    except NotVerified as exc:
        if args.json:
            emit(args, {"verified": False, "code": exc.code, "reason": exc.message})
        else:
            print_not_verified(exc.code, exc.message)
        return EXIT_NOT_VERIFIED
    doc = case_json(result)
    if args.json:
        emit(args, doc)
    else:
        print_case(result)
    return EXIT_VERIFIED


def case_json(r: VerifiedCase) -> dict[str, Any]:
    reg = r.registration
    return {
        "verified": True, "case": r.case_id, "status": r.status,
        "parties": [to_hex(p) for p in r.parties], "arbitrator": to_hex(r.arbitrator),
        "opened": {"by": to_hex(r.opened_by), "block": r.opened_block, "time": iso_time(r.opened_timestamp),
                   "transaction": to_hex(r.opened_transaction), **certifiers_json(r.opening_certified, r.organized)},
        "registration": {"proposal": reg.proposal, "executedAt": reg.executed_at, "threshold": reg.threshold,
                         "committeeFrom": reg.committee_from,
                         "approvals": [{"member": to_hex(a), "weight": w} for a, w in reg.approvals],
                         "registeredAt": list(reg.registered_at)},
        "attachments": [{"index": a.index, "key": to_hex(a.key), "by": to_hex(a.by), "block": a.block,
                         "time": iso_time(a.timestamp), "transaction": to_hex(a.transaction), "file": a.file,
                         "evidence": verified_json(a.evidence)} for a in r.attachments],
        "ruling": None if r.ruling is None else {
            "hash": to_hex(r.ruling.hash), "summary": r.ruling.summary, "block": r.ruling.block,
            "time": iso_time(r.ruling.timestamp), "transaction": to_hex(r.ruling.transaction),
            **certifiers_json(r.ruling_certified, r.organized)},
        "recordBlock": r.state_block, "chainId": r.chain_id, "groupId": r.group_id,
        "genesisHash": to_hex(r.genesis_hash), "sealers": r.sealers, "quorum": r.quorum,
    }


def print_case(r: VerifiedCase) -> None:
    """A short case summary in plain language: what was proven, from whose signatures."""
    reg = r.registration
    who = "a party" if r.opened_by in r.parties else "the arbitrator"
    print(f"VERIFIED  case {r.case_id}: {'closed with a ruling' if r.ruling else 'open, no ruling yet'}")
    opened = certifiers_json(r.opening_certified, r.organized)
    print(f"  Opened in block {r.opened_block} ({iso_time(r.opened_timestamp)}) by {to_hex(r.opened_by)} ({who}); "
          f"the block is sealed by {len(r.opening_certified)} of its {r.sealers} sealers{certifiers_phrase(opened)}.")
    print(f"  Parties:    {', '.join(to_hex(p) for p in r.parties)}")
    approvers = ", ".join(f"{to_hex(a)} (weight {w})" for a, w in reg.approvals)
    print(f"  Arbitrator: {to_hex(r.arbitrator)}, registered by the committee: proposal #{reg.proposal}, executed in "
          f"block {reg.executed_at}, signed by {approvers}; threshold {reg.threshold} (committee as of "
          f"{reg.committee_from}); in the registry after blocks {', '.join(map(str, reg.registered_at))}.")
    if not r.attachments:
        print("  Evidence:   none attached.")
    for a in r.attachments:
        e = a.evidence
        what = (f"file {a.file} (matches)" if a.file else "the file is not given" if e.evidence_hash is not None
                else "a record only (its salt is not in this proof)")
        cos = ", ".join(f"{to_hex(c.signer)} (block {c.block})" for c in e.cosignatures) or "nobody"
        sealed = certifiers_json(tuple(zip(e.sealed_by, e.sealed_orgs, strict=True)), e.organized)
        print(f"  Evidence {a.index + 1}: {to_hex(a.key)}: {what}; attached by {to_hex(a.by)} in block {a.block}; "
              f"notarized in block {e.block_number} ({e.time_iso}) by {to_hex(e.submitter)} "
              f"[{e.mode}], sealed by {len(e.sealed_by)} sealers{certifiers_phrase(sealed)}; co-signed by {cos}; "
              f"status {e.status}.")
    if r.ruling is not None:
        ruled = certifiers_json(r.ruling_certified, r.organized)
        print(f"  Ruling:     \"{r.ruling.summary}\" (document SHA-256 {to_hex(r.ruling.hash)}), signed by the "
              f"arbitrator in block {r.ruling.block} ({iso_time(r.ruling.timestamp)}), sealed by "
              f"{len(r.ruling_certified)} sealers{certifiers_phrase(ruled)}.")
    print(f"  Sealed by at least {r.quorum} of {r.sealers} sealers in every block relied on; chain "
          f"{r.chain_id}/{r.group_id}, genesis {to_hex(r.genesis_hash)}.")
    sys.stdout.flush()
