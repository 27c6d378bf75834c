"""The committee's own rules: how ``add_member``, ``remove_member`` and ``set_threshold`` change it.

One pure function, used twice: by the governance contract when such a proposal executes, and by
the offline case verifier (evidence/case_verify.py), which follows the committee from the genesis
file through the signed committee changes a case proof carries. Sharing it means the verifier
refuses exactly what the contract would have refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consortium.crypto.suite import ADDRESS_SIZE
from consortium.encoding.canonical import Value
from consortium.execution.errors import BadTransaction, Revert

COMMITTEE_KINDS = ("add_member", "remove_member", "set_threshold")
MAX_WEIGHT = 1000


def change_committee(committee: Mapping[bytes, int], threshold: int, kind: str,
                     params: Sequence[Value]) -> tuple[dict[bytes, int], int]:
    """The committee (address -> weight) and threshold after proposal ``kind(params)``; raises
    BadTransaction (malformed params) or Revert (refused: it would lock governance)."""
    members = dict(committee)
    if kind == "add_member":
        if len(params) != 2:
            raise BadTransaction(f"add_member takes two params: address, weight (1-{MAX_WEIGHT})")
        member, weight = _address(kind, params[:1]), params[1]
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
            raise BadTransaction(f"add_member takes two params: address, weight (1-{MAX_WEIGHT})")
        if member in members:
            raise Revert(f"0x{member.hex()} is already a committee member")
        members[member] = weight
    elif kind == "remove_member":
        address = _address(kind, params)
        if address not in members:
            raise Revert(f"0x{address.hex()} is not a committee member")
        if len(members) == 1:
            raise Revert("refused: removing the last committee member would leave no one to govern")
        del members[address]
    elif kind == "set_threshold":
        new = params[0] if len(params) == 1 else None
        if isinstance(new, bool) or not isinstance(new, int) or new < 1:
            raise BadTransaction("set_threshold takes one param: weight (a positive weight)")
        threshold = new
    else:
        raise BadTransaction(f"{kind!r} does not change the committee")
    total = sum(members.values())
    if threshold > total:
        raise Revert(f"refused: the threshold {threshold} would exceed the committee's total weight {total}")
    return members, threshold


def _address(kind: str, params: Sequence[Value]) -> bytes:
    if len(params) != 1 or not isinstance(params[0], bytes) or len(params[0]) != ADDRESS_SIZE:
        raise BadTransaction(f"{kind} takes one param: address (20-byte account address)")
    return params[0]
