"""Evidence through a gateway, from the command line (registered under ``consortium evidence``).

    evidence notarize-batch DIR|FILE... [--gateway URL] [--public] [--jobs N] [--manifest M] [--wait S] [--proofs DIR]
    evidence proof HASH|FILE --gateway URL [--manifest M] --out PROOF [--wait S]
    evidence verify FILE --proof ITEM_PROOF --genesis GENESIS       (item proofs are recognized by their type)

Files are hashed here, in parallel threads (hashlib releases the GIL on 1 MiB chunks)
with a tqdm progress bar; only commitments leave the machine. By default each file gets
a fresh salt (evidence/commitment.py), so the gateway and its proofs never hold a bare
file hash; the salts go into the manifest (written 0600), which ``evidence proof``
reads to put the opening into the proof it writes. ``--public`` submits bare SHA-256s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from consortium.cli.common import emit
from consortium.cli.errors import CliError
from consortium.cli.gateway_cmd import add_gateway
from consortium.client.gateway import GatewayError, GatewayRefused, SyncGatewayClient
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence import NotVerified, UnsupportedBundle
from consortium.evidence.commitment import InvalidOpening, Opening
from consortium.evidence.filehash import hash_file
from consortium.evidence.item import MAX_TEXT_VALUE, EvidenceItem, InvalidItem
from consortium.evidence.item_bundle import (
    ITEM_BUNDLE_TYPE,
    ItemBundle,
    VerifiedItem,
    parse_item_bundle,
    verify_item_bundle,
)
from consortium.evidence.verify import VerifiedEvidence
from consortium.node.genesis import Genesis

MANIFEST_TYPE = "consortium-batch-manifest"
CHUNK_ITEMS = 2000
EXIT_NOT_VERIFIED = 1


def register(es: argparse._SubParsersAction) -> None:
    """Add ``notarize-batch`` to the ``evidence`` subcommands."""
    nb = es.add_parser("notarize-batch", help="hash many files and notarize them through a gateway",
                       description="Hash files (in parallel, with a progress bar), submit their commitments to an "
                                   "evidence gateway, and write a manifest with each file's commitment and salt. "
                                   "With --wait, also write each file's proof once its batch is committed.")
    nb.add_argument("paths", nargs="+", metavar="DIR|FILE", help="files, or folders to walk (recursively)")
    add_gateway(nb)
    nb.add_argument("--public", action="store_true",
                    help="submit bare SHA-256s instead of salted commitments (for documents meant to be public)")
    nb.add_argument("--case", dest="case_id", help="case id to put in every item's metadata")
    nb.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="hashing threads (default: CPU count)")
    nb.add_argument("--manifest", help="manifest to write (default ./notarized-<UTC time>.manifest.json)")
    nb.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="wait up to this long for every proof, then write them (default: do not wait)")
    nb.add_argument("--proofs", metavar="DIR", help="with --wait: write proofs here (default: FILE.proof.json "
                                                    "beside each file)")
    nb.add_argument("--json", action="store_true", help="machine-readable JSON output")
    nb.set_defaults(func=_notarize_batch)


def add_proof_options(pr: argparse.ArgumentParser) -> None:
    """Options of ``evidence proof`` that fetch an item's proof from a gateway instead of a node."""
    pr.add_argument("--gateway", help="fetch the item proof from this evidence gateway (items notarized in batches)")
    pr.add_argument("--manifest", help="with --gateway: the notarize-batch manifest holding the file's salt")
    pr.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="with --gateway: wait up to this long for the item's batch to be committed")


# --- notarize-batch -------------------------------------------------------------------------------


@dataclasses.dataclass
class _File:
    path: Path
    size: int
    opening: Opening | None = None
    seq: int | None = None
    note: str = ""


