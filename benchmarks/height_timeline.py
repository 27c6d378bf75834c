"""Where each height's time goes, from the node logs of a kept cluster (``cluster_bench.py --keep``).

For every height: from the leader's "committed block h-1" to its "proposing block h" line (taking
the pool and executing the block), and from "proposing block h" to the median node's "committed
block h" line (PRE-PREPARE, validation, two vote rounds, commit), plus the interval between
heights and the block sizes. Log lines carry milliseconds, so the figures are good to ~1 ms.

    .venv/bin/python benchmarks/height_timeline.py CHAIN_DIR     (the folder holding node0/, node1/, ...)

Prints a summary (stderr) and one final JSON line with p50/mean/p90 of each interval in ms.
"""

from __future__ import annotations

import datetime
import json
import re
import statistics
import sys
from pathlib import Path

LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?(?:proposing block (\d+) view \d+ with (\d+) txs"
                  r"|committed block (\d+) .*with (\d+) txs)")


def parse(root: Path) -> tuple[dict[int, tuple[float, int, str]], dict[int, dict[str, float]]]:
    proposed: dict[int, tuple[float, int, str]] = {}
    committed: dict[int, dict[str, float]] = {}
    for log in sorted(root.glob("node*/*.log")):
        node = log.parent.name
        for line in log.read_text(errors="replace").splitlines():
            m = LINE.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if m.group(2):
                proposed[int(m.group(2))] = (t, int(m.group(3)), node)
            else:
                committed.setdefault(int(m.group(4)), {})[node] = t
    return proposed, committed


def stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    v = sorted(values)
    return {"n": len(v), "p50_ms": round(v[len(v) // 2] * 1000, 1), "mean_ms": round(statistics.mean(v) * 1000, 1),
            "p90_ms": round(v[int(len(v) * 0.9)] * 1000, 1)}


def main() -> int:
    root = Path(sys.argv[1])
    proposed, committed = parse(root)
    execute, decide, interval, sizes = [], [], [], []
    for h, (t, count, node) in sorted(proposed.items()):
        sizes.append(count)
        if node in committed.get(h - 1, {}):
            execute.append(t - committed[h - 1][node])
        if h in committed:
            times = sorted(committed[h].values())
            decide.append(times[len(times) // 2] - t)
            if h - 1 in committed:
                interval.append(min(times) - min(committed[h - 1].values()))
    out = {"leader_commit_to_propose": stats(execute), "propose_to_commit": stats(decide),
           "height_interval": stats(interval),
           "txs_per_block": {"mean": round(statistics.mean(sizes), 1) if sizes else 0,
                             "p10": sorted(sizes)[len(sizes) // 10] if sizes else 0,
                             "p90": sorted(sizes)[int(len(sizes) * 0.9)] if sizes else 0}}
    for k, v in out.items():
        print(f"{k}: {v}", file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
