"""``consortium evidence``: notarize files, co-sign them, and prove it offline.

    evidence notarize FILE [--case ID] [--note TEXT] [--signer ADDRESS ...] [--out PROOF]
                           [--public] [--file-info]
    evidence proof KEY|PROOF|FILE --out PROOF [--block N]
    evidence proof COMMITMENT|FILE --gateway URL [--manifest M] --out PROOF   (an item of a gateway batch)
    evidence notarize-batch DIR|FILE... [--gateway URL]                       (cli/batch_cmd.py)
    evidence verify FILE (--proof PROOF | --rpc URL [--salt S]) --genesis GENESIS
    evidence sign KEY|PROOF|FILE
    evidence show KEY|PROOF|FILE
    evidence hash FILE

Private by default: notarize puts a salted commitment on chain, not the file's hash,
and no file name, size or media type unless --file-info; the salt is written to the
proof file first (cli/evidence_ref.py says how commands find it again).
    evidence register-arbitrator ADDRESS          (a committee member's key: proposes it to the committee)

Exit codes (cli/main.py): 0 success / VERIFIED; 1 a negative answer — NOT VERIFIED,
a transaction the contract refused, evidence never notarized; 2 usage or I/O error
(unreadable file, bad genesis file, unreachable node, a proof format newer than
this program). A proof file that is not JSON, truncated or edited is NOT VERIFIED
(exit 1): the verifier ran, and the proof does not prove the claim.

Register with ``evidence_cmd.register(sub)`` in cli/main.py.
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consortium.cli import batch_cmd
from consortium.cli.common import add_key, add_rpc, client, emit, load_account, rpc_url
from consortium.cli.errors import CliError
from consortium.cli.evidence_ref import add_evidence_ref, hash_of, json_opening, not_found_hint, resolve
from consortium.cli.evidence_report import print_not_verified, print_verified
from consortium.client import ClientError, RpcCallError, SyncClient
from consortium.crypto.suite import ADDRESS_SIZE
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence import (
    EvidenceNotFound,
    NotVerified,
    ProofBundle,
    ProofUnavailable,
    UnsupportedBundle,
    VerifiedEvidence,
    load_bundle,
    verify_bundle,
)
from consortium.evidence.anchor import TimePolicy, describe
from consortium.evidence.build import fetch_bundle
from consortium.evidence.bundle import MAX_BUNDLE_BYTES
from consortium.evidence.commitment import SALT_SIZE, Opening, opening_file_text
from consortium.evidence.errors import MALFORMED_PROOF, NOT_NOTARIZED
from consortium.evidence.verify import iso_time
from consortium.execution.genesis import EVIDENCE_NAME
from consortium.execution.governance import GOVERNANCE_NAME
from consortium.node.genesis import Genesis, load_genesis
from consortium.node.toml_io import ConfigError
from consortium.rpc.views import value_to_json

EXIT_VERIFIED = 0
PROPOSAL_LIFETIME = 1000
EXIT_NOT_VERIFIED = 1
MAX_FILE_NAME = 255


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evidence", help="notarize evidence files and verify their proofs offline",
                       description="Notarize evidence files on chain, co-sign them, and verify proofs offline.")
    es = p.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)

    n = es.add_parser("notarize", help="commit to a file on chain (privately by default) and write its proof bundle",
                      description="Hash FILE locally (it never leaves this machine), commit to the hash with a "
                                  "fresh random salt, send notarize to the 'evidence' contract, wait for the block, "
                                  "and write a proof bundle holding the salt. The chain sees only the commitment: "
                                  "nobody can confirm a guess of the file's content from it. Keep the proof file "
                                  "and give it to the arbitrator with the file.")
    n.add_argument("file", help="evidence file (hashed by streaming; any size)")
    n.add_argument("--case", dest="case_id", help="case id to note in the record's metadata")
    n.add_argument("--note", help="free-text note stored with the record (at most 1024 characters)")
    n.add_argument("--signer", action="append", default=[], metavar="ADDRESS",
                   help="address of a party who must co-sign (repeat for several)")
    n.add_argument("--out", help="proof bundle to write (default FILE.proof.json)")
    n.add_argument("--public", action="store_true",
                   help="put the file's bare SHA-256 on chain instead of a salted commitment: anyone holding "
                        "the file, or guessing it, can then find the record (for documents meant to be public)")
    n.add_argument("--file-info", action="store_true",
                   help="also put the file's name, size and media type on chain (off chain by default)")
    add_rpc(n)
    add_key(n)
    n.set_defaults(func=_notarize)

    pr = es.add_parser("proof", help="(re)build the proof bundle of notarized evidence, e.g. after co-signatures")
    add_evidence_ref(pr)
    pr.add_argument("--public", action="store_true", help="KEY is a public file hash (notarized with --public)")
    pr.add_argument("--out", required=True, help="proof bundle to write")
    pr.add_argument("--block", default="latest",
                    help="prove the record in this block's state (default latest: every co-signature so far)")
    add_rpc(pr)
    batch_cmd.add_proof_options(pr)
    pr.set_defaults(func=_proof)

    v = es.add_parser("verify", help="verify a file against its proof, trusting only the genesis file",
                      description="Recompute FILE's SHA-256 and check the proof: Merkle proofs, sealer set "
                                  "from genesis, commit seals of a quorum, signatures. Exit 0 VERIFIED, "
                                  "1 NOT VERIFIED, 2 usage or I/O error.")
    v.add_argument("file", help="the evidence file to check")
    source = v.add_mutually_exclusive_group(required=True)
    source.add_argument("--proof", help="proof bundle file (offline: no node needed)")
    source.add_argument("--rpc", type=rpc_url, metavar="HOST:PORT",
                        help="fetch the proof from this node instead (it is verified all the same)")
    v.add_argument("--salt", metavar="0xSALT", help="with --rpc: the salt FILE was notarized with (default: a public hash)")
    v.add_argument("--genesis", required=True, help="the chain's genesis.toml: the only thing trusted")
    v.add_argument("--max-anchor-lag", type=duration, metavar="DURATION",
                   help="your policy: NOT VERIFIED (anchor-too-late) unless a time-stamp token dates the block at "
                        "most DURATION after its own time, e.g. 90s, 10m, 2h, 1d (implies --require-anchor)")
    v.add_argument("--require-anchor", action="store_true",
                   help="your policy: NOT VERIFIED (no-anchor) if the proof has no time-stamp token")
    v.add_argument("--json", action="store_true", help="machine-readable JSON output")
    v.set_defaults(func=_verify)

    s = es.add_parser("sign", help="co-sign notarized evidence (you must be a listed signer)")
    add_evidence_ref(s)
    add_rpc(s)
    add_key(s)
    s.set_defaults(func=_sign)

    sh = es.add_parser("show", help="show the on-chain record of evidence")
    add_evidence_ref(sh)
    add_rpc(sh)
    sh.set_defaults(func=_show)

    hs = es.add_parser("hash", help="print a file's SHA-256 (what notarize records)")
    hs.add_argument("file")
    hs.add_argument("--json", action="store_true", help="machine-readable JSON output")
    hs.set_defaults(func=_hash)

    ra = es.add_parser("register-arbitrator", help="propose an arbitrator to the committee (committee members)",
                       description="Propose to the governance committee that ADDRESS be registered as an "
                                   "arbitrator (the same as 'gov propose register_arbitrator ADDRESS'). It takes "
                                   "effect when approving votes reach the committee threshold; no single key can "
                                   "register an arbitrator where the threshold needs more.")
    ra.add_argument("address", help="the arbitrator's account address (0x…)")
    ra.add_argument("--expires", type=int, help="last block the proposal may pass in (default: head + 1000)")
    add_rpc(ra)
    add_key(ra)
    ra.set_defaults(func=_register_arbitrator)

    batch_cmd.register(es)

    from consortium.cli import report_cmd  # the reports and the verifier page, for people without a terminal

    report_cmd.register(es)


# --- shared with case_cmd -----------------------------------------------------------------------


def parse_address(text: str, what: str = "address") -> bytes:
    try:
        return from_hex(text, size=ADDRESS_SIZE, what=what)
    except HexError as exc:
        raise CliError(f"{exc} (an account address is 0x + 40 hex digits; see 'consortium account show')") from None


NEGATIVE_RPC_CODES = frozenset({10011, 10012, 10013, 10014})
"""unknown_contract, call_failed, not_found, permission_denied: the chain's answer is no (exit 1).
Other RPC errors (bad signature, wrong chain, txpool full, ...) mean the setup or the moment is wrong (exit 2)."""


def rpc_refusal(exc: RpcCallError, what: str) -> CliError:
    return CliError(f"{what}: {exc.message}", EXIT_NOT_VERIFIED if exc.code in NEGATIVE_RPC_CODES else 2)


def transact(args: argparse.Namespace, c: SyncClient, method: str, call_args: list[Any],
             to: str = EVIDENCE_NAME) -> dict[str, Any]:
    """Send one transaction, wait for its receipt, and make a refusal a one-line exit-1 error."""
    key = load_account(args)
    try:
        receipt: dict[str, Any] = c.transact(key, to, method, call_args)
    except RpcCallError as exc:
        raise rpc_refusal(exc, method) from None
    if receipt.get("status") != 0:
        raise CliError(f"{method} failed: {receipt.get('statusName')}: {receipt.get('error') or 'no reason given'} "
                       f"(transaction {receipt.get('transactionHash')}, block {receipt.get('blockNumber')})",
                       EXIT_NOT_VERIFIED)
    return receipt


# --- notarize / proof ---------------------------------------------------------------------------


def _notarize(args: argparse.Namespace) -> int:
    path = Path(args.file)
    digest, size = hash_of(args.file)
    signers = [parse_address(s, "--signer") for s in args.signer]
    metadata: dict[str, Any] = {}
    if args.file_info:
        metadata.update({"file_name": path.name[:MAX_FILE_NAME], "size": size})
        media_type = mimetypes.guess_type(path.name)[0]
        if media_type:
            metadata["media_type"] = media_type
    if args.case_id:
        metadata["case_id"] = args.case_id
    if args.note:
        metadata["note"] = args.note
    opening = Opening.public(digest) if args.public else Opening.salted(digest)
    out = Path(args.out) if args.out else path.with_name(path.name + ".proof.json")
    if out.exists():
        raise CliError(f"{out} already exists (it may hold the salt of an earlier notarization, which cannot be "
                       "recovered if lost): give another --out, or move it away first")
    if not opening.is_public:
        # The salt is on disk before the transaction leaves: a crash later cannot lose it.
        write_atomically(out, opening_file_text(opening), "the salt")
    with client(args) as c:
        try:
            receipt = transact(args, c, "notarize", [opening.key, metadata, signers])
        except CliError as exc:
            if exc.exit_code == EXIT_NOT_VERIFIED:  # the chain said no: nothing was notarized with this salt
                out.unlink(missing_ok=True)
            if "already notarized" in str(exc):
                raise CliError(f"{exc}; get its proof with 'consortium evidence proof {args.file} --from "
                               f"EARLIER.proof.json --out FILE'", exc.exit_code) from None
            raise
        try:
            bundle = _fetch(c, opening, receipt["blockNumber"])
        except CliError as exc:
            raise CliError(f"notarized in block {receipt['blockNumber']}, but {exc}; the salt is saved in {out}: "
                           f"'consortium evidence proof {args.file} --from {out} --out {out}' retries") from None
    write_atomically(out, bundle.dumps(), "the proof")
    doc = {"hash": to_hex(digest), "key": to_hex(opening.key), "mode": opening.mode, "size": size,
           "transaction": receipt["transactionHash"], "block": receipt["blockNumber"],
           "status": value_to_json(receipt["output"]), "signers": [to_hex(s) for s in signers],
           "onChainMetadata": value_to_json(metadata), "proof": str(out)}
    on_chain = ("the file's SHA-256 (public-hash mode: anyone with the file can find it)" if opening.is_public
                else "a salted commitment (the file's hash is not on chain)")
    emit(args, doc, [("file", str(path)), ("sha-256", doc["hash"]), ("on chain", on_chain),
                     ("key", f"{doc['key']}  (co-signers and cases use this)"),
                     ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(metadata.items())) or "none on chain"),
                     ("transaction", doc["transaction"]), ("block", doc["block"]), ("status", doc["status"]),
                     ("co-signers", ", ".join(doc["signers"]) or "none"),
                     ("proof", f"{out}  (keep it: it holds the salt the arbitrator needs)" if not opening.is_public
                      else str(out))])
    return 0


def _proof(args: argparse.Namespace) -> int:
    if args.gateway:
        return batch_cmd.item_proof(args)
    ref = resolve(args, need_opening=True)
    assert ref.opening is not None
    block: int | str = args.block
    if block != "latest":
        try:
            block = int(block)
        except ValueError:
            raise CliError(f"--block must be a block number or 'latest', got {args.block!r}") from None
    with client(args) as c:
        try:
            bundle = _fetch(c, ref.opening, block)
        except CliError as exc:
            raise CliError(f"{exc}{not_found_hint(ref)}", exc.exit_code) from None
    out = Path(args.out)
    write_atomically(out, bundle.dumps(), "the proof")
    headers = bundle.headers
    doc = {"hash": to_hex(ref.opening.file_hash), **json_opening(ref),
           "notarizationBlock": headers[bundle.notarization.header].number,
           "stateBlock": headers[bundle.record.header].number, "cosignatures": len(bundle.cosignatures),
           "proof": str(out)}
    emit(args, doc, [("sha-256", doc["hash"]), ("key", f"{doc['key']}  ({ref.source})"),
                     ("notarized in", f"block {doc['notarizationBlock']}"),
                     ("record as of", f"block {doc['stateBlock']}"), ("co-signatures", doc["cosignatures"]),
                     ("proof", doc["proof"])])
    return 0


def _fetch(c: SyncClient, opening: Opening, block: int | str) -> ProofBundle:
    try:
        return fetch_bundle(c.request, opening, block=block)
    except EvidenceNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_VERIFIED) from None
    except ProofUnavailable as exc:
        raise CliError(f"the node could not provide a proof: {exc}") from None


def write_atomically(out: Path, text: str, what: str) -> None:
    """Write atomically: a crash never leaves a half-written proof where a whole one is expected."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CliError(f"cannot write {what} to {out}: {exc.strerror}") from None