def _collect(paths: list[str], skip: set[Path]) -> list[_File]:
    files: dict[Path, _File] = {}
    for text in paths:
        p = Path(text)
        if p.is_dir():
            candidates = sorted(q for q in p.rglob("*") if q.is_file())
        elif p.is_file():
            candidates = [p]
        else:
            raise CliError(f"{text}: no such file or folder")
        for q in candidates:
            resolved = q.resolve()
            if resolved in skip or q.name.endswith((".proof.json", ".manifest.json")) or resolved in files:
                continue
            files[resolved] = _File(q, q.stat().st_size)
    if not files:
        raise CliError("no files to notarize under " + ", ".join(paths))
    return list(files.values())


def _hash_all(files: list[_File], jobs: int, public: bool, quiet: bool) -> None:
    total = sum(f.size for f in files)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"hashing {len(files)} files",
              disable=quiet or not sys.stderr.isatty(), file=sys.stderr, mininterval=0.2) as bar:
        def one(f: _File) -> None:
            try:
                digest, size = hash_file(f.path)
            except OSError as exc:
                raise CliError(f"cannot read {f.path}: {exc.strerror}") from None
            f.size = size
            f.opening = Opening.public(digest) if public else Opening.salted(digest)
            bar.update(size)

        with ThreadPoolExecutor(max(1, jobs)) as pool:
            list(pool.map(one, files))


def _item(f: _File, case_id: str | None) -> EvidenceItem:
    assert f.opening is not None
    meta: dict[str, Any] = {"file_name": f.path.name[:MAX_TEXT_VALUE], "size": f.size}
    if case_id:
        meta["case_id"] = case_id
    try:
        return EvidenceItem.create(f.opening.key, meta)
    except InvalidItem as exc:
        raise CliError(f"{f.path}: {exc}") from None


def _submit(client: SyncGatewayClient, files: list[_File], case_id: str | None) -> int:
    """Submit in requests of CHUNK_ITEMS; returns how many were already at the gateway (public mode repeats)."""
    already = 0
    for start in range(0, len(files), CHUNK_ITEMS):
        chunk = files[start:start + CHUNK_ITEMS]
        while chunk:
            try:
                accepted = client.submit([_item(f, case_id) for f in chunk])
            except GatewayRefused as exc:
                if exc.status != 409 or not exc.duplicates:
                    raise CliError(f"the gateway refused the items: {exc.message}") from None
                known = {d["item"]: d.get("seq") for d in exc.duplicates}
                for i, seq in known.items():
                    chunk[i].seq = seq
                    chunk[i].note = "already submitted" if seq is not None else "same file twice"
                already += len(known)
                chunk = [f for i, f in enumerate(chunk) if i not in known]
                continue
            except GatewayError as exc:
                raise CliError(str(exc)) from None
            for i, f in enumerate(chunk):
                f.seq = accepted.first + i
            break
    return already


def _manifest_doc(gateway: str, files: list[_File]) -> dict[str, Any]:
    items = []
    for f in files:
        assert f.opening is not None
        items.append({"file": str(f.path), "size": f.size, **f.opening.to_json(), "commitment": to_hex(f.opening.key),
                      "seq": f.seq})
    return {"type": MANIFEST_TYPE, "version": 1, "gateway": gateway, "items": items}


def _write_private(path: Path, text: str) -> None:
    """Atomically, owner-only (mkstemp's 0600): the salts are what keeps low-entropy evidence private."""
    from consortium.cli.evidence_cmd import write_atomically

    write_atomically(path, text, path.name)


