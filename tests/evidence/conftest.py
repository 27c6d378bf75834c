"""Shared fixtures: one real chain with a notarized, co-signed document, built once per module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from tests.evidence.evidence_chain import ALICE, ARBITER, BOB, EvidenceChain, file_hash

from consortium.cli import case_cmd, contract_cmd, evidence_cmd
from consortium.cli import main as cli_main
from consortium.evidence.bundle import ProofBundle

DOC = b"%PDF-1.7 sales contract between Alice and Bob, signed 2026-11-02\n" * 20
SOLO = b"a photo of the damaged goods\n"


@dataclass
class Notarized:
    chain: EvidenceChain
    pending: ProofBundle
    """DOC's bundle proven at its notarization block: Bob's co-signature still pending."""
    full: ProofBundle
    """DOC's bundle proven at the latest block: Bob has co-signed."""
    solo: ProofBundle
    """SOLO's bundle (no co-signers), proven at the latest block."""
    failed_tx: Any
    """A second notarize of DOC, which the contract reverted."""


@pytest.fixture(scope="module")
def notarized(tmp_path_factory: pytest.TempPathFactory) -> Notarized:
    chain = EvidenceChain(tmp_path_factory.mktemp("evidence-chain") / "db")
    # Block 1 holds other notarizations around DOC's, so its Merkle proofs have real paths.
    fillers = [chain.tx(ARBITER, "notarize", [file_hash(b"filler %d" % i), {}, []]) for i in range(4)]
    doc_tx = chain.tx(ALICE, "notarize", [file_hash(DOC), {"file_name": "contract.pdf", "size": len(DOC)},
                                          [BOB.address]])
    chain.produce([fillers[0], fillers[1], doc_tx, fillers[2], fillers[3]])
    receipt, _ = chain.ledger.receipt(doc_tx.hash)
    assert receipt.ok, receipt.error
    pending = chain.bundle(DOC, block=chain.ledger.height)
    _, receipt = chain.transact(BOB, "sign", [pending.evidence_hash])
    assert receipt.ok and receipt.output == "COMPLETE", receipt.error
    _, receipt = chain.notarize(ALICE, SOLO, seal_with=(0, 2, 3))
    assert receipt.ok
    failed, receipt = chain.notarize(BOB, DOC)
    assert not receipt.ok and "already notarized" in receipt.error
    full = chain.bundle(DOC)
    solo = chain.bundle(SOLO)
    yield Notarized(chain, pending, full, solo, failed)
    chain.close()


@pytest.fixture
def cli(monkeypatch, capsys):
    """main() with the evidence, case and contract groups registered (until cli/main.py registers them)."""
    build = cli_main.build_parser

    def with_evidence():
        parser = build()
        sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
        for module, name in ((evidence_cmd, "evidence"), (case_cmd, "case"), (contract_cmd, "contract")):
            if name not in sub.choices:
                module.register(sub)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", with_evidence)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli_main.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
