"""Process checks for scripts/start_all.sh and stop_all.sh: judge a node by its own pid and ports.

"Something answers on node0's RPC port" is not "node0 is up": a node started earlier by
hand on the same port answers too, while the one just started has already died on a
locked data directory. So a node counts as up only when the process whose pid the script
recorded is alive, is ``consortium node start`` for this config, and itself listens on the
node's P2P and RPC ports (read from /proc), and RPC answers. Likewise a node counts as
stopped only when its pid is gone and nothing else still holds its ports.

    python -m consortium.ops.launch preflight CONFIG        ports free? (exit 1 naming who holds one)
    python -m consortium.ops.launch is-node PID CONFIG      PID is this config's running node?
    python -m consortium.ops.launch wait PID CONFIG SECS    until PID serves its ports and RPC answers
    python -m consortium.ops.launch held CONFIG             ports still held after a stop (exit 1 if any)
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from consortium.node.config import NodeConfig, load_config
from consortium.node.toml_io import ConfigError
from consortium.ops import procinfo


def _ports(config: NodeConfig) -> list[tuple[str, str, int]]:
    ports = [("p2p", config.p2p.host, config.p2p.port), ("rpc", config.rpc.host, config.rpc.port)]
    if config.ops.port:
        ports.append(("ops", config.ops.host, config.ops.port))
    return ports


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def is_node(pid: int, config: NodeConfig) -> bool:
    """``pid`` is alive and runs ``consortium node start`` with this config (not a recycled pid)."""
    if not alive(pid):
        return False
    cmd = procinfo.cmdline(pid)
    return "node start" in cmd and (str(config.path) in cmd or _cwd_has(pid, config))


def _cwd_has(pid: int, config: NodeConfig) -> bool:
    """A relative --config path: resolve it against the process's working directory."""
    try:
        cwd = Path(f"/proc/{pid}/cwd").resolve()
        args = (Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
    except OSError:
        return False
    for i, a in enumerate(args[:-1]):
        if a == b"--config" and (cwd / args[i + 1].decode(errors="replace")).resolve() == config.path:
            return True
    return False


def preflight(config: NodeConfig) -> list[str]:
    problems = []
    for what, host, port in _ports(config):
        if procinfo.port_in_use(host, port):
            owner = procinfo.port_owner(host, port)
            problems.append(f"{config.name}'s {what} port {host}:{port} is already in use by "
                            f"{procinfo.describe(owner)}; stop it or change {what}.port in {config.path}")
    return problems


def _rpc_answers(config: NodeConfig) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getBlockNumber"}).encode()
    req = urllib.request.Request(f"http://{config.rpc.host}:{config.rpc.port}/", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as response:
            return "result" in json.load(response)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def wait_up(pid: int, config: NodeConfig, timeout: float) -> str | None:
    """None once ``pid`` owns every port of the node and RPC answers; else why not (after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid):
            return f"{config.name} (pid {pid}) exited"
        owners = {what: procinfo.port_owner(host, port) for what, host, port in _ports(config)}
        strangers = {w: o for w, o in owners.items() if o is not None and o != pid}
        if strangers:
            what, owner = next(iter(strangers.items()))
            port = dict((w, (h, p)) for w, h, p in _ports(config))[what]
            return (f"{config.name}'s {what} port {port[0]}:{port[1]} is served by {procinfo.describe(owner)}, "
                    f"not by the node just started (pid {pid})")
        if all(o == pid for o in owners.values()) and _rpc_answers(config):
            return None
        if time.monotonic() > deadline:
            return f"{config.name} (pid {pid}) did not come up within {timeout:.0f}s"
        time.sleep(0.2)


def held(config: NodeConfig) -> list[str]:
    out = []
    for what, host, port in _ports(config):
        if procinfo.port_in_use(host, port):
            out.append(f"{config.name}'s {what} port {host}:{port} is still held by "
                       f"{procinfo.describe(procinfo.port_owner(host, port))}")
    return out


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "preflight":
            problems = preflight(load_config(argv[1]))
            for p in problems:
                print(f"error: {p}", file=sys.stderr)
            return 1 if problems else 0
        if len(argv) == 3 and argv[0] == "is-node":
            return 0 if is_node(int(argv[1]), load_config(argv[2])) else 1
        if len(argv) == 4 and argv[0] == "wait":
            config = load_config(argv[2])
            why = wait_up(int(argv[1]), config, float(argv[3]))
            if why is not None:
                print(f"error: {why}", file=sys.stderr)
                return 1
            print(f"{config.name} answers on http://{config.rpc.host}:{config.rpc.port}/ (pid {argv[1]})")
            return 0
        if len(argv) == 2 and argv[0] == "held":
            lines = held(load_config(argv[1]))
            for line in lines:
                print(f"error: {line}", file=sys.stderr)
            return 1 if lines else 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(__doc__.split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