def _notarize_batch(args: argparse.Namespace) -> int:
    manifest = Path(args.manifest) if args.manifest else Path(f"notarized-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
                                                              ".manifest.json")
    files = _collect(args.paths, {manifest.resolve()})
    t0 = time.monotonic()
    _hash_all(files, args.jobs, args.public, args.json)
    hashed = time.monotonic() - t0
    with SyncGatewayClient(args.gateway) as client:
        already = _submit(client, files, args.case_id)
        _write_private(manifest, json.dumps(_manifest_doc(args.gateway, files), indent=1) + "\n")
        written = _wait_and_write(client, files, args) if args.wait > 0 else 0
    total = sum(f.size for f in files)
    doc = {"files": len(files), "bytes": total, "hashSeconds": round(hashed, 3), "submitted": len(files) - already,
           "alreadySubmitted": already, "mode": "public" if args.public else "salted", "manifest": str(manifest),
           "proofsWritten": written}
    emit(args, doc, [("files", f"{len(files)} ({total:,} bytes, hashed in {hashed:.2f} s)"),
                     ("submitted", f"{len(files) - already} to {args.gateway}"
                                   + (f" ({already} already there)" if already else "")),
                     ("commitments", "bare SHA-256 (public)" if args.public else "salted (the salts are in the "
                                                                                "manifest; keep it private)"),
                     ("manifest", str(manifest)),
                     ("proofs", f"{written} written" if args.wait > 0 else
                      f"later: consortium evidence proof FILE --gateway {args.gateway} --manifest {manifest} --out P")])
    return 0


