"""Four organizations on four "hosts": Linux network namespaces joined by a bridge, each host's
files made by running the CLI as that organization in its own folder, 25 ms each way between
hosts through a delaying TCP proxy (this kernel has no netem), real node processes.

Checked: the chain commits; evidence notarized at the notary verifies offline; a node of a
non-member organization is refused at the TLS handshake; with one host's link down the other
three keep committing (n = 4, f = 1) and it catches up after the link returns, losing nothing
acknowledged; removing an organization disconnects its node everywhere; a fifth organization
added by the committee runs as an observer, syncs, joins and becomes a sealer; every node agrees
on every block hash. Namespaces and links get unique names and are deleted; processes are killed
by PID. Skipped, saying why, where network namespaces cannot be made.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLI = [str(ROOT / ".venv" / "bin" / "consortium")] if (ROOT / ".venv" / "bin" / "consortium").exists() \
    else [sys.executable, "-m", "consortium"]
PROXY = Path(__file__).resolve().parents[1] / "helpers" / "delay_proxy.py"
ORGS = ("bank", "customers", "arbitration", "notary")
SUBNET = "10.77.{}.{}"
P2P, PROXIED, RPC = 30300, 30400, 20200
DELAY_MS = 25


def _run(*argv: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"cprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Hosts:
    """A switch namespace with a bridge, and one namespace per host attached to it by a veth pair."""

    def __init__(self, count: int) -> None:
        tag = uuid.uuid4().hex[:5]
        self.tag = tag
        self.net = int(tag[:2], 16) % 200 + 20  # 10.77.N.0/24, unique enough per run
        self.switch = f"csw{tag}"
        self.names = [f"ch{tag}{i}" for i in range(count)]
        self.pids: list[int] = []
        self.made: list[str] = []

    def addr(self, i: int) -> str:
        return SUBNET.format(self.net, i + 1)

    def up(self) -> None:
        _run("ip", "netns", "add", self.switch)
        self.made.append(self.switch)
        sw = ["ip", "netns", "exec", self.switch]
        _run(*sw, "ip", "link", "add", "br0", "type", "bridge")
        _run(*sw, "ip", "link", "set", "br0", "up")
        for i in range(len(self.names)):
            self.attach(i)

    def attach(self, i: int) -> None:
        ns = self.names[i]
        _run("ip", "netns", "add", ns)
        self.made.append(ns)
        host_end, sw_end = f"cv{self.tag}{i}", f"cs{self.tag}{i}"
        _run("ip", "link", "add", host_end, "netns", ns, "type", "veth", "peer", "name", sw_end, "netns", self.switch)
        inside = ["ip", "netns", "exec", ns]
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "add", f"{self.addr(i)}/24", "dev", host_end)
        _run(*inside, "ip", "link", "set", host_end, "up")
        _run("ip", "netns", "exec", self.switch, "ip", "link", "set", sw_end, "master", "br0")
        _run("ip", "netns", "exec", self.switch, "ip", "link", "set", sw_end, "up")

    def link(self, i: int, state: str) -> None:
        """Take host ``i``'s link down (a partition) or bring it back up."""
        _run("ip", "netns", "exec", self.switch, "ip", "link", "set", f"cs{self.tag}{i}", state)

    def spawn(self, i: int, argv: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
        # `ip netns exec` execs the command after entering the namespace, so the pid is the command's.
        proc = subprocess.Popen(["ip", "netns", "exec", self.names[i], *argv], stdout=log.open("ab"),
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
        self.pids.append(proc.pid)
        return proc

    def run(self, i: int, *argv: str, check: bool = True, timeout: float = 60, cwd: Path | None = None):
        return _run("ip", "netns", "exec", self.names[i], *argv, check=check, timeout=timeout, cwd=cwd)

    def down(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for pid in self.pids:
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def url(hosts: Hosts, i: int) -> str:
    return f"http://{hosts.addr(i)}:{RPC}"


def rpc(hosts: Hosts, i: int, method: str, *params):
    """One JSON-RPC call to host i's node, made from inside its namespace."""
    code = ("import json, sys\nfrom consortium.client import SyncClient\n"
            f"with SyncClient('{url(hosts, i)}', timeout=10) as c:\n"
            "    print(json.dumps(c.request(sys.argv[1], *json.loads(sys.argv[2]))))\n")
    out = hosts.run(i, sys.executable, "-c", code, method, json.dumps(list(params)), timeout=30)
    return json.loads(out.stdout)


def push(hosts: Hosts, i: int, count: int) -> None:
    """At least ``count`` more blocks, through host i: an idle chain seals none (no empty blocks), so
    send notarizations one after another from inside its namespace (retrying while the node starts)."""
    code = ("import hashlib, os, sys, time\nfrom consortium.client import ClientError, SyncClient\n"
            "from consortium.crypto.suite import KeyPair\nkey = KeyPair(os.urandom(32))\ndeadline = time.time() + 120\n"
            f"with SyncClient('{url(hosts, i)}', timeout=60) as c:\n"
            "    for n in range(int(sys.argv[1])):\n"
            "        d = hashlib.sha256(key.public_key + n.to_bytes(4, 'big')).digest()\n"
            "        while True:\n"
            "            try:\n"
            "                r = c.transact(key, 'evidence', 'notarize', [d, {'case_id': 'push', 'file_name': 'p', 'size': n}, []])\n"
            "                break\n"
            "            except ClientError:\n"
            "                if time.time() > deadline:\n"
            "                    raise\n"
            "                time.sleep(0.5)\n"
            "        assert r['status'] == 0, r\n")
    hosts.run(i, sys.executable, "-c", code, str(count), timeout=240)


def height(hosts: Hosts, i: int) -> int:
    try:
        return int(rpc(hosts, i, "getBlockNumber"))
    except AssertionError:
        return -1


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def cli(hosts: Hosts, i: int, folder: Path, *argv: str) -> str:
    """The consortium CLI run as organization i: in its own folder, inside its own host."""
    return hosts.run(i, *CLI, *argv, cwd=folder, timeout=120).stdout


def test_four_organizations_on_four_hosts(tmp_path: Path) -> None:
    reason = _netns_unavailable()
    if reason:
        pytest.skip(f"multi-host test skipped: {reason}")
    hosts = Hosts(len(ORGS) + 1)  # the last host is an outsider's
    try:
        hosts.up()
        _build_and_run(hosts, tmp_path)
    finally:
        hosts.down()


def _build_and_run(hosts: Hosts, tmp: Path) -> None:
    homes = [tmp / name for name in ORGS]
    # 1. Each organization, on its own host and in its own folder, makes its identity and its node.
    for i, (name, home) in enumerate(zip(ORGS, homes, strict=True)):
        home.mkdir()
        cli(hosts, i, home, "org", "new", "--dir", "org", "--name", name)
        cli(hosts, i, home, "node", "new", "--org", "org", "--name", "node0", "--out", "node",
            "--host", hosts.addr(i), "--p2p-port", str(P2P), "--rpc-port", str(RPC),
            "--advertise", f"{hosts.addr(i)}:{PROXIED}")  # reached through the delaying proxy
    # 2. Only descriptors travel; the bank assembles the genesis; each member confirms the hash and installs it.
    inbox = homes[0] / "inbox"
    inbox.mkdir()
    for name, home in zip(ORGS, homes, strict=True):
        shutil.copy(home / "org" / "org.toml", inbox / f"{name}.toml")
    cli(hosts, 0, homes[0], "genesis", "new", *[a for n in ORGS for a in ("--from", f"inbox/{n}.toml")],
        "--out", "genesis.toml")
    agreed = json.loads(cli(hosts, 0, homes[0], "genesis", "show", "genesis.toml", "--json"))["genesis_hash"]
    for i, home in enumerate(homes):
        if i:
            shutil.copy(homes[0] / "genesis.toml", home / "genesis.toml")
        assert json.loads(cli(hosts, i, home, "genesis", "show", "genesis.toml", "--json"))["genesis_hash"] == agreed
        cli(hosts, i, home, "genesis", "install", "genesis.toml", "--node", "node", "--expect-hash", agreed)
    # 3. Each host runs its delaying proxy and its node.
    for i, home in enumerate(homes):
        _start_host(hosts, i, home)
    push(hosts, 0, 3)
    wait_for(lambda: all(height(hosts, i) >= 3 for i in range(4)), 120, "all four hosts to commit 3 blocks")

    # 4. Evidence notarized at the notary office verifies offline, from the genesis alone.
    notary = homes[3]
    (notary / "minutes.txt").write_text("notary office: board minutes, 2026-11-30\n")
    cli(hosts, 3, notary, "evidence", "notarize", "minutes.txt", "--key", "org/accounts/admin0.json",
        "--rpc", url(hosts, 3), "--out", "minutes.proof.json")
    verified = _run(*CLI, "evidence", "verify", "minutes.txt", "--proof", "minutes.proof.json", "--genesis",
                    "genesis.toml", cwd=notary, check=False)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr

    # 5. An outsider (its own CA, not a member) is refused at the TLS handshake.
    outsider, outsider_id = _outsider(hosts, tmp, homes, agreed)

    # 6. The customers' representative's link goes down: the other three keep committing (n = 4, f = 1);
    #    a transaction acknowledged meanwhile is not lost; the host catches up when its link returns.
    cut = 1
    hosts.link(cut, "down")
    before = max(height(hosts, i) for i in (0, 2, 3))
    push(hosts, 0, 3)
    wait_for(lambda: min(height(hosts, i) for i in (0, 2, 3)) >= before + 3, 90, "three hosts to commit without one")
    (homes[0] / "statement.txt").write_text("bank: account statement during the partition\n")
    acknowledged = json.loads(cli(hosts, 0, homes[0], "evidence", "notarize", "statement.txt", "--key",
                                  "org/accounts/admin0.json", "--rpc", url(hosts, 0), "--out", "statement.proof.json",
                                  "--json"))["transaction"]
    hosts.link(cut, "up")
    target = max(height(hosts, i) for i in (0, 2, 3))
    wait_for(lambda: height(hosts, cut) >= target, 120, "the cut-off host to catch up")
    receipts = [rpc(hosts, i, "getTransactionReceipt", acknowledged) for i in range(4)]
    assert all(r is not None and r["statusName"] == "OK" for r in receipts), receipts
    assert len({r["blockNumber"] for r in receipts}) == 1

    # 7. The committee removes the customers' representative: its node is disconnected everywhere.
    ids = [rpc(hosts, i, "getNodeInfo")["nodeId"] for i in range(4)]
    govern(hosts, homes, "remove_org", "customers")
    wait_for(lambda: all(ids[1] not in {p["nodeId"] for p in rpc(hosts, i, "getPeers")} for i in (0, 2, 3)), 60,
             "the removed organization's node to be disconnected everywhere")
    start = height(hosts, 0)
    push(hosts, 0, 3)
    wait_for(lambda: min(height(hosts, i) for i in (0, 2, 3)) >= start + 3, 60, "three sealers to go on")
    assert ids[1] not in rpc(hosts, 2, "getSealerList")

    # 8. A fifth organization joins: the outsider, admitted by the committee this time. It installs the
    #    chain's original genesis as a new member, runs as an observer, syncs, joins, and is voted a sealer.
    out, i = tmp / "outsider", len(ORGS)
    stop(outsider)
    shutil.rmtree(out / "node" / "data")
    (out / "node" / "genesis.toml").unlink()
    cli(hosts, i, out, "genesis", "install", str(homes[0] / "genesis.toml"), "--node", "node", "--new-member",
        "--expect-hash", agreed)
    govern(hosts, homes, "add_org", "outsider", str(out / "org" / "ca" / "ca.crt"))
    govern(hosts, homes, "add_observer", outsider_id, "outsider")
    hosts.spawn(i, [*CLI, "node", "start", "--config", str(out / "node" / "config.toml")], out / "node.log")
    wait_for(lambda: height(hosts, i) >= height(hosts, 0) - 1 >= 0, 120, "the new organization's node to sync")
    cli(hosts, i, out, "node", "join", "--config", "node/config.toml")
    govern(hosts, homes, "add_sealer", outsider_id)
    wait_for(lambda: outsider_id in rpc(hosts, 0, "getSealerList"), 30, "the fifth organization's sealer")
    start = height(hosts, 0)
    push(hosts, 0, 4)
    wait_for(lambda: min(height(hosts, k) for k in (0, 2, 3, 4)) >= start + 4, 90, "four sealers to go on")

    # 9. Every node agrees on every block hash (the removed one up to where it stopped).
    running = (0, 2, 3, 4)
    top = min(height(hosts, k) for k in running)
    for n in range(1, top + 1):
        nodes = running if n > height(hosts, 1) else (*running, 1)
        assert len({rpc(hosts, k, "getBlockByNumber", n, False)["hash"] for k in nodes}) == 1, f"block {n}"


def govern(hosts: Hosts, homes: list[Path], kind: str, *params: str) -> None:
    """Propose as the bank; the arbitration commission and the notary vote yes until it executes."""
    receipt = json.loads(cli(hosts, 0, homes[0], "gov", "propose", kind, *params, "--key",
                             "org/accounts/admin0.json", "--rpc", url(hosts, 0), "--json"))
    assert receipt["statusName"] == "OK", receipt
    pid, status = receipt["output"], "open"
    for k in (2, 3):
        voted = json.loads(cli(hosts, k, homes[k], "gov", "vote", str(pid), "yes", "--key", "org/accounts/admin0.json",
                               "--rpc", url(hosts, k), "--json"))
        status = voted["output"]
        if status == "executed":
            break
    assert status == "executed", (kind, status)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_host(hosts: Hosts, i: int, home: Path) -> None:
    addr = hosts.addr(i)
    proxy = hosts.spawn(i, [sys.executable, str(PROXY), addr, str(PROXIED), addr, str(P2P), str(DELAY_MS)],
                        home / "proxy.log")
    wait_for(lambda: b"ready" in (home / "proxy.log").read_bytes() or proxy.poll() is not None, 30, "the proxy")
    assert proxy.poll() is None, (home / "proxy.log").read_text()
    hosts.spawn(i, [*CLI, "node", "start", "--config", str(home / "node" / "config.toml")], home / "node.log")


def _outsider(hosts: Hosts, tmp: Path, homes: list[Path], agreed: str) -> tuple[subprocess.Popen, str]:
    out = tmp / "outsider"
    out.mkdir()
    i = len(ORGS)
    cli(hosts, i, out, "org", "new", "--dir", "org", "--name", "outsider")
    cli(hosts, i, out, "node", "new", "--org", "org", "--name", "node0", "--out", "node", "--host", hosts.addr(i),
        "--p2p-port", str(P2P), "--rpc-port", str(RPC))
    refused = hosts.run(i, *CLI, "genesis", "install", str(homes[0] / "genesis.toml"), "--node", "node", cwd=out,
                        check=False)
    assert refused.returncode == 2 and "not a member organization" in refused.stderr
    # It forges a genesis that lists itself next to the members, and dials the bank anyway.
    shutil.copy(out / "org" / "org.toml", homes[0] / "inbox" / "outsider.toml")
    forged = out / "forged.toml"
    _run(*CLI, "genesis", "new", *[a for n in (*ORGS, "outsider") for a in ("--from", str(homes[0] / "inbox" / f"{n}.toml"))],
         "--out", str(forged))
    cli(hosts, i, out, "genesis", "install", str(forged), "--node", "node")
    bank_log = homes[0] / "node.log"
    seen = len(bank_log.read_bytes())
    proc = hosts.spawn(i, [*CLI, "node", "start", "--config", str(out / "node" / "config.toml")], out / "node.log")
    # (the bank sees the connection come from its own proxy, which forwards it)
    wait_for(lambda: b"TLS handshake failed" in bank_log.read_bytes()[seen:], 60, "the bank to refuse the outsider")
    assert b"refused connection from" in bank_log.read_bytes()[seen:]
    time.sleep(2)
    outsider_id = rpc(hosts, i, "getNodeInfo")["nodeId"]
    assert rpc(hosts, i, "getPeers") == []
    assert all(outsider_id not in {p["nodeId"] for p in rpc(hosts, k, "getPeers")} for k in range(4))
    assert agreed != json.loads(_run(*CLI, "genesis", "show", str(forged), "--json").stdout)["genesis_hash"]
    return proc, outsider_id
