"""Governance proposals as typed records: decoded once at the edge, encoded once when stored.

A proposal lives in state under ``gv/p/<id, 8 bytes big-endian>`` as a canonical map
(docs/protocol.md §6) whose shape RPC clients and the CLI already read. Inside the
contract it is a frozen :class:`Proposal`; :meth:`Proposal.from_value` is the only
place that checks the stored shape, so nothing else re-inspects dict keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from consortium.encoding.canonical import Value

OPEN, EXECUTED, REJECTED = "open", "executed", "rejected"
STATUSES = (OPEN, EXECUTED, REJECTED)


class ProposalCorrupted(ValueError):
    """A stored proposal does not have the shape this module writes (never expected on a real chain)."""


@dataclass(frozen=True)
class Vote:
    voter: bytes
    approve: bool


@dataclass(frozen=True)
class Proposal:
    id: int
    kind: str
    params: tuple[Value, ...]
    proposer: bytes
    created: int
    expires: int
    votes: tuple[Vote, ...] = ()
    status: str = OPEN
    executed_at: int | None = None
    reason: str = ""

    def voted(self, voter: bytes) -> bool:
        return any(v.voter == voter for v in self.votes)

    def with_vote(self, voter: bytes, approve: bool) -> Proposal:
        return replace(self, votes=(*self.votes, Vote(voter, approve)))

    def tally(self, weights: dict[bytes, int]) -> tuple[int, int]:
        """(approving, rejecting) weight under the committee as it is now."""
        yes = sum(weights.get(v.voter, 0) for v in self.votes if v.approve)
        no = sum(weights.get(v.voter, 0) for v in self.votes if not v.approve)
        return yes, no

    def to_value(self) -> dict[str, Value]:
        return {"id": self.id, "kind": self.kind, "params": list(self.params), "proposer": self.proposer,
                "created": self.created, "expires": self.expires,
                "votes": [[v.voter, v.approve] for v in self.votes], "status": self.status,
                "executed_at": self.executed_at, "reason": self.reason}

    @classmethod
    def from_value(cls, value: Value) -> Proposal:
        if not isinstance(value, dict):
            raise ProposalCorrupted("a stored proposal is not a map")
        try:
            votes = value["votes"]
            params = value["params"]
            if not isinstance(votes, (list, tuple)) or not isinstance(params, (list, tuple)):
                raise ProposalCorrupted("proposal votes and params must be lists")
            out = cls(
                id=_int(value["id"]), kind=_str(value["kind"]), params=tuple(params),
                proposer=_bytes(value["proposer"]), created=_int(value["created"]), expires=_int(value["expires"]),
                votes=tuple(_vote(v) for v in votes), status=_str(value["status"]),
                executed_at=None if value["executed_at"] is None else _int(value["executed_at"]),
                reason=_str(value["reason"]),
            )
        except KeyError as exc:
            raise ProposalCorrupted(f"a stored proposal lacks {exc}") from None
        if out.status not in STATUSES:
            raise ProposalCorrupted(f"proposal {out.id} has status {out.status!r}")
        return out


def _int(v: Value) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProposalCorrupted(f"expected an integer, got {v!r}")
    return v


def _str(v: Value) -> str:
    if not isinstance(v, str):
        raise ProposalCorrupted(f"expected text, got {v!r}")
    return v


def _bytes(v: Value) -> bytes:
    if not isinstance(v, bytes):
        raise ProposalCorrupted(f"expected bytes, got {v!r}")
    return v


def _vote(v: Value) -> Vote:
    if not isinstance(v, (list, tuple)) or len(v) != 2 or not isinstance(v[1], bool):
        raise ProposalCorrupted(f"a vote must be [voter, approve], got {v!r}")
    return Vote(_bytes(v[0]), v[1])