def _wait_and_write(client: SyncGatewayClient, files: list[_File], args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.wait
    written = 0
    with tqdm(total=len(files), desc="proofs", unit="item", disable=args.json or not sys.stderr.isatty(),
              file=sys.stderr) as bar:
        for f in files:
            assert f.opening is not None
            try:
                doc = client.proof_json(f.opening.key, wait=max(0.0, deadline - time.monotonic()))
            except (GatewayError, GatewayRefused) as exc:
                raise CliError(f"{f.path}: {exc}") from None
            if doc is None:
                raise CliError(f"{f.path}: its batch is not committed after {args.wait:.0f} s; fetch the proofs "
                               "later with 'consortium evidence proof FILE --gateway URL --manifest M --out P'")
            bundle = _bundle(doc).with_opening(None if f.opening.is_public else f.opening)
            out = (Path(args.proofs) / (f.path.name + ".proof.json")) if args.proofs else \
                f.path.with_name(f.path.name + ".proof.json")
            _write_private(out, bundle.dumps())
            written += 1
            bar.update(1)
    return written


def _bundle(doc: Any) -> ItemBundle:
    try:
        return parse_item_bundle(doc)
    except (NotVerified, UnsupportedBundle) as exc:
        raise CliError(f"the gateway answered something that is not an item proof: {exc}") from None


# --- proof ----------------------------------------------------------------------------------------


def _opening_from_manifest(manifest: str, file_hash: bytes) -> Opening | None:
    try:
        doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("type") != MANIFEST_TYPE or not isinstance(doc.get("items"), list):
            raise CliError(f"{manifest} is not a notarize-batch manifest")
        for entry in doc["items"]:
            if isinstance(entry, dict) and entry.get("fileHash", "").lower() == to_hex(file_hash):
                return Opening.from_json({"fileHash": entry["fileHash"], "salt": entry.get("salt")})
    except OSError as exc:
        raise CliError(f"cannot read the manifest {manifest}: {exc.strerror}") from None
    except (ValueError, InvalidOpening) as exc:
        raise CliError(f"{manifest} is not a readable manifest: {exc}") from None
    return None


def item_proof(args: argparse.Namespace) -> int:
    """``evidence proof … --gateway URL``: fetch an item's proof, add the file's opening, write it."""
    from consortium.cli.evidence_ref import hash_of

    text = args.evidence
    opening: Opening | None = None
    if text.startswith(("0x", "0X")):
        try:
            commitment = from_hex(text, size=32, what="commitment")
        except HexError as exc:
            raise CliError(str(exc)) from None
    else:
        if not os.path.exists(text):
            raise CliError(f"{text!r} is neither a 0x commitment nor an existing file")
        digest, _ = hash_of(text)
        opening = _opening_from_manifest(args.manifest, digest) if args.manifest else Opening.public(digest)
        if opening is None:
            raise CliError(f"{text} is not in the manifest {args.manifest} (was it notarized in that run?)")
        commitment = opening.key
    with SyncGatewayClient(args.gateway) as client:
        try:
            doc = client.proof_json(commitment, wait=args.wait)
        except GatewayRefused as exc:
            raise CliError(exc.message, EXIT_NOT_VERIFIED if exc.status == 404 else 2) from None
        except GatewayError as exc:
            raise CliError(str(exc)) from None
    if doc is None:
        raise CliError(f"{to_hex(commitment)} is accepted but its batch is not committed yet; retry, or give "
                       "--wait SECONDS", 2)
    bundle = _bundle(doc)
    if opening is not None and not opening.is_public:
        bundle = bundle.with_opening(opening)
    _write_private(Path(args.out), bundle.dumps())
    batch = bundle.batch
    emit(args, {"commitment": to_hex(commitment), "index": bundle.path.index, "batchSize": bundle.path.size,
                "batchRoot": to_hex(bundle.root), "block": batch.headers[batch.notarization.header].number,
                "proof": args.out},
         [("commitment", to_hex(commitment)), ("item", f"{bundle.path.index} of {bundle.path.size} in batch "
                                                      f"{to_hex(bundle.root)}"),
          ("notarized in", f"block {batch.headers[batch.notarization.header].number}"), ("proof", args.out)])
    return 0


# --- verify ---------------------------------------------------------------------------------------


def is_item_proof(raw: bytes) -> bool:
    """Cheap sniff: does this proof file declare itself a per-item proof? (Parsing proper follows.)"""
    head = raw[:4096]
    return b'"type"' in head and ITEM_BUNDLE_TYPE.encode() in head


def verify_item(args: argparse.Namespace, genesis: Genesis, raw: bytes) -> int:
    """``evidence verify FILE --proof ITEM_PROOF``: the item step, then the batch exactly like a notarization."""
    from consortium.cli.evidence_cmd import _not_verified, _print_verified, apply_policy, verified_json
    from consortium.cli.evidence_ref import hash_of
    from consortium.evidence.item_bundle import load_item_bundle

    try:
        bundle = load_item_bundle(raw)
        digest, _ = hash_of(args.file)
        result = verify_item_bundle(genesis, bundle, digest)
    except UnsupportedBundle as exc:
        raise CliError(str(exc)) from None
    except NotVerified as exc:
        return _not_verified(args, exc.code, exc.message)
    shown = _as_file_result(result, digest, bundle)
    try:
        policy = apply_policy(args, shown)  # --max-anchor-lag / --require-anchor
    except NotVerified as exc:
        return _not_verified(args, exc.code, exc.message)
    item_doc = {"commitment": to_hex(result.item.commitment), "index": result.index, "batchSize": result.batch_size,
                "batchRoot": to_hex(result.root), "metadata": dict(result.item.metadata)}
    if args.json:
        emit(args, {**verified_json(shown), **policy, "item": item_doc})
        return 0
    _print_verified(args, shown, policy)
    rows: list[tuple[str, Any]] = [("batch", f"item {result.index + 1} of {result.batch_size} in gateway batch {item_doc['batchRoot']}"),
            ("commitment", f"{item_doc['commitment']} ({shown.mode})")]
    rows += [(name.replace("_", " "), value) for name, value in sorted(result.item.metadata.items())]
    width = max(len("transaction"), *(len(k) for k, _ in rows))  # the column of the rows printed above
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


def _as_file_result(result: VerifiedItem, digest: bytes, bundle: ItemBundle) -> VerifiedEvidence:
    """The batch's verified notarization, told about the file: its hash, its item's metadata and mode."""
    opening = bundle.opening or Opening.public(result.item.commitment)
    return dataclasses.replace(result.batch, evidence_hash=digest, key=result.item.commitment, mode=opening.mode,
                               metadata=dict(result.item.metadata))
