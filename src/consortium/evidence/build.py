"""Assemble a proof bundle from a node's JSON-RPC answers.

The node is not trusted: the builder only collects what the verifier will check
(headers with their commit certificates, transactions, receipts, Merkle and
state proofs). It takes a ``request(method, *params)`` callable, so the same
code runs over HTTP (:class:`consortium.client.SyncClient.request`) and, in
tests, straight against the RPC method table of an in-process ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.bundle import BUNDLE_TYPE, BUNDLE_VERSION, MAX_SEALER_CHANGES, ProofBundle, parse_bundle
from consortium.evidence.commitment import Opening, Unopened
from consortium.evidence.errors import EvidenceNotFound, MalformedBundle, ProofUnavailable
from consortium.evidence.record import EvidenceRecord, record_storage_key
from consortium.evidence.sealer_sets import decode_sealer_set
from consortium.execution.genesis import EVIDENCE_ADDRESS
from consortium.ledger.block import BlockHeader
from consortium.rpc.views import value_to_json

Request = Callable[..., Any]
"""``request(method, *params) -> result``: one JSON-RPC call; raises on an RPC error."""


def fetch_bundle(request: Request, opening: Opening | Unopened | bytes, *, block: int | str = "latest") -> ProofBundle:
    """The proof bundle of the evidence ``opening`` opens, with its record proven in block ``block``'s state.

    ``opening`` as bare 32 bytes is a public hash (a file hash notarized with ``--public``, a batch root).

    ``block`` is the notarization block right after notarizing (one header), or
    ``"latest"`` to include every co-signature committed so far. The salt goes
    into the bundle (for the arbitrator), never to the node: only the key is asked for.
    Raises :class:`EvidenceNotFound` or :class:`ProofUnavailable`; RPC errors pass through.
    """
    if isinstance(opening, bytes):
        opening = Opening.public(opening)
    info = request("getNodeInfo")
    key = opening.key
    state = request("getStateProof", to_hex(EVIDENCE_ADDRESS), value_to_json(record_storage_key(key)), block)
    headers: dict[int, str] = {}
    state_number = _add_header(headers, state, "getStateProof")
    if state.get("value") is None:
        what = ("the file's hash" if opening.is_public else "an evidence key" if isinstance(opening, Unopened)
                else "the file's salted commitment")
        raise EvidenceNotFound(f"evidence {to_hex(key)} ({what}) is not notarized on this chain "
                               f"(as of block {state_number})")
    try:
        record = EvidenceRecord.decode(from_hex(state["value"], what="record value"))
    except (HexError, DecodeError) as exc:
        raise ProofUnavailable(f"the node returned an unreadable evidence record: {exc}") from None

    inclusions = []
    for tx_hash in (record.tx, *(s.tx for s in record.signatures)):
        tp = request("getTransactionProof", to_hex(tx_hash))
        rp = request("getReceiptProof", to_hex(tx_hash))
        number = _add_header(headers, tp, "getTransactionProof")
        if _add_header(headers, rp, "getReceiptProof") != number:
            raise ProofUnavailable(f"the node placed transaction {to_hex(tx_hash)} and its receipt in different blocks")
        inclusions.append((number, {"transaction": tp.get("transaction"), "transactionProof": tp.get("proof"),
                                    "receipt": rp.get("receipt"), "receiptProof": rp.get("proof")}))

    order = sorted(headers)
    index = {n: i for i, n in enumerate(order)}
    notarization, *cosignatures = [{"header": index[n], **inc} for n, inc in inclusions]
    doc = {
        "type": BUNDLE_TYPE,
        "version": BUNDLE_VERSION,
        "chainId": info.get("chainId"),
        "groupId": info.get("groupId"),
        "genesisHash": info.get("genesisHash"),
        "evidence": opening.to_json(),
        "headers": [headers[n] for n in order],
        "notarization": notarization,
        "cosignatures": cosignatures,
        "record": {"header": index[state_number], "value": state["value"], "proof": state.get("proof")},
        "sealerChanges": sealer_changes(request, order),
    }
    anchor = time_anchor(request, inclusions[0][0], state_number)
    if anchor is not None:
        doc["anchor"] = anchor
    try:
        return parse_bundle(doc)
    except MalformedBundle as exc:
        raise ProofUnavailable(f"the node's answers do not form a proof bundle: {exc}") from None


def time_anchor(request: Request, block: int, state_block: int) -> dict[str, Any] | None:
    """The node's RFC 3161 anchor over ``block`` with the trusted-TSA list at ``state_block``, or None.

    Optional: a node that does not anchor, has not anchored that block yet, or predates
    anchoring gives a bundle without one (its time then rests on the sealers).
    """
    try:
        found = request("getAnchor", block)
        if not found:
            return None
        tsas = request("getTsaListProof", state_block)
    except Exception:  # noqa: BLE001 - any refusal (unknown method, no anchor) just means "no anchor"
        return None
    return {"checkpoint": found.get("checkpoint"), "proof": found.get("proof"), "reply": found.get("reply"),
            "tsas": {"value": tsas.get("value"), "proof": tsas.get("proof")}}


def _add_header(headers: dict[int, str], answer: Any, method: str) -> int:
    """Record the answer's block header; the same block must come back identical every time."""
    if not isinstance(answer, dict) or not isinstance(answer.get("blockHeader"), str):
        raise ProofUnavailable(f"{method} answered without a block header")
    text = answer["blockHeader"]
    try:
        header = BlockHeader.decode(from_hex(text, what="blockHeader"))
    except (HexError, DecodeError) as exc:
        raise ProofUnavailable(f"{method} returned an unreadable block header: {exc}") from None
    known = headers.get(header.number)
    if known is not None and known != text:
        if BlockHeader.decode(from_hex(known)).hash != header.hash:
            raise ProofUnavailable(f"the node returned two different headers for block {header.number}")
        return header.number  # same block, another copy of its certificate: keep the first
    headers[header.number] = text
    return header.number


