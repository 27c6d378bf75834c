"""``consortium evidence report`` and ``consortium evidence verifier-page``: the evidence for people
who do not use a terminal — a court-ready report (PDF and/or HTML) of an offline verification, and the
self-contained offline verifier page.

    evidence report FILE --proof PROOF --genesis GENESIS [--out report.pdf] [--html report.html]
                    [--case-proof CASE.proof.json]

The report is written only for a proof that verifies (exit 0); NOT VERIFIED writes nothing (exit 1,
with the reason); a file, proof or genesis that cannot be read is exit 2, as for ``evidence verify``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from consortium.cli.common import emit
from consortium.cli.errors import CliError
from consortium.cli.evidence_cmd import EXIT_NOT_VERIFIED, _read_proof, hash_of, read_genesis
from consortium.evidence import NotVerified, UnsupportedBundle, load_bundle, verify_bundle


def register(es: argparse._SubParsersAction) -> None:
    r = es.add_parser("report", help="write a court-ready report (PDF and/or HTML) of a verified proof",
                      description="Verify FILE against its proof offline (as 'evidence verify' does) and, if it "
                                  "verifies, write a report a person can read: what was notarized, when, by whom, "
                                  "co-signed by whom, which sealers certified it, and how to check it "
                                  "independently, with a QR code carrying the evidence reference. Exit 0 written, "
                                  "1 NOT VERIFIED (nothing written), 2 usage or I/O error.")
    r.add_argument("file", help="the evidence file")
    r.add_argument("--proof", required=True, help="its proof bundle")
    r.add_argument("--genesis", required=True, help="the chain's genesis.toml: the only thing trusted")
    r.add_argument("--out", help="the PDF report to write (e.g. report.pdf)")
    r.add_argument("--html", help="the HTML report to write (one self-contained file)")
    r.add_argument("--case-proof", metavar="CASE_PROOF",
                   help="the case proof ('consortium case proof') of the case this evidence is attached to: the "
                        "report then shows the case and its ruling, verified offline too")
    r.add_argument("--json", action="store_true", help="machine-readable JSON output")
    r.set_defaults(func=_report)

    v = es.add_parser("verifier-page", help="write the offline verifier page (one HTML file, no network needed)",
                      description="Write a self-contained HTML page that verifies an evidence file against its "
                                  "proof bundle in a browser, offline, exactly as 'evidence verify' does (a second "
                                  "implementation, from docs/protocol.md). With --genesis the chain's genesis is "
                                  "built into the page.")
    v.add_argument("--out", required=True, help="the HTML file to write (e.g. verify.html)")
    v.add_argument("--genesis", help="build this genesis.toml into the page")
    v.set_defaults(func=_verifier_page)


def _report(args: argparse.Namespace) -> int:
    from consortium.evidence.case_bundle import load_case_bundle
    from consortium.evidence.case_verify import verify_case
    from consortium.report.content import NotInCase, build_report
    from consortium.report.html import render_html
    from consortium.report.pdf import render_pdf

    if not args.out and not args.html:
        raise CliError("give --out report.pdf, --html report.html, or both")
    genesis = read_genesis(args.genesis)
    try:
        bundle = load_bundle(_read_proof(args.proof))
        digest, size = hash_of(args.file)
        result = verify_bundle(genesis, bundle, digest)
    except UnsupportedBundle as exc:
        raise CliError(str(exc)) from None
    except NotVerified as exc:
        if args.json:
            emit(args, {"verified": False, "code": exc.code, "reason": exc.message, "written": []})
        else:
            print(f"NOT VERIFIED: {exc.message}\n  ({exc.code}); no report written")
        return EXIT_NOT_VERIFIED
    case = None
    if args.case_proof:
        try:
            case = verify_case(genesis, load_case_bundle(_read_proof(args.case_proof)))
        except UnsupportedBundle as exc:
            raise CliError(str(exc)) from None
        except NotVerified as exc:
            if args.json:
                emit(args, {"verified": False, "code": exc.code, "reason": f"the case proof: {exc.message}", "written": []})
            else:
                print(f"NOT VERIFIED: the case proof {args.case_proof}: {exc.message}\n  ({exc.code}); no report written")
            return EXIT_NOT_VERIFIED
    try:
        report = build_report(result, genesis, file_name=Path(args.file).name, file_size=size,
                              proof_name=Path(args.proof).name, genesis_name=Path(args.genesis).name,
                              generated_ms=time.time_ns() // 1_000_000, case=case,
                              case_proof_name=Path(args.case_proof).name if args.case_proof else "")
    except NotInCase as exc:
        raise CliError(str(exc)) from None
    written = []
    if args.out:
        _write(Path(args.out), render_pdf(report))
        written.append(args.out)
    if args.html:
        _write(Path(args.html), render_html(report).encode())
        written.append(args.html)
    emit(args, {"verified": True, "written": written, "reference": report.qr_text},
         [("VERIFIED", Path(args.file).name), *(("report", w) for w in written), ("reference", report.qr_text)])
    return 0


def _verifier_page(args: argparse.Namespace) -> int:
    from consortium.report.page import verifier_page

    genesis = ""
    if args.genesis:
        read_genesis(args.genesis)  # refuse a genesis the verifier itself would refuse
        try:
            genesis = Path(args.genesis).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read the genesis file {args.genesis}: {exc.strerror}") from None
    _write(Path(args.out), verifier_page(genesis).encode())
    print(f"wrote {args.out}: open it in a browser (offline; nothing is uploaded)"
          + (f"; genesis of chain built in from {args.genesis}" if genesis else ""))
    return 0


def _write(out: Path, data: bytes) -> None:
    """Atomically: a crash never leaves half a report where a whole one is expected."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror}") from None
