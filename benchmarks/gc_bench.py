"""Cyclic GC's share of a node's block pipeline, with CPython's thresholds and with the node's.

One leader and one replica of a throwaway 4-node chain (real LevelDB ledgers, not started)
run ``--blocks`` blocks of ``--block-size`` evidence notarizations: decode, admit on both,
leader executes, replica validates, both commit. Collection time is measured with
``gc.callbacks``; CPU with ``process_time``. Run once per setting in fresh processes:

    .venv/bin/python benchmarks/gc_bench.py [--gc default|node] [--blocks 20] [--block-size 400]

Prints one JSON line: {"gc": ..., "cpu_us_per_tx": ..., "gc_us_per_tx": ..., "collections": ...}
(per transaction across the two nodes).
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from cluster_bench import presign
from consortium.encoding.hexbytes import from_hex
from consortium.execution import EVIDENCE_ADDRESS
from consortium.ledger.transaction import Transaction
from consortium.node import gc_tuning
from node_pair import execute_next, node_pair


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gc", choices=("default", "node"), default="node")
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--block-size", type=int, default=400)
    args = ap.parse_args()
    spent = [0.0, 0]
    started = [0.0]

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - started[0]
            spent[1] += 1

    with node_pair("consortium-gc-") as (leader, replica):
        g = leader.genesis
        n, size = args.blocks, args.block_size
        raws = [from_hex(r.decode()) for _, r in presign(n * size, (g.chain_id, g.group_id), EVIDENCE_ADDRESS, 500)]
        gc_tuning.tune({gc_tuning.ENV: args.gc})
        gc.callbacks.append(on_gc)
        t0 = time.process_time()
        for b in range(n):
            txs = [Transaction.decode(r, g.suite) for r in raws[b * size:(b + 1) * size]]
            for tx in txs:
                leader.admit(tx)
                replica.admit(tx)
            executed = execute_next(leader, size)
            validated = replica.driver._verify(executed.block)
            leader.ledger.commit(executed)
            replica.ledger.commit(validated)
            leader.txpool.remove_committed(executed.block)
            replica.txpool.remove_committed(executed.block)
        cpu = time.process_time() - t0
        gc.callbacks.remove(on_gc)
    txs_total = n * size
    print(json.dumps({"gc": args.gc, "threshold": gc.get_threshold(), "blocks": n, "block_size": size,
                      "cpu_us_per_tx": round(cpu / txs_total * 1e6, 1),
                      "gc_us_per_tx": round(spent[0] / txs_total * 1e6, 1), "collections": spent[1]}))


if __name__ == "__main__":
    main()
