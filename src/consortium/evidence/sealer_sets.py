"""The sealer set in force at each block, derived from the genesis file and certified changes only.

Trust starts at the genesis file's sealer list. Governance keeps the current set
in the state tree at ``gv/sealers`` (execution/governance.py), and a node takes
the set in force at block ``n + 1`` from that key's value after block ``n``
(node/runtime.py ``sealers_at``). A bundle's ``sealerChanges`` are exactly those
facts: certified headers ``H`` with a state proof of ``gv/sealers`` under
``H.state_root``; the proven set is in force from ``H.number + 1``.

The verifier walks them in ascending block order from genesis. Each change
header must name, and (in the signature phase) be certified by, the set in force
before it, so trust runs unbroken from genesis to every block the proof uses.

Which organization a sealer belongs to comes from the same two sources: the
genesis file's ``org`` of each genesis sealer, and, for the set a change installs,
``gv/node_orgs`` proven under the same certified state root when the change carries
it (``organizations``). A sealer neither names is reported as "organization not
proven", never guessed.

What this cannot rule out (as for every light client anchored at genesis): a
quorum of a set that *was* in force signing a history in which it was never
replaced. Sealers leaving the chain must destroy their keys; the proof is as
strong as "no quorum of any past or present sealer set ever signed a lie".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from consortium.crypto.suite import CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, field_bytes
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.bundle import SealerSetChange
from consortium.evidence.errors import ANOTHER_CHAIN, PROOF_ALTERED, SEALER_SET, NotVerified
from consortium.execution.governance import KEY_NODE_ORGS, KEY_SEALERS, NODE_ID_SIZE
from consortium.ledger.block import MAX_SEALERS, BlockHeader
from consortium.state import InvalidStateProof, verify_proof


@dataclass(frozen=True)
class SealerSetRule:
    """Where governance keeps the sealer set in the state tree, and how to read its value."""

    key: bytes
    decode: Callable[[bytes], tuple[bytes, ...]]
    """Value bytes -> node ids in on-chain order; raises ValueError if malformed."""


def decode_sealer_set(value: bytes) -> tuple[bytes, ...]:
    """``gv/sealers``: the canonical list of 32-byte node ids, in on-chain order."""
    items = canonical.decode(value, max_size=MAX_SEALERS * 40 + 16)
    if not isinstance(items, list) or len(items) > MAX_SEALERS:
        raise DecodeError(f"a sealer set is a list of at most {MAX_SEALERS} node ids")
    return tuple(field_bytes(i, "sealer node id", size=NODE_ID_SIZE) for i in items)


def decode_node_orgs(value: bytes | None) -> dict[bytes, str]:
    """``gv/node_orgs``: ``[[node id, organization], …]``; absent reads as no node's organization recorded."""
    if value is None:
        return {}
    items = canonical.decode(value)
    if not isinstance(items, list):
        raise DecodeError("gv/node_orgs is a list of [node id, organization] pairs")
    out: dict[bytes, str] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str) and 0 < len(item[1]) <= 64):
            raise DecodeError("gv/node_orgs is a list of [node id, organization name] pairs")
        node = field_bytes(item[0], "node id", size=NODE_ID_SIZE)
        if node in out:
            raise DecodeError("gv/node_orgs lists a node twice")
        out[node] = item[1]
    return out


SEALER_SET_RULE: SealerSetRule | None = SealerSetRule(KEY_SEALERS, decode_sealer_set)
"""Governance's rule; None would mean a chain whose sealer set never changes."""


@dataclass(frozen=True)
class SealerSchedule:
    """Sealer sets by the first block they govern: ``(from_number, sealers)``, ascending, first from 0."""

    epochs: tuple[tuple[int, tuple[bytes, ...]], ...]
    certified: tuple[BlockHeader, ...]
    """Change headers whose commit certificates the signature phase must still check, in order."""
    orgs: tuple[Mapping[bytes, str] | None, ...] = field(default=())
    """Per epoch: node id -> organization as proven for it (genesis, or the change's gv/node_orgs);
    None where the change carried no organizations (then only genesis sealers' are known)."""

    def _epoch(self, number: int) -> int:
        index = 0
        for i, (start, _) in enumerate(self.epochs):
            if start > number:
                break
            index = i
        return index

    def at(self, number: int) -> tuple[bytes, ...]:
        return self.epochs[self._epoch(number)][1]

    def org_of(self, number: int, node: bytes) -> str | None:
        """The organization of sealer ``node`` at block ``number``, as proven; None if not proven."""
        if not self.orgs:
            return None
        proven = self.orgs[self._epoch(number)]
        if proven is None:  # the change did not carry them: genesis sealers keep the genesis file's names
            proven = self.orgs[0] or {}
        return proven.get(node)


