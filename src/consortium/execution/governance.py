"""Committee governance: the native system contract that decides who seals, who may deploy, and the chain's settings.

Why native and not a sandboxed contract: governance writes what no user
contract may touch — the sealer set consensus reads, the evidence contract's
arbitrator registry, the permission lists the txpool enforces — and the
offline evidence verifier must read the sealer set from a fixed, documented
state key. It is deterministic Python in the executor, reached at
:data:`GOVERNANCE_ADDRESS` (or by the name ``governance``), metered with a
flat gas charge.

Everything lives in the Merkle state under ``gv/`` (see :data:`KEYS`), so every
change is provable against a block's state root. Like FISCO BCOS v3's committee:
members with weights propose and vote; a proposal executes in the block where
the approving weight reaches the threshold; an expired, rejected or executed
proposal cannot execute; every step emits an event. Changes that would lock the
chain (no sealer left, no committee member left, an unreachable threshold) are
refused with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from consortium.crypto.suite import ADDRESS_SIZE
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.execution.errors import BadTransaction, PermissionDenied, Revert
from consortium.execution.keys import name_address, name_key, storage_prefix

GOVERNANCE_ADDRESS = bytes(ADDRESS_SIZE - 1) + b"\x02"
GOVERNANCE_NAME = "governance"

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
    "tsas": KEY_TSAS,
}

NODE_ID_SIZE = 32
MAX_SEALERS = 64
MAX_LIST = 1024
MAX_PROPOSAL_LIFETIME = 100_000
MAX_TSAS = 16
MAX_TSA_CERT = 16 * 1024

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

KINDS = (
    "add_sealer", "add_observer", "remove_node", "set_config", "revoke_node_cert",
    "grant_deploy", "revoke_deploy", "grant_send", "revoke_send",
    "register_arbitrator", "unregister_arbitrator", "add_member", "remove_member", "set_threshold",
    "add_tsa", "remove_tsa",
)

OPEN, EXECUTED, REJECTED = "open", "executed", "rejected"


class GovernanceState:
    """Typed reads of the ``gv/`` keys from any state reader (``get(key) -> bytes | None``)."""

    def __init__(self, get: Callable[[bytes], bytes | None]) -> None:
        self._get = get

    def _read(self, key: bytes, default: Value) -> Value:
        raw = self._get(key)
        return default if raw is None else canonical.decode(raw)

    def committee(self) -> list[tuple[bytes, int]]:
        return [(a, w) for a, w in self._read(KEY_COMMITTEE, [])]  # type: ignore[misc, union-attr]

    def threshold(self) -> int:
        return int(self._read(KEY_THRESHOLD, 0))  # type: ignore[arg-type]

    def sealers(self) -> tuple[bytes, ...]:
        return tuple(self._read(KEY_SEALERS, []))  # type: ignore[arg-type]

    def observers(self) -> tuple[bytes, ...]:
        return tuple(self._read(KEY_OBSERVERS, []))  # type: ignore[arg-type]

    def revoked(self) -> tuple[int, ...]:
        """Revoked certificate serials (stored as big-endian bytes: X.509 serials are up to 160 bits)."""
        return tuple(int.from_bytes(b, "big") for b in self._read(KEY_REVOKED, []))  # type: ignore[union-attr]

    def organizations(self) -> tuple[tuple[str, bytes], ...]:
        """Member organizations as (name, CA certificate DER), in the order they joined."""
        return tuple((str(n), bytes(c)) for n, c in self._read(KEY_ORGS, []))  # type: ignore[misc, union-attr]

    def node_orgs(self) -> tuple[tuple[bytes, str], ...]:
        """(node id, organization) of every node on chain whose organization is recorded."""
        return tuple((bytes(n), str(o)) for n, o in self._read(KEY_NODE_ORGS, []))  # type: ignore[misc, union-attr]

    def revoked_certs(self) -> tuple[tuple[str, int], ...]:
        """(organization, serial) of certificates revoked per organization; "" = whichever issued it."""
        per_org = [(str(o), int.from_bytes(s, "big")) for o, s in self._read(KEY_REVOKED_CERTS, [])]  # type: ignore[misc, union-attr]
        return tuple(per_org) + tuple(("", s) for s in self.revoked())

    def joins(self) -> dict[bytes, int]:
        """Node id -> block of its latest join proof (a transaction signed with its node key)."""
        return {bytes(n): int(b) for n, b in self._read(KEY_JOINS, [])}  # type: ignore[misc, union-attr]

    def deployers(self) -> tuple[bytes, ...]:
        return tuple(self._read(KEY_DEPLOYERS, []))  # type: ignore[arg-type]

    def senders(self) -> tuple[bytes, ...]:
        return tuple(self._read(KEY_SENDERS, []))  # type: ignore[arg-type]

    def config(self) -> dict[str, int]:
        return {**DEFAULT_CONFIG, **self._read(KEY_CONFIG, {})}  # type: ignore[dict-item]

    def tsa_entries(self) -> list[tuple[str, bytes, str]] | None:
        """``gv/tsas`` as stored: (name, certificate DER, policy), shape-checked only; None if never set
        (then the genesis ``[[tsa]]`` list applies, which is empty for a chain that never had one)."""
        if self._get(KEY_TSAS) is None:
            return None
        return [(n, c, p) for n, c, p in self._read(KEY_TSAS, [])]  # type: ignore[misc, union-attr]

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


@dataclass(frozen=True)
class GovernanceGenesis:
    """What genesis declares; becomes the first ``gv/`` state."""

    committee: tuple[tuple[bytes, int], ...]
    threshold: int
    sealers: tuple[bytes, ...]
    deployers: tuple[bytes, ...]
    config: dict[str, int] = field(default_factory=dict)
    tsas: tuple[tuple[str, bytes, str], ...] = ()
    """Genesis ``[[tsa]]`` as (name, certificate DER, policy); written to ``gv/tsas`` only when there are any."""
    organizations: tuple[tuple[str, bytes], ...] = ()
    """(name, CA certificate DER) of the member organizations, for a chain of organizations."""
    node_orgs: tuple[tuple[bytes, str], ...] = ()
    """(sealer node id, organization) as genesis lists them."""


def genesis_writes(g: GovernanceGenesis) -> dict[bytes, bytes | None]:
    """The ``gv/`` state of block 0. Raises ValueError for a configuration that would lock the chain."""
    if not g.sealers:
        raise ValueError("genesis must name at least one sealer")
    if not g.committee:
        raise ValueError("genesis must name at least one committee member")
    total = sum(w for _, w in g.committee)
    if not 1 <= g.threshold <= total:
        raise ValueError(f"committee threshold {g.threshold} must be between 1 and the total weight {total}")
    for key, value in g.config.items():
        _check_config(key, value, ValueError)
    return {
        KEY_COMMITTEE: canonical.encode(sorted([a, w] for a, w in g.committee)),
        KEY_THRESHOLD: canonical.encode(g.threshold),
        KEY_SEALERS: canonical.encode(list(g.sealers)),
        KEY_OBSERVERS: canonical.encode([]),
        KEY_REVOKED: canonical.encode([]),
        KEY_DEPLOYERS: canonical.encode(sorted(set(g.deployers))),
        KEY_SENDERS: canonical.encode([]),
        KEY_CONFIG: canonical.encode({**DEFAULT_CONFIG, **g.config}),
        KEY_NEXT_ID: canonical.encode(1),
        **({KEY_ORGS: canonical.encode([[n, c] for n, c in g.organizations]),
            KEY_NODE_ORGS: canonical.encode(sorted([n, o] for n, o in g.node_orgs)),
            KEY_REVOKED_CERTS: canonical.encode([]), KEY_JOINS: canonical.encode([])} if g.organizations else {}),
        # Registered in the name registry, so clients may address it as "governance".
        name_key(name_address(GOVERNANCE_NAME)): canonical.encode([GOVERNANCE_NAME, GOVERNANCE_ADDRESS]),
        **({KEY_TSAS: canonical.encode([list(t) for t in g.tsas])} if g.tsas else {}),
    }


def _check_config(key: object, value: object, error: type[Exception] = BadTransaction) -> None:
    if not isinstance(key, str) or key not in CONFIG_LIMITS:
        raise error(f"unknown config key {key!r}; settable keys: {', '.join(sorted(CONFIG_LIMITS))}")
    lo, hi = CONFIG_LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise error(f"config {key} must be an integer in [{lo}, {hi}], got {value!r}")


class GovernanceContract:
    """The native contract. ``state`` has get/put; ``emit(name, fields)`` records an event."""

    def __init__(self, state, sender: bytes, block_number: int, emit: Callable[[str, dict], None],
                 arbitrators_key: bytes) -> None:
        self.state = state
        self.sender = sender
        self.number = block_number
        self.emit = emit
        self.arbitrators_key = arbitrators_key
        self.read = GovernanceState(state.get)

    def _put(self, key: bytes, value: Value) -> None:
        self.state.put(key, canonical.encode(value))

    # -- entry point ---------------------------------------------------------------------------
    def call(self, method: str, args: tuple[Value, ...]) -> Value:
        if method == "propose" and len(args) == 3:
            return self.propose(*args)
        if method == "vote" and len(args) == 2:
            return self.vote(*args)
        if method == "get_proposal" and len(args) == 1:
            return self.get_proposal(args[0])
        if method == "list_proposals" and len(args) in (0, 1, 2):
            return self.list_proposals(*args)
        if method in KEYS and not args:
            return self._read_raw(KEYS[method])
        raise BadTransaction(
            f"governance has no method {method!r} taking {len(args)} argument(s); it has propose(kind, params, "
            f"expires_at_block), vote(id, approve), get_proposal(id), list_proposals([start, limit]), "
            f"and reads {', '.join(KEYS)}()")

    def _read_raw(self, key: bytes) -> Value:
        raw = self.state.get(key)
        return None if raw is None else canonical.freeze(canonical.decode(raw))

    def _member_weight(self, address: bytes) -> int:
        for a, w in self.read.committee():
            if a == address:
                return w
        return 0

    # -- proposals -----------------------------------------------------------------------------
    def propose(self, kind: Value, params: Value, expires_at_block: Value) -> int:
        if not self._member_weight(self.sender):
            raise PermissionDenied(f"0x{self.sender.hex()} is not a committee member; only members may propose")
        if kind not in KINDS:
            raise BadTransaction(f"unknown proposal kind {kind!r}; kinds: {', '.join(KINDS)}")
        if not isinstance(params, (list, tuple)) or len(params) > 4:
            raise BadTransaction("proposal params must be a list of at most 4 values")
        if isinstance(expires_at_block, bool) or not isinstance(expires_at_block, int):
            raise BadTransaction("expires_at_block must be a block number")
        if not self.number <= expires_at_block <= self.number + MAX_PROPOSAL_LIFETIME:
            raise BadTransaction(f"expires_at_block must be in [{self.number}, {self.number + MAX_PROPOSAL_LIFETIME}]")
        params = list(params)
        self._validate(str(kind), params)  # refuse obviously bad proposals early, and again on execution
        pid = int(canonical.decode(self.state.get(KEY_NEXT_ID) or canonical.encode(1)))  # type: ignore[arg-type]
        self._put(KEY_NEXT_ID, pid + 1)
        proposal = {"id": pid, "kind": kind, "params": params, "proposer": self.sender, "created": self.number,
                    "expires": expires_at_block, "votes": [], "status": OPEN, "executed_at": None, "reason": ""}
        self.emit("Proposed", {"id": pid, "kind": kind, "proposer": self.sender, "expires": expires_at_block})
        self._record_vote(proposal, self.sender, True)
        return pid

    def vote(self, pid: Value, approve: Value) -> str:
        weight = self._member_weight(self.sender)
        if not weight:
            raise PermissionDenied(f"0x{self.sender.hex()} is not a committee member; only members may vote")
        if not isinstance(approve, bool):
            raise BadTransaction("approve must be true or false")
        proposal = self._load(pid)
        if proposal["status"] != OPEN:
            raise Revert(f"proposal {pid} is {proposal['status']}; it can no longer be voted on")
        if self.number > proposal["expires"]:
            raise Revert(f"proposal {pid} expired at block {proposal['expires']}")
        if any(v[0] == self.sender for v in proposal["votes"]):
            raise Revert(f"0x{self.sender.hex()} has already voted on proposal {pid}")
        return self._record_vote(proposal, self.sender, approve)

    def _record_vote(self, proposal: dict, voter: bytes, approve: bool) -> str:
        proposal["votes"] = [*proposal["votes"], [voter, approve]]
        self.emit("Voted", {"id": proposal["id"], "voter": voter, "approve": approve})
        members = dict(self.read.committee())
        yes = sum(members.get(v, 0) for v, a in proposal["votes"] if a)
        no = sum(members.get(v, 0) for v, a in proposal["votes"] if not a)
        total = sum(members.values())
        threshold = self.read.threshold()
        if yes >= threshold:
            self._execute(proposal["kind"], proposal["params"])
            proposal["status"] = EXECUTED
            proposal["executed_at"] = self.number
            self.emit("Executed", {"id": proposal["id"], "kind": proposal["kind"]})
        elif total - no < threshold:
            proposal["status"] = REJECTED
            proposal["reason"] = "enough weight voted against it"
            self.emit("Rejected", {"id": proposal["id"]})
        self._put(PROPOSAL_PREFIX + int(proposal["id"]).to_bytes(8, "big"), proposal)
        return str(proposal["status"])

    def _load(self, pid: Value) -> dict:
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**63:
            raise BadTransaction("a proposal id is a positive integer")
        raw = self.state.get(PROPOSAL_PREFIX + pid.to_bytes(8, "big"))
        if raw is None:
            raise Revert(f"no proposal {pid}")
        return canonical.decode(raw)  # type: ignore[return-value]

    def get_proposal(self, pid: Value) -> Value:
        return canonical.freeze(self._load(pid))

    def list_proposals(self, start: Value = 1, limit: Value = 50) -> Value:
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in (start, limit)):
            raise BadTransaction("start and limit are non-negative integers")
        end_id = int(canonical.decode(self.state.get(KEY_NEXT_ID) or canonical.encode(1)))  # type: ignore[arg-type]
        out = []
        for pid in range(max(1, int(start)), min(end_id, int(start) + min(int(limit), 100))):
            raw = self.state.get(PROPOSAL_PREFIX + pid.to_bytes(8, "big"))
            if raw is not None:
                out.append(canonical.decode(raw))
        return canonical.freeze(out)

    # -- execution of passed proposals ---------------------------------------------------------
    def _validate(self, kind: str, params: list) -> None:
        """Check a proposal's params against the current state without changing anything."""
        self._apply(kind, params, dry_run=True)

    def _execute(self, kind: str, params: list) -> None:
        self._apply(kind, params, dry_run=False)

    def _apply(self, kind: str, params: list, *, dry_run: bool) -> None:
        r = self.read
        put = (lambda key, value: None) if dry_run else self._put

        def one(what: str, check: Callable[[Value], bool], hint: str) -> Value:
            if len(params) != 1 or not check(params[0]):
                raise BadTransaction(f"{kind} takes one param: {what} ({hint})")
            return params[0]

        is_node = lambda v: isinstance(v, bytes) and len(v) == NODE_ID_SIZE  # noqa: E731
        is_addr = lambda v: isinstance(v, bytes) and len(v) == ADDRESS_SIZE  # noqa: E731
        sealers, observers = list(r.sealers()), list(r.observers())
        if kind == "add_sealer":
            node = one("node_id", is_node, "32-byte node id")
            if node in sealers:
                raise Revert(f"0x{node.hex()} is already a sealer")
            if len(sealers) >= MAX_SEALERS:
                raise Revert(f"the sealer set is full ({MAX_SEALERS})")
            put(KEY_SEALERS, [*sealers, node])
            put(KEY_OBSERVERS, [o for o in observers if o != node])
        elif kind == "add_observer":
            node = one("node_id", is_node, "32-byte node id")
            if node in observers:
                raise Revert(f"0x{node.hex()} is already an observer")
            remaining = [s for s in sealers if s != node]
            if not remaining:
                raise Revert("refused: turning the last sealer into an observer would leave the chain with no sealer")
            put(KEY_SEALERS, remaining)
            put(KEY_OBSERVERS, [*observers, node])
        elif kind == "remove_node":
            node = one("node_id", is_node, "32-byte node id")
            if node not in sealers and node not in observers:
                raise Revert(f"0x{node.hex()} is neither a sealer nor an observer")
            remaining = [s for s in sealers if s != node]
            if not remaining:
                raise Revert("refused: removing the last sealer would leave the chain with no sealer")
            put(KEY_SEALERS, remaining)
            put(KEY_OBSERVERS, [o for o in observers if o != node])
        elif kind == "set_config":
            if len(params) != 2:
                raise BadTransaction("set_config takes two params: key, value")
            _check_config(params[0], params[1])
            put(KEY_CONFIG, {**r.config(), params[0]: params[1]})
        elif kind == "revoke_node_cert":
            serial = one("serial", lambda v: isinstance(v, bytes) and 1 <= len(v) <= 20 and v[0] != 0,
                         "the certificate's serial number as big-endian bytes, no leading zero byte")
            current = [int(n).to_bytes(20, "big").lstrip(b"\x00") for n in r.revoked()]
            if serial in current:
                raise Revert(f"certificate serial 0x{serial.hex()} is already revoked")
            put(KEY_REVOKED, sorted([*current, serial]))
        elif kind in ("grant_deploy", "revoke_deploy", "grant_send", "revoke_send"):
            address = one("address", is_addr, "20-byte account address")
            key = KEY_DEPLOYERS if kind.endswith("deploy") else KEY_SENDERS
            current = list(r.deployers() if key == KEY_DEPLOYERS else r.senders())
            if kind.startswith("grant"):
                if address in current:
                    raise Revert(f"0x{address.hex()} already has that permission")
                put(key, sorted([*current, address]))
            else:
                if address not in current:
                    raise Revert(f"0x{address.hex()} does not have that permission")
                put(key, [a for a in current if a != address])
        elif kind in ("register_arbitrator", "unregister_arbitrator"):
            address = one("address", is_addr, "20-byte account address")
            raw = self.state.get(self.arbitrators_key)
            current = [] if raw is None else list(canonical.decode(raw))  # type: ignore[arg-type]
            if kind == "register_arbitrator":
                if address in current:
                    raise Revert(f"0x{address.hex()} is already a registered arbitrator")
                put(self.arbitrators_key, [*current, address])
            else:
                if address not in current:
                    raise Revert(f"0x{address.hex()} is not a registered arbitrator")
                put(self.arbitrators_key, [a for a in current if a != address])
        elif kind in ("add_member", "remove_member", "set_threshold"):
            committee = dict(r.committee())
            threshold = r.threshold()
            if kind == "add_member":
                if len(params) != 2 or not is_addr(params[0]) or isinstance(params[1], bool) \
                        or not isinstance(params[1], int) or not 1 <= params[1] <= 1000:
                    raise BadTransaction("add_member takes two params: address, weight (1-1000)")
                if params[0] in committee:
                    raise Revert(f"0x{params[0].hex()} is already a committee member")
                committee[params[0]] = params[1]
            elif kind == "remove_member":
                address = one("address", is_addr, "20-byte account address")
                if address not in committee:
                    raise Revert(f"0x{address.hex()} is not a committee member")
                if len(committee) == 1:
                    raise Revert("refused: removing the last committee member would leave no one to govern")
                del committee[address]
            else:
                threshold = one("weight", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                                "a positive weight")  # type: ignore[assignment]
            total = sum(committee.values())
            if threshold > total:
                raise Revert(f"refused: the threshold {threshold} would exceed the committee's total weight {total}")
            put(KEY_COMMITTEE, sorted([a, w] for a, w in committee.items()))
            put(KEY_THRESHOLD, threshold)
        elif kind == "add_tsa":
            # Shape only: parsing X.509 here would make consensus depend on the cryptography library's version.
            if len(params) != 3 or not isinstance(params[0], str) or not 0 < len(params[0]) <= 64 \
                    or not params[0].isprintable() or not isinstance(params[1], bytes) \
                    or not 0 < len(params[1]) <= MAX_TSA_CERT or not isinstance(params[2], str) or len(params[2]) > 128:
                raise BadTransaction("add_tsa takes three params: name (1-64 printable characters), the DER "
                                     f"certificate its tokens chain to (at most {MAX_TSA_CERT} bytes), policy OID or \"\"")
            current = r.tsa_entries() or []
            if any(n == params[0] for n, _, _ in current):
                raise Revert(f"a time-stamping authority named {params[0]!r} is already trusted")
            if len(current) >= MAX_TSAS:
                raise Revert(f"at most {MAX_TSAS} time-stamping authorities may be trusted")
            put(KEY_TSAS, [[n, c, p] for n, c, p in current] + [list(params)])
        elif kind == "remove_tsa":
            name = one("name", lambda v: isinstance(v, str), "the time-stamping authority's name")
            current = r.tsa_entries() or []
            if not any(n == name for n, _, _ in current):
                raise Revert(f"no trusted time-stamping authority is named {name!r}")
            put(KEY_TSAS, [[n, c, p] for n, c, p in current if n != name])
        else:  # pragma: no cover - KINDS is checked in propose
            raise BadTransaction(f"unknown proposal kind {kind!r}")


def arbitrators_key(evidence_address: bytes) -> bytes:
    """The evidence contract's storage entry holding its arbitrator list (``storage["arbitrators"]``)."""
    return storage_prefix(evidence_address) + canonical.encode("arbitrators")
