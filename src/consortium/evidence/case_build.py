"""Assemble a case proof from a node's JSON-RPC answers (the node is a courier, not a witness).

Everything is found from the case record: its opening transaction, each attachment's
transaction (``["case_ev", case_id, i]``), the ruling's; the arbitrator's registration is
the latest executed ``register_arbitrator`` proposal for them no later than the opening,
whose approving transactions are found in the blocks between its creation and execution;
so are those of every committee change (add_member, remove_member, set_threshold) executed
before it, which the verifier follows from genesis.
Each attachment gets its own evidence bundle (build.py) — opened when the caller holds
its opening (the salt), otherwise unopened (the record, no file).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.build import Request, _add_header, fetch_bundle, sealer_changes
from consortium.evidence.case_bundle import CASE_BUNDLE_TYPE, CASE_BUNDLE_VERSION, CaseBundle, parse_case_bundle
from consortium.evidence.commitment import Opening, Unopened
from consortium.evidence.errors import EvidenceNotFound, MalformedBundle, ProofUnavailable
from consortium.execution.committee import COMMITTEE_KINDS
from consortium.execution.genesis import EVIDENCE_ADDRESS
from consortium.execution.governance import GOVERNANCE_ADDRESS, GOVERNANCE_NAME
from consortium.execution.keys import name_address

MAX_SCAN_BLOCKS = 100_000
"""Governance's longest proposal lifetime: the blocks searched for a proposal's votes."""


class _Headers:
    def __init__(self) -> None:
        self.by_number: dict[int, str] = {}

    def add(self, answer: Any, method: str) -> int:
        return _add_header(self.by_number, answer, method)


def _decode(answer: dict[str, Any], what: str) -> Any:
    try:
        return canonical.decode(from_hex(answer["value"], what=what))
    except (HexError, DecodeError, KeyError, TypeError) as exc:
        raise ProofUnavailable(f"the node returned an unreadable {what}: {exc}") from None


def _inclusion(request: Request, headers: _Headers, tx_hash: bytes) -> tuple[int, dict[str, Any]]:
    tp = request("getTransactionProof", to_hex(tx_hash))
    rp = request("getReceiptProof", to_hex(tx_hash))
    number = headers.add(tp, "getTransactionProof")
    if headers.add(rp, "getReceiptProof") != number:
        raise ProofUnavailable(f"the node placed transaction {to_hex(tx_hash)} and its receipt in different blocks")
    return number, {"transaction": tp.get("transaction"), "transactionProof": tp.get("proof"),
                    "receipt": rp.get("receipt"), "receiptProof": rp.get("proof")}


def _state(headers: _Headers, answer: dict[str, Any], method: str) -> tuple[int, dict[str, Any]]:
    number = headers.add(answer, method)
    return number, {"value": answer.get("value"), "proof": answer.get("proof")}


def fetch_case_bundle(request: Request, case_id: str, openings: Sequence[Opening] = (), *,
                      block: int | str = "latest") -> CaseBundle:
    """The case proof of ``case_id`` as of block ``block``. ``openings`` open attached evidence (salts the
    caller holds); attachments without one get an unopened evidence bundle.
    Raises EvidenceNotFound (no such case, or its arbitrator was never registered by a proposal) or
    ProofUnavailable; RPC errors pass through."""
    info = request("getNodeInfo")
    ev = to_hex(EVIDENCE_ADDRESS)
    headers = _Headers()
    answer = request("getStateProof", ev, ["case", case_id], block)
    state_number, case_state = _state(headers, answer, "getStateProof")
    if answer.get("value") is None:
        raise EvidenceNotFound(f"no case {case_id!r} on this chain (as of block {state_number})")
    case = _decode(answer, "case record")
    if not isinstance(case, dict) or "opened_tx" not in case:
        raise ProofUnavailable(f"case {case_id!r} has no opening transaction on record (opened before case proofs "
                               "existed?): it cannot be proven offline")
    txs: dict[str, tuple[int, dict[str, Any]]] = {"opening": _inclusion(request, headers, case["opened_tx"])}
    attachments = []
    keys = []
    for i in range(int(case["evidence_count"])):
        entry = request("getStateProof", ev, ["case_ev", case_id, i], state_number)
        att = _decode(entry, f"attachment {i}")
        if not isinstance(att, dict) or not isinstance(att.get("tx"), bytes):
            raise ProofUnavailable(f"attachment {i} of case {case_id!r} names no transaction")
        attachments.append(_inclusion(request, headers, att["tx"]))
        keys.append(att["hash"])
    ruling = case.get("ruling")
    if ruling is not None:
        txs["ruling"] = _inclusion(request, headers, ruling["tx"])
    arbitrator = case["arbitrator"]
    registry = [_state(headers, request("getStateProof", ev, "arbitrators", case["opened_block"]), "getStateProof")]
    if ruling is not None:
        registry.append(_state(headers, request("getStateProof", ev, "arbitrators", ruling["block"]), "getStateProof"))

    registration = _registration(request, headers, arbitrator, int(case["opened_block"]), state_number)

    order = sorted(headers.by_number)
    index = {n: i for i, n in enumerate(order)}

    def inc(pair: tuple[int, dict[str, Any]]) -> dict[str, Any]:
        return {"header": index[pair[0]], **pair[1]}

    by_key = {o.key: o for o in openings}
    evidence = [fetch_bundle(request, by_key.get(k, Unopened(k))).to_json() for k in keys]
    doc = {
        "type": CASE_BUNDLE_TYPE, "version": CASE_BUNDLE_VERSION,
        "chainId": info.get("chainId"), "groupId": info.get("groupId"), "genesisHash": info.get("genesisHash"),
        "caseId": case_id,
        "headers": [headers.by_number[n] for n in order],
        "opening": inc(txs["opening"]),
        "attachments": [inc(a) for a in attachments],
        "ruling": inc(txs["ruling"]) if "ruling" in txs else None,
        "case": inc((state_number, case_state)),
        "registry": [inc(r) for r in registry],
        "registration": {
            "id": registration["id"],
            "proposal": inc(registration["proposal"]),
            "transactions": [inc(t) for t in registration["transactions"]],
            "committee": None if registration["committee"] is None else inc(registration["committee"]),
            "threshold": None if registration["threshold"] is None else inc(registration["threshold"]),
        },
        "evidence": evidence,
        "sealerChanges": sealer_changes(request, order),
        "committeeChanges": [{"id": c["id"], "proposal": inc(c["proposal"]),
                              "transactions": [inc(t) for t in c["transactions"]]}
                             for c in registration["committeeChanges"]],
    }
    try:
        return parse_case_bundle(doc)
    except MalformedBundle as exc:
        raise ProofUnavailable(f"the node's answers do not form a case proof: {exc}") from None


def _proposals(request: Request) -> list[dict[str, Any]]:
    """Every governance proposal, in id order (the node's ``list_proposals`` pages)."""
    found: list[dict[str, Any]] = []
    start = 1
    while True:
        page = request("call", GOVERNANCE_NAME, "list_proposals", [start, 100])
        if not page:
            return found
        found += [p for p in page if isinstance(p, dict)]
        start += len(page)


def _registration(request: Request, headers: _Headers, arbitrator: bytes, opened_block: int,
                  state_number: int) -> dict[str, Any]:
    """The latest executed register_arbitrator proposal for ``arbitrator`` no later than ``opened_block``, and
    the committee changes executed before it (the verifier follows the committee from genesis through them)."""
    proposals = _proposals(request)
    found = None
    for p in proposals:
        params = p.get("params") or []
        executed_at = p.get("executed_at")
        if (p.get("kind") == "register_arbitrator" and p.get("status") == "executed"
                and [_bytes(x) for x in params] == [arbitrator]
                and isinstance(executed_at, int) and executed_at <= opened_block):
            found = p
    if found is None:
        raise EvidenceNotFound(f"no executed register_arbitrator proposal for {to_hex(arbitrator)} before block "
                               f"{opened_block}: the arbitrator's registration by the committee cannot be proven")
    executed_at = found["executed_at"]
    changes = sorted((p for p in proposals if p.get("kind") in COMMITTEE_KINDS and p.get("status") == "executed"
                      and isinstance(p.get("executed_at"), int) and p["executed_at"] < executed_at),
                     key=lambda p: (p["executed_at"], p["id"]))
    committee_changes = [{"id": p["id"], **_passed_by(request, headers, p, state_number)} for p in changes]
    committee = threshold = None
    if executed_at - 1 >= 1:
        committee = _state(headers, request("getGovernanceProof", "committee", executed_at - 1), "getGovernanceProof")
        threshold = _state(headers, request("getGovernanceProof", "threshold", executed_at - 1), "getGovernanceProof")
    return {"id": found["id"], **_passed_by(request, headers, found, state_number), "committee": committee,
            "threshold": threshold, "committeeChanges": committee_changes}


def _passed_by(request: Request, headers: _Headers, proposal: dict[str, Any], state_number: int) -> dict[str, Any]:
    """An executed proposal's record (proven at ``state_number``) and the approving members' signed
    transactions that passed it: its ``propose`` and their ``vote(id, true)`` calls, found in the blocks
    from its creation to its execution."""
    pid, created, executed_at = proposal["id"], proposal["created"], proposal["executed_at"]
    record = _state(headers, request("getGovernanceProof", pid, state_number), "getGovernanceProof")
    targets = {to_hex(GOVERNANCE_ADDRESS), to_hex(name_address(GOVERNANCE_NAME))}
    approvers = {_bytes(v[0]) for v in proposal.get("votes", []) if v[1] is True}
    transactions = []
    if executed_at - created > MAX_SCAN_BLOCKS:
        raise ProofUnavailable(f"proposal {pid} was open for more than {MAX_SCAN_BLOCKS} blocks")
    for n in range(created, executed_at + 1):
        block = request("getBlockByNumber", n, True)
        for tx in block.get("transactions", []):
            if not isinstance(tx, dict) or str(tx.get("to", "")).lower() not in targets:
                continue
            args = tx.get("args") or []
            sender = _bytes({"$bytes": tx.get("from")})
            is_propose = tx.get("method") == "propose" and n == created and len(args) == 3
            is_vote = tx.get("method") == "vote" and args == [pid, True]
            if (is_propose or is_vote) and sender in approvers:
                receipt = request("getTransactionReceipt", tx["hash"])
                if not isinstance(receipt, dict) or receipt.get("status") != 0:
                    continue
                if is_propose and receipt.get("output") != pid:
                    continue  # another proposal by the same member in that block
                transactions.append(_inclusion(request, headers, from_hex(tx["hash"], size=32)))
    return {"proposal": record, "transactions": transactions}


def _bytes(v: Any) -> bytes | None:
    """A JSON value as RPC writes bytes (``{"$bytes": "0x…"}``), else None."""
    if isinstance(v, dict) and isinstance(v.get("$bytes"), str):
        try:
            return from_hex(v["$bytes"])
        except HexError:
            return None
    return None
