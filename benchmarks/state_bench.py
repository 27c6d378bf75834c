"""Authenticated state updates versus raw LevelDB puts, on a real LevelDB in a temp dir.

    .venv/bin/python benchmarks/state_bench.py [--keys N] [--block 1000] [--value-size 100]

Writes N fresh random 32-byte keys with random values in blocks of ``--block``
updates: each block is one StateTree.apply (root computed) and one synced
LevelDB write of its batch, as a block commit would be. Then the same keys and
values go through plain plyvel batched puts of the same size (also synced), into
a second database. Then proofs and verifications of random keys at the latest
version. Progress goes to stderr; the last stdout line is JSON:

    {"updates_per_s", "raw_puts_per_s", "ratio", "proofs_per_s", "verifies_per_s", "gets_per_s", "keys", ...}

``cpu_us_per_update`` (this thread's CPU time in apply + write, per update) and the load
averages at start and end are there to read the wall-clock figures by: on a shared
machine, other processes and LevelDB's own compaction thread compete for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import plyvel

from consortium.state import StateTree, verify_proof
from consortium.state.tree import DEFAULT_CACHE_NODES
from consortium.storage.kv import LevelDBStore, WriteBatch

RAW_OPTIONS = {"write_buffer_size": 64 * 2**20, "max_file_size": 16 * 2**20, "bloom_filter_bits": 10}
"""The options kv.LevelDBStore opens with, so the raw baseline is measured on equal terms."""


def _blocks(n_keys: int, block: int, value_size: int, seed: int):
    """The same deterministic (key, value) blocks each time it is called."""
    rng = random.Random(seed)
    done = 0
    while done < n_keys:
        size = min(block, n_keys - done)
        yield {rng.randbytes(32): rng.randbytes(value_size) for _ in range(size)}
        done += size


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys to write (default 1,000,000)")
    parser.add_argument("--block", type=int, default=1000, help="updates per block (default 1000)")
    parser.add_argument("--value-size", type=int, default=100, help="value bytes (default 100)")
    parser.add_argument("--proofs", type=int, default=5000, help="proofs to make and verify (default 5000)")
    parser.add_argument("--cache-nodes", type=int, default=DEFAULT_CACHE_NODES, help="StateTree node cache size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats of the update phase here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="state_bench_", dir=args.dir))
    try:
        kv = LevelDBStore(work / "state")
        tree = StateTree(kv, cache_nodes=args.cache_nodes)
        profiler = None
        if args.profile:
            import cProfile
            profiler = cProfile.Profile()
        load_start = os.getloadavg()[0]
        elapsed = 0.0
        cpu = 0.0
        written = 0
        version = -1
        report_every = max(1, 100_000 // args.block)
        for version, updates in enumerate(_blocks(args.keys, args.block, args.value_size, args.seed)):
            t0 = time.perf_counter()
            c0 = time.thread_time()
            if profiler:
                profiler.enable()
            batch = WriteBatch()
            tree.apply(version, updates, batch)
            kv.write(batch, sync=True)
            if profiler:
                profiler.disable()
            cpu += time.thread_time() - c0
            elapsed += time.perf_counter() - t0
            written += len(updates)
            if (version + 1) % report_every == 0:
                print(f"state: {written} updates, {written / elapsed:,.0f}/s", file=sys.stderr)
        if profiler:
            profiler.dump_stats(str(args.profile))
        updates_per_s = written / elapsed

        # Proofs and reads at the latest version, over keys drawn from what was written.
        rng = random.Random(args.seed + 1)
        sample_every = max(1, args.keys // max(1, args.proofs))
        sample = [k for i, blk in enumerate(_blocks(args.keys, args.block, args.value_size, args.seed))
                  for j, k in enumerate(blk) if (i * args.block + j) % sample_every == 0]
        rng.shuffle(sample)
        sample = sample[: args.proofs]
        root = tree.root(version)
        t0 = time.perf_counter()
        proofs = [tree.get_with_proof(k, version) for k in sample]
        proofs_per_s = len(sample) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for k, (value, proof) in zip(sample, proofs, strict=True):
            verify_proof(root, k, value, proof)
        verifies_per_s = len(sample) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for k in sample:
            tree.get(k, version)
        gets_per_s = len(sample) / (time.perf_counter() - t0)
        proof_bytes = sum(len(p.encode()) for _, p in proofs) / max(1, len(proofs))
        kv.close()

        # The same keys and values as raw batched puts.
        raw = plyvel.DB(str(work / "raw"), create_if_missing=True, lru_cache_size=64 * 2**20, paranoid_checks=True,
                        **RAW_OPTIONS)
        raw_elapsed = 0.0
        for updates in _blocks(args.keys, args.block, args.value_size, args.seed):
            t0 = time.perf_counter()
            with raw.write_batch(sync=True) as wb:
                for k, v in updates.items():
                    wb.put(k, v)
            raw_elapsed += time.perf_counter() - t0
        raw.close()
        raw_puts_per_s = written / raw_elapsed
        db_bytes = sum(f.stat().st_size for f in (work / "state").iterdir())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "updates_per_s": round(updates_per_s),
        "raw_puts_per_s": round(raw_puts_per_s),
        "ratio": round(updates_per_s / raw_puts_per_s, 3),
        "proofs_per_s": round(proofs_per_s),
        "verifies_per_s": round(verifies_per_s),
        "gets_per_s": round(gets_per_s),
        "avg_proof_bytes": round(proof_bytes),
        "state_db_mb": round(db_bytes / 2**20, 1),
        "keys": written,
        "block": args.block,
        "cpu_us_per_update": round(cpu / written * 1e6, 1),
        "load_avg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