# --- verify -------------------------------------------------------------------------------------


def read_genesis(path: str) -> Genesis:
    try:
        return load_genesis(path)
    except ConfigError as exc:
        raise CliError(f"bad genesis file: {exc}") from None
    except OSError as exc:
        raise CliError(f"cannot read the genesis file {path}: {exc.strerror}") from None


def _verify(args: argparse.Namespace) -> int:
    genesis = read_genesis(args.genesis)
    try:
        os.stat(args.file)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        if args.proof is not None:  # parse the proof before hashing: a broken proof costs no pass over the file
            raw = _read_proof(args.proof)
            if batch_cmd.is_item_proof(raw):  # an item notarized in a gateway batch (cli/batch_cmd.py)
                return batch_cmd.verify_item(args, genesis, raw)
            bundle = load_bundle(raw)
            digest, _ = hash_of(args.file)
        else:
            digest, _ = hash_of(args.file)
            salt = _salt(args)
            bundle = _fetch_live(args.rpc, Opening(digest, salt))
        result = verify_bundle(genesis, bundle, digest)
        policy = apply_policy(args, result)
    except UnsupportedBundle as exc:
        raise CliError(str(exc)) from None
    except NotVerified as exc:
        return _not_verified(args, exc.code, exc.message)
    _print_verified(args, result, policy)
    return EXIT_VERIFIED


