"""Cluster throughput: evidence ``notarize`` over JSON-RPC against a real N-node chain on this machine.

Builds a chain in a temporary folder on free loopback ports
(scripts/build_chain.sh), starts it (scripts/start_all.sh), then runs one timed window per
mode on the same cluster, reported separately: **single** (one ``sendTransaction`` per HTTP
request) and **batched** (JSON-RPC batches of ``--batch``, as the SDK's bulk paths send).
In each window, for ``--seconds``, a closed loop of workers (``--concurrency`` in single mode,
``--concurrency / --batch`` in batched mode, so as many transactions are in flight) each sends one
request to its node (workers are spread over the nodes) and waits until its transactions are
committed before sending the next, so at most concurrency x batch transactions are
outstanding. Transactions are signed as the load goes (64 sender accounts, a thread keeps
4,000 signed ahead), each with a block limit 500 blocks past the head last seen, so a run of
any length (``--seconds 600`` for a soak) never submits expired transactions, and there is
no pre-signed pool whose size could become the result. Commit times are observed by watching
node0's new blocks (``getBlockNumber`` / ``getBlockByNumber(n, false)`` every 20 ms, which the
node answers from its stored per-block hash list without decoding the block; ``--watch-all``:
every node's, timing each transaction on the node it was sent to): a transaction's latency runs
from just before its request left to the moment its block was seen, i.e. when the node starts
returning its receipt. After the window the outstanding transactions get ``--tail-timeout``
seconds; a sample of 200 receipts is then read from *another* node. Node RSS is reported at the
start and the end. The cluster is stopped with scripts/stop_all.sh, always, checking by pid that
no process is left.

    .venv/bin/python benchmarks/cluster_bench.py [--nodes 4] [--seconds 30] [--concurrency 1000]
        [--mode both|single|batched] [--batch 10] [--profile SECONDS]   (py-spy every node)

Prints progress (stderr), then one final JSON line, e.g.
{"single": {"committed_tps": ..., "p50_latency_s": ..., "p99_latency_s": ..., "node_cpu_s": [...],
 "node_cpu_ms_per_tx": ..., ...}, "batched": {...}, "single_tps": ..., "batched_tps": ...,
 "node_rss_mb_start": [...], "node_rss_mb_end": [...], "ed25519_verify_per_s": ...,
 "verify_bound_tps": ..., "stage_cpu_us_per_tx": {...}, ...}
``committed_tps`` counts transactions committed inside the window, divided by its length.
A window's ``submissions_exhausted`` is true if ``--max-txs`` ran out inside it (its rate is then
a bound set by the benchmark, not a result) and ``signer_stalls`` counts the times the load
waited for signing (the client, not the chain, was the limit).
``verify_bound_tps`` = cores x one core's Ed25519 verifications/s (pynacl, measured in this
run) / nodes: every node verifies every transaction's signature once, so no more could commit
if signature checks were the only work. ``node_cpu_s`` is utime+stime from /proc/<pid>/stat
during the window; ``cpu_ms_per_tx`` divides the nodes' and this client's CPU by the
transactions committed in the window (less sensitive to other load on the machine than tps).
``stage_cpu_us_per_tx`` is measured in process before the cluster starts (see stage_costs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing

from consortium.crypto.suite import KeyPair
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.ledger.transaction import Transaction
from consortium.node.event_loop import loop_name

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SENDERS = 64
WATCH_INTERVAL_S = 0.02
BLOCK_LIMIT_MARGIN = 500
"""Transactions are signed valid for this many blocks past the head the watcher last saw (the chain allows 600)."""
REFRESH_MARGIN = 100
"""A signed transaction whose block limit is this close to the head is dropped, not sent."""


def log(msg: str) -> None:
    print(f"[cluster_bench] {msg}", file=sys.stderr, flush=True)


# -- the machine ----------------------------------------------------------------------------------


def ed25519_verifies_per_second(seconds: float = 1.0) -> float:
    """One core's Ed25519 verifications per second with pynacl (libsodium), on a tx-sized message."""
    key = nacl.signing.SigningKey(bytes(range(32)))
    verify = key.verify_key.verify
    signed = [key.sign(hashlib.sha256(bytes([i])).digest()) for i in range(64)]
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for s in signed:
            verify(s)
        n += len(signed)
    return n / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` from /proc (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port_block(count: int, exclude: range = range(0)) -> int:
    """A base port with ``count`` consecutive ports free on 127.0.0.1, below the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000 - count)
        if any(p in exclude for p in range(base, base + count)):
            continue
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def pid_gone(pid: int) -> bool:
    """True once ``pid`` has exited. A zombie (exited, not yet reaped by init) counts as gone:
    it runs nothing and holds no port; ``kill -0`` alone would call it a survivor."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


# -- where a transaction's CPU goes, stage by stage (in process, no cluster) -------------------------


def stage_costs(block_size: int = 300) -> dict[str, float]:
    """CPU microseconds per transaction of each stage a notarize transaction goes through on a node.

    Uses a real (not started) node of a throwaway 4-node chain: its LevelDB ledger, txpool and
    consensus driver, so the figures are the node's own code paths. Process CPU time, so they
    hold on a busy machine too. HTTP (aiohttp) and TLS costs are not in here; see the profile.
    """
    from consortium.ledger.block import Block
    from consortium.node import wire
    from node_pair import execute_next, node_pair

    with node_pair("consortium-stages-") as (leader, replica):
        g = leader.genesis
        from consortium.execution import EVIDENCE_ADDRESS

        raws = [raw for _, raw in presign(block_size, (g.chain_id, g.group_id), EVIDENCE_ADDRESS, 500)]
        raw_bytes = [from_hex(r.decode()) for r in raws]
        out: dict[str, float] = {}

        def timed(name: str, fn: Any) -> Any:
            t = time.process_time()
            value = fn()
            out[name] = round((time.process_time() - t) / block_size * 1e6, 1)
            return value

        suite = g.suite
        txs = timed("rpc_decode", lambda: [Transaction.decode(r, suite) for r in raw_bytes])
        timed("admit_rpc", lambda: [leader.admit(tx) for tx in txs])
        body = timed("gossip_encode", lambda: wire.encode_transactions(txs))
        got = timed("gossip_decode", lambda: wire.decode_transactions(body, suite))
        timed("admit_gossip", lambda: [replica.admit(tx) for tx in got])
        executed = timed("leader_execute", lambda: execute_next(leader, block_size))
        encoded = timed("block_encode", lambda: executed.block.encode())
        block = timed("block_decode", lambda: Block.decode(encoded, suite))

        mine = timed("replica_validate", lambda: replica.driver._verify(block))
        timed("commit", lambda: replica.ledger.commit(mine))
    return out


# -- the cluster ------------------------------------------------------------------------------------


class Cluster:
    def __init__(self, root: Path, nodes: int) -> None:
        self.root = root
        self.size = nodes
        self.pids: list[int] = []
        self.rpc_urls: list[str] = []

    def build(self) -> None:
        p2p = free_port_block(self.size)
        rpc = free_port_block(self.size, exclude=range(p2p, p2p + self.size))
        self._script("build_chain.sh", "-n", str(self.size), "-o", str(self.root), "-p", str(p2p), "-r", str(rpc))
        self.rpc_urls = [f"http://127.0.0.1:{rpc + i}/" for i in range(self.size)]

    def start(self) -> None:
        try:
            self._script("start_all.sh", str(self.root), "90")
        finally:
            for i in range(self.size):
                pf = self.root / f"node{i}" / "node.pid"
                if pf.exists():
                    self.pids.append(int(pf.read_text()))

    def stop(self) -> list[int]:
        """stop_all.sh, then make sure (by pid) that nothing survived; returns survivors that had to be killed."""
        try:
            self._script("stop_all.sh", str(self.root), "20")
        finally:
            survivors = [p for p in self.pids if not pid_gone(p)]
            for p in survivors:
                os.kill(p, signal.SIGKILL)
        return survivors

    def _script(self, name: str, *args: str) -> None:
        proc = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


# -- the load ----------------------------------------------------------------------------------------


async def rpc(session: aiohttp.ClientSession, url: str, method: str, *params: Any) -> Any:
    async with session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}) as r:
        doc = await r.json(content_type=None)
    if "error" in doc:
        raise RuntimeError(f"{method}: {doc['error']}")
    return doc["result"]


def sender_keys() -> list[KeyPair]:
    return [KeyPair(hashlib.sha256(b"bench-sender-%d" % i).digest()) for i in range(SENDERS)]


def presign(count: int, chain: tuple[str, str], evidence: bytes, block_limit: int) -> list[tuple[bytes, bytes]]:
    """(tx hash, hex wire bytes) for ``count`` notarize transactions from SENDERS accounts (stage costs)."""
    signer = Signer(chain, evidence)
    signer.head = block_limit - BLOCK_LIMIT_MARGIN
    return [(h, raw) for h, raw, _ in signer.sign(count)]


class Signer:
    """Signs notarize transactions as the load needs them, like real clients do.

    Every transaction carries ``block_limit = head + BLOCK_LIMIT_MARGIN`` for the head the block
    watcher last saw, so a run of any length (a soak) never submits expired transactions; the
    old benchmark pre-signed everything with one block limit, and a 10-minute run ended with
    almost every submission refused as expired. A thread keeps ``ahead`` signed transactions
    ready; one taken after its block limit came within REFRESH_MARGIN blocks of the head is
    dropped and counted (``stale_dropped``) rather than sent.
    """

    def __init__(self, chain: tuple[str, str], evidence: bytes, *, ahead: int = 4000) -> None:
        self.chain = chain
        self.evidence = evidence
        self.keys = sender_keys()
        self.run = os.urandom(8).hex()
        self.ahead = ahead
        self.head = 0
        self.count = 0
        self.buffer: collections.deque[tuple[bytes, bytes, int]] = collections.deque()
        self.stale_dropped = 0
        self.stalls = 0
        self._ready = asyncio.Event()

    def sign(self, k: int) -> list[tuple[bytes, bytes, int]]:
        """(hash, hex wire bytes, block_limit) of ``k`` fresh transactions. Called from one thread at a time."""
        out = []
        block_limit = self.head + BLOCK_LIMIT_MARGIN
        chain_id, group_id = self.chain
        for _ in range(k):
            n = self.count
            self.count += 1
            digest = hashlib.sha256(f"{self.run}-{n}".encode()).digest()
            meta = {"case_id": f"bench-{self.run}", "file_name": f"exhibit-{n}.pdf",
                    "media_type": "application/pdf", "size": 1000 + n}
            tx = Transaction(chain_id, group_id, n, block_limit, b"", self.evidence, "notarize",
                             (digest, meta, [])).signed_by(self.keys[n % SENDERS])
            out.append((tx.hash, to_hex(tx.encode()).encode(), block_limit))
        return out

    async def fill(self, stop: asyncio.Event) -> None:
        """Keep ``ahead`` transactions signed (in a worker thread, so the load's event loop keeps going)."""
        while not stop.is_set():
            if len(self.buffer) < self.ahead:
                self.buffer.extend(await asyncio.to_thread(self.sign, 250))
                self._ready.set()
            else:
                await asyncio.sleep(0.005)

    async def take(self, k: int) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        while len(out) < k:
            if not self.buffer:
                self.stalls += 1  # the load outran signing: the client, not the chain, is the limit
                self._ready.clear()
                await self._ready.wait()
                continue
            tx_hash, raw, block_limit = self.buffer.popleft()
            if block_limit <= self.head + REFRESH_MARGIN:
                self.stale_dropped += 1
                continue
            out.append((tx_hash, raw))
        return out


class Load:
    """Closed loop: ``concurrency`` workers, each with one request (of ``batch`` transactions) in flight
    until all of them are committed, so at most concurrency x batch transactions are outstanding."""

    def __init__(self, urls: list[str], signer: Signer, *, concurrency: int, batch: int, watch_all: bool,
                 max_txs: int = 0) -> None:
        self.urls = urls
        self.watch_all = watch_all
        self.signer = signer
        self.concurrency = concurrency
        self.batch = batch
        self.max_txs = max_txs
        self.taken = 0
        self.exhausted = False
        self.submitted: dict[bytes, tuple[float, int]] = {}  # hash -> (send time, node index)
        self.committed: dict[bytes, float] = {}  # hash -> when its block was seen on the node it was sent to
        self.errors: collections.Counter[str] = collections.Counter()
        self.waiting: list[dict[bytes, asyncio.Future[float]]] = [{} for _ in urls]
        self.blocks_seen: list[int] = [0 for _ in urls]
        self.txs_per_block: list[int] = []

    async def worker(self, w: int, session: aiohttp.ClientSession, deadline: float, tail: float) -> None:
        node = w % len(self.urls)
        url = self.urls[node]
        watched = node if self.watch_all else 0
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            k = self.batch
            if self.max_txs:
                k = min(k, self.max_txs - self.taken)
                if k <= 0:
                    self.exhausted = True  # reported: a rate this run could not exceed, not a result
                    return
            self.taken += k
            chunk = await self.signer.take(k)
            if self.batch == 1:
                body = b'{"jsonrpc":"2.0","id":0,"method":"sendTransaction","params":["%s"]}' % chunk[0][1]
            else:
                body = b"[" + b",".join(
                    b'{"jsonrpc":"2.0","id":%d,"method":"sendTransaction","params":["%s"]}' % (i, raw)
                    for i, (_, raw) in enumerate(chunk)) + b"]"
            futures = []
            for tx_hash, _ in chunk:  # registered before sending: the block may be seen before the answer
                fut = loop.create_future()
                self.waiting[watched][tx_hash] = fut
                futures.append((tx_hash, fut))
            sent = time.monotonic()
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                    doc = await r.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.errors[f"http:{type(exc).__name__}"] += len(chunk)
                for tx_hash, _ in futures:
                    self.waiting[watched].pop(tx_hash, None)
                await asyncio.sleep(0.1)
                continue
            answers = doc if isinstance(doc, list) else [doc]
            by_id = {a.get("id"): a for a in answers}
            accepted = []
            for i, (tx_hash, fut) in enumerate(futures):
                a = by_id.get(i)
                if a is not None and "result" in a:
                    self.submitted[tx_hash] = (sent, node)
                    accepted.append((tx_hash, fut))
                else:
                    self.waiting[watched].pop(tx_hash, None)
                    self.errors[f"rpc:{(a or {}).get('error', {}).get('code', 'none')}"] += 1
            for tx_hash, fut in accepted:
                try:
                    self.committed[tx_hash] = await asyncio.wait_for(fut, max(0.1, tail - time.monotonic()))
                except asyncio.TimeoutError:
                    return  # not committed by the end of the tail: counted as lost

    async def watch(self, node: int, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Commit times from new blocks' transaction hashes (``getBlockByNumber(n, false)``, which the
        node answers from its stored hash list without decoding the block)."""
        url = self.urls[node]
        known = await rpc(session, url, "getBlockNumber")
        while not stop.is_set():
            try:
                head = await rpc(session, url, "getBlockNumber")
                for n in range(known + 1, head + 1):
                    block = await rpc(session, url, "getBlockByNumber", n, False)
                    now = time.monotonic()
                    waiting = self.waiting[node]
                    for h in block["transactions"]:
                        fut = waiting.pop(from_hex(h), None)
                        if fut is not None and not fut.done():
                            fut.set_result(now)
                    self.blocks_seen[node] += 1
                    if node == 0:
                        self.txs_per_block.append(len(block["transactions"]))
                        self.signer.head = n
                    known = n
            except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as exc:
                self.errors[f"watch:{type(exc).__name__}"] += 1
            await asyncio.sleep(WATCH_INTERVAL_S)


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# -- profiling ------------------------------------------------------------------------------------


def start_profilers(py_spy: str, pids: list[int], seconds: int, out_dir: Path) -> list[subprocess.Popen]:
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []

    for i, pid in enumerate(pids):
        out = out_dir / f"node{i}.collapsed"
        procs.append(subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100", "--format", "raw",
             "--nonblocking", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        self_counts[_frame(frames[-1])] += n
        for f in set(_frame(x) for x in frames):
            incl_counts[f] += n
    if total == 0:
        return {"samples": 0}
    return {
        "samples": total,
        "self": [(f, round(c / total, 3)) for f, c in self_counts.most_common(top)],
        "inclusive": [(f, round(c / total, 3)) for f, c in incl_counts.most_common(top * 2)],
    }


def _frame(f: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    name, _, where = f.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


# -- main ------------------------------------------------------------------------------------------


async def run_load(cluster: Cluster, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Run each mode's window on the same cluster, one after the other, and record each separately."""
    urls = cluster.rpc_urls
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        info = await rpc(session, urls[0], "getNodeInfo")
        chain = (info["chainId"], info["groupId"])
        evidence = from_hex(await rpc(session, urls[0], "getContractAddress", "evidence"), size=20)
        signer = Signer(chain, evidence)
        signer.head = await rpc(session, urls[0], "getBlockNumber")
        signer.buffer.extend(await asyncio.to_thread(signer.sign, signer.ahead))
        stop_fill = asyncio.Event()
        filler = asyncio.create_task(signer.fill(stop_fill))

        result["node_rss_mb_start"] = [rss_mb(p) for p in cluster.pids]
        modes = {"single": [1], "batched": [args.batch], "both": [1, args.batch]}[args.mode]
        for batch in modes:
            name = "single" if batch == 1 else "batched"
            result[name] = await run_window(cluster, args, session, signer, batch)
            log(f"{name}: {json.dumps(result[name])}")
        result["node_rss_mb_end"] = [rss_mb(p) for p in cluster.pids]
        stop_fill.set()
        await filler


async def run_window(cluster: Cluster, args: argparse.Namespace, session: aiohttp.ClientSession, signer: Signer,
                     batch: int) -> dict[str, Any]:
    urls = cluster.rpc_urls
    # The same number of transactions in flight in both modes: batched mode has fewer workers.
    concurrency = args.concurrency if batch == 1 else max(1, args.concurrency // batch)
    load = Load(urls, signer, concurrency=concurrency, batch=batch, watch_all=args.watch_all,
                max_txs=args.max_txs)
    stalls0, stale0 = signer.stalls, signer.stale_dropped
    stop_watch = asyncio.Event()
    watched = range(len(urls)) if args.watch_all else range(1)
    watchers = [asyncio.create_task(load.watch(i, session, stop_watch)) for i in watched]
    await asyncio.sleep(0.2)
    cpu0 = [cpu_seconds(p) for p in cluster.pids]
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    profilers = []
    if args.profile:
        profilers = start_profilers(args.py_spy, cluster.pids, args.profile, args.profile_dir / f"batch{batch}")
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    window_probe = asyncio.create_task(_at(deadline, lambda: (
        [cpu_seconds(p) for p in cluster.pids], resource.getrusage(resource.RUSAGE_SELF), os.getloadavg())))
    async with asyncio.TaskGroup() as tg:
        for w in range(concurrency):
            tg.create_task(load.worker(w, session, deadline, deadline + args.tail_timeout))
    t_tail = time.monotonic()
    t_end = deadline
    cpu1, self1, load_avg = await window_probe
    log(f"batch {batch} done: {len(load.submitted)} accepted, {len(load.committed)} committed, "
        f"errors {dict(load.errors)}")
    stop_watch.set()
    await asyncio.gather(*watchers)
    for p in profilers:
        try:
            p.wait(timeout=args.profile + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    # A sample of receipts, asked of a node other than the one the transaction went to.
    sample = random.Random(1).sample(sorted(load.submitted), min(200, len(load.submitted)))
    receipts_ok = 0
    for h in sample:
        node = (load.submitted[h][1] + 1) % len(urls)
        r = await rpc(session, urls[node], "getTransactionReceipt", to_hex(h))
        if r is not None and r["status"] == 0:
            receipts_ok += 1

    latencies = []
    in_window = 0
    for h, (sent, _node) in load.submitted.items():
        done = load.committed.get(h)
        if done is None:
            continue
        latencies.append(done - sent)
        if done <= t_end:
            in_window += 1
    latencies.sort()
    window = t_end - t0
    committed_total = len(latencies)
    out: dict[str, Any] = {
        "mode": "single" if batch == 1 else f"batched ({batch} per JSON-RPC request)",
        "nodes": cluster.size, "seconds": round(window, 2), "concurrency": concurrency, "batch": batch,
        "in_flight": concurrency * batch,
        "watch": "all" if args.watch_all else "node0",
        "accepted": len(load.submitted), "committed": committed_total,
        "committed_in_window": in_window,
        "committed_tps": round(in_window / window, 1),
        "committed_tps_incl_tail": round(committed_total / max(window, t_tail - t0), 1) if committed_total else 0,
        "lost": len(load.submitted) - committed_total,
        "p50_latency_s": _r(percentile(latencies, 0.50)), "p99_latency_s": _r(percentile(latencies, 0.99)),
        "max_latency_s": _r(latencies[-1] if latencies else None),
        "errors": dict(load.errors),
        "submissions_exhausted": load.exhausted,
        "signer_stalls": signer.stalls - stalls0, "stale_dropped": signer.stale_dropped - stale0,
        "receipts_checked": len(sample), "receipts_ok": receipts_ok,
        "blocks": load.blocks_seen[0],
        "mean_txs_per_block": round(sum(load.txs_per_block) / max(1, len(load.txs_per_block)), 1),
        "node_cpu_s": [_r(b - a) if a is not None and b is not None else None for a, b in zip(cpu0, cpu1, strict=True)],
        "client_cpu_s": _r((self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)),
        "load_avg_1m": round(load_avg[0], 2),
    }
    node_cpu = sum(x for x in out["node_cpu_s"] if x is not None)
    out["cpu_ms_per_tx"] = round((node_cpu + out["client_cpu_s"]) / max(1, in_window) * 1000, 2)
    out["node_cpu_ms_per_tx"] = round(node_cpu / max(1, in_window) * 1000, 2)
    if load.exhausted:
        log(f"WARNING: --max-txs {args.max_txs} ran out inside the window: committed_tps is bounded by it")
    if out["signer_stalls"]:
        log(f"WARNING: the load waited {out['signer_stalls']} times for signing: the client limited this run")
    return out


async def _at(when: float, probe: Any) -> Any:
    """``probe()`` at monotonic time ``when`` (the end of the timed window)."""
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    return probe()


def client_loop_factory(name: str) -> Any:
    """The load generator's loop: asyncio's (default), or uvloop if installed (``--client-loop uvloop``):
    the client shares the two cores with the nodes, so every microsecond it spends is one the chain
    cannot. The nodes run asyncio's loop unless CONSORTIUM_EVENT_LOOP=uvloop (consortium.node.event_loop)."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log("uvloop is not installed: the client runs asyncio's loop")
            return None
        return uvloop.new_event_loop
    return None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=1000,
                    help="transactions in flight: single mode runs this many workers, each keeping one request "
                         "in flight until its transaction is committed; batched mode runs concurrency / batch "
                         "workers with batches of --batch")

    ap.add_argument("--connections", type=int, default=64, help="HTTP connections to the nodes (all together)")
    ap.add_argument("--mode", choices=("both", "single", "batched"), default="both",
                    help="single: one sendTransaction per request; batched: JSON-RPC batches of --batch; "
                         "both (default): one window of each on the same cluster, reported separately")
    ap.add_argument("--batch", type=int, default=10, help="transactions per JSON-RPC request in batched mode")
    ap.add_argument("--max-txs", type=int, default=0,
                    help="stop submitting after this many per window (0: no limit; if reached, the result says so)")
    ap.add_argument("--watch-all", action="store_true",
                    help="time each commit on the node the transaction went to (default: on node0 only, which "
                         "commits within milliseconds of the others and spares the nodes the block reads)")
    ap.add_argument("--tail-timeout", type=float, default=30)
    ap.add_argument("--profile", type=int, default=0, metavar="SECONDS", help="py-spy every node for this long")
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy-venv/bin/py-spy")
    ap.add_argument("--profile-out", type=Path, default=Path(tempfile.gettempdir()) / "cluster_bench_profile.json")
    ap.add_argument("--keep", action="store_true", help="keep the chain folder (node logs)")
    ap.add_argument("--client-loop", choices=("uvloop", "asyncio"), default="asyncio",
                    help="the load generator's event loop (its CPU shares the machine with the nodes)")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    verifies = ed25519_verifies_per_second()
    bound = cores * verifies / args.nodes
    log(f"ed25519: {verifies:,.0f} verifications/s on one core; bound for {args.nodes} nodes on {cores} cores: "
        f"{bound:,.0f} tx/s")

    stages = stage_costs()
    log(f"stage costs, CPU us per transaction: {stages}")

    tmp = Path(tempfile.mkdtemp(prefix="consortium-bench-"))
    args.profile_dir = tmp / "profile"
    args.profile_dir.mkdir()
    cluster = Cluster(tmp / "chain", args.nodes)
    result: dict[str, Any] = {}
    survivors: list[int] = []
    try:
        cluster.build()
        cluster.start()
        log(f"cluster of {args.nodes} up in {tmp} (pids {cluster.pids})")
        with asyncio.Runner(loop_factory=client_loop_factory(args.client_loop)) as runner:
            runner.run(run_load(cluster, args, result))
    finally:
        survivors = cluster.stop()
        if survivors:
            log(f"stop_all.sh left {survivors}; killed them by pid")
        if args.profile:
            profiles = {}
            for sub in sorted(args.profile_dir.iterdir()):
                for i in range(args.nodes):
                    path = sub / f"node{i}.collapsed"
                    if path.exists():
                        profiles[f"{sub.name}/node{i}"] = summarize_profile(path)
            args.profile_out.write_text(json.dumps(profiles, indent=1))
            log(f"profile summary written to {args.profile_out}")
        if args.keep:
            log(f"chain folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for name in ("single", "batched"):
        if name in result:
            result[f"{name}_tps"] = result[name]["committed_tps"]
            result[f"{name}_p99_s"] = result[name]["p99_latency_s"]
            result[name]["fraction_of_bound"] = round(result[name]["committed_tps"] / bound, 4)
    result.update({
        "client_loop": args.client_loop, "node_loop": loop_name(),
        "cores": cores, "ed25519_verify_per_s": round(verifies), "verify_bound_tps": round(bound),
        "target_tps": 2000, "target_p99_s": 1.0, "target_node_cpu_ms_per_tx": 0.8,

        "processes_left": len(survivors),
        "stage_cpu_us_per_tx": stages,
    })
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
