"""CPU per transaction of each stage of the block pipeline, in process: execute, validate, commit.

One leader and one replica of a throwaway 4-node chain (real LevelDB ledgers, nodes not
started) run ``--blocks`` blocks of ``--block-size`` evidence notarizations. Per block:
both admit the transactions, the leader executes (``Ledger.execute`` on what its pool
hands out), the replica validates (``driver._verify``: ``Ledger.verify_and_execute``),
then both commit. Each stage's CPU is summed over the run and divided by the number of
transactions; commit is per node (half of the two commits). Stages are timed with
``thread_time`` (the pipeline's own thread: what sits on a height's critical path); LevelDB
compacts in a background thread of its own, whose CPU is reported apart, per transaction per
node (``background_us_per_tx``, over the whole run: it grows once a ledger passes its 64 MiB
memtable, ~25k transactions). ``ledger_bytes_per_tx`` is the leader's data directory, compacted,
over the run's transactions (genesis included). With ``--profile STAGE ...`` the stages named run under cProfile
and their top functions are printed (figures are then profiled figures, inflated several-fold).

    .venv/bin/python benchmarks/pipeline_bench.py [--blocks 20] [--block-size 500] [--profile execute verify commit]

Prints one JSON line: {"execute_us_per_tx": ..., "verify_us_per_tx": ..., "commit_us_per_tx": ..., ...}.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cluster_bench import presign
from consortium.chain.ledger import ExecutedBlock, Ledger
from consortium.encoding.hexbytes import from_hex
from consortium.execution import EVIDENCE_ADDRESS
from consortium.ledger.transaction import Transaction
from consortium.node import gc_tuning
from node_pair import execute_next, node_pair

STAGES = ("execute", "verify", "commit")
T = TypeVar("T")


def commit_both(*pairs: tuple[Ledger, ExecutedBlock]) -> None:
    for ledger, executed in pairs:
        ledger.commit(executed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--block-size", type=int, default=500)
    ap.add_argument("--profile", nargs="*", choices=STAGES, default=[], help="stages to run under cProfile")
    ap.add_argument("--top", type=int, default=25, help="functions printed per profiled stage")
    args = ap.parse_args()
    with node_pair("consortium-pipeline-") as (leader, replica):
        g = leader.genesis
        n, size = args.blocks, args.block_size
        raws = [from_hex(r.decode()) for _, r in presign(n * size, (g.chain_id, g.group_id), EVIDENCE_ADDRESS, 500)]
        gc_tuning.tune({gc_tuning.ENV: "node"})
        profiles = {k: cProfile.Profile() for k in args.profile}
        cpu = dict.fromkeys(STAGES, 0.0)

        def stage(name: str, fn: Callable[..., T], *call: Any) -> T:
            profile = profiles.get(name)
            t = time.thread_time()
            if profile is not None:
                profile.enable()
            result = fn(*call)
            if profile is not None:
                profile.disable()
            cpu[name] += time.thread_time() - t
            return result

        started = time.process_time() - time.thread_time()

        for b in range(n):
            txs = [Transaction.decode(r, g.suite) for r in raws[b * size:(b + 1) * size]]
            for tx in txs:
                leader.admit(tx)
                replica.admit(tx)
            executed = stage("execute", execute_next, leader, size)
            validated = stage("verify", replica.driver._verify, executed.block)
            stage("commit", commit_both, (leader.ledger, executed), (replica.ledger, validated))
            leader.txpool.remove_committed(executed.block)
            replica.txpool.remove_committed(executed.block)
        background = time.process_time() - time.thread_time() - started
        kv = leader.ledger.kv
        kv.compact()
        ledger_bytes = sum(f.stat().st_size for f in kv.path.rglob("*") if f.is_file())
    total = n * size
    for name in args.profile:
        print("=====", name)
        pstats.Stats(profiles[name]).sort_stats("tottime").print_stats(args.top)
    per_tx = {f"{k}_us_per_tx": round(v / total * 1e6 / (2 if k == "commit" else 1), 1) for k, v in cpu.items()}
    print(json.dumps({"blocks": n, "block_size": size, "profiled": args.profile, **per_tx,
                      "pipeline_us_per_tx": round(sum(cpu.values()) / total * 1e6, 1),
                      "background_us_per_tx": round(background / total * 1e6 / 2, 1),
                      "ledger_bytes_per_tx": round(ledger_bytes / total)}))


if __name__ == "__main__":
    main()