def duration(text: str) -> timedelta:
    """``--max-anchor-lag``: seconds, or a number with s, m, h or d."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    if not number.isdigit() or int(number) > 10**7:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 10m, 2h or 1d, got {text!r}")
    return timedelta(seconds=int(number) * units[unit])


def apply_policy(args: argparse.Namespace, result: VerifiedEvidence) -> dict[str, Any]:
    """The reader's time policy (raises NotVerified); what to add to the output when one was given."""
    policy = TimePolicy(getattr(args, "max_anchor_lag", None), getattr(args, "require_anchor", False))
    lag = policy.check(result.anchor, result.block_number, result.timestamp_ms)
    if not policy.active:
        return {}
    return {"policy": {"requireAnchor": True, "maxAnchorLagS": None if policy.max_lag is None
                       else int(policy.max_lag.total_seconds()),
                       "anchorLagMs": None if lag is None else lag // timedelta(milliseconds=1)}}


def _read_proof(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_BUNDLE_BYTES + 1)  # load_bundle refuses the extra byte: never read an unbounded file
    except IsADirectoryError:
        raise CliError(f"{path} is a directory; give a proof bundle file") from None
    except OSError as exc:
        raise CliError(f"cannot read the proof {path}: {exc.strerror}") from None


def _salt(args: argparse.Namespace) -> bytes | None:
    if args.salt is None:
        return None
    try:
        return from_hex(args.salt, size=SALT_SIZE, what="--salt")
    except HexError as exc:
        raise CliError(str(exc)) from None


def _fetch_live(url: str, opening: Opening) -> ProofBundle:
    c = SyncClient(url)
    try:
        return fetch_bundle(c.request, opening)
    except EvidenceNotFound as exc:
        raise NotVerified(NOT_NOTARIZED, str(exc)) from None
    except ProofUnavailable as exc:
        raise NotVerified(MALFORMED_PROOF, f"the node's answers do not form a proof: {exc}") from None
    except ClientError as exc:
        raise CliError(str(exc)) from None
    finally:
        c.close()


def _not_verified(args: argparse.Namespace, code: str, reason: str) -> int:
    if args.json:
        emit(args, {"verified": False, "code": code, "reason": reason})
    else:
        print_not_verified(code, reason)
    return EXIT_NOT_VERIFIED


def verified_json(result: VerifiedEvidence) -> dict[str, Any]:
    return {
        "verified": True,
        "hash": None if result.evidence_hash is None else to_hex(result.evidence_hash),
        "key": to_hex(result.key),
        "mode": result.mode,
        "block": result.block_number,
        "blockHash": to_hex(result.block_hash),
        "time": result.time_iso,
        "timestampMs": result.timestamp_ms,
        "submitter": to_hex(result.submitter),
        "transaction": to_hex(result.transaction),
        "metadata": value_to_json(result.metadata),
        "cosigners": [{"address": to_hex(c.signer), "block": c.block, "time": iso_time(c.timestamp),
                       "transaction": to_hex(c.tx)} for c in result.cosignatures],
        "signers": [to_hex(a) for a in result.signers],
        "pending": [to_hex(a) for a in result.pending],
        "status": result.status,
        "recordBlock": result.state_block,
        "chainId": result.chain_id,
        "groupId": result.group_id,
        "genesisHash": to_hex(result.genesis_hash),
        "sealers": result.sealers,
        "quorum": result.quorum,
        "sealedBy": [to_hex(s) for s in result.sealed_by],
        **certifiers_json(tuple(zip(result.sealed_by, result.sealed_orgs, strict=True)), result.organized),
        "timeAnchor": _anchor_json(result),
    }


def certifiers_json(certified: tuple[tuple[bytes, str | None], ...], organized: bool) -> dict[str, Any]:
    """``certifiedBy``: each sealing node with its organization as proven (null: not proven, or a chain whose
    genesis names no organizations); ``organizations``: the distinct proven ones, in seal order."""
    orgs = list(dict.fromkeys(o for _, o in certified if o is not None))
    return {"certifiedBy": [{"node": to_hex(n), "organization": o} for n, o in certified],
            "organizations": orgs if organized else None}


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds" if not t.microsecond else "milliseconds").replace("+00:00", "Z")


def _anchor_json(result: VerifiedEvidence) -> dict[str, Any] | None:
    a = result.anchor
    if a is None:
        return None
    return {"existedNoLaterThan": _utc(a.latest), "tsa": a.tsa, "tsaTime": _utc(a.gen_time),
            "accuracyMs": a.accuracy // timedelta(milliseconds=1), "policy": a.policy, "serial": a.serial,
            "checkpoint": [a.first, a.last], "trustedBy": a.trust}


def _print_verified(args: argparse.Namespace, result: VerifiedEvidence, policy: dict[str, Any] | None = None) -> None:
    doc = {**verified_json(result), **(policy or {})}
    if args.json:
        emit(args, doc)
        return
    print_verified(Path(args.file).name, doc)
    if policy:
        p = policy["policy"]
        lag = timedelta(milliseconds=p["anchorLagMs"])
        allowed = "" if p["maxAnchorLagS"] is None else \
            f", within the {describe(timedelta(seconds=p['maxAnchorLagS']))} your policy allows"
        print(f"  Policy met: the time-stamp is {describe(lag)} after the block time{allowed}.")


# --- sign / show / hash / arbitrators -------------------------------------------------------------


def _sign(args: argparse.Namespace) -> int:
    ref = resolve(args)
    with client(args) as c:
        try:
            receipt = transact(args, c, "sign", [ref.key])
        except CliError as exc:
            raise CliError(f"{exc}{not_found_hint(ref) if 'not notarized' in str(exc) else ''}", exc.exit_code) from None
    emit(args, receipt, [("evidence", f"{to_hex(ref.key)}  ({ref.source})"),
                         ("status", value_to_json(receipt["output"])),
                         ("transaction", receipt["transactionHash"]), ("block", receipt["blockNumber"])])
    return 0


def record_rows(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """Readable rows of an evidence record as RPC ``call`` returns it (bytes as {"$bytes": …})."""
    def b(v: Any) -> Any:
        return v.get("$bytes") if isinstance(v, dict) else v

    signed = {b(s["signer"]): s for s in record.get("signatures", [])}
    rows: list[tuple[str, Any]] = [
        ("key", b(record["hash"])),
        ("status", record["status"]),
        ("submitter", b(record["submitter"])),
        ("block", record["block"]),
        ("time", iso_time(record["timestamp"])),
        ("transaction", b(record["tx"])),
    ]
    for field, value in sorted(record.get("metadata", {}).items()):
        rows.append((field.replace("_", " "), value))
    for i, signer in enumerate(record.get("signers", [])):
        s = signed.get(b(signer))
        state = f"signed in block {s['block']}, {iso_time(s['timestamp'])}" if s else "pending"
        rows.append(("co-signers" if i == 0 else "", f"{b(signer)}  {state}"))
    return rows


def _show(args: argparse.Namespace) -> int:
    ref = resolve(args)
    with client(args) as c:
        record = c.call(EVIDENCE_NAME, "get", [ref.key])
    if record is None:
        raise CliError(f"evidence {to_hex(ref.key)} ({ref.source}) is not notarized on this chain"
                       f"{not_found_hint(ref)}", EXIT_NOT_VERIFIED)
    emit(args, record, record_rows(record))
    return 0


def _hash(args: argparse.Namespace) -> int:
    digest, size = hash_of(args.file)
    emit(args, {"file": args.file, "sha256": to_hex(digest), "size": size},
         [("file", args.file), ("sha-256", to_hex(digest)), ("size", f"{size} bytes")])
    return 0


def _register_arbitrator(args: argparse.Namespace) -> int:
    """A committee proposal, never a direct write: the registry decides who may rule (issue 9)."""
    address = parse_address(args.address, "arbitrator address")
    with client(args) as c:
        expires = args.expires if args.expires is not None else c.block_number() + PROPOSAL_LIFETIME
        receipt = transact(args, c, "propose", ["register_arbitrator", [address], expires], to=GOVERNANCE_NAME)
        pid = receipt["output"]
        proposal = c.call(GOVERNANCE_NAME, "get_proposal", [pid])
        threshold = c.call(GOVERNANCE_NAME, "threshold")
        weights = {m[0]["$bytes"] if isinstance(m[0], dict) else m[0]: m[1]
                   for m in c.call(GOVERNANCE_NAME, "committee")}
    approving = sum(weights.get(v[0]["$bytes"] if isinstance(v[0], dict) else v[0], 0)
                    for v in proposal["votes"] if v[1])
    registered = proposal["status"] == "executed"
    doc = {"arbitrator": to_hex(address), "proposal": pid, "status": proposal["status"], "registered": registered,
           "approvingWeight": approving, "threshold": threshold, "expires": proposal["expires"],
           "transaction": receipt["transactionHash"], "block": receipt["blockNumber"]}
    if registered:
        outcome = f"registered: the committee's threshold ({threshold}) is met"
    else:
        outcome = (f"proposed, not yet registered: approving weight {approving} of the {threshold} needed; other "
                   f"committee members approve with 'consortium gov vote {pid} yes' before block {proposal['expires']}")
    emit(args, doc, [("arbitrator", doc["arbitrator"]), ("proposal", f"#{pid} register_arbitrator"),
                     ("status", outcome), ("transaction", doc["transaction"]), ("block", doc["block"])])
    return 0
