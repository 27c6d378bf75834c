"""A real cluster of node processes for end-to-end tests, driven by the project's own scripts.

The cluster is made with ``scripts/build_chain.sh`` on free loopback ports,
started with ``scripts/start_all.sh`` and stopped with ``scripts/stop_all.sh``;
tests perturb single nodes by the pid in ``nodeI/node.pid`` and check the
outcome only through each node's public JSON-RPC (CometBFT's e2e discipline).

Every pid the harness ever saw is remembered, so :meth:`Cluster.stop` can
prove that nothing is left behind, whatever the tests did in between.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from consortium.client import Client, SyncClient
from consortium.client.sdk import ClientError, RpcCallError
from consortium.crypto.keyfile import load_key
from consortium.crypto.suite import KeyPair
from consortium.ledger.transaction import Transaction

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
PORT_RANGE = (20_000, 32_000)
"""Below Linux's ephemeral range (32768+), so outbound connections of other tests cannot take them."""

T = TypeVar("T")


def free_port_block(count: int, *, exclude: Iterable[int] = (), attempts: int = 200) -> int:
    """A base port such that ``base .. base+count-1`` can all be bound on 127.0.0.1 right now."""
    taken = set(exclude)
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
        ports = range(base, base + count)
        if taken.intersection(ports):
            continue
        socks = []
        try:
            for port in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no block of {count} free loopback ports found")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a running (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists at all, i.e. it was also reaped.

    The scripts test liveness with ``kill -0``, which a zombie passes; orphaned
    nodes are reaped by init, which may take a second here. Waiting for this
    before re-running start_all keeps it from taking a zombie for a running node.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def eventually(check: Callable[[], T], *, timeout: float, interval: float = 0.2, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy (returned) or raise after ``timeout`` seconds.

    Exceptions from ``check`` count as "not yet" (a node may be restarting); the
    last one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (ClientError, AssertionError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(interval)


def evidence_args(tag: str) -> list:
    """Arguments of a fresh ``evidence.notarize`` call (its hash is unique per ``tag``)."""
    digest = hashlib.sha256(tag.encode()).digest()
    return [digest, {"case_id": "case-" + tag[:16], "file_name": f"{tag}.pdf", "size": len(tag)}, []]


@dataclass
class NodeHandle:
    index: int
    dir: Path
    rpc_url: str
    p2p_port: int


@dataclass
class Cluster:
    root: Path
    size: int
    p2p_base: int = 0
    rpc_base: int = 0
    nodes: list[NodeHandle] = field(default_factory=list)
    seen_pids: set[int] = field(default_factory=set)
    _clients: dict[int, SyncClient] = field(default_factory=dict)

    # -- lifecycle ----------------------------------------------------------------------------
    def build(self) -> None:
        self.p2p_base = free_port_block(self.size)
        self.rpc_base = free_port_block(self.size, exclude=range(self.p2p_base, self.p2p_base + self.size))
        self._script("build_chain.sh", "-n", str(self.size), "-o", str(self.root),
                     "-p", str(self.p2p_base), "-r", str(self.rpc_base))
        self.nodes = [
            NodeHandle(i, self.root / f"node{i}", f"http://127.0.0.1:{self.rpc_base + i}/", self.p2p_base + i)
            for i in range(self.size)
        ]

    def start(self, timeout: int = 60) -> None:
        """``start_all.sh``: starts every node not running and returns once all answer RPC."""
        try:
            self._script("start_all.sh", str(self.root), str(timeout), timeout=timeout + 30)
        finally:
            self._remember_pids()

    def stop(self) -> list[int]:
        """``stop_all.sh``, then prove that every pid this cluster ever had is gone; returns those pids.

        A survivor is killed by its pid (so the machine is clean) and reported as a failure.
        """
        self._remember_pids()
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        self._script("stop_all.sh", str(self.root), "20", timeout=60)
        survivors = [pid for pid in sorted(self.seen_pids) if pid_alive(pid)]
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        if survivors:
            raise AssertionError(f"stop_all.sh left processes running: {survivors} (killed them by pid)")
        return sorted(self.seen_pids)

    def pid(self, i: int) -> int | None:
        try:
            return int((self.nodes[i].dir / "node.pid").read_text().strip())
        except FileNotFoundError:
            return None

    def signal_node(self, i: int, sig: signal.Signals, *, timeout: float = 20.0) -> int:
        """Send ``sig`` to node ``i`` by its pid file and wait until the process is gone."""
        pid = self.pid(i)
        assert pid is not None and pid_alive(pid), f"node{i} is not running"
        self.seen_pids.add(pid)
        self._drop_client(i)
        os.kill(pid, sig)
        eventually(lambda: pid_gone(pid), timeout=timeout, interval=0.05, what=f"node{i} (pid {pid}) to exit")
        return pid

    def _remember_pids(self) -> None:
        for i in range(len(self.nodes)):
            pid = self.pid(i)
            if pid is not None:
                self.seen_pids.add(pid)

    def _script(self, name: str, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    # -- RPC ----------------------------------------------------------------------------------
    def client(self, i: int) -> SyncClient:
        if i not in self._clients:
            self._clients[i] = SyncClient(self.nodes[i].rpc_url, timeout=10)
        return self._clients[i]

    def _drop_client(self, i: int) -> None:
        c = self._clients.pop(i, None)
        if c is not None:
            c.close()

    def admin_key(self) -> KeyPair:
        return load_key(self.root / "accounts" / "admin0.json")

    def height(self, i: int) -> int:
        return self.client(i).block_number()

    def headers(self, i: int, upto: int, start: int = 0) -> list[dict[str, Any]]:
        c = self.client(i)
        return [c.request("getBlockHeaderByNumber", n) for n in range(start, upto + 1)]

    def wait_heights(self, live: Iterable[int], at_least: int, *, timeout: float = 60) -> None:
        live = list(live)
        eventually(lambda: all(self.height(i) >= at_least for i in live), timeout=timeout,
                   what=f"nodes {live} to reach height {at_least}")

    def push_blocks(self, count: int, via: int = 0, *, timeout: float = 30) -> int:
        """Make at least ``count`` more blocks: an idle chain seals none (no empty blocks), so a test
        that needs the chain to move sends transactions, one after another. Returns the last block."""
        c = self.client(via)
        key = KeyPair(os.urandom(32))
        block = c.block_number()
        for n in range(count):
            tx = c.build(key, "evidence", "notarize", evidence_args(f"push-{key.address.hex()}-{n}"))
            c.send_transaction(tx)
            block = c.wait_receipt(tx.hash, timeout=timeout)["blockNumber"]
        return block

    def log_tail(self, i: int, lines: int = 40) -> str:
        try:
            return "\n".join((self.nodes[i].dir / "node.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def assert_same_chain(cluster: Cluster, live: Iterable[int], upto: int) -> list[dict[str, Any]]:
    """Every node in ``live`` has the same header (hash, state root, ...) at every height 0..``upto``,
    the headers form one hash chain, and each block after genesis carries a 2f+1 commit certificate."""
    live = list(live)
    views = {i: cluster.headers(i, upto) for i in live}
    reference = views[live[0]]
    for i in live[1:]:
        for ref, mine in zip(reference, views[i], strict=True):
            assert (mine["hash"], mine["stateRoot"]) == (ref["hash"], ref["stateRoot"]), (
                f"node{i} and node{live[0]} differ at height {ref['number']}: {mine} vs {ref}")
    quorum = 2 * ((cluster.size - 1) // 3) + 1
    for prev, cur in pairwise(reference):
        assert cur["parentHash"] == prev["hash"], f"block {cur['number']} does not link to its parent"
        assert len({s["sealerIndex"] for s in cur["signatures"]}) >= quorum, (
            f"block {cur['number']} has a commit certificate of {len(cur['signatures'])} < {quorum} seals")
    return reference


# -- load from a client ------------------------------------------------------------------------


@dataclass
class LoadResult:
    submitted: dict[bytes, int] = field(default_factory=dict)
    """tx hash -> index of the node it was sent to (sendTransaction answered with its hash)."""
    acknowledged: dict[bytes, int] = field(default_factory=dict)
    """tx hash -> block number from a receipt: these must never be lost."""
    send_errors: int = 0


class LoadGenerator:
    """Sends pre-signed notarize transactions round-robin to the ``targets`` nodes from a thread.

    Uses the async SDK at bounded concurrency; a transaction counts as
    acknowledged only once a node returned its receipt. Sending to a node that
    died only produces send errors (the transaction is retried on the next node).
    """

    def __init__(self, cluster: Cluster, targets: list[int], *, concurrency: int = 8, tag: str = "load",
                 limit: int | None = None) -> None:
        self.cluster = cluster
        self.limit = limit
        self.key = KeyPair(os.urandom(32))
        self.targets = targets
        self.concurrency = concurrency
        self.tag = tag
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._made = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"load-{self.tag}", daemon=True)
        self._thread.start()

    def wait_done(self, timeout: float = 60) -> LoadResult:
        """With a ``limit``: wait until every transaction was sent and had its receipt (or gave up)."""
        assert self._thread is not None
        self._thread.join(timeout)
        return self.stop()

    def stop(self, timeout: float = 60) -> LoadResult:
        """Stop sending; wait for the receipts of what was sent (each gives up after 30 s)."""
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the load generator did not stop")
        if self._error is not None:
            raise self._error
        return self.result

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by stop()
            self._error = exc

    async def _main(self) -> None:
        clients = [Client(self.cluster.nodes[i].rpc_url, timeout=5) for i in range(self.cluster.size)]
        try:
            head = await self._head(clients)
            chain_id, group_id = await clients[self.targets[0]].chain_ids()
            evidence = await clients[self.targets[0]].resolve("evidence")
            counter = iter(range(10**9))

            def make() -> Transaction:
                n = next(counter)  # nonces unique per generator: each has its own key
                return Transaction(chain_id, group_id, n, head + 400, b"", evidence, "notarize",
                                   tuple(evidence_args(f"{self.tag}-{n}"))).signed_by(self.key)

            async with asyncio.TaskGroup() as tg:
                for w in range(self.concurrency):
                    tg.create_task(self._worker(w, clients, make))
        finally:
            for c in clients:
                await c.close()

    async def _head(self, clients: list[Client]) -> int:
        for i in self.targets:
            try:
                return await clients[i].block_number()
            except ClientError:
                continue
        raise ClientError("no target node answers")

    async def _worker(self, w: int, clients: list[Client], make: Callable[[], Transaction]) -> None:
        turn = w
        while not self._stop.is_set():
            if self.limit is not None and self._made >= self.limit:
                return
            self._made += 1
            tx = make()
            node = None
            for _ in range(len(self.targets) * 3):  # find a node that takes it
                i = self.targets[turn % len(self.targets)]
                turn += 1
                try:
                    await clients[i].send_transaction(tx)
                    node = i
                    break
                except RpcCallError:
                    raise
                except ClientError:
                    self.result.send_errors += 1
                    await asyncio.sleep(0.05)
            if node is None:
                continue
            self.result.submitted[tx.hash] = node
            receipt = await self._receipt(clients, tx.hash, node)
            if receipt is not None:
                assert receipt["status"] == 0, receipt
                self.result.acknowledged[tx.hash] = receipt["blockNumber"]

    async def _receipt(self, clients: list[Client], tx_hash: bytes, first: int) -> dict | None:
        """Poll for the receipt on the node that took the tx, moving on to others if it dies."""
        order = [first] + [i for i in self.targets if i != first]
        deadline = time.monotonic() + 30
        k = 0
        while time.monotonic() < deadline:
            try:
                receipt = await clients[order[k % len(order)]].receipt(tx_hash)
                if receipt is not None:
                    return receipt
            except ClientError:
                k += 1
            await asyncio.sleep(0.05)
        return None


def receipt_blocks(cluster: Cluster, nodes: Iterable[int], hashes: Iterable[bytes]) -> dict[int, dict[bytes, int | None]]:
    """For each node, the block number of each transaction's receipt (None if it has none)."""
    hashes = list(hashes)
    nodes = list(nodes)

    async def one_node(i: int) -> dict[bytes, int | None]:
        out: dict[bytes, int | None] = {}
        sem = asyncio.Semaphore(16)
        async with Client(cluster.nodes[i].rpc_url, timeout=10) as c:
            async def one(h: bytes) -> None:
                async with sem:
                    r = await c.receipt(h)
                out[h] = None if r is None else r["blockNumber"]

            async with asyncio.TaskGroup() as tg:
                for h in hashes:
                    tg.create_task(one(h))
        return out

    async def main() -> dict[int, dict[bytes, int | None]]:
        return {i: await one_node(i) for i in nodes}

    return asyncio.run(main())
