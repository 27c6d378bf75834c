"""What an evidence report says, built from the offline verifier's structured result.

Nothing here re-derives a fact: every row comes from :class:`~consortium.evidence.verify.VerifiedEvidence`
(signed transactions and certified headers), from the genesis file the reader trusted, or from the file
the reader hashed. The PDF and HTML renderings lay out the same :class:`Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from consortium import __version__
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.case_verify import VerifiedCase
from consortium.evidence.verify import VerifiedEvidence, iso_time
from consortium.node.genesis import Genesis
from consortium.report.reference import EvidenceReference

Row = tuple[str, str]


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    title: str
    verdict: str
    subtitle: str
    sections: tuple[Section, ...]
    reference: EvidenceReference
    generated: str
    footer: str = field(default="")

    @property
    def qr_text(self) -> str:
        return self.reference.text()


def _utc(t) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(result: VerifiedEvidence, genesis: Genesis, *, file_name: str, file_size: int,
                 proof_name: str, genesis_name: str, generated_ms: int, case: VerifiedCase | None = None,
                 case_proof_name: str = "") -> Report:
    """The report of a VERIFIED result. ``file_name`` is shown only as the file the reader checked;
    the name on chain is shown only if the submitter disclosed it in the metadata. ``case``: the verified
    case proof (evidence/case_verify.py) that attaches this evidence, whose case and ruling are shown."""
    meta: dict[str, Any] = dict(result.metadata)
    file_hash = result.evidence_hash if result.evidence_hash is not None else result.key  # a report is of a file
    what: list[Row] = [("SHA-256 of the file", to_hex(file_hash)),
                       ("file size", f"{file_size:,} bytes (as checked)")]
    if isinstance(meta.get("file_name"), str):
        what.append(("file name (disclosed)", meta["file_name"]))
    if isinstance(meta.get("size"), int) and meta["size"] != file_size:
        what.append(("size (disclosed)", f"{meta['size']:,} bytes"))
    if isinstance(meta.get("media_type"), str):
        what.append(("type (disclosed)", meta["media_type"]))
    if isinstance(meta.get("note"), str):
        what.append(("note (disclosed)", meta["note"]))
    if result.mode == "salted":
        what.append(("on chain", f"a salted commitment {to_hex(result.key)}: the file's hash itself was never published"))
    else:
        what.append(("on chain", "the file's SHA-256 itself (public-hash mode)"))

    when: list[Row] = [("block", str(result.block_number)), ("block hash", to_hex(result.block_hash)),
                       ("block time", f"{result.time_iso} UTC (the proposing sealer's clock, accepted by a quorum)")]
    when_notes: list[str] = []
    a = result.anchor
    if a is not None:
        when.append(("trusted timestamp", f"existed no later than {_utc(a.latest)}, per the RFC 3161 time-stamping "
                                          f"authority {a.tsa} (token time {_utc(a.gen_time)}, serial {a.serial})"))
        when_notes.append(f"The authority is trusted by {a.trust}; the token covers blocks {a.first} to {a.last}.")
    else:
        when_notes.append("No trusted timestamp is attached: the time rests on the sealers' clocks.")

    who: list[Row] = [("notarized by", to_hex(result.submitter)),
                      ("transaction", to_hex(result.transaction))]
    for i, c in enumerate(result.cosignatures):
        who.append(("co-signed by" if i == 0 else "", f"{to_hex(c.signer)}, block {c.block}, {iso_time(c.timestamp)} UTC"))
    for i, p in enumerate(result.pending):
        who.append(("not yet signed" if i == 0 else "", to_hex(p)))
    if not result.signers:
        who.append(("co-signers", "none were named"))
    who.append(("record status", f"{result.status} (as of block {result.state_block})"))

    sealed: list[Row] = [("chain", f"{result.chain_id}/{result.group_id}"),
                         ("genesis hash", to_hex(result.genesis_hash)),
                         ("certificate", f"{len(result.sealed_by) or result.quorum} valid commit seals of "
                                         f"{result.sealers} sealers (a quorum is {result.quorum})")]
    # Organizations as the verifier proved them: the genesis file's, or a certified sealer-set change's.
    orgs = dict(zip(result.sealed_by, result.sealed_orgs, strict=True))
    unnamed = "organization not proven by this proof" if result.organized else "the genesis file names no organizations"
    for i, node in enumerate(result.sealed_by):
        org = orgs.get(node)
        sealed.append(("sealed by" if i == 0 else "",
                       f"{to_hex(node)} ({f'organization {org}' if org else unnamed})"))
    named = sorted({o for o in orgs.values() if o})
    if named:
        sealed.append(("organizations", f"{len(named)} member organizations' sealers certified it: {', '.join(named)}"))

    sections = [Section("What was notarized", tuple(what)), Section("When", tuple(when), tuple(when_notes)),
                Section("By whom", tuple(who)), Section("Certified by", tuple(sealed), (
                    "Every block this proof relies on carries commit seals of a quorum of the sealer set in force "
                    "there, followed from the genesis file through certified sealer-set changes.",))]
    if case is not None:
        sections.append(case_section(case, result, case_proof_name))
    elif isinstance(meta.get("case_id"), str):
        sections.append(Section("Case", (("case (disclosed)", meta["case_id"]),), (
            "The case id is what the submitter wrote in the notarization. The case record and its ruling are on "
            "chain (the explorer's case page shows them); this proof does not cover them: give the case proof "
            "('consortium case proof') to 'evidence report --case-proof' to include them.",)))
    reference = EvidenceReference(result.chain_id, result.group_id, result.genesis_hash, file_hash,
                                  result.key, result.block_number, result.transaction, result.timestamp_ms)
    sections.append(Section("How to verify this independently", (
        ("you need", f"the evidence file, the proof bundle ({proof_name}) and the chain's genesis file "
                     f"({genesis_name}, genesis hash {to_hex(genesis.hash())[:18]}…)"),
        ("in a browser", "open the offline verifier page (verify.html, written by 'consortium evidence "
                         "verifier-page'; it needs no network), drop in the three files, and paste the "
                         "reference below to check that it is this notarization"),
        ("on a command line", f"consortium evidence verify {file_name} --proof {proof_name} --genesis {genesis_name}"),
        ("reference (QR code)", reference.text()),
    ), ("The verification trusts only the genesis file: every other fact above is re-derived from signatures "
        "and hashes in the proof bundle. It does not establish anything about the file's content beyond its "
        "hash, nor the truth of what the submitter wrote in it.",)))
    return Report(
        title="Evidence verification report", verdict="VERIFIED",
        subtitle=f"{Path(file_name).name}: notarized in block {result.block_number} on {result.time_iso} UTC",
        sections=tuple(sections), reference=reference, generated=iso_time(generated_ms),
        footer=f"Generated by consortium {__version__} on {iso_time(generated_ms)} UTC from {proof_name}, "
               f"verified offline against {genesis_name}.",
    )


class NotInCase(ValueError):
    """The case proof verifies, but the case does not attach this evidence."""


def case_section(case: VerifiedCase, result: VerifiedEvidence, case_proof_name: str) -> Section:
    """The case and its ruling, from the verified case proof; this evidence must be one of its attachments."""
    mine = [a for a in case.attachments if a.key == result.key]
    if not mine:
        raise NotInCase(f"the case proof {case_proof_name} is of case {case.case_id!r}, which does not attach this "
                        f"evidence (key {to_hex(result.key)}): give the case proof of the case it was attached to")
    a = mine[0]
    rows: list[Row] = [("case", f"{case.case_id}: {case.status}"),
                       ("parties", ", ".join(to_hex(p) for p in case.parties)),
                       ("arbitrator", to_hex(case.arbitrator)),
                       ("opened", f"by {to_hex(case.opened_by)}, block {case.opened_block}, "
                                  f"{iso_time(case.opened_timestamp)} UTC")]
    reg = case.registration
    rows.append(("arbitrator registered", f"by committee proposal {reg.proposal}, executed in block {reg.executed_at}: "
                                          f"{sum(w for _, w in reg.approvals)} of threshold {reg.threshold} approving "
                                          f"weight (committee per {reg.committee_from})"))
    rows.append(("this evidence", f"attachment {a.index + 1} of {len(case.attachments)}, attached by {to_hex(a.by)} in "
                                  f"block {a.block}, {iso_time(a.timestamp)} UTC"))
    r = case.ruling
    if r is not None:
        rows += [("ruling", r.summary), ("ruling document", f"SHA-256 {to_hex(r.hash)}"),
                 ("ruled", f"block {r.block}, {iso_time(r.timestamp)} UTC, transaction {to_hex(r.transaction)}")]
    else:
        rows.append(("ruling", f"none yet (as of block {case.state_block})"))
    return Section("Case and ruling", tuple(rows), (
        f"From the case proof {case_proof_name}, verified offline against the same genesis file: the opening, the "
        "attachment, the arbitrator's registration by the committee and the ruling are each a signed transaction "
        "in a certified block.",))
