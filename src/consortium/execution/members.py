"""Governance of who is in the consortium: organizations, nodes, revocations — and no vote that stalls it.

Two rules make a membership change unable to stop the chain (issue 9's field report:
two votes for sealer ids no node runs made quorum unreachable for good):

* **Join before sealing.** On a chain of organizations a node becomes a sealer only
  after it was admitted as an observer, ran, synced and sent a ``join`` transaction
  signed with its own node key (the account of that key), naming a head within
  :data:`JOIN_MAX_LAG` blocks of the chain's; ``add_sealer`` needs such a join no older
  than :data:`JOIN_VALIDITY_BLOCKS`. A node id no node runs can never join.
* **Quorum stays reachable by the live sealers.** A sealer is live if it proposed one
  of the last ``LIVENESS_WINDOW_PER_SEALER × n`` blocks (leader rotation gives every
  live sealer a turn every ``n`` blocks; headers are hashed, so every node computes
  the same set), or if it is the candidate with a fresh join. A change after which
  the live sealers of the new set are fewer than its quorum ``n − ⌊(n−1)/3⌋`` is
  refused, naming the silent sealers. On a young chain (too few blocks to judge) the
  check is skipped.

Everything here is deterministic: it reads state, the block number and committed
headers' proposers, never a clock or the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consortium.crypto.suite import CryptoSuite
from consortium.encoding.canonical import Value
from consortium.execution.errors import BadTransaction, PermissionDenied, Revert

NODE_ID_SIZE = 32
MAX_SEALERS = 64
MAX_ORGS = 64
MAX_CA_CERT = 8 * 1024
JOIN_MAX_LAG = 10
"""A join names the node's head; it must be at most this many blocks behind the block that includes it."""
JOIN_VALIDITY_BLOCKS = 1800
"""add_sealer needs a join at most this many blocks old (about 30 minutes on an idle chain)."""
LIVENESS_WINDOW_PER_SEALER = 3

RecentProposers = Callable[[int], "tuple[bytes, ...] | None"]
"""``recent(count)``: proposers of the ``count`` blocks before the one executing, or None if fewer exist."""


def quorum(n: int) -> int:
    return n - (n - 1) // 3


@dataclass(frozen=True)
class MemberView:
    """What the membership rules read; built by the governance contract from ``gv/`` state."""

    sealers: tuple[bytes, ...]
    observers: tuple[bytes, ...]
    orgs: tuple[tuple[str, bytes], ...]
    node_orgs: dict[bytes, str]
    joins: dict[bytes, int]
    number: int
    recent: RecentProposers | None

    @property
    def organized(self) -> bool:
        """A chain of organizations (genesis listed them): joins are required, nodes belong to members."""
        return bool(self.orgs)

    def live(self, candidate: bytes | None = None) -> set[bytes] | None:
        """Sealers that proposed recently (plus a freshly joined candidate); None if the chain is too young."""
        if self.recent is None or not self.sealers:
            return None
        window = LIVENESS_WINDOW_PER_SEALER * len(self.sealers)
        proposers = self.recent(window)
        if proposers is None:
            return None
        live = set(proposers)
        joined = self.joins.get(candidate) if candidate is not None else None
        if candidate is not None and joined is not None and joined >= self.number - JOIN_VALIDITY_BLOCKS:
            live.add(candidate)
        return live

    def check_reachable(self, new_sealers: Sequence[bytes], action: str, candidate: bytes | None = None) -> None:
        """Refuse ``action`` if the live members of ``new_sealers`` could not form its quorum."""
        live = self.live(candidate)
        if live is None:
            return
        need = quorum(len(new_sealers))
        alive = [s for s in new_sealers if s in live]
        if len(alive) < need:
            silent = [f"0x{s.hex()[:16]}…" for s in new_sealers if s not in live]
            window = LIVENESS_WINDOW_PER_SEALER * len(self.sealers)
            raise Revert(
                f"refused: {action} would leave {len(new_sealers)} sealers needing {need} to commit, but only "
                f"{len(alive)} of them proposed a block in the last {window} blocks (silent: {', '.join(silent)}); "
                "quorum would be unreachable and the chain would stop. Bring the silent sealers back or remove "
                "them first")


