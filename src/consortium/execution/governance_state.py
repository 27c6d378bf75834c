"""The governance state: where the committee contract keeps everything, and typed reads of it.

Every ``gv/`` key lives in the Merkle state (so a change is provable against a block's state
root), and more than the contract reads them: the txpool and proposer (permissions, config), the
node (sealers, organizations), the RPC (proofs of a key) and the offline verifiers (sealer sets,
the committee). They read through :class:`GovernanceState`, which takes any ``get(key)``; the
contract that writes them is execution/governance.py, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.execution.proposals import ProposalCorrupted

KEY_COMMITTEE = b"gv/committee"
KEY_THRESHOLD = b"gv/threshold"
KEY_SEALERS = b"gv/sealers"
KEY_OBSERVERS = b"gv/observers"
KEY_REVOKED = b"gv/revoked"
KEY_DEPLOYERS = b"gv/deployers"
KEY_SENDERS = b"gv/senders"
KEY_CONFIG = b"gv/config"
KEY_NEXT_ID = b"gv/next"
KEY_TSAS = b"gv/tsas"
"""Trusted time-stamping authorities: ``[[name, certificate DER, policy], ...]``; absent = genesis's (protocol.md §6)."""
KEY_ORGS = b"gv/orgs"
KEY_NODE_ORGS = b"gv/node_orgs"
KEY_REVOKED_CERTS = b"gv/revoked_certs"
KEY_JOINS = b"gv/joins"
PROPOSAL_PREFIX = b"gv/p/"
KEYS = {
    "committee": KEY_COMMITTEE, "threshold": KEY_THRESHOLD, "sealers": KEY_SEALERS, "observers": KEY_OBSERVERS,
    "revoked": KEY_REVOKED, "deployers": KEY_DEPLOYERS, "senders": KEY_SENDERS, "config": KEY_CONFIG,
    "tsas": KEY_TSAS, "orgs": KEY_ORGS, "node_orgs": KEY_NODE_ORGS, "revoked_certs": KEY_REVOKED_CERTS,
    "joins": KEY_JOINS,
}

# set_config keys: (minimum, maximum). The txpool and proposer read these from state.
CONFIG_LIMITS: dict[str, tuple[int, int]] = {
    "tx_count_limit": (1, 10_000),
    "consensus_timeout_ms": (500, 600_000),
    "tx_allowlist": (0, 1),
    "deploy_permission": (0, 1),
    "block_gas_limit": (1_000_000, 1_000_000_000),
}
DEFAULT_BLOCK_GAS_LIMIT = 50_000_000
"""About 6.5 s of CPU for the costliest possible contract code (0.13 s per 1M gas, docs/contracts.md)."""
DEFAULT_CONFIG: dict[str, int] = {"tx_allowlist": 0, "deploy_permission": 1, "block_gas_limit": DEFAULT_BLOCK_GAS_LIMIT}



