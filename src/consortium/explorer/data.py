"""What the explorer shows, gathered from a running node through the RPC layer's read-only view.

Every function here reads: blocks, receipts and the head state through
:class:`consortium.rpc.methods.NodeApi` (the same surface JSON-RPC serves), and
contract records through read-only ``call`` — never ``submit``. The results are
plain dicts of display values (hex strings, ISO times) for the templates, so the
pages can be checked without a browser.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509

from consortium.consensus.quorum import quorum_size
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.verify import iso_time
from consortium.execution.genesis import EVIDENCE_ADDRESS, EVIDENCE_NAME
from consortium.execution.governance import GOVERNANCE_ADDRESS, GOVERNANCE_NAME, GovernanceState
from consortium.execution.keys import name_address
from consortium.ledger.block import Block, BlockHeader, commit_seal_payload
from consortium.ledger.receipt import Receipt, ReceiptStatus
from consortium.ledger.transaction import Transaction
from consortium.rpc.methods import CallFailed, NodeApi
from consortium.rpc.views import value_to_json

LATEST_BLOCKS = 20
LATEST_TXS = 20
SCAN_BLOCKS = 200
"""The index looks this many blocks back for recent transactions (an idle chain makes empty blocks)."""
PROPOSALS_PAGE = 100


def status_name(status: int) -> str:
    try:
        return ReceiptStatus(status).name
    except ValueError:
        return f"UNKNOWN ({status})"


def display(value: Value) -> Any:
    """A contract value for people: bytes as 0x-hex, everything else as JSON would show it."""
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, (list, tuple)):
        return [display(v) for v in value]
    if isinstance(value, dict):
        return {k: display(v) for k, v in value.items()}
    return value


def header_view(header: BlockHeader, suite) -> dict[str, Any]:
    """A header with its commit certificate; each seal is checked, so a reader sees which verify."""
    block_hash = header.hash_with(suite)
    payload = commit_seal_payload(block_hash, header.commit_view)
    n = len(header.sealers)
    seals = []
    for s in header.signatures:
        sealer = header.sealers[s.sealer_index] if 0 <= s.sealer_index < n else None
        valid = sealer is not None and suite.verify(sealer, payload, s.signature)
        seals.append({"index": s.sealer_index, "sealer": to_hex(sealer) if sealer else "?",
                      "signature": to_hex(s.signature), "valid": valid})
    return {
        "number": header.number, "hash": to_hex(block_hash), "parent_hash": to_hex(header.parent_hash),
        "timestamp": header.timestamp, "time": iso_time(header.timestamp),
        "chain_id": header.chain_id, "group_id": header.group_id,
        "tx_root": to_hex(header.tx_root), "receipt_root": to_hex(header.receipt_root),
        "state_root": to_hex(header.state_root), "proposer": to_hex(header.proposer) if header.proposer else "",
        "view": header.view, "commit_view": header.commit_view,
        "sealers": [to_hex(s) for s in header.sealers], "seals": seals,
        "valid_seals": sum(1 for s in seals if s["valid"]), "quorum": quorum_size(n) if n else 0,
    }


def tx_row(tx: Transaction, receipt: Receipt | None, number: int, index: int) -> dict[str, Any]:
    return {
        "hash": to_hex(tx.hash), "block": number, "index": index, "method": tx.method,
        "from": to_hex(tx.sender_address), "to": to_hex(tx.to) if tx.to else "",
        "to_name": contract_name(tx.to), "status": status_name(receipt.status) if receipt else "",
        "ok": receipt is not None and receipt.status == ReceiptStatus.OK,
    }


SYSTEM_NAMES = {EVIDENCE_ADDRESS: EVIDENCE_NAME, name_address(EVIDENCE_NAME): EVIDENCE_NAME,
                GOVERNANCE_ADDRESS: GOVERNANCE_NAME, name_address(GOVERNANCE_NAME): GOVERNANCE_NAME}
"""The genesis contracts by address and by name alias (a transaction may use either)."""


def contract_name(address: bytes) -> str:
    return SYSTEM_NAMES.get(address, "" if address else "(deploy)")


def block_row(block: Block, suite) -> dict[str, Any]:
    h = block.header
    return {"number": h.number, "hash": to_hex(h.hash_with(suite)), "time": iso_time(h.timestamp),
            "timestamp": h.timestamp, "txs": len(block.transactions),
            "proposer": to_hex(h.proposer) if h.proposer else "", "seals": len(h.signatures), "sealers": len(h.sealers)}


class ExplorerData:
    """Read-only queries for the explorer's pages."""

    def __init__(self, api: NodeApi) -> None:
        self.api = api
        self.ledger = api.ledger
        self.suite = api.ledger.suite

    # -- chain --------------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        height = self.ledger.height
        blocks: list[dict[str, Any]] = []
        txs: list[dict[str, Any]] = []
        n = height
        while n >= 0 and height - n < SCAN_BLOCKS and (len(blocks) < LATEST_BLOCKS or len(txs) < LATEST_TXS):
            block = self.ledger.block(n)
            if block is None:
                break
            if len(blocks) < LATEST_BLOCKS:
                blocks.append(block_row(block, self.suite))
            if block.transactions and len(txs) < LATEST_TXS:
                receipts = self.ledger.blocks.receipts(n)
                for i in range(len(block.transactions) - 1, -1, -1):
                    if len(txs) >= LATEST_TXS:
                        break
                    txs.append(tx_row(block.transactions[i], receipts[i] if i < len(receipts) else None, n, i))
            n -= 1
        return {"height": height, "blocks": blocks, "transactions": txs,
                "total_transactions": self.ledger.blocks.total_transactions(),
                "pending": self.api.pending_count(), "node": self.api.node_info()}

    def blocks(self, top: int | None) -> dict[str, Any]:
        """One page of the chain: :data:`LATEST_BLOCKS` blocks, newest first, from block ``top`` down (the head
        when None or beyond it), with the tops of the newer and older pages (None at either end)."""
        height = self.ledger.height
        top = height if top is None or top > height else top
        rows = []
        for n in range(top, max(-1, top - LATEST_BLOCKS), -1):
            block = self.ledger.block(n)
            if block is None:
                break
            rows.append(block_row(block, self.suite))
        return {"height": height, "top": top, "blocks": rows,
                "older": top - LATEST_BLOCKS if top >= LATEST_BLOCKS else None,
                "newer": min(top + LATEST_BLOCKS, height) if top < height else None}

    def block(self, ref: int | bytes) -> dict[str, Any] | None:
        block = self.ledger.block(ref) if isinstance(ref, int) else self.ledger.block_by_hash(ref)
        if block is None:
            return None
        receipts = self.ledger.blocks.receipts(block.number)
        view = header_view(block.header, self.suite)
        view["transactions"] = [tx_row(tx, receipts[i] if i < len(receipts) else None, block.number, i)
                                for i, tx in enumerate(block.transactions)]
        view["height"] = self.ledger.height
        return view

    def transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        found = self.ledger.transaction(tx_hash)
        if found is None:
            return None
        tx, loc = found
        got = self.ledger.receipt(tx_hash)
        receipt = got[0] if got else None
        header = self.ledger.blocks.header(loc.number)
        doc = tx_row(tx, receipt, loc.number, loc.index)
        doc.update({
            "chain_id": tx.chain_id, "group_id": tx.group_id, "nonce": tx.nonce, "block_limit": tx.block_limit,
            "sender_key": to_hex(tx.sender), "args": display(list(tx.args)), "signature": to_hex(tx.signature),
            "time": iso_time(header.timestamp) if header else "",
            "evidence_hash": _evidence_hash(tx),
        })
        if receipt is not None:
            doc["receipt"] = {
                "status": receipt.status, "status_name": status_name(receipt.status), "gas_used": receipt.gas_used,
                "output": display(receipt.output), "error": receipt.error,
                "contract_address": to_hex(receipt.contract_address) if receipt.contract_address else "",
                "events": [{"address": to_hex(e.address), "contract": contract_name(e.address), "name": e.name,
                            "fields": display(dict(e.fields))} for e in receipt.events],
            }
        return doc

    # -- contract records (read-only calls on the head state) -----------------------------------
    async def _call(self, to: bytes, method: str, args: tuple[Value, ...]) -> Any:
        """A read-only call on the head state; None when it reverts (records are contract values: untyped)."""
        try:
            return await self.api.call(to, method, args, b"")
        except (CallFailed, LookupError):
            return None

    async def evidence(self, evidence_hash: bytes) -> dict[str, Any] | None:
        record = await self._call(EVIDENCE_ADDRESS, "get", (evidence_hash,))
        if not isinstance(record, dict):
            return None
        doc: dict[str, Any] = display(record)
        doc["time"] = iso_time(record["timestamp"]) if isinstance(record.get("timestamp"), int) else ""
        signed = {display(s.get("signer")): s for s in record.get("signatures", []) if isinstance(s, dict)}
        doc["cosigners"] = []
        for signer in record.get("signers", []):
            s = signed.get(display(signer))
            doc["cosigners"].append({
                "address": display(signer), "signed": s is not None,
                "block": s.get("block") if s else None, "tx": display(s.get("tx")) if s else None,
                "time": iso_time(s["timestamp"]) if s and isinstance(s.get("timestamp"), int) else "",
            })
        doc["record_json"] = value_to_json(record)
        return doc

    async def case(self, case_id: str) -> dict[str, Any] | None:
        case = await self._call(EVIDENCE_ADDRESS, "get_case", (case_id,))
        if not isinstance(case, dict):
            return None
        doc: dict[str, Any] = display(case)
        if isinstance(case.get("opened_timestamp"), int):
            doc["opened_time"] = iso_time(case["opened_timestamp"])
        ruling = case.get("ruling")
        if isinstance(ruling, dict) and isinstance(ruling.get("timestamp"), int):
            doc["ruling"]["time"] = iso_time(ruling["timestamp"])
        attached = await self._call(EVIDENCE_ADDRESS, "case_evidence", (case_id, 0, 100))
        doc["evidence"] = display(list(attached)) if isinstance(attached, (list, tuple)) else []
        return doc

    async def governance(self, start: int = 1) -> dict[str, Any]:
        reads = {}
        for name in ("committee", "threshold", "config"):
            reads[name] = display(await self._call(GOVERNANCE_ADDRESS, name, ()))
        proposals = await self._call(GOVERNANCE_ADDRESS, "list_proposals", (start, PROPOSALS_PAGE))
        committee = reads["committee"] or []
        return {
            "committee": [{"address": a, "weight": w} for a, w in committee],
            "total_weight": sum(w for _, w in committee), "threshold": reads["threshold"],
            "config": reads["config"] or {},
            "proposals": [self._proposal_view(p, committee) for p in (proposals or [])],
            "start": start, "page": PROPOSALS_PAGE,
        }

    async def proposal(self, pid: int) -> dict[str, Any] | None:
        p = await self._call(GOVERNANCE_ADDRESS, "get_proposal", (pid,))
        if not isinstance(p, dict):
            return None
        committee = display(await self._call(GOVERNANCE_ADDRESS, "committee", ())) or []
        threshold = await self._call(GOVERNANCE_ADDRESS, "threshold", ())
        view = self._proposal_view(p, committee)
        view["threshold"] = threshold
        view["total_weight"] = sum(w for _, w in committee)
        return view

    @staticmethod
    def _proposal_view(p: Any, committee: list) -> dict[str, Any]:
        weights = dict((a, w) for a, w in committee)
        doc: dict[str, Any] = display(p)
        votes = [{"voter": display(v), "approve": bool(a), "weight": weights.get(display(v), 0)}
                 for v, a in p.get("votes", [])]
        doc["votes"] = votes
        doc["yes"] = sum(v["weight"] for v in votes if v["approve"])
        doc["no"] = sum(v["weight"] for v in votes if not v["approve"])
        return doc

    # -- network ------------------------------------------------------------------------------
    def network(self) -> dict[str, Any]:
        info = self.api.node_info()
        sealers = [to_hex(s) for s in self.api.sealers()]
        observers = [to_hex(s) for s in self.api.observers()]
        orgs, node_org = self.organizations()
        for org in orgs:
            org["sealers"] = [s for s in sealers if node_org.get(s) == org["name"]]
            org["observers"] = [s for s in observers if node_org.get(s) == org["name"]]
        return {"node": info, "sealers": sealers, "quorum": quorum_size(len(sealers)) if sealers else 0,
                "observers": observers, "peers": self.api.peers(), "organizations": orgs, "node_org": node_org,
                "consensus": self.api.consensus_status(), "sync": self.api.sync_status()}

    def organizations(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Member organizations (``gv/orgs``, in joining order) with their CA's subject and SHA-256 fingerprint,
        and which organization each node belongs to (``gv/node_orgs``), from the head state. A chain whose genesis
        lists no organizations has neither (one CA): empty."""
        gov = GovernanceState(self.ledger.state_reader().get)
        orgs = []
        for name, der in gov.organizations():
            try:
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
            except ValueError:
                subject = "(a CA certificate this node cannot read)"
            orgs.append({"name": name, "ca_subject": subject, "ca_sha256": to_hex(hashlib.sha256(der).digest())})
        return orgs, {to_hex(n): o for n, o in gov.node_orgs()}


def _evidence_hash(tx: Transaction) -> str:
    """The evidence hash a notarize or sign transaction to the evidence contract is about, if any."""
    if SYSTEM_NAMES.get(tx.to) == EVIDENCE_NAME and tx.method in ("notarize", "sign", "attach") and tx.args:
        h = tx.args[0] if tx.method != "attach" else (tx.args[1] if len(tx.args) > 1 else None)
        if isinstance(h, bytes) and len(h) == 32:
            return to_hex(h)
    return ""