def sealer_changes(request: Request, needed: list[int]) -> list[dict[str, Any]]:
    """Certified sealer-set changes from genesis up to the highest of ``needed`` (ascending block numbers).

    A change at block H (governance wrote a new ``gv/sealers``) shows as header H+1
    naming another sealer list than header H. Bisection over header sealer lists
    finds them with O(changes x log height) requests. An interval whose ends have
    the same set is skipped even if the set changed and changed back inside it:
    the verifier needs the set in force at the ``needed`` blocks only, and the
    changes found still chain (each is sealed by the set the previous one installed).
    """
    lists: dict[int, tuple[str, ...]] = {}

    def sealers(n: int) -> tuple[str, ...]:
        if n not in lists:
            header = request("getBlockHeaderByNumber", n)
            if not isinstance(header, dict) or not isinstance(header.get("sealerList"), list):
                raise ProofUnavailable(f"getBlockHeaderByNumber({n}) answered without a sealer list")
            lists[n] = tuple(str(s).lower() for s in header["sealerList"])
        return lists[n]

    found: list[int] = []

    def scan(a: int, b: int) -> None:
        if a >= b or sealers(a) == sealers(b):
            return
        if b == a + 1:
            found.append(a)
            if len(found) > MAX_SEALER_CHANGES:
                raise ProofUnavailable(f"the node reports more than {MAX_SEALER_CHANGES} sealer-set changes; "
                                       "a proof bundle cannot carry them")
            return
        m = (a + b) // 2
        scan(a, m)
        scan(m, b)

    points = [0, *sorted(needed)]
    for a, b in pairwise(points):
        scan(a, b)
    changes = []
    for h in found:
        answer = request("getSealerSetProof", h)
        _add_header({}, answer, "getSealerSetProof")
        value = answer.get("value")
        try:
            new = decode_sealer_set(from_hex(value, what="sealer set")) if isinstance(value, str) else None
        except (HexError, DecodeError) as exc:
            raise ProofUnavailable(f"getSealerSetProof({h}) returned an unreadable sealer set: {exc}") from None
        if new is None or tuple(to_hex(s) for s in new) != sealers(h + 1):
            raise ProofUnavailable(f"block {h + 1} is sealed by a set other than the one block {h}'s state installs")
        change = {"header": answer["blockHeader"], "value": value, "proof": answer.get("proof")}
        orgs = _node_orgs(request, h)
        if orgs is not None:
            change["organizations"] = orgs
        changes.append(change)
    return changes


def _node_orgs(request: Request, number: int) -> dict[str, Any] | None:
    """``gv/node_orgs`` after block ``number``, proven, so the verifier can name the new sealers'
    organizations; None on a chain without organizations, or a node that predates them."""
    try:
        answer = request("getGovernanceProof", "node_orgs", number)
    except Exception:  # noqa: BLE001 - an older node refuses the key: the proof then names no organizations
        return None
    if not isinstance(answer, dict) or answer.get("value") is None:
        return None
    return {"value": answer["value"], "proof": answer.get("proof")}