def check_node_id(v: Value, suite: CryptoSuite, kind: str, *, strict: bool = True) -> bytes:
    """A node id: 32 bytes, and (``strict``, on chains of organizations) a valid public key."""
    if not isinstance(v, bytes) or len(v) != NODE_ID_SIZE:
        raise BadTransaction(f"{kind} takes a node_id: a 32-byte node id (public key), got {v!r}")
    if strict and not suite.is_public_key(v):
        raise BadTransaction(f"{kind}: 0x{v.hex()} is not a valid public key (a node id is the node's public key, "
                             "printed by `consortium node new`)")
    return v


def check_org_ca(name: Value, der: Value) -> tuple[str, bytes]:
    """An organization CA as governance accepts it: shape only (a name, DER bytes starting a SEQUENCE).

    Parsing X.509 here would make consensus depend on the cryptography library's version; the
    CLI checks the certificate fully before proposing, and nodes that cannot use a member's CA
    leave it out of their trust store and say so in their log (node/admission.py).
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not all(c.isascii() and (c.isalnum() or c in "_.-")
                                                                         for c in name):
        raise BadTransaction(f"add_org: organization name must be 1-64 characters of A-Z a-z 0-9 _ . -, got {name!r}")
    if not isinstance(der, bytes) or not 0 < len(der) <= MAX_CA_CERT or der[0] != 0x30:
        raise BadTransaction(f"add_org: the CA certificate is DER bytes (a SEQUENCE) of at most {MAX_CA_CERT} bytes")
    return name, der


class MembershipRules:
    """Apply (or, with ``put`` a no-op, only check) one membership proposal or a join."""

    def __init__(self, view: MemberView, put: Callable[[bytes, Any], None], keys: dict[str, bytes],
                 suite: CryptoSuite) -> None:
        self.v = view
        self.put = put
        self.k = keys
        self.suite = suite

    def _set_nodes(self, sealers: list[bytes], observers: list[bytes], node_orgs: dict[bytes, str]) -> None:
        self.put(self.k["sealers"], list(sealers))
        self.put(self.k["observers"], list(observers))
        if self.v.organized:
            self.put(self.k["node_orgs"], sorted([n, o] for n, o in node_orgs.items()))

    def add_sealer(self, params: list[Value]) -> None:
        if len(params) != 1:
            raise BadTransaction("add_sealer takes one param: node_id")
        node = check_node_id(params[0], self.suite, "add_sealer", strict=self.v.organized)
        v = self.v
        if node in v.sealers:
            raise Revert(f"0x{node.hex()} is already a sealer")
        if len(v.sealers) >= MAX_SEALERS:
            raise Revert(f"the sealer set is full ({MAX_SEALERS})")
        if v.organized:
            if node not in v.observers:
                raise Revert(f"refused: 0x{node.hex()[:16]}… is not an observer; a node becomes a sealer only after "
                             "it was admitted as an observer (add_observer), ran and synced, and joined")
            joined = v.joins.get(node)
            if joined is None or joined < v.number - JOIN_VALIDITY_BLOCKS:
                when = "never joined" if joined is None else f"last joined at block {joined}"
                raise Revert(f"refused: observer 0x{node.hex()[:16]}… {when}; a sealer must prove it runs, holds its "
                             f"key and has synced within the last {JOIN_VALIDITY_BLOCKS} blocks: run `consortium node "
                             "join` on that node, then vote again")
        new = [*v.sealers, node]
        v.check_reachable(new, f"adding sealer 0x{node.hex()[:16]}…", candidate=node)
        self._set_nodes(new, [o for o in v.observers if o != node], dict(v.node_orgs))

    def add_observer(self, params: list[Value]) -> None:
        v = self.v
        if v.organized and len(params) != 2:
            raise BadTransaction("add_observer takes two params on a chain of organizations: node_id, organization")
        if not v.organized and len(params) != 1:
            raise BadTransaction("add_observer takes one param: node_id")
        node = check_node_id(params[0], self.suite, "add_observer", strict=v.organized)
        node_orgs = dict(v.node_orgs)
        if v.organized:
            org = params[1]
            if not isinstance(org, str) or org not in {n for n, _ in v.orgs}:
                raise Revert(f"refused: {org!r} is not a member organization "
                             f"(members: {', '.join(n for n, _ in v.orgs)}); add it first with add_org")
            if node in node_orgs and node_orgs[node] != org:
                raise Revert(f"0x{node.hex()[:16]}… is a node of {node_orgs[node]}, not of {org}")
            node_orgs[node] = org
        if node in v.observers:
            raise Revert(f"0x{node.hex()} is already an observer")
        remaining = [s for s in v.sealers if s != node]
        if not remaining:
            raise Revert("refused: turning the last sealer into an observer would leave the chain with no sealer")
        if node in v.sealers:
            v.check_reachable(remaining, f"turning sealer 0x{node.hex()[:16]}… into an observer")
        self._set_nodes(remaining, [*v.observers, node], node_orgs)

    def remove_node(self, params: list[Value]) -> None:
        if len(params) != 1:
            raise BadTransaction("remove_node takes one param: node_id")
        v = self.v
        node = params[0]
        if not isinstance(node, bytes) or len(node) != NODE_ID_SIZE:
            raise BadTransaction("remove_node: a node id is 32 bytes")
        if node not in v.sealers and node not in v.observers:
            raise Revert(f"0x{node.hex()} is neither a sealer nor an observer")
        remaining = [s for s in v.sealers if s != node]
        if not remaining:
            raise Revert("refused: removing the last sealer would leave the chain with no sealer")
        if node in v.sealers:
            v.check_reachable(remaining, f"removing sealer 0x{node.hex()[:16]}…")
        node_orgs = {n: o for n, o in v.node_orgs.items() if n != node}
        self._set_nodes(remaining, [o for o in v.observers if o != node], node_orgs)

    def add_org(self, params: list[Value]) -> None:
        if not self.v.organized:
            raise Revert("refused: this chain has a single CA (its genesis lists no organizations)")
        if len(params) != 2:
            raise BadTransaction("add_org takes two params: name, CA certificate (DER bytes)")
        name, der = check_org_ca(params[0], params[1])
        if any(n == name for n, _ in self.v.orgs):
            raise Revert(f"{name!r} is already a member organization")
        if any(c == der for _, c in self.v.orgs):
            raise Revert("that CA certificate is already a member's")
        if len(self.v.orgs) >= MAX_ORGS:
            raise Revert(f"at most {MAX_ORGS} organizations")
        self.put(self.k["orgs"], [[n, c] for n, c in self.v.orgs] + [[name, der]])

    def remove_org(self, params: list[Value]) -> None:
        """Remove an organization and every node of it; its connections close on every node."""
        v = self.v
        if len(params) != 1 or not isinstance(params[0], str):
            raise BadTransaction("remove_org takes one param: the organization's name")
        name = params[0]
        if not any(n == name for n, _ in v.orgs):
            raise Revert(f"{name!r} is not a member organization")
        if len(v.orgs) == 1:
            raise Revert("refused: removing the last organization would leave no one to certify nodes")
        gone = {n for n, o in v.node_orgs.items() if o == name}
        remaining = [s for s in v.sealers if s not in gone]
        if not remaining:
            raise Revert(f"refused: every sealer belongs to {name}; the chain would have no sealer")
        if len(remaining) != len(v.sealers):
            v.check_reachable(remaining, f"removing organization {name} and its {len(v.sealers) - len(remaining)} "
                                         "sealer(s)")
        self.put(self.k["orgs"], [[n, c] for n, c in v.orgs if n != name])
        self._set_nodes(remaining, [o for o in v.observers if o not in gone],
                        {n: o for n, o in v.node_orgs.items() if n not in gone})

    def join(self, sender: bytes, args: Sequence[Value]) -> str:
        """A node's own proof that it runs, holds its key and has synced: sent from its node key's account."""
        v = self.v
        if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int):
            raise BadTransaction("join takes one argument: the head block number this node has")
        head = args[0]
        node = next((n for n in (*v.observers, *v.sealers) if self.suite.address(n) == sender), None)
        if node is None:
            raise PermissionDenied(f"0x{sender.hex()} is not the account of a node on chain; join is sent by an "
                                   "observer with its own node key (`consortium node join`)")
        if not v.number - JOIN_MAX_LAG <= head < v.number:
            raise Revert(f"refused: the node reports head {head} but the chain is at {v.number - 1}; it has not "
                         f"synced (a join must be within {JOIN_MAX_LAG} blocks of the chain's head)")
        joins = dict(v.joins)
        joins[node] = v.number
        self.put(self.k["joins"], sorted([n, b] for n, b in joins.items()))
        return f"0x{node.hex()}"