def build_schedule(
    genesis_sealers: tuple[bytes, ...],
    changes: Sequence[SealerSetChange],
    *,
    chain: tuple[str, str],
    rule: SealerSetRule | None,
    suite: CryptoSuite,
    genesis_orgs: Mapping[bytes, str] | None = None,
) -> SealerSchedule:
    """Walk ``changes`` from genesis; every check here is cheap (hashing only, no signatures).
    ``genesis_orgs``: each genesis sealer's organization, as the genesis file names it."""
    epochs: list[tuple[int, tuple[bytes, ...]]] = [(0, genesis_sealers)]
    orgs: list[Mapping[bytes, str] | None] = [dict(genesis_orgs or {})]
    if changes and rule is None:
        raise NotVerified(SEALER_SET, "the proof lists sealer-set changes, but this verifier was given no rule "
                                      "for reading them (a chain whose sealer set never changes)")
    last = -1
    for i, change in enumerate(changes):
        assert rule is not None
        header = change.header
        if (header.chain_id, header.group_id) != chain:
            raise NotVerified(ANOTHER_CHAIN, f"sealer-set change {i} is a block of chain "
                                             f"{header.chain_id!r}/{header.group_id!r}")
        if header.number <= last:
            raise NotVerified(PROOF_ALTERED, "sealer-set changes must be in strictly ascending block order")
        last = header.number
        current = epochs[-1][1]
        if header.sealers != current:
            raise NotVerified(SEALER_SET, f"sealer-set change at block {header.number} is sealed by a set other "
                                          "than the one in force per the genesis file and earlier changes")
        try:
            verify_proof(header.state_root, rule.key, change.value, change.proof, suite)
        except InvalidStateProof as exc:
            raise NotVerified(PROOF_ALTERED, f"sealer-set change at block {header.number}: the state proof does "
                                             f"not lead to the block's state root ({exc})") from None
        try:
            new = tuple(rule.decode(change.value))
        except ValueError as exc:
            raise NotVerified(PROOF_ALTERED, f"sealer-set change at block {header.number}: "
                                             f"unreadable sealer set ({exc})") from None
        if not new or len(set(new)) != len(new):
            raise NotVerified(PROOF_ALTERED, f"sealer-set change at block {header.number}: "
                                             "the new set is empty or lists a sealer twice")
        epochs.append((header.number + 1, new))
        orgs.append(_proven_orgs(change, suite))
    return SealerSchedule(tuple(epochs), tuple(c.header for c in changes), tuple(orgs))


def _proven_orgs(change: SealerSetChange, suite: CryptoSuite) -> dict[bytes, str] | None:
    """The change's ``gv/node_orgs``, proven under the same state root as its sealer set; None if not carried."""
    carried = change.organizations
    if carried is None:
        return None
    number = change.header.number
    try:
        verify_proof(change.header.state_root, KEY_NODE_ORGS, carried.value, carried.proof, suite)
    except InvalidStateProof as exc:
        raise NotVerified(PROOF_ALTERED, f"sealer-set change at block {number}: the organizations' state proof does "
                                         f"not lead to the block's state root ({exc})") from None
    try:
        return decode_node_orgs(carried.value)
    except ValueError as exc:
        raise NotVerified(PROOF_ALTERED, f"sealer-set change at block {number}: unreadable organizations "
                                         f"({exc})") from None


def check_sealers(header: BlockHeader, schedule: SealerSchedule) -> None:
    expected = schedule.at(header.number)
    if header.sealers != expected:
        unknown = [to_hex(s)[:18] + "…" for s in header.sealers if s not in expected]
        detail = f"; not sealers per genesis: {', '.join(unknown[:4])}" if unknown else ""
        raise NotVerified(SEALER_SET, f"block {header.number} names a sealer set ({len(header.sealers)} nodes) other "
                                      f"than the {len(expected)} in force per the genesis file{detail}")
