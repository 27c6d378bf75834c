"""The case proof: a whole arbitration case — opening, parties, evidence, the arbitrator's registration by
the committee, the ruling — as one JSON file that verifies offline from the genesis file alone.

The format (docs/protocol.md §13)::

    {
      "type": "consortium-case-proof", "version": 2,
      "chainId": "chain0", "groupId": "group0", "genesisHash": "0x…", "caseId": "CASE-7",
      "headers": ["0x…", …],               certified headers, strictly ascending, each used below
      "opening": {inclusion},               open_case(case_id, parties, arbitrator)
      "attachments": [{inclusion}, …],      attach(case_id, key), in attachment order
      "ruling": {inclusion} | null,         rule(case_id, ruling_hash, summary)
      "case": {state},                      the case record
      "registry": [{state}, …],             the arbitrator registry at the opening and ruling blocks
      "registration": {"id": n, "proposal": {state}, "transactions": [{inclusion}, …],
                       "committee": {state} | null, "threshold": {state} | null},
      "evidence": [{evidence proof bundle}, …],   one per attachment, same order (§11; may be unopened)
      "sealerChanges": [{…}, …],
      "committeeChanges": [{"id": n, "proposal": {state}, "transactions": [{inclusion}, …]}, …]
    }

``committeeChanges`` (version 2) are the executed add_member / remove_member / set_threshold
proposals before the registration, each with the signed transactions that passed it, so the
verifier follows the committee from the genesis file by signatures, as it follows the sealer
set. Version 1 (without them) is still read; it verifies only a registration by the genesis
committee (case_verify.py).

An inclusion is as in evidence/bundle.py; a state is ``{"header": i, "value": "0x…" | null,
"proof": "0x…"}`` (the verifier computes every state key). Parsing checks shape only and
raises :class:`MalformedBundle` or :class:`UnsupportedBundle`; case_verify.py judges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from consortium.crypto.suite import HASH_SIZE
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.bundle import (
    MAX_SEALER_CHANGES,
    ProofBundle,
    SealerSetChange,
    TxInclusion,
    _change,
    _exact_keys,
    _format_version,
    _header,
    _hex,
    _inclusion,
    _index,
    _list,
    _state_proof,
    _text,
    parse_bundle,
    read_json,
)
from consortium.evidence.errors import MalformedBundle, UnsupportedBundle
from consortium.evidence.record import MAX_RECORD_BYTES
from consortium.ledger.block import BlockHeader
from consortium.state import StateProof

CASE_BUNDLE_TYPE = "consortium-case-proof"
CASE_BUNDLE_VERSION = 2
"""What this code writes; it reads 1 and 2."""
READABLE_CASE_VERSIONS = (1, 2)
MAX_COMMITTEE_CHANGES = 64
MAX_ATTACHMENTS = 256
"""A case proof carries at most this many attachments (each with its own evidence bundle)."""
MAX_VOTES = 256
MAX_CASE_HEADERS = 2048
"""Opening, case, registry, ruling, attachments, votes and committee changes (the 16 MiB bound applies too)."""

_TOP_V1 = {"type", "version", "chainId", "groupId", "genesisHash", "caseId", "headers", "opening", "attachments",
           "ruling", "case", "registry", "registration", "evidence", "sealerChanges"}
_TOP = {1: _TOP_V1, 2: _TOP_V1 | {"committeeChanges"}}
_REGISTRATION = {"id", "proposal", "transactions", "committee", "threshold"}


@dataclass(frozen=True)
class StateEntry:
    """A state value (None: absent) with its proof against ``headers[header].state_root``."""

    header: int
    value: bytes | None
    proof: StateProof

    def to_json(self) -> dict[str, Any]:
        return {"header": self.header, "value": None if self.value is None else to_hex(self.value),
                "proof": to_hex(self.proof.encode())}


@dataclass(frozen=True)
class Registration:
    """The executed ``register_arbitrator`` governance proposal and the transactions that passed it."""

    id: int
    proposal: StateEntry
    transactions: tuple[TxInclusion, ...]
    committee: StateEntry | None
    """gv/committee after block executed_at - 1; None when that block is 0 (the genesis committee)."""
    threshold: StateEntry | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "proposal": self.proposal.to_json(),
                "transactions": [t.to_json() for t in self.transactions],
                "committee": None if self.committee is None else self.committee.to_json(),
                "threshold": None if self.threshold is None else self.threshold.to_json()}


@dataclass(frozen=True)
class CommitteeChange:
    """An executed committee-changing proposal and the signed transactions (its proposal, the approving
    votes) that passed it; the verifier reads what it changed from the signed proposal."""

    id: int
    proposal: StateEntry
    transactions: tuple[TxInclusion, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "proposal": self.proposal.to_json(),
                "transactions": [t.to_json() for t in self.transactions]}


@dataclass(frozen=True)
class CaseBundle:
    chain_id: str
    group_id: str
    genesis_hash: bytes
    case_id: str
    headers: tuple[BlockHeader, ...]
    opening: TxInclusion
    attachments: tuple[TxInclusion, ...]
    ruling: TxInclusion | None
    case: StateEntry
    registry: tuple[StateEntry, ...]
    registration: Registration
    evidence: tuple[ProofBundle, ...]
    sealer_changes: tuple[SealerSetChange, ...] = ()
    committee_changes: tuple[CommitteeChange, ...] = ()
    """Version 2: the committee's signed changes from genesis to the registration, in execution order."""
    version: int = CASE_BUNDLE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "type": CASE_BUNDLE_TYPE, "version": self.version,
            "chainId": self.chain_id, "groupId": self.group_id, "genesisHash": to_hex(self.genesis_hash),
            "caseId": self.case_id,
            "headers": [to_hex(h.encode()) for h in self.headers],
            "opening": self.opening.to_json(),
            "attachments": [a.to_json() for a in self.attachments],
            "ruling": None if self.ruling is None else self.ruling.to_json(),
            "case": self.case.to_json(),
            "registry": [r.to_json() for r in self.registry],
            "registration": self.registration.to_json(),
            "evidence": [e.to_json() for e in self.evidence],
            "sealerChanges": [c.to_json() for c in self.sealer_changes],
            **({"committeeChanges": [c.to_json() for c in self.committee_changes]} if self.version >= 2 else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def load_case_bundle(data: bytes) -> CaseBundle:
    """Parse a case proof file's bytes. Raises MalformedBundle or UnsupportedBundle, nothing else."""
    return parse_case_bundle(read_json(data, "the case proof"))


def parse_case_bundle(doc: Any) -> CaseBundle:
    if not isinstance(doc, dict) or doc.get("type") != CASE_BUNDLE_TYPE:
        raise MalformedBundle(f"not a consortium case proof (\"type\" must be {CASE_BUNDLE_TYPE!r})")
    version = _format_version(doc, READABLE_CASE_VERSIONS, CASE_BUNDLE_VERSION, "case proof")
    _exact_keys(doc, _TOP[version], "the case proof")
    headers = tuple(_header(h, f"headers[{i}]") for i, h in enumerate(_list(doc["headers"], "headers", MAX_CASE_HEADERS)))
    if not headers:
        raise MalformedBundle("headers: a case proof needs at least one block header")
    for prev, cur in pairwise(headers):
        if cur.number <= prev.number:
            raise MalformedBundle("headers: block numbers must be strictly ascending")
    n = len(headers)
    case_id = doc["caseId"]
    if not isinstance(case_id, str) or not 0 < len(case_id) <= 64:
        raise MalformedBundle("caseId must be a string of 1-64 characters")
    attachments = _list(doc["attachments"], "attachments", MAX_ATTACHMENTS)
    evidence = _list(doc["evidence"], "evidence", MAX_ATTACHMENTS)
    if len(evidence) != len(attachments):
        raise MalformedBundle(f"evidence has {len(evidence)} bundles for {len(attachments)} attachments; "
                              "a case proof carries one per attachment")
    reg = _exact_keys(doc["registration"], _REGISTRATION, "registration")
    reg_id = _proposal_id(reg["id"], "registration.id")
    changes = _list(doc["committeeChanges"], "committeeChanges", MAX_COMMITTEE_CHANGES) if version >= 2 else []
    bundle = CaseBundle(
        chain_id=_text(doc["chainId"], "chainId"),
        group_id=_text(doc["groupId"], "groupId"),
        genesis_hash=_hex(doc["genesisHash"], "genesisHash", size=HASH_SIZE),
        case_id=case_id,
        headers=headers,
        opening=_inclusion(doc["opening"], "opening", n),
        attachments=tuple(_inclusion(a, f"attachments[{i}]", n) for i, a in enumerate(attachments)),
        ruling=None if doc["ruling"] is None else _inclusion(doc["ruling"], "ruling", n),
        case=_state(doc["case"], "case", n),
        registry=tuple(_state(r, f"registry[{i}]", n) for i, r in enumerate(_list(doc["registry"], "registry", 2))),
        registration=Registration(
            id=reg_id,
            proposal=_state(reg["proposal"], "registration.proposal", n),
            transactions=tuple(_inclusion(t, f"registration.transactions[{i}]", n)
                               for i, t in enumerate(_list(reg["transactions"], "registration.transactions",
                                                           MAX_VOTES))),
            committee=None if reg["committee"] is None else _state(reg["committee"], "registration.committee", n),
            threshold=None if reg["threshold"] is None else _state(reg["threshold"], "registration.threshold", n),
        ),
        evidence=tuple(_evidence(e, i) for i, e in enumerate(evidence)),
        sealer_changes=tuple(_change(c, f"sealerChanges[{i}]")
                             for i, c in enumerate(_list(doc["sealerChanges"], "sealerChanges", MAX_SEALER_CHANGES))),
        committee_changes=tuple(_committee_change(c, f"committeeChanges[{i}]", n) for i, c in enumerate(changes)),
        version=version,
    )
    used = {bundle.opening.header, bundle.case.header, *(a.header for a in bundle.attachments),
            *(r.header for r in bundle.registry), bundle.registration.proposal.header,
            *(t.header for t in bundle.registration.transactions),
            *(s.header for s in (bundle.registration.committee, bundle.registration.threshold) if s is not None),
            *(c.proposal.header for c in bundle.committee_changes),
            *(t.header for c in bundle.committee_changes for t in c.transactions)}
    if bundle.ruling is not None:
        used.add(bundle.ruling.header)
    if len(used) != n:
        raise MalformedBundle("headers: every block header must be used by a transaction or a state entry")
    return bundle


def _proposal_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise MalformedBundle(f"{what} must be a positive integer (a proposal id)")
    return value


def _committee_change(value: Any, what: str, count: int) -> CommitteeChange:
    obj = _exact_keys(value, {"id", "proposal", "transactions"}, what)
    return CommitteeChange(
        id=_proposal_id(obj["id"], f"{what}.id"),
        proposal=_state(obj["proposal"], f"{what}.proposal", count),
        transactions=tuple(_inclusion(t, f"{what}.transactions[{i}]", count)
                           for i, t in enumerate(_list(obj["transactions"], f"{what}.transactions", MAX_VOTES))),
    )


def _state(value: Any, what: str, count: int) -> StateEntry:
    obj = _exact_keys(value, {"header", "value", "proof"}, what)
    raw = None if obj["value"] is None else _hex(obj["value"], f"{what}.value", max_size=MAX_RECORD_BYTES)
    return StateEntry(header=_index(obj["header"], f"{what}.header", count), value=raw,
                      proof=_state_proof(obj["proof"], f"{what}.proof"))


def _evidence(value: Any, i: int) -> ProofBundle:
    try:
        return parse_bundle(value)
    except MalformedBundle as exc:
        raise MalformedBundle(f"evidence[{i}]: {exc.message}") from None
    except UnsupportedBundle as exc:
        raise UnsupportedBundle(f"evidence[{i}]: {exc}") from None
