"""Which evidence a command means: its on-chain key, its proof bundle, or the file itself.

Evidence is private by default: the chain holds a salted commitment, not the
file's hash (docs/protocol.md §11.1), so "the file" alone does not name a record —
its salt does. Every command that names evidence (``evidence sign|show|proof``,
``case attach``) takes one argument ``KEY|PROOF|FILE`` and resolves it here:

* ``0x…`` — the on-chain key itself (what the submitter shares with co-signers);
* a proof bundle or opening file (``*.proof.json``) — it holds the file hash and the salt;
* an evidence file — hashed locally; its salt comes from ``--salt``, ``--from PROOF``,
  or the ``FILE.proof.json`` next to it; with none of them it is looked up as a
  public hash (notarized with ``--public``).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.cli.errors import CliError
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence import MalformedBundle, UnsupportedBundle, load_bundle
from consortium.evidence.bundle import BUNDLE_TYPE, MAX_BUNDLE_BYTES
from consortium.evidence.commitment import (
    OPENING_FILE_TYPE,
    SALT_SIZE,
    InvalidOpening,
    Opening,
    Unopened,
    parse_opening_document,
)
from consortium.evidence.filehash import hash_file_with_progress

REF_HELP = ("the evidence: its on-chain key (0x…, as the submitter shares it), its proof bundle "
            "(*.proof.json: it holds the salt), or the file itself (its salt from --salt, --from, or "
            "FILE.proof.json beside it; else looked up as a public hash)")


def add_evidence_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument("evidence", metavar="KEY|PROOF|FILE", help=REF_HELP)
    p.add_argument("--salt", metavar="0xSALT", help="the 32-byte salt the evidence was notarized with")
    p.add_argument("--from", dest="from_proof", metavar="PROOF",
                   help="take the salt from this proof bundle or opening file")


@dataclass(frozen=True)
class EvidenceRef:
    key: bytes
    """The 32 bytes on chain."""
    opening: Opening | None
    """None when only the key was given (0x…)."""
    source: str
    """Where the salt came from, for output ("proof bundle x.proof.json", "public hash", ...)."""


def hash_of(path: str) -> tuple[bytes, int]:
    """SHA-256 and size of a file, streamed; an unreadable file is a usage error (exit 2)."""
    try:
        return hash_file_with_progress(path)
    except IsADirectoryError:
        raise CliError(f"{path} is a directory; give an evidence file") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def read_opening(path: str | os.PathLike[str]) -> Opening | Unopened | None:
    """The opening held by a proof bundle or an opening file at ``path`` (only a key for an unopened bundle);
    None if it is neither (an evidence file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1)
            if head != b"{":
                return None
            data = head + f.read(MAX_BUNDLE_BYTES)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    kind = doc.get("type") if isinstance(doc, dict) else None
    try:
        if kind == BUNDLE_TYPE:
            return load_bundle(data).opening
        if kind == OPENING_FILE_TYPE:
            return parse_opening_document(doc)
    except (MalformedBundle, InvalidOpening) as exc:
        raise CliError(f"{path} is a damaged proof or opening file: {getattr(exc, 'message', exc)}") from None
    except UnsupportedBundle as exc:
        raise CliError(str(exc)) from None
    return None


def resolve(args: argparse.Namespace, *, need_opening: bool = False) -> EvidenceRef:
    """Resolve ``args.evidence`` (with ``--salt`` / ``--from``); a bad argument is a one-line usage error."""
    text: str = args.evidence
    salt = _salt(args)
    given = _from(args)
    if text.startswith(("0x", "0X")):
        try:
            key = from_hex(text, size=32, what="evidence key")
        except HexError as exc:
            raise CliError(str(exc)) from None
        if given is not None:
            if given.key != key:
                raise CliError(f"{args.from_proof} is the opening of {to_hex(given.key)}, not of {text}")
            return EvidenceRef(key, given, f"opening from {args.from_proof}")
        if getattr(args, "public", False):
            return EvidenceRef(key, Opening.public(key), "public hash (--public)")
        if need_opening:
            raise CliError("a bare key does not say which file it commits to: give the evidence file (with --salt "
                           "or --from PROOF) or its proof bundle, or --public if the key is a public file hash")
        return EvidenceRef(key, None, "key")
    if not os.path.exists(text):
        raise CliError(f"{text!r} is neither a 0x evidence key nor an existing file")
    held = read_opening(text)
    if isinstance(held, Unopened):
        return EvidenceRef(held.key, None, f"key from {text}")
    if held is not None:
        return EvidenceRef(held.key, held, f"opening from {text}")
    digest, _ = hash_of(text)
    return file_ref(text, digest, salt, given, getattr(args, "from_proof", None))


def file_ref(path: str, digest: bytes, salt: bytes | None, given: Opening | None, given_path: str | None) -> EvidenceRef:
    if salt is not None:
        return EvidenceRef(Opening(digest, salt).key, Opening(digest, salt), "--salt")
    if given is not None:
        if given.file_hash != digest:
            raise CliError(f"{given_path} is the opening of another file (SHA-256 {to_hex(given.file_hash)}); "
                           f"{path} has SHA-256 {to_hex(digest)}")
        return EvidenceRef(given.key, given, f"opening from {given_path}")
    beside = Path(path + ".proof.json")
    if beside.is_file():
        opening = read_opening(beside)
        if isinstance(opening, Opening) and opening.file_hash == digest:
            return EvidenceRef(opening.key, opening, f"opening from {beside}")
    public = Opening.public(digest)
    return EvidenceRef(public.key, public, "public hash (no salt given or found)")


def _salt(args: argparse.Namespace) -> bytes | None:
    text = getattr(args, "salt", None)
    if text is None:
        return None
    try:
        return from_hex(text, size=SALT_SIZE, what="--salt")
    except HexError as exc:
        raise CliError(str(exc)) from None


def _from(args: argparse.Namespace) -> Opening | None:
    path = getattr(args, "from_proof", None)
    if path is None:
        return None
    if getattr(args, "salt", None) is not None:
        raise CliError("give either --salt or --from, not both")
    opening = read_opening(path)
    if not isinstance(opening, Opening):
        raise CliError(f"{path} is not a proof bundle or opening file with a salt")
    return opening


def not_found_hint(ref: EvidenceRef) -> str:
    """What to try when the chain has no record under ``ref.key``."""
    if ref.opening is not None and ref.opening.is_public:
        return ("; if it was notarized privately (the default), give its salt: --from FILE.proof.json "
                "(the bundle written when it was notarized) or --salt 0x…")
    return ""


def json_opening(ref: EvidenceRef) -> dict[str, Any]:
    return {"key": to_hex(ref.key), "mode": None if ref.opening is None else ref.opening.mode}
