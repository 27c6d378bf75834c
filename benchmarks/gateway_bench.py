"""Gateway throughput: evidence items through a real gateway process into a real 4-node chain on this machine.

Builds a chain in a temporary folder on free loopback ports (scripts/build_chain.sh), starts it
(scripts/start_all.sh) and a gateway beside node0 (``consortium gateway init|start``, account
admin0). Client *processes* (``--clients``) submit items in the compact binary form, ``--per-request``
items per request, each paced open-loop to its share of the target rate: first a short ramp
(25 %, 50 %, 75 % of ``--rate``, ``--ramp-seconds`` each), then the measured window of
``--seconds`` at ``--rate`` (0: as fast as the clients can). Items are random 32-byte commitments,
one in eight with metadata.

Time to proof: the first item of every request is followed: right after its acknowledgement the
client long-polls ``GET /items/{c}/proof?wait=30`` and records when the bundle arrives; the time
runs from just before the item's request was sent. After the window the benchmark waits until the
gateway holds no open item (everything acknowledged is committed) and checks that its committed
count covers every acknowledged item; ``items_per_s`` = items acknowledged inside the window (and
so committed) / window length. A sample of the followed proofs is verified offline against the
genesis file. CPU per item is utime+stime from /proc of the gateway and of the nodes over the
window, divided by the items acknowledged in it; RSS of the gateway is sampled every second
(``gateway_rss_mb`` start/peak/end: flat memory means start ~ end). ``--profile`` runs py-spy on
the gateway for the window.

    flock /work/coord/land.lock .venv/bin/python benchmarks/gateway_bench.py [--seconds 60] [--clients 4]
        [--rate 12000] [--per-request 1000] [--profile]

Prints progress (stderr), then one final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from cluster_bench import Cluster, cpu_seconds, free_port_block, percentile, pid_gone, rss_mb, summarize_profile
from consortium.client.gateway import GatewayClient, GatewayError, GatewayRefused
from consortium.evidence.item import EvidenceItem

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "consortium"]


def log(msg: str) -> None:
    print(f"[gateway_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- one client process ----------------------------------------------------------------------------


def client_main(url: str, phases: list[tuple[float, float]], per_request: int, seed: int, out: Any) -> None:
    """Run the phases ``[(seconds, items_per_s), ...]`` and send back per-request records."""
    result = asyncio.run(_client(url, phases, per_request, seed))
    out.send(result)
    out.close()


async def _client(url: str, phases: list[tuple[float, float]], per_request: int, seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)
    records: list[tuple[float, float, int]] = []  # (sent, acked, items) of acknowledged requests
    proofs: list[tuple[float, float]] = []  # (sent, proof arrived) of followed items
    followed: list[str] = []
    refused = overloaded = 0
    pending: set[asyncio.Task[None]] = set()
    async with GatewayClient(url, timeout=60, overload_wait=0) as client, \
            GatewayClient(url, timeout=60) as prober:
        async def follow(commitment: bytes, sent: float) -> None:
            doc = await prober.proof_json(commitment, wait=120)
            if doc is not None:
                proofs.append((sent, time.time()))
                if len(followed) < 5:
                    followed.append(json.dumps(doc))

        async def one(items: list[EvidenceItem]) -> None:
            nonlocal refused, overloaded
            sent = time.time()
            try:
                await client.submit(items)
            except GatewayRefused as exc:
                if exc.status == 503:
                    overloaded += 1
                else:
                    refused += 1
                return
            except GatewayError:
                refused += 1
                return
            records.append((sent, time.time(), len(items)))
            task = asyncio.create_task(follow(items[0].commitment, sent))
            pending.add(task)
            task.add_done_callback(pending.discard)

        inflight: set[asyncio.Task[None]] = set()
        for seconds, rate in phases:
            start = time.time()
            k = 0
            while time.time() - start < seconds:
                if rate > 0:
                    due = start + k * per_request / rate
                    delay = due - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                while len(inflight) >= 8:
                    await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                items = [EvidenceItem.create(rnd.randbytes(32), {"ref": f"r{k}", "amount": k} if j % 8 == 0 else None)
                         for j in range(per_request)]
                task = asyncio.create_task(one(items))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                k += 1
        if inflight:
            await asyncio.wait(inflight)
        if pending:
            await asyncio.wait(pending, timeout=180)
    return {"records": records, "proofs": proofs, "refused": refused, "overloaded": overloaded, "followed": followed}


# -- the gateway process -----------------------------------------------------------------------------


class GatewayProc:
    def __init__(self, cluster: Cluster, folder: Path) -> None:
        self.port = free_port_block(1)  # the cluster's ports are bound already, so cannot be chosen
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        subprocess.run([*CLI, "gateway", "init", "--dir", str(folder), "--node-rpc", cluster.rpc_urls[0].rstrip("/"),
                        "--key", str(cluster.root / "accounts" / "admin0.json"), "--port", str(self.port)],
                       check=True, capture_output=True, timeout=60)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log_file = open(self.folder / "gateway.log", "ab")  # the child process keeps it open
        self.proc = subprocess.Popen([*CLI, "gateway", "start", "--config", str(self.folder / "gateway.toml")],
                                     stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                self.status()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gateway exited: {(self.folder / 'gateway.log').read_text()[-2000:]}") from None
                time.sleep(0.2)
        raise RuntimeError("the gateway did not answer")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/status", timeout=10) as r:
            return json.load(r)  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert pid_gone(self.proc.pid)


# -- main ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    cluster = Cluster(workdir / "chain", args.nodes)
    gateway: GatewayProc | None = None
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        log("building and starting the cluster")
        cluster.build()
        cluster.start()
        gateway = GatewayProc(cluster, workdir / "gateway")
        gateway.start()
        log(f"gateway {gateway.url} (pid {gateway.pid}), nodes {cluster.pids}")

        ramp = [(args.ramp_seconds, args.rate * f / args.clients) for f in (0.25, 0.5, 0.75)] if args.rate else []
        phases = [*ramp, (args.seconds, args.rate / args.clients)]
        ramp_s = sum(s for s, _ in ramp)
        ctx = mp.get_context("spawn")
        pipes, procs = [], []
        t_start = time.time()
        for c in range(args.clients):
            parent, child = ctx.Pipe(duplex=False)
            p = ctx.Process(target=client_main, args=(gateway.url, phases, args.per_request, 1000 + c, child))
            p.start()
            pipes.append(parent)
            procs.append(p)
        window_start = t_start + ramp_s
        window_end = window_start + args.seconds

        # Sample CPU at the window's edges and RSS every second.
        profiler = None
        rss: list[float] = []
        rss_t: list[float] = []
        rss_anon: list[float] = []  # private memory; the rest of RSS is LevelDB's mmapped table files
        memory: list[dict[str, Any]] = []  # the gateway's caches every 10 s, to tell filling caches from a leak
        cpu0: dict[str, float] = {}
        status0: dict[str, Any] = {}
        while time.time() < window_end:
            now = time.time()
            if not cpu0 and now >= window_start:
                cpu0 = {"gateway": cpu_seconds(gateway.pid) or 0.0,
                        "nodes": sum(cpu_seconds(p) or 0.0 for p in cluster.pids)}
                status0 = gateway.status()
                if args.profile:
                    profiler = subprocess.Popen([args.py_spy, "record", "--pid", str(gateway.pid), "--duration",
                                                 str(int(args.seconds)), "--rate", "100", "--format", "raw",
                                                 "--nonblocking", "--output", str(workdir / "gateway.collapsed")],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = rss_mb(gateway.pid)
            parts = rss_parts(gateway.pid)
            if r is not None and parts is not None:
                rss.append(r)
                rss_anon.append(parts[0])
                rss_t.append(now - window_start)
            if len(rss) % 10 == 1:
                st = gateway.status()
                memory.append({"t": round(now - window_start, 1), "rss_mb": r,
                               "cpu_s": cpu_seconds(gateway.pid),  # CPU per item over time: compaction grows
                               "anon_mb": parts[0] if parts else None, "file_mb": parts[1] if parts else None,
                               **st.get("memory", {}), "log_items": st["nextSeq"], "open_items": st["openItems"]})
            time.sleep(1.0)
        cpu1 = {"gateway": cpu_seconds(gateway.pid) or 0.0, "nodes": sum(cpu_seconds(p) or 0.0 for p in cluster.pids)}
        status1 = gateway.status()
        load_window = os.getloadavg()
        log(f"window over; gateway status {json.dumps(status1)}")

        outs = [pipe.recv() for pipe in pipes]
        for p in procs:
            p.join(timeout=60)
        deadline = time.time() + 120
        while gateway.status()["openItems"] and time.time() < deadline:
            time.sleep(0.5)
        final = gateway.status()

        records = [r for o in outs for r in o["records"]]
        in_window = sum(n for sent, acked, n in records if window_start <= acked < window_end)
        acked_total = sum(n for _, _, n in records)
        ttp = sorted(arrived - sent for o in outs for sent, arrived in o["proofs"] if window_start <= sent < window_end)
        ack = sorted(acked - sent for sent, acked, _ in records if window_start <= sent < window_end)
        batches = status1["committedBatches"] - status0.get("committedBatches", 0)
        batch_items = status1["committedItems"] - status0.get("committedItems", 0)
        result.update({
            "items_per_s": round(in_window / args.seconds, 1),
            "target_rate": args.rate,
            "window_s": args.seconds,
            "acknowledged_in_window": in_window,
            "acknowledged_total": acked_total,
            "all_committed": final["openItems"] == 0 and final["nextSeq"] >= acked_total,
            "p50_time_to_proof_s": round(percentile(ttp, 0.5) or -1, 3),
            "p99_time_to_proof_s": round(percentile(ttp, 0.99) or -1, 3),
            "max_time_to_proof_s": round(ttp[-1], 3) if ttp else None,
            "proofs_followed": len(ttp),
            "p50_ack_ms": round((percentile(ack, 0.5) or 0) * 1000, 1),
            "p99_ack_ms": round((percentile(ack, 0.99) or 0) * 1000, 1),
            "avg_batch_items": round(batch_items / batches, 1) if batches else None,
            "batches_in_window": batches,
            "gateway_cpu_us_per_item": round((cpu1["gateway"] - cpu0["gateway"]) / max(in_window, 1) * 1e6, 2),
            "nodes_cpu_us_per_item": round((cpu1["nodes"] - cpu0["nodes"]) / max(in_window, 1) * 1e6, 2),
            "gateway_cpu_cores": round((cpu1["gateway"] - cpu0["gateway"]) / args.seconds, 2),
            "nodes_cpu_cores": round((cpu1["nodes"] - cpu0["nodes"]) / args.seconds, 2),
            "gateway_rss_mb": {"start": rss[0] if rss else None, "peak": max(rss) if rss else None,
                               "end": rss[-1] if rss else None, "every_10s": rss[::10],
                               "slope_mb_per_s": rss_slopes(rss_t, rss)},
            "gateway_anon_rss_mb": {"start": rss_anon[0] if rss_anon else None,
                                    "peak": max(rss_anon) if rss_anon else None,
                                    "end": rss_anon[-1] if rss_anon else None,
                                    "slope_mb_per_s": rss_slopes(rss_t, rss_anon)},
            "gateway_memory_every_10s": memory,
            "overloaded_503": sum(o["overloaded"] for o in outs),
            "refused": sum(o["refused"] for o in outs),
            "group_commits_in_window": status1["groupCommits"] - status0.get("groupCommits", 0),
            "clients": args.clients,
            "per_request": args.per_request,
            "load_window": load_window,
        })
        result["offline_verified"] = verify_sample(cluster, [f for o in outs for f in o["followed"]][:5])
        if profiler is not None:
            profiler.wait(timeout=args.seconds + 30)
            result["gateway_profile"] = summarize_profile(workdir / "gateway.collapsed", top=15)
        return result
    finally:
        if gateway is not None:
            gateway.stop()
        survivors = cluster.stop()
        if survivors:
            log(f"killed surviving node pids {survivors}")


def rss_parts(pid: int) -> tuple[float, float] | None:
    """(anonymous, file-backed) resident MiB of ``pid``: LevelDB reads its tables through mmap, so
    pages of the database it touched count in RSS as file-backed (page cache the kernel can reclaim)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return (round(int(fields["RssAnon"].split()[0]) / 1024, 1), round(int(fields["RssFile"].split()[0]) / 1024, 1))
    except (FileNotFoundError, ProcessLookupError, KeyError):
        return None


