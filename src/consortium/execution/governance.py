"""Committee governance: the native system contract that decides who seals, who may deploy, and the chain's settings.

Why native and not a sandboxed contract: governance writes what no user
contract may touch — the sealer set consensus reads, the evidence contract's
arbitrator registry, the permission lists the txpool enforces — and the
offline evidence verifier must read the sealer set from a fixed, documented
state key. It is deterministic Python in the executor, reached at
:data:`GOVERNANCE_ADDRESS` (or by the name ``governance``), metered with a
flat gas charge.

Everything lives in the Merkle state under ``gv/`` (execution/governance_state.py), so every
change is provable against a block's state root. Like FISCO BCOS v3's committee:
members with weights propose and vote; a proposal executes in the block where
the approving weight reaches the threshold; an expired, rejected or executed
proposal cannot execute; every step emits an event. Changes that would lock the
chain (no sealer left, no committee member left, an unreachable threshold) are
refused with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from consortium.crypto.suite import ADDRESS_SIZE, DEFAULT_SUITE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.execution.committee import COMMITTEE_KINDS, change_committee
from consortium.execution.errors import BadTransaction, PermissionDenied, Revert
from consortium.execution.governance_state import (
    CONFIG_LIMITS,
    DEFAULT_CONFIG,
    KEY_COMMITTEE,
    KEY_CONFIG,
    KEY_DEPLOYERS,
    KEY_JOINS,
    KEY_NEXT_ID,
    KEY_NODE_ORGS,
    KEY_OBSERVERS,
    KEY_ORGS,
    KEY_REVOKED,
    KEY_REVOKED_CERTS,
    KEY_SEALERS,
    KEY_SENDERS,
    KEY_THRESHOLD,
    KEY_TSAS,
    KEYS,
    PROPOSAL_PREFIX,
    GovernanceState,
    _bytes,
)
from consortium.execution.governance_state import DEFAULT_BLOCK_GAS_LIMIT as DEFAULT_BLOCK_GAS_LIMIT  # re-exported
from consortium.execution.governance_state import Permissions as Permissions  # re-exported
from consortium.execution.keys import name_address, name_key, storage_prefix
from consortium.execution.members import MembershipRules, MemberView, RecentProposers
from consortium.execution.proposals import EXECUTED, OPEN, REJECTED, Proposal, ProposalCorrupted

GOVERNANCE_ADDRESS = bytes(ADDRESS_SIZE - 1) + b"\x02"
GOVERNANCE_NAME = "governance"

NODE_ID_SIZE = 32
MAX_SEALERS = 64
MAX_LIST = 1024
MAX_PROPOSAL_LIFETIME = 100_000
MAX_TSAS = 16
MAX_TSA_CERT = 16 * 1024

KINDS = (
    "add_sealer", "add_observer", "remove_node", "set_config", "revoke_node_cert",
    "grant_deploy", "revoke_deploy", "grant_send", "revoke_send",
    "register_arbitrator", "unregister_arbitrator", "add_member", "remove_member", "set_threshold",
    "add_tsa", "remove_tsa", "add_org", "remove_org",
)
MEMBERSHIP_KINDS = ("add_sealer", "add_observer", "remove_node", "add_org", "remove_org")


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
        KEY_COMMITTEE: _enc(sorted([a, w] for a, w in g.committee)),
        KEY_THRESHOLD: _enc(g.threshold),
        KEY_SEALERS: _enc(list(g.sealers)),
        KEY_OBSERVERS: _enc([]),
        KEY_REVOKED: _enc([]),
        KEY_DEPLOYERS: _enc(sorted(set(g.deployers))),
        KEY_SENDERS: _enc([]),
        KEY_CONFIG: _enc({**DEFAULT_CONFIG, **g.config}),
        KEY_NEXT_ID: _enc(1),
        **({KEY_ORGS: _enc([[n, c] for n, c in g.organizations]),
            KEY_NODE_ORGS: _enc(sorted([n, o] for n, o in g.node_orgs)),
            KEY_REVOKED_CERTS: _enc([]), KEY_JOINS: _enc([])} if g.organizations else {}),
        # Registered in the name registry, so clients may address it as "governance".
        name_key(name_address(GOVERNANCE_NAME)): _enc([GOVERNANCE_NAME, GOVERNANCE_ADDRESS]),
        **({KEY_TSAS: _enc([list(t) for t in g.tsas])} if g.tsas else {}),
    }


def _enc(value: Any) -> bytes:
    """canonical.encode for plain lists built here (typed Any: list invariance would reject list[bytes])."""
    return canonical.encode(value)


def _check_config(key: object, value: object, error: type[Exception] = BadTransaction) -> None:
    if not isinstance(key, str) or key not in CONFIG_LIMITS:
        raise error(f"unknown config key {key!r}; settable keys: {', '.join(sorted(CONFIG_LIMITS))}")
    lo, hi = CONFIG_LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise error(f"config {key} must be an integer in [{lo}, {hi}], got {value!r}")


class StateAccess(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes) -> None: ...


Emit = Callable[[str, dict[str, Value]], None]
Put = Callable[[bytes, Any], None]


class GovernanceContract:
    """The native contract. ``state`` has get/put; ``emit(name, fields)`` records an event.

    ``recent_proposers`` (from the block context) lets membership changes check that quorum
    stays reachable by the sealers that are live; ``suite`` maps node keys to accounts (join).
    """

    def __init__(self, state: StateAccess, sender: bytes, block_number: int, emit: Emit,
                 arbitrators_key: bytes, *, suite: CryptoSuite = DEFAULT_SUITE,
                 recent_proposers: RecentProposers | None = None) -> None:
        self.state = state
        self.sender = sender
        self.number = block_number
        self.emit = emit
        self.arbitrators_key = arbitrators_key
        self.suite = suite
        self.recent_proposers = recent_proposers
        self.read = GovernanceState(state.get)

    def _put(self, key: bytes, value: Any) -> None:
        """``value`` is a canonical Value; typed Any because list invariance would reject list[bytes]."""
        self.state.put(key, canonical.encode(value))

    # -- entry point ---------------------------------------------------------------------------
    def call(self, method: str, args: tuple[Value, ...]) -> Value:
        if method == "propose" and len(args) == 3:
            return self.propose(*args)
        if method == "vote" and len(args) == 2:
            return self.vote(*args)
        if method == "join":
            return self._rules(self._put).join(self.sender, args)
        if method == "get_proposal" and len(args) == 1:
            return self.get_proposal(args[0])
        if method == "list_proposals" and len(args) in (0, 1, 2):
            return self.list_proposals(*args)
        if method in KEYS and not args:
            return self._read_raw(KEYS[method])
        raise BadTransaction(
            f"governance has no method {method!r} taking {len(args)} argument(s); it has propose(kind, params, "
            f"expires_at_block), vote(id, approve), join(head), get_proposal(id), list_proposals([start, limit]), "
            f"and reads {', '.join(KEYS)}()")

    def _read_raw(self, key: bytes) -> Value:
        raw = self.state.get(key)
        return None if raw is None else canonical.freeze(canonical.decode(raw))

    def _member_weight(self, address: bytes) -> int:
        for a, w in self.read.committee():
            if a == address:
                return w
        return 0

    def _next_id(self) -> int:
        raw = self.state.get(KEY_NEXT_ID)
        value = canonical.decode(raw) if raw is not None else 1
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProposalCorrupted("gv/next is not an integer")
        return value

    # -- proposals -----------------------------------------------------------------------------
    def propose(self, kind: Value, params: Value, expires_at_block: Value) -> int:
        if not self._member_weight(self.sender):
            raise PermissionDenied(f"0x{self.sender.hex()} is not a committee member; only members may propose")
        if not isinstance(kind, str) or kind not in KINDS:
            raise BadTransaction(f"unknown proposal kind {kind!r}; kinds: {', '.join(KINDS)}")
        if not isinstance(params, (list, tuple)) or len(params) > 4:
            raise BadTransaction("proposal params must be a list of at most 4 values")
        if isinstance(expires_at_block, bool) or not isinstance(expires_at_block, int):
            raise BadTransaction("expires_at_block must be a block number")
        if not self.number <= expires_at_block <= self.number + MAX_PROPOSAL_LIFETIME:
            raise BadTransaction(f"expires_at_block must be in [{self.number}, {self.number + MAX_PROPOSAL_LIFETIME}]")
        self._validate(kind, list(params))  # refuse obviously bad proposals early, and again on execution
        pid = self._next_id()
        self._put(KEY_NEXT_ID, pid + 1)
        proposal = Proposal(pid, kind, tuple(params), self.sender, self.number, expires_at_block)
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
        if proposal.status != OPEN:
            raise Revert(f"proposal {proposal.id} is {proposal.status}; it can no longer be voted on")
        if self.number > proposal.expires:
            raise Revert(f"proposal {proposal.id} expired at block {proposal.expires}")
        if proposal.voted(self.sender):
            raise Revert(f"0x{self.sender.hex()} has already voted on proposal {proposal.id}")
        return self._record_vote(proposal, self.sender, approve)

    def _record_vote(self, proposal: Proposal, voter: bytes, approve: bool) -> str:
        proposal = proposal.with_vote(voter, approve)
        self.emit("Voted", {"id": proposal.id, "voter": voter, "approve": approve})
        members = dict(self.read.committee())
        yes, no = proposal.tally(members)
        threshold = self.read.threshold()
        if yes >= threshold:
            self._execute(proposal.kind, list(proposal.params))
            proposal = replace(proposal, status=EXECUTED, executed_at=self.number)
            self.emit("Executed", {"id": proposal.id, "kind": proposal.kind})
        elif sum(members.values()) - no < threshold:
            proposal = replace(proposal, status=REJECTED, reason="enough weight voted against it")
            self.emit("Rejected", {"id": proposal.id})
        self._put(PROPOSAL_PREFIX + proposal.id.to_bytes(8, "big"), proposal.to_value())
        return proposal.status

    def _load(self, pid: Value) -> Proposal:
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**63:
            raise BadTransaction("a proposal id is a positive integer")
        raw = self.state.get(PROPOSAL_PREFIX + pid.to_bytes(8, "big"))
        if raw is None:
            raise Revert(f"no proposal {pid}")
        return Proposal.from_value(canonical.decode(raw))

    def get_proposal(self, pid: Value) -> Value:
        return canonical.freeze(self._load(pid).to_value())

    def list_proposals(self, start: Value = 1, limit: Value = 50) -> Value:
        if not isinstance(start, int) or isinstance(start, bool) or not isinstance(limit, int) \
                or isinstance(limit, bool) or start < 0 or limit < 0:
            raise BadTransaction("start and limit are non-negative integers")
        end_id = self._next_id()
        out: list[Value] = []
        for pid in range(max(1, start), min(end_id, start + min(limit, 100))):
            raw = self.state.get(PROPOSAL_PREFIX + pid.to_bytes(8, "big"))
            if raw is not None:
                out.append(Proposal.from_value(canonical.decode(raw)).to_value())
        return canonical.freeze(out)

    def _rules(self, put: Put) -> MembershipRules:
        r = self.read
        view = MemberView(sealers=r.sealers(), observers=r.observers(), orgs=r.organizations(),
                          node_orgs=dict(r.node_orgs()), joins=r.joins(), number=self.number,
                          recent=self.recent_proposers)
        keys = {"sealers": KEY_SEALERS, "observers": KEY_OBSERVERS, "orgs": KEY_ORGS, "node_orgs": KEY_NODE_ORGS,
                "joins": KEY_JOINS}
        return MembershipRules(view, put, keys, self.suite)

    def _revoke(self, params: list[Value], put: Put) -> None:
        """[serial] revokes it whoever issued it (single-CA chains); [organization, serial] revokes a
        certificate of that member (X.509 serials are unique per issuer, not across organizations)."""
        r = self.read
        if len(params) == 1:
            serial = _serial(params[0])
            current = [int(n).to_bytes(20, "big").lstrip(b"\x00") for n in r.revoked()]
            if serial in current:
                raise Revert(f"certificate serial 0x{serial.hex()} is already revoked")
            put(KEY_REVOKED, sorted([*current, serial]))
            return
        if len(params) != 2 or not isinstance(params[0], str):
            raise BadTransaction("revoke_node_cert takes [serial] or [organization, serial]")
        org, serial = params[0], _serial(params[1])
        if org not in {n for n, _ in r.organizations()}:
            raise Revert(f"{org!r} is not a member organization")
        entries: list[list[Any]] = [[o, s.to_bytes(20, "big").lstrip(b"\x00")] for o, s in r.revoked_certs() if o]
        if [org, serial] in entries:
            raise Revert(f"certificate serial 0x{serial.hex()} of {org} is already revoked")
        put(KEY_REVOKED_CERTS, sorted([*entries, [org, serial]]))

    # -- execution of passed proposals ---------------------------------------------------------
    def _validate(self, kind: str, params: list[Value]) -> None:
        """Check a proposal's params against the current state without changing anything."""
        self._apply(kind, params, dry_run=True)

    def _execute(self, kind: str, params: list[Value]) -> None:
        self._apply(kind, params, dry_run=False)

    def _apply(self, kind: str, params: list[Value], *, dry_run: bool) -> None:
        r = self.read

        def skip(key: bytes, value: Any) -> None:
            return None

        put: Put = skip if dry_run else self._put
        if kind in MEMBERSHIP_KINDS:
            getattr(self._rules(put), kind)(params)
            return

        if kind == "set_config":
            if len(params) != 2:
                raise BadTransaction("set_config takes two params: key, value")
            key, value = params
            _check_config(key, value)
            put(KEY_CONFIG, {**r.config(), str(key): value})
        elif kind == "revoke_node_cert":
            self._revoke(params, put)
        elif kind in ("grant_deploy", "revoke_deploy", "grant_send", "revoke_send"):
            address = _addr(kind, params)
            state_key = KEY_DEPLOYERS if kind.endswith("deploy") else KEY_SENDERS
            current = list(r.deployers() if state_key == KEY_DEPLOYERS else r.senders())
            if kind.startswith("grant"):
                if address in current:
                    raise Revert(f"0x{address.hex()} already has that permission")
                put(state_key, sorted([*current, address]))
            else:
                if address not in current:
                    raise Revert(f"0x{address.hex()} does not have that permission")
                put(state_key, [a for a in current if a != address])
        elif kind in ("register_arbitrator", "unregister_arbitrator"):
            address = _addr(kind, params)
            raw = self.state.get(self.arbitrators_key)
            stored = [] if raw is None else canonical.decode(raw)
            if not isinstance(stored, list):
                raise ProposalCorrupted("the arbitrator registry is not a list")
            registry = [_bytes(a) for a in stored]
            if kind == "register_arbitrator":
                if address in registry:
                    raise Revert(f"0x{address.hex()} is already a registered arbitrator")
                put(self.arbitrators_key, [*registry, address])
            else:
                if address not in registry:
                    raise Revert(f"0x{address.hex()} is not a registered arbitrator")
                put(self.arbitrators_key, [a for a in registry if a != address])
        elif kind in COMMITTEE_KINDS:
            committee, threshold = change_committee(dict(r.committee()), r.threshold(), kind, params)
            put(KEY_COMMITTEE, sorted([a, w] for a, w in committee.items()))
            put(KEY_THRESHOLD, threshold)
        elif kind == "add_tsa":
            # Shape only: parsing X.509 here would make consensus depend on the cryptography library's version.
            if len(params) != 3 or not isinstance(params[0], str) or not 0 < len(params[0]) <= 64 \
                    or not params[0].isprintable() or not isinstance(params[1], bytes) \
                    or not 0 < len(params[1]) <= MAX_TSA_CERT or not isinstance(params[2], str) or len(params[2]) > 128:
                raise BadTransaction("add_tsa takes three params: name (1-64 printable characters), the DER "
                                     f"certificate its tokens chain to (at most {MAX_TSA_CERT} bytes), policy OID or \"\"")
            tsas = r.tsa_entries() or []
            if any(n == params[0] for n, _, _ in tsas):
                raise Revert(f"a time-stamping authority named {params[0]!r} is already trusted")
            if len(tsas) >= MAX_TSAS:
                raise Revert(f"at most {MAX_TSAS} time-stamping authorities may be trusted")
            put(KEY_TSAS, [[n, c, p] for n, c, p in tsas] + [list(params)])
        elif kind == "remove_tsa":
            if len(params) != 1 or not isinstance(params[0], str):
                raise BadTransaction("remove_tsa takes one param: name (the time-stamping authority's name)")
            name = params[0]
            tsas = r.tsa_entries() or []
            if not any(n == name for n, _, _ in tsas):
                raise Revert(f"no trusted time-stamping authority is named {name!r}")
            put(KEY_TSAS, [[n, c, p] for n, c, p in tsas if n != name])
        else:  # pragma: no cover - KINDS is checked in propose
            raise BadTransaction(f"unknown proposal kind {kind!r}")




def _addr(kind: str, params: list[Value]) -> bytes:
    if len(params) != 1 or not isinstance(params[0], bytes) or len(params[0]) != ADDRESS_SIZE:
        raise BadTransaction(f"{kind} takes one param: address (20-byte account address)")
    return params[0]


def _serial(v: Value) -> bytes:
    if not isinstance(v, bytes) or not 1 <= len(v) <= 20 or v[0] == 0:
        raise BadTransaction("revoke_node_cert: the certificate's serial number as big-endian bytes, no leading zero "
                             "byte")
    return v


def arbitrators_key(evidence_address: bytes) -> bytes:
    """The evidence contract's storage entry holding its arbitrator list (``storage["arbitrators"]``)."""
    return storage_prefix(evidence_address) + canonical.encode("arbitrators")
