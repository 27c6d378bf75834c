"""Contract execution throughput: evidence ``notarize``, native and sandboxed, with real state.

Runs N transactions (default 50,000) in blocks of 1,000 through
:class:`consortium.execution.Executor` twice — the genesis evidence contract run
natively (execution/native_evidence.py, what nodes do) and through the sandbox
(what any other contract gets) — each against the Merkle state tree on a fresh real
LevelDB store (each block's write set applied with ``StateTree.apply`` and
written in one batch), then runs the same contract logic as plain Python on a
dict. Transactions are built unsigned before timing starts (signature checks
belong to the txpool); their hashes are computed before timing too, as the
txpool has already computed them when it verified the signature.

    .venv/bin/python benchmarks/exec_bench.py [--txs 50000] [--block 1000]

Prints progress lines (stderr), then one final JSON line:
{"native_txs_per_s": ..., "native_cpu_txs_per_s": ..., "native_cpu_us_per_tx": ..., "txs_per_s": ...,
 "cpu_txs_per_s": ..., "sandbox_cpu_us_per_tx": ..., "baseline_per_s": ..., "overhead_ratio": ..., ...}
(``txs_per_s`` / ``cpu_txs_per_s`` / ``overhead_ratio`` are the sandbox's, as before.)
``txs_per_s`` is wall-clock (what a node sees on a busy machine); ``cpu_txs_per_s``
divides by this process's CPU time, which is what the figure would be on an idle
core.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any

from consortium.crypto.suite import KeyPair
from consortium.execution import (
    EVIDENCE_ADDRESS,
    BlockContext,
    Executor,
    contract_source,
    genesis_writes,
)
from consortium.ledger import Transaction
from consortium.storage.kv import LevelDBStore, WriteBatch

try:
    from consortium.state import StateTree
except ImportError:  # pragma: no cover - the state layer is built by another issue
    StateTree = None  # type: ignore[assignment,misc]


class TreeReader:
    """The StateReader the node uses: the state tree at the parent block's version."""

    def __init__(self, tree: Any, version: int) -> None:
        self.tree = tree
        self.version = version

    def get(self, key: bytes) -> bytes | None:
        return self.tree.get(key, self.version)


class FlatReader:
    def __init__(self, kv: LevelDBStore) -> None:
        self.kv = kv

    def get(self, key: bytes) -> bytes | None:
        return self.kv.get(key)


def make_txs(n: int, sender: KeyPair, cosigner: KeyPair) -> list[Transaction]:
    txs = []
    for i in range(n):
        h = hashlib.sha256(b"evidence file %d" % i).digest()
        meta = {"case_id": f"CASE-{i // 100}", "file_name": f"exhibit-{i}.pdf", "size": 1000 + i,
                "media_type": "application/pdf"}
        tx = Transaction("bench", "g1", i, 1_000_000, sender.public_key, EVIDENCE_ADDRESS, "notarize",
                         (h, meta, [sender.address, cosigner.address]))
        tx.hash  # noqa: B018 - computed (and cached) by the txpool before execution
        txs.append(tx)
    return txs


def run_executor(txs: list[Transaction], block_size: int, path: str, *, native: bool) -> tuple[float, float, int, str]:
    kv = LevelDBStore(path)
    try:
        tree = StateTree(kv) if StateTree is not None else None
        genesis = genesis_writes(chain_id="bench", group_id="g1")
        batch = WriteBatch()
        if tree is not None:
            tree.apply(0, genesis, batch)
        else:
            for k, v in genesis.items():
                batch.put(k, v) if v is not None else batch.delete(k)
        kv.write(batch)
        executor = Executor(native_evidence=native)
        failures = 0
        start = time.perf_counter()
        cpu_start = time.process_time()
        for number, lo in enumerate(range(0, len(txs), block_size), start=1):
            ctx = BlockContext("bench", "g1", number, 1_700_000_000_000 + number * 1000)
            reader = TreeReader(tree, number - 1) if tree is not None else FlatReader(kv)
            result = executor.execute_block(reader, ctx, txs[lo:lo + block_size])
            failures += sum(1 for r in result.receipts if not r.ok)
            batch = WriteBatch()
            if tree is not None:
                tree.apply(number, result.writes, batch)
            else:
                for k, v in result.writes.items():
                    batch.put(k, v) if v is not None else batch.delete(k)
            kv.write(batch)
            if number % 10 == 0:
                done = lo + block_size
                print(f"  block {number}: {done} txs, {done / (time.perf_counter() - start):.0f} tx/s", file=sys.stderr)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    finally:
        kv.close()
    return elapsed, cpu, failures, "state-tree" if StateTree is not None else "flat-kv"


