"""Does a TSA that is down or hanging slow the chain's commits? Throughput of one real cluster, TSA up vs not.

Builds a 4-node chain (scripts/build_chain.sh via the cluster test harness) trusting a test TSA
(OpenSSL ``openssl ts -reply`` behind HTTP, tests/helpers/tsa_server.py); node0 anchors every
second (``[anchor] interval_s = 1, timeout_s = 10``). The same load (notarize transactions from 8
concurrent clients to nodes 0-2, each waiting for its receipt; tests/cluster/harness.py
LoadGenerator) runs for ``--seconds`` in each phase:

* ``up``: the TSA answers;
* ``hanging``: the TSA process is stopped with SIGSTOP — connections are accepted by the kernel and
  never answered, so every anchoring round waits its full 10 s timeout (the worst kind of outage);
* ``down``: the TSA process is killed — connections are refused at once;
* ``back``: a new TSA process on the same port; anchoring catches up.

For each phase: committed (receipted) transactions per second, blocks committed, and node0's
anchoring status at its end. Everything is stopped by PID at the end.

    .venv/bin/python benchmarks/anchor_bench.py [--seconds 20]

Prints progress (stderr), then one final JSON line: {"phases": {"up": {"tps": ..., ...}, ...},
"load": "<loadavg>"}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.harness import Cluster, LoadGenerator, eventually  # noqa: E402
from tests.helpers.tsa import TsaServer, make_tsa  # noqa: E402

from consortium.crypto.timestamp import TrustedTsa  # noqa: E402
from consortium.node.genesis import load_genesis  # noqa: E402


def log(msg: str) -> None:
    print(f"[anchor_bench] {msg}", file=sys.stderr, flush=True)


def phase(cluster: Cluster, seconds: float, name: str) -> dict:
    h0 = cluster.height(0)
    t0 = time.monotonic()
    acknowledged = send_errors = 0
    part = 0
    while time.monotonic() - t0 < seconds:
        # One generator per 5 s: its transactions' block limit (head + 400) must not pass under load.
        load = LoadGenerator(cluster, [0, 1, 2], concurrency=8, tag=f"bench-{name}-{part}")
        load.start()
        time.sleep(min(5.0, seconds - (time.monotonic() - t0)))
        result = load.stop()
        acknowledged += len(result.acknowledged)
        send_errors += result.send_errors
        part += 1
    elapsed = time.monotonic() - t0
    status = cluster.client(0).request("getAnchorStatus")
    out = {
        "tps": round(acknowledged / elapsed, 1), "acknowledged": acknowledged,
        "blocks": cluster.height(0) - h0, "seconds": round(elapsed, 1), "send_errors": send_errors,
        "anchored_to": status["anchoredTo"], "pending_blocks": status["pendingBlocks"],
        "failed_rounds": status["failures"], "anchors": status["anchors"],
        # node1 does not anchor: what it holds it got from node0 (anchors shared between nodes)
        "node1_anchored_to": cluster.client(1).request("getAnchorStatus")["anchoredTo"],
    }
    log(f"{name}: {out}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="anchor-bench-"))
    tsa = make_tsa(work / "tsa", "Bench TSA")
    server = TsaServer(tsa).start()
    cluster = Cluster(work / "chain", size=4)
    phases: dict[str, dict] = {}
    try:
        cluster.build()
        genesis = dataclasses.replace(load_genesis(cluster.nodes[0].dir / "genesis.toml"),
                                      tsas=(TrustedTsa(tsa.name, tsa.ca_der),))
        for node in cluster.nodes:
            (node.dir / "genesis.toml").write_text(genesis.to_toml())
        config = cluster.nodes[0].dir / "config.toml"
        config.write_text(config.read_text() + f'\n[anchor]\ntsa_urls = ["{server.url}"]\ninterval_s = 1\ntimeout_s = 10\n')
        cluster.start()
        cluster.push_blocks(1)  # an idle chain seals no blocks: nothing to anchor until a transaction comes
        eventually(lambda: cluster.client(0).request("getAnchorStatus")["anchors"] >= 1, timeout=30, what="an anchor")
        phases["up"] = phase(cluster, args.seconds, "up")
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)
        phases["hanging"] = phase(cluster, args.seconds, "hanging")
        os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()
        phases["down"] = phase(cluster, args.seconds, "down")
        server.start()
        phases["back"] = phase(cluster, args.seconds, "back")
    finally:
        try:
            cluster.stop()
        finally:
            if server.proc is not None and server.proc.poll() is None:
                os.kill(server.proc.pid, signal.SIGCONT)
            server.stop()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(json.dumps({"phases": phases, "load": load}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
