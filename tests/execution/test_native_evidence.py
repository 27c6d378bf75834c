"""The native evidence contract (execution/native_evidence.py) behaves exactly as contracts/evidence.py
in the sandbox: same receipts (gas aside), write sets and state roots, across processes with
different hash seeds. And it is a port of exactly the source on chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consortium.execution import contract_source
from consortium.execution.compiler import code_hash, compile_contract
from consortium.execution.native_evidence import LINE_GET, LINE_GET_CASE, SOURCE_SHA256, NativeEvidence

WORKLOAD = Path(__file__).with_name("native_evidence_workload.py")
ROOT = Path(__file__).resolve().parents[2]


def test_the_port_is_of_the_evidence_source_on_chain() -> None:
    source = contract_source("evidence")
    assert code_hash(source) == SOURCE_SHA256, (
        "contracts/evidence.py changed: port the change to src/consortium/execution/native_evidence.py (same "
        "storage, events, outputs and error texts), then update SOURCE_SHA256 and the LINE_ constants there. "
        "Until then the sandbox runs it (correct, slower)."
    )
    lines = source.splitlines()
    assert lines[LINE_GET - 1].strip() == 'return storage.get(["ev", evidence_hash])'
    assert lines[LINE_GET_CASE - 1].strip() == 'return storage.get(["case", case_id])'
    public = {m for m, spec in compile_contract(source).spec.methods.items() if spec.public}
    assert NativeEvidence.METHODS == public


def _run(mode: str, seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(WORKLOAD), mode], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_native_and_sandboxed_agree_across_processes_and_hash_seeds() -> None:
    native, sandboxed = _run("native", "1"), _run("sandbox", "4242")
    assert native["hash_of_a"] != sandboxed["hash_of_a"], "the seeds must really differ for this test to mean anything"
    assert native["gas"] != sandboxed["gas"], "the native path did not run"
    for i, (a, b) in enumerate(zip(native["receipts"], sandboxed["receipts"], strict=True)):
        assert a == b, f"receipt {i} differs (gas aside)"
    for field in ("writes", "roots", "statuses"):
        assert native[field] == sandboxed[field], field
    assert set(native["statuses"]) == {"OK", "REVERTED", "PERMISSION_DENIED", "BAD_TRANSACTION", "CONTRACT_ERROR"}