class _DictStorage(dict):  # type: ignore[type-arg]
    """The baseline's storage: a dict, with list keys made hashable."""

    @staticmethod
    def _k(key: Any) -> Any:
        return tuple(key) if isinstance(key, list) else key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._k(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, self._k(key), value)

    def __contains__(self, key: Any) -> bool:
        return dict.__contains__(self, self._k(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self._k(key), default)


class _Ctx:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _thaw(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_thaw(x) for x in v]
    if isinstance(v, dict):
        return {k: _thaw(x) for k, x in v.items()}
    return v


class _LazyChecks(ast.NodeTransformer):
    """``require(c, m)`` statements -> ``if not c: revert(m)``, as the sandbox's rewriter does, so
    the baseline does not pay for building messages the sandboxed run never builds."""

    def visit_Expr(self, node: ast.Expr) -> ast.stmt:
        call = node.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("require", "authorize")
                and len(call.args) == 2):
            fail = ast.Expr(ast.Call(ast.Name("revert", ast.Load()), [call.args[1]], []))
            return ast.copy_location(ast.If(ast.UnaryOp(ast.Not(), call.args[0]), [fail], []), node)
        return node


def _lazy_checks(source: str) -> ast.Module:
    return ast.fix_missing_locations(_LazyChecks().visit(ast.parse(source)))


class _Revert(Exception):
    pass


def run_baseline(txs: list[Transaction], block_size: int, admin: bytes) -> float:
    """The same contract source, executed as ordinary Python with real builtins on a dict."""
    storage = _DictStorage()
    events: list[tuple[str, dict[str, Any]]] = []

    def require(cond: Any, message: str = "") -> None:
        if not cond:
            raise _Revert(message)

    def revert(message: str = "") -> None:
        raise _Revert(message)

    names = {"NoneType": "none", "bool": "bool", "int": "int", "str": "str", "bytes": "bytes", "list": "list",
             "dict": "dict"}
    env: dict[str, Any] = {
        "storage": storage, "require": require, "authorize": require, "revert": revert,
        "emit": lambda name, **fields: events.append((name, fields)),
        "typeof": lambda v: names[type(v).__name__], "msg": None, "block": None, "tx": None,
    }
    exec(compile(_lazy_checks(contract_source("evidence")), "evidence.py", "exec"), env)
    contract = env["Evidence"]()
    contract.constructor([])
    start = time.perf_counter()
    for number, lo in enumerate(range(0, len(txs), block_size), start=1):
        env["block"] = _Ctx(number=number, timestamp=1_700_000_000_000 + number * 1000)
        for t in txs[lo:lo + block_size]:
            env["msg"] = _Ctx(sender=t.sender_address, contract=EVIDENCE_ADDRESS)
            env["tx"] = _Ctx(hash=t.hash, nonce=t.nonce)
            try:
                contract.notarize(*[_thaw(a) for a in t.args])
            except _Revert:
                pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=50_000)
    parser.add_argument("--block", type=int, default=1_000)
    args = parser.parse_args()
    sender, cosigner, admin = KeyPair(b"\x01" * 32), KeyPair(b"\x02" * 32), KeyPair(b"\x03" * 32)
    txs = make_txs(args.txs, sender, cosigner)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="exec-bench-") as tmp:
        print("native:", file=sys.stderr)
        n_elapsed, n_cpu, n_failures, state_kind = run_executor(txs, args.block, os.path.join(tmp, "native"), native=True)
        print("sandboxed:", file=sys.stderr)
        elapsed, cpu, failures, _ = run_executor(txs, args.block, os.path.join(tmp, "sandbox"), native=False)
    baseline = run_baseline(txs, args.block, admin.address)
    txs_per_s = args.txs / elapsed
    baseline_per_s = args.txs / baseline
    print(json.dumps({
        "native_txs_per_s": round(args.txs / n_elapsed), "native_cpu_txs_per_s": round(args.txs / n_cpu),
        "native_cpu_us_per_tx": round(n_cpu / args.txs * 1e6, 1), "native_failed_txs": n_failures,
        "txs_per_s": round(txs_per_s), "cpu_txs_per_s": round(args.txs / cpu),
        "sandbox_cpu_us_per_tx": round(cpu / args.txs * 1e6, 1),
        "native_speedup_cpu": round(cpu / n_cpu, 2),
        "baseline_per_s": round(baseline_per_s), "overhead_ratio": round(baseline_per_s / txs_per_s, 2),
        "txs": args.txs, "block_size": args.block,
        "failed_txs": failures, "state": state_kind, "cpus": os.cpu_count(),
        "load_avg_1m_start": round(load_start, 2), "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
