"""``gateway.toml``: one gateway's settings, loaded and validated once at start-up.

Relative paths are resolved against the config file's folder, every error names the
file, the key and what to fix, and unknown keys are refused (node/toml_io.py). Example::

    [gateway]
    data_dir = "data"                          # LevelDB: the item log, batches, proofs
    host = "127.0.0.1"
    port = 20400
    node_rpc = "http://127.0.0.1:20200"        # the organization's own node
    account_key = "../accounts/admin0.json"    # signs notarize_batch; never leaves this host

    [batching]
    interval_ms = 500          # seal at least this often while items wait (at most 1000)
    max_items = 65536          # ... or as soon as this many wait
    max_inflight = 4           # sealed batches not yet committed; then sealing waits

    [limits]
    max_pending_items = 400000 # durable items not yet in a committed batch; beyond: 503
    max_request_items = 10000
    max_request_bytes = 4194304
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consortium.node.config import HOST_PATTERN, LOG_LEVELS
from consortium.node.toml_io import ConfigError, dumps, load_toml

DEFAULT_PORT = 20400


@dataclass(frozen=True)
class GatewayConfig:
    path: Path
    data_dir: Path
    host: str
    port: int
    node_rpc: str
    account_key: Path
    log_level: str = "info"
    interval_ms: int = 500
    max_batch_items: int = 65536
    max_inflight: int = 4
    max_pending_items: int = 400_000
    max_request_items: int = 10_000
    max_request_bytes: int = 4 * 1024 * 1024

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def load_gateway_config(path: Path | str) -> GatewayConfig:
    path = Path(path).resolve()
    doc = load_toml(path, hint=" (write one with `consortium gateway init`)")
    base = path.parent
    g, b, lim = doc.table("gateway"), doc.table("batching", required=False), doc.table("limits", required=False)
    node_rpc = g.string("node_rpc")
    if not node_rpc.startswith(("http://", "https://")):
        raise g.error("node_rpc", f"must be the node's JSON-RPC URL (http://host:port), got {node_rpc!r}")
    config = GatewayConfig(
        path=path,
        data_dir=g.path("data_dir", base, "data", must_exist=False),
        host=g.string("host", "127.0.0.1", pattern=HOST_PATTERN, what="a host name or IP address"),
        port=g.integer("port", DEFAULT_PORT, lo=1, hi=65535),
        node_rpc=node_rpc,
        account_key=g.path("account_key", base),
        log_level=g.string("log_level", "info", choices=LOG_LEVELS),
        interval_ms=b.integer("interval_ms", 500, lo=10, hi=1000),
        max_batch_items=b.integer("max_items", 65536, lo=1, hi=1 << 20),
        max_inflight=b.integer("max_inflight", 4, lo=1, hi=64),
        max_pending_items=lim.integer("max_pending_items", 400_000, lo=1, hi=100_000_000),
        max_request_items=lim.integer("max_request_items", 10_000, lo=1, hi=1_000_000),
        max_request_bytes=lim.integer("max_request_bytes", 4 * 1024 * 1024, lo=1024, hi=256 * 1024 * 1024),
    )
    for table in (g, b, lim, doc):
        table.finish()
    if config.max_pending_items < config.max_request_items:
        raise ConfigError(f"{path}: limits.max_pending_items ({config.max_pending_items}) must be at least "
                          f"limits.max_request_items ({config.max_request_items})")
    return config


def config_text(*, node_rpc: str, account_key: str, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                data_dir: str = "data") -> str:
    """A gateway.toml with the given essentials and every other setting at its default."""
    return dumps({
        "gateway": {"data_dir": data_dir, "host": host, "port": port, "node_rpc": node_rpc,
                    "account_key": account_key, "log_level": "info"},
        "batching": {"interval_ms": 500, "max_items": 65536, "max_inflight": 4},
        "limits": {"max_pending_items": 400_000, "max_request_items": 10_000, "max_request_bytes": 4 * 1024 * 1024},
    }, comment="consortium evidence gateway (docs/gateway.md). Relative paths are relative to this file.")