def rss_slopes(t: list[float], rss: list[float]) -> dict[str, float | None]:
    """Least-squares RSS growth (MiB/s) over the whole run, its second half and its last 60 s: flat memory
    means the later slopes are ~0 once the bounded caches have filled."""
    def slope(lo: float) -> float | None:
        pts = [(x, y) for x, y in zip(t, rss, strict=True) if x >= lo]
        if len(pts) < 10:
            return None
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        var = sum((x - mx) ** 2 for x, _ in pts)
        return round(sum((x - mx) * (y - my) for x, y in pts) / var, 4) if var else None

    end = t[-1] if t else 0.0
    return {"all": slope(float("-inf")), "second_half": slope(end / 2), "last_60s": slope(end - 60)}


def verify_sample(cluster: Cluster, docs: list[str]) -> int:
    """Verify a few followed proofs offline against genesis (the proofs are real, not just present)."""
    from consortium.evidence.item_bundle import parse_item_bundle, verify_item_bundle
    from consortium.node.genesis import load_genesis

    genesis = load_genesis(cluster.root / "node0" / "genesis.toml")
    n = 0
    for text in docs:
        bundle = parse_item_bundle(json.loads(text))
        verify_item_bundle(genesis, bundle, bundle.item.commitment)
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window (default 60)")
    ap.add_argument("--ramp-seconds", type=float, default=5.0, help="each of the three ramp steps (default 5)")
    ap.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    ap.add_argument("--rate", type=float, default=12000.0, help="target items/s in the window; 0 = as fast as possible")
    ap.add_argument("--per-request", type=int, default=1000, help="items per request (default 1000)")
    ap.add_argument("--profile", action="store_true", help="py-spy the gateway during the window")
    ap.add_argument("--py-spy", default="/tmp/pyspy-venv/bin/py-spy")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        result = run(args, workdir)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
