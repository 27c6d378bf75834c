"""Cyclic garbage collection set for a node process: rarer young collections, start-up state frozen.

Almost everything a node allocates per transaction (decoded values, pool entries, receipts)
is freed by reference counting the moment it is dropped; the cyclic collector only finds
reference cycles, which the node makes rarely. With CPython's default threshold (a young
collection every 700 net container allocations) a node under load ran one every few
transactions, each also promoting survivors that later full collections walk again — among
them the state tree's node cache (up to 400,000 entries). Measured on a leader + replica
pipeline of notarize blocks, collection was ~15 % of the CPU; a threshold of 10,000 cut that
to ~1 % (docs/performance.md, issue 14 third round). What was built at start-up (modules,
genesis, configuration, the opened ledger) is frozen out of the collector's walks altogether.
Cycles are still collected, just less often: memory is bounded by the threshold.

``CONSORTIUM_GC=default`` keeps CPython's settings (to compare).
"""

from __future__ import annotations

import gc
import os

ENV = "CONSORTIUM_GC"
GEN0_THRESHOLD = 10_000


def tune(environ: dict[str, str] | None = None) -> str:
    """Apply the node's collector settings; returns what was applied, for the start-up log."""
    env = os.environ if environ is None else environ
    wanted = env.get(ENV, "").strip().lower()
    if wanted not in ("", "node", "default"):
        raise ValueError(f"{ENV}={env.get(ENV)!r}: use 'node' or 'default'")
    if wanted == "default":
        return f"CPython defaults {gc.get_threshold()}"
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    return f"threshold {gc.get_threshold()}, {gc.get_freeze_count()} start-up objects frozen"
