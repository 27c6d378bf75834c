"""Disk growth of one node: bytes per notarization and per idle hour, measured on a real node.

Starts a 1-node chain (`consortium chain new`), measures its data directory, leaves it idle,
then sends N notarizations (SDK batches) and measures again. Prints a final JSON line.
Byte counts do not depend on machine load; the elapsed times do.

    .venv/bin/python benchmarks/disk_growth.py [--txs 5000] [--idle 60]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from consortium.client import SyncClient
from consortium.crypto.keyfile import load_key
from consortium.crypto.suite import KeyPair
from consortium.ledger.transaction import Transaction

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".venv" / "bin" / "consortium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=5000)
    ap.add_argument("--idle", type=float, default=60.0, help="idle seconds to measure")
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="disk-growth-"))
    chain = tmp / "chain"
    p2p, rpc = free_port(), free_port()
    subprocess.run([CLI, "chain", "new", "--nodes", "1", "--dir", str(chain), "--p2p-port", str(p2p),
                    "--rpc-port", str(rpc)], check=True, capture_output=True)
    log = tmp / "node.log"
    proc = subprocess.Popen([CLI, "node", "start", "--config", str(chain / "node0" / "config.toml"), "--log-file",
                             str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = chain / "node0" / "data"
    try:
        url = f"http://127.0.0.1:{rpc}/"
        for _ in range(200):
            try:
                with SyncClient(url, timeout=2) as c:
                    c.block_number()
                break
            except Exception:
                time.sleep(0.1)
        with SyncClient(url, timeout=120) as c:
            start_size, start_log, start_height = size(data), log.stat().st_size, c.block_number()
            time.sleep(args.idle)
            idle_bytes = size(data) - start_size
            idle_log = log.stat().st_size - start_log
            idle_blocks = c.block_number() - start_height
            admin = load_key(chain / "accounts" / "admin0.json")
            chain_id, group_id = c.chain_ids()
            evidence = c.resolve("evidence")
            key = KeyPair(os.urandom(32))
            head = c.block_number()
            before, before_log, t0 = size(data), log.stat().st_size, time.monotonic()
            sent = 0
            while sent < args.txs:
                n = min(args.batch, args.txs - sent)
                txs = []
                for i in range(sent, sent + n):
                    digest = hashlib.sha256(b"growth-%d" % i).digest()
                    meta = {"case_id": f"CASE-{i // 10:06d}", "file_name": f"evidence-{i}.pdf", "size": 100_000 + i}
                    txs.append(Transaction(chain_id, group_id, i, head + 500, b"", evidence, "notarize",
                                           (digest, meta, [])).signed_by(key))
                results = c.send_transactions(txs)
                bad = [r for r in results if not isinstance(r, bytes)]
                assert not bad, bad[:3]
                c.wait_receipts([t.hash for t in txs], timeout=120)
                sent += n
                head = c.block_number()
            elapsed = time.monotonic() - t0
            del admin
        time.sleep(1)
        grown = size(data) - before
        log_grown = log.stat().st_size - before_log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    final = size(data)
    shutil.rmtree(tmp, ignore_errors=True)
    per_tx = grown / args.txs
    print(f"idle {args.idle:.0f}s: {idle_blocks} blocks, data +{idle_bytes} B, log +{idle_log} B", file=sys.stderr)
    print(f"{args.txs} notarizations: data +{grown} B ({per_tx:.0f} B each), log +{log_grown} B", file=sys.stderr)
    print(json.dumps({
        "bench": "disk_growth", "txs": args.txs, "data_bytes_per_notarization": round(per_tx),
        "data_gb_per_million_notarizations": round(per_tx * 1e6 / 1e9, 2),
        "log_bytes_per_notarization": round(log_grown / args.txs),
        "idle_seconds": args.idle, "idle_blocks": idle_blocks, "idle_data_bytes": idle_bytes,
        "idle_log_bytes": idle_log, "idle_data_bytes_per_day": round(idle_bytes * 86400 / args.idle),
        "final_data_bytes": final, "elapsed_s": round(elapsed, 1),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }))


if __name__ == "__main__":
    main()
