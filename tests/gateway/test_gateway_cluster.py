"""End to end: a real 4-node cluster and a real gateway process, driven only through HTTP and JSON-RPC.

In order (module-scoped state): clients submit concurrently and every item gets a proof; bad
input is refused with a 4xx naming the item while the gateway keeps serving; the gateway is
SIGKILLed under load and restarted, and every acknowledged item still gets a proof, each
batch on chain exactly once; finally the chain and the gateway are stopped and every proof
is verified offline from genesis alone, and tampered ones are NOT VERIFIED with their reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.cluster.harness import ROOT, Cluster
from tests.gateway.gateway_proc import GatewayProcess, OfflineVerifier

from consortium.client.gateway import GatewayClient, GatewayError, GatewayRefused
from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.evidence import NotVerified
from consortium.evidence.commitment import Opening
from consortium.evidence.errors import NOT_A_NOTARIZATION, PROOF_ALTERED
from consortium.evidence.item import BINARY_MAGIC, EvidenceItem
from consortium.evidence.item_bundle import ItemBundle, parse_item_bundle, verify_item_bundle
from consortium.gateway.tree import BatchTree
from consortium.ledger.merkle import ListProof
from consortium.node.genesis import load_genesis

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class Env:
    cluster: Cluster
    gateway: GatewayProcess
    proofs: dict[bytes, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Every commitment acknowledged so far -> its proof document (filled in as proofs arrive)."""
    cli_folder: Path | None = None
    cli_files: list[tuple[Path, Path]] = dataclasses.field(default_factory=list)
    """(file, item proof written by the CLI) pairs to verify with the CLI once the chain is stopped."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("gateway-cluster")
    cluster = Cluster(root / "chain", 4)
    gateway: GatewayProcess | None = None
    try:
        cluster.build()
        cluster.start()
        gateway = GatewayProcess(cluster, root / "gw", extra_toml="batching.interval_ms = 200")
        gateway.start()
        yield Env(cluster, gateway)
    finally:
        try:
            if gateway is not None:
                gateway.stop()
        finally:
            cluster.stop()


def new_items(n: int, tag: str) -> list[EvidenceItem]:
    return [EvidenceItem.create(os.urandom(32), {"ref": f"{tag}-{i}", "amount": i} if i % 4 == 0 else None)
            for i in range(n)]


async def fetch_proofs(url: str, commitments: list[bytes], *, timeout: float = 60.0) -> dict[bytes, dict[str, Any]]:
    out: dict[bytes, dict[str, Any]] = {}
    sem = asyncio.Semaphore(16)
    async with GatewayClient(url) as client:
        async def one(c: bytes) -> None:
            async with sem:
                doc = await client.proof_json(c, wait=timeout)
                assert doc is not None, f"no proof for {to_hex(c)} after {timeout} s"
                out[c] = doc
        await asyncio.gather(*(one(c) for c in commitments))
    return out


def test_concurrent_clients_all_get_proofs(env: Env) -> None:
    async def client(w: int) -> list[EvidenceItem]:
        sent: list[EvidenceItem] = []
        async with GatewayClient(env.gateway.url) as c:
            for r in range(5):
                items = new_items(120, f"c{w}r{r}")
                accepted = await c.submit(items)
                assert accepted.count == len(items)
                sent += items
        return sent

    async def main() -> list[list[EvidenceItem]]:
        return await asyncio.gather(*(client(w) for w in range(6)))

    batches = asyncio.run(main())
    items = [i for b in batches for i in b]
    assert len({i.commitment for i in items}) == len(items) == 6 * 5 * 120
    proofs = asyncio.run(fetch_proofs(env.gateway.url, [i.commitment for i in items]))
    by_commitment = {i.commitment: i for i in items}
    for c, doc in proofs.items():
        bundle = parse_item_bundle(doc)
        assert bundle.item == by_commitment[c]  # metadata included, exactly as submitted
    env.proofs.update(proofs)
    status = env.gateway.status()
    assert status["nextSeq"] == len(items) and status["openItems"] == 0


def post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url + "/items", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_bad_input_is_refused_naming_the_item(env: Env) -> None:
    url = env.gateway.url
    good = "0x" + os.urandom(32).hex()
    known = to_hex(next(iter(env.proofs)))
    cases: list[tuple[bytes, str, int, str, dict[str, Any]]] = [
        (b"{not json", "application/json", 400, "bad-json", {}),
        (json.dumps({"items": [{"commitment": good}, {"commitment": "0x12"}]}).encode(), "application/json", 400,
         "bad-item", {"item": 1}),
        (json.dumps({"items": [{"commitment": good, "metadata": {"Bad Name": 1}}]}).encode(), "application/json",
         400, "bad-item", {"item": 0, "commitment": good}),
        (json.dumps({"items": [{"commitment": good, "metadata": {"note": "x" * 300}}]}).encode(), "application/json",
         400, "bad-item", {"item": 0}),
        (json.dumps({"items": [{"commitment": good}, {"commitment": good}]}).encode(), "application/json", 409,
         "duplicate", {}),
        (json.dumps({"items": [{"commitment": good}, {"commitment": known}]}).encode(), "application/json", 409,
         "duplicate", {}),
        (BINARY_MAGIC + os.urandom(32) + b"\x00\x05ab", "application/vnd.consortium.items", 400, "bad-item",
         {"item": 0}),
        (b"CEI9" + bytes(34), "application/vnd.consortium.items", 400, "bad-item", {}),
        (b"items", "text/plain", 415, "unsupported-media-type", {}),
        (BINARY_MAGIC + bytes(34) * 200_000, "application/vnd.consortium.items", 413, "request-too-large", {}),
    ]
    for body, ctype, want_status, want_code, want_fields in cases:
        status, doc = post(url, body, ctype)
        assert (status, doc.get("code")) == (want_status, want_code), (body[:60], status, doc)
        assert doc["error"]
        for k, v in want_fields.items():
            assert doc.get(k) == v, (doc, k)
    status, doc = post(url, json.dumps({"items": [{"commitment": good}, {"commitment": known}]}).encode(),
                       "application/json")
    assert doc["duplicates"] == [{"item": 1, "commitment": known, "seq": doc["duplicates"][0]["seq"]}]
    assert f"item 1 ({known}) is already accepted" in doc["error"]
    for path, want in (("/items/0x1234/proof", 400), (f"/items/{good}/proof", 404), (f"/items/{good}", 404),
                       (f"/items/{known}/proof?wait=abc", 400)):
        try:
            urllib.request.urlopen(url + path, timeout=10)
            raise AssertionError(f"{path} answered 200")
        except urllib.error.HTTPError as exc:
            assert exc.code == want, (path, exc.code)
            assert json.loads(exc.read())["error"]
    # Nothing of a refused request was kept, and the gateway still serves.
    status, doc = post(url, json.dumps({"items": [{"commitment": good}]}).encode(), "application/json")
    assert status == 200 and doc["accepted"] == 1
    env.proofs.update(asyncio.run(fetch_proofs(url, [from_hex(good)])))


class Load:
    """Clients submitting continuously; records what the gateway acknowledged (HTTP 200)."""

    def __init__(self, url: str, workers: int = 3, per_request: int = 40) -> None:
        self.url, self.workers, self.per_request = url, workers, per_request
        self.acknowledged: list[bytes] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()

    async def _main(self) -> None:
        await asyncio.gather(*(self._worker(w) for w in range(self.workers)))

    async def _worker(self, w: int) -> None:
        async with GatewayClient(self.url, timeout=10, overload_wait=5) as c:
            n = 0
            while not self._stop.is_set():
                items = new_items(self.per_request, f"k{w}-{n}")
                n += 1
                try:
                    await c.submit(items)
                except (GatewayError, GatewayRefused):
                    self.errors += 1  # the gateway is down: this request was not acknowledged
                    await asyncio.sleep(0.05)
                    continue
                self.acknowledged += [i.commitment for i in items]
                await asyncio.sleep(random.uniform(0.0, 0.08))


def test_sigkill_under_load_loses_no_acknowledged_item(env: Env) -> None:
    load = Load(env.gateway.url)
    load.start()
    try:
        time.sleep(2.5)
        before = len(load.acknowledged)
        env.gateway.kill(signal.SIGKILL)
        killed_at = len(load.acknowledged)
        time.sleep(0.5)
        env.gateway.start()
        time.sleep(2.0)
    finally:
        load.stop()
    assert before > 0 and len(load.acknowledged) > killed_at, "load must run before and after the kill"
    assert load.errors > 0, "some requests must have hit the dead gateway"
    print(f"acknowledged {len(load.acknowledged)} items ({killed_at} before the kill), {load.errors} refused requests")
    proofs = asyncio.run(fetch_proofs(env.gateway.url, load.acknowledged, timeout=90))
    assert set(proofs) == set(load.acknowledged)
    env.proofs.update(proofs)

    # Exactly once on chain: the notarize_batch transactions that succeeded cover the log once.
    status = env.gateway.status()
    assert status["openItems"] == 0
    c = env.cluster.client(0)
    height = c.block_number()
    roots, total = set(), 0
    admin = "0x" + env.cluster.admin_key().address.hex()
    for n in range(1, height + 1):
        block = c.request("getBlockByNumber", n, True)
        for tx in block["transactions"]:
            if tx["method"] != "notarize_batch":
                continue
            receipt = c.request("getTransactionReceipt", tx["hash"])
            if receipt["status"] != 0:
                continue
            assert tx["from"].lower() == admin
            root, count = tx["args"]
            assert root["$bytes"] not in roots, "a batch root notarized twice"
            roots.add(root["$bytes"])
            total += count
    assert total == status["nextSeq"], "every item of the gateway's log is in exactly one committed batch"


def cli(*args: str, ok: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONSORTIUM_GATEWAY", None)
    r = subprocess.run([sys.executable, "-m", "consortium", *args], capture_output=True, text=True, env=env,
                       timeout=120, cwd=cwd)
    if ok:
        assert r.returncode == 0, f"consortium {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def test_cli_notarizes_a_folder_with_salted_commitments(env: Env, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("statements")
    for i in range(25):
        (folder / f"statement-{i:02}.txt").write_text(f"account 6222-{i:04}: balance 100.{i:02} CNY\n")
    manifest = folder.parent / "run.manifest.json"
    out = cli("evidence", "notarize-batch", str(folder), "--gateway", env.gateway.url, "--manifest", str(manifest),
              "--wait", "60", "--case", "C-7", "--json")
    doc = json.loads(out.stdout)
    assert (doc["files"], doc["submitted"], doc["proofsWritten"], doc["mode"]) == (25, 25, 25, "salted")
    assert manifest.stat().st_mode & 0o077 == 0, "the manifest holds the salts: owner-only"
    entries = json.loads(manifest.read_text())["items"]
    assert all(e["salt"] and e["commitment"] != e["fileHash"] for e in entries)
    with pytest.raises(urllib.error.HTTPError) as info:  # the gateway never saw a bare file hash
        urllib.request.urlopen(f"{env.gateway.url}/items/{entries[0]['fileHash']}", timeout=10)
    assert info.value.code == 404
    env.cli_folder = folder


def test_cli_proof_from_the_gateway_with_the_manifest(env: Env) -> None:
    folder = env.cli_folder
    assert folder is not None
    target = folder / "statement-03.txt"
    out = folder.parent / "statement-03.again.proof.json"
    cli("evidence", "proof", str(target), "--gateway", env.gateway.url, "--manifest",
        str(folder.parent / "run.manifest.json"), "--out", str(out))
    assert json.loads(out.read_text())["evidence"]["salt"]
    env.cli_files = [(target, out), (folder / "statement-07.txt", folder / "statement-07.txt.proof.json")]


def test_every_proof_verifies_offline_after_the_chain_stops(env: Env) -> None:
    env.gateway.stop()
    env.cluster.stop()
    genesis_file = env.cluster.root / "node0" / "genesis.toml"
    for path, proof in env.cli_files:
        r = cli("evidence", "verify", str(path), "--proof", str(proof), "--genesis", str(genesis_file))
        assert r.stdout.startswith(f"VERIFIED: {path.name}") and "gateway batch" in r.stdout and "(salted)" in r.stdout
        assert "case id" in r.stdout and "C-7" in r.stdout
        edited = path.with_name(path.name + ".edited")
        edited.write_bytes(path.read_bytes() + b" ")
        r = cli("evidence", "verify", str(edited), "--proof", str(proof), "--genesis", str(genesis_file), ok=False)
        assert r.returncode == 1 and r.stdout.startswith("NOT VERIFIED") and "(file-changed)" in r.stdout
    genesis = load_genesis(env.cluster.root / "node0" / "genesis.toml")
    verifier = OfflineVerifier(genesis)
    for commitment, doc in env.proofs.items():
        verifier.verify(doc, commitment)
    assert verifier.batches >= 2

    # Tampering, on real bundles from the stopped chain: each is NOT VERIFIED with its reason.
    by_root: dict[str, list[tuple[bytes, dict[str, Any]]]] = {}
    for c, d in env.proofs.items():
        by_root.setdefault(d["batch"]["evidence"]["fileHash"], []).append((c, d))
    (c1, d1), (c2, d2) = next(v for v in by_root.values() if len(v) >= 2)[:2]
    b1, b2 = parse_item_bundle(d1), parse_item_bundle(d2)
    verify_item_bundle(genesis, b1, c1)

    def refused(bundle: ItemBundle, commitment: bytes) -> tuple[str, str]:
        with pytest.raises(NotVerified) as info:
            verify_item_bundle(genesis, bundle, commitment)
        return info.value.code, info.value.message

    siblings = list(b1.path.path)
    siblings[0] = bytes(32)
    assert refused(dataclasses.replace(b1, path=ListProof(b1.path.index, b1.path.size, tuple(siblings))), c1)[0] \
        == PROOF_ALTERED
    code, message = refused(dataclasses.replace(b1, path=b2.path), c1)
    assert code == PROOF_ALTERED and "another item" in message
    forged = EvidenceItem.create(os.urandom(32))
    tree = BatchTree([forged.encoded, b1.item.encoded])
    code, message = refused(ItemBundle(forged, tree.path(0), dataclasses.replace(b1.batch, opening=Opening.public(tree.root))),
                            forged.commitment)
    assert code == NOT_A_NOTARIZATION and "not on chain" in message
    assert canonical.decode(from_hex(d1["path"]))[1] == b1.path.size