class GovernanceState:
    """Typed reads of the ``gv/`` keys from any state reader (``get(key) -> bytes | None``)."""

    def __init__(self, get: Callable[[bytes], bytes | None]) -> None:
        self._get = get

    def _read(self, key: bytes, default: Value) -> Value:
        raw = self._get(key)
        return default if raw is None else canonical.decode(raw)

    def _list(self, key: bytes) -> list[Value]:
        value = self._read(key, [])
        if not isinstance(value, list):
            raise ProposalCorrupted(f"{key.decode()} is not a list")
        return value

    def _rows(self, key: bytes, width: int) -> list[list[Value]]:
        rows = self._list(key)
        if not all(isinstance(r, list) and len(r) == width for r in rows):
            raise ProposalCorrupted(f"{key.decode()} rows are not [{width} values]")
        return rows  # type: ignore[return-value]  # checked just above

    def committee(self) -> list[tuple[bytes, int]]:
        return [(_bytes(a), _int(w)) for a, w in self._rows(KEY_COMMITTEE, 2)]

    def threshold(self) -> int:
        return _int(self._read(KEY_THRESHOLD, 0))

    def sealers(self) -> tuple[bytes, ...]:
        return tuple(_bytes(v) for v in self._list(KEY_SEALERS))

    def observers(self) -> tuple[bytes, ...]:
        return tuple(_bytes(v) for v in self._list(KEY_OBSERVERS))

    def revoked(self) -> tuple[int, ...]:
        """Revoked certificate serials (stored as big-endian bytes: X.509 serials are up to 160 bits)."""
        return tuple(int.from_bytes(_bytes(b), "big") for b in self._list(KEY_REVOKED))

    def organizations(self) -> tuple[tuple[str, bytes], ...]:
        """Member organizations as (name, CA certificate DER), in the order they joined."""
        return tuple((_str(n), _bytes(c)) for n, c in self._rows(KEY_ORGS, 2))

    def node_orgs(self) -> tuple[tuple[bytes, str], ...]:
        """(node id, organization) of every node on chain whose organization is recorded."""
        return tuple((_bytes(n), _str(o)) for n, o in self._rows(KEY_NODE_ORGS, 2))

    def revoked_certs(self) -> tuple[tuple[str, int], ...]:
        """(organization, serial) of certificates revoked per organization; "" = whichever issued it."""
        per_org = [(_str(o), int.from_bytes(_bytes(s), "big")) for o, s in self._rows(KEY_REVOKED_CERTS, 2)]
        return tuple(per_org) + tuple(("", s) for s in self.revoked())

    def joins(self) -> dict[bytes, int]:
        """Node id -> block of its latest join proof (a transaction signed with its node key)."""
        return {_bytes(n): _int(b) for n, b in self._rows(KEY_JOINS, 2)}

    def deployers(self) -> tuple[bytes, ...]:
        return tuple(_bytes(v) for v in self._list(KEY_DEPLOYERS))

    def senders(self) -> tuple[bytes, ...]:
        return tuple(_bytes(v) for v in self._list(KEY_SENDERS))

    def config(self) -> dict[str, int]:
        stored = self._read(KEY_CONFIG, {})
        if not isinstance(stored, dict):
            raise ProposalCorrupted("gv/config is not a map")
        return {**DEFAULT_CONFIG, **{k: _int(v) for k, v in stored.items()}}

    def tsa_entries(self) -> list[tuple[str, bytes, str]] | None:
        """``gv/tsas`` as stored: (name, certificate DER, policy), shape-checked only; None if never set
        (then the genesis ``[[tsa]]`` list applies, which is empty for a chain that never had one)."""
        if self._get(KEY_TSAS) is None:
            return None
        return [(_str(n), _bytes(c), _str(p)) for n, c, p in self._rows(KEY_TSAS, 3)]

    def governed(self) -> bool:
        """False for a state with no governance at all (unit tests, tools): then nothing is restricted."""
        return self._get(KEY_CONFIG) is not None

    def permissions(self) -> Permissions:
        """A snapshot of who may send and deploy; cheap to query many times (the txpool does)."""
        if not self.governed():
            return Permissions(False, False, False, frozenset(), frozenset())
        config = self.config()
        deployers = frozenset(self.deployers())
        senders = frozenset(self.senders()) | deployers | frozenset(a for a, _ in self.committee())
        return Permissions(True, bool(config["tx_allowlist"]), bool(config["deploy_permission"]), senders, deployers)

    def may_deploy(self, address: bytes) -> bool:
        return self.permissions().may_deploy(address)

    def may_send(self, address: bytes) -> bool:
        return self.permissions().may_send(address)


@dataclass(frozen=True)
class Permissions:
    governed: bool
    allowlist: bool
    """Allow-list mode: only listed senders, deployers and committee members may send."""
    deploy_restricted: bool
    senders: frozenset[bytes]
    deployers: frozenset[bytes]

    def may_send(self, address: bytes) -> bool:
        return not (self.governed and self.allowlist) or address in self.senders

    def may_deploy(self, address: bytes) -> bool:
        return not (self.governed and self.deploy_restricted) or address in self.deployers


def _bytes(v: Value) -> bytes:
    if not isinstance(v, bytes):
        raise ProposalCorrupted(f"expected bytes in gv/ state, got {type(v).__name__}")
    return v


def _int(v: Value) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProposalCorrupted(f"expected an integer in gv/ state, got {type(v).__name__}")
    return v


def _str(v: Value) -> str:
    if not isinstance(v, str):
        raise ProposalCorrupted(f"expected text in gv/ state, got {type(v).__name__}")
    return v
