"""JSON renderings of ledger objects and contract values, for RPC responses and CLI output.

Hashes, addresses, keys and signatures are 0x-hex strings. Contract values map
to JSON one to one except bytes, which have no JSON type: a bytes value is
written ``{"$bytes": "0x…"}`` and read back the same way, so values survive a
round trip through JSON (a map whose only key is ``"$bytes"`` is reserved for this).
"""

from __future__ import annotations

from typing import Any

from consortium.encoding.canonical import EncodingError, Value, encode
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.ledger.block import Block, BlockHeader
from consortium.ledger.receipt import Event, Receipt, ReceiptStatus
from consortium.ledger.transaction import Transaction

BYTES_KEY = "$bytes"


class ValueJsonError(ValueError):
    """A JSON value cannot be turned into a contract value."""


def value_to_json(value: Value) -> Any:
    if isinstance(value, bytes):
        return {BYTES_KEY: to_hex(value)}
    if isinstance(value, (list, tuple)):
        return [value_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: value_to_json(v) for k, v in value.items()}
    return value


def value_from_json(doc: Any, *, _depth: int = 0) -> Value:
    """The inverse of :func:`value_to_json`; refuses floats and anything not canonical."""
    if _depth > 32:
        raise ValueJsonError("value nested too deeply")
    if isinstance(doc, dict):
        if set(doc) == {BYTES_KEY}:
            try:
                return from_hex(doc[BYTES_KEY], what="$bytes")
            except HexError as exc:
                raise ValueJsonError(str(exc)) from None
        return {str(k): value_from_json(v, _depth=_depth + 1) for k, v in doc.items()}
    if isinstance(doc, list):
        return [value_from_json(v, _depth=_depth + 1) for v in doc]
    if isinstance(doc, float):
        raise ValueJsonError(f"{doc} is a float; contract values are integers (use e.g. cents or basis points)")
    if doc is None or isinstance(doc, (bool, int, str)):
        try:
            encode(doc)
        except EncodingError as exc:
            raise ValueJsonError(str(exc)) from None
        return doc
    raise ValueJsonError(f"{type(doc).__name__} is not a JSON value")


def transaction_json(tx: Transaction, *, number: int | None = None, index: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "hash": to_hex(tx.hash),
        "chainId": tx.chain_id,
        "groupId": tx.group_id,
        "nonce": tx.nonce,
        "blockLimit": tx.block_limit,
        "from": to_hex(tx.sender_address),
        "senderPublicKey": to_hex(tx.sender),
        "to": to_hex(tx.to) if tx.to else None,
        "method": tx.method,
        "args": value_to_json(list(tx.args)),
        "signature": to_hex(tx.signature),
    }
    if number is not None:
        doc["blockNumber"] = number
        doc["transactionIndex"] = index
    return doc


def event_json(event: Event) -> dict[str, Any]:
    return {"address": to_hex(event.address), "name": event.name, "fields": value_to_json(dict(event.fields))}


def receipt_json(receipt: Receipt, *, number: int | None = None, index: int | None = None) -> dict[str, Any]:
    try:
        status_name = ReceiptStatus(receipt.status).name
    except ValueError:
        status_name = "UNKNOWN"
    doc: dict[str, Any] = {
        "transactionHash": to_hex(receipt.tx_hash),
        "status": receipt.status,
        "statusName": status_name,
        "output": value_to_json(receipt.output),
        "gasUsed": receipt.gas_used,
        "events": [event_json(e) for e in receipt.events],
        "error": receipt.error,
        "contractAddress": to_hex(receipt.contract_address) if receipt.contract_address else None,
    }
    if number is not None:
        doc["blockNumber"] = number
        doc["transactionIndex"] = index
    return doc


def header_json(header: BlockHeader) -> dict[str, Any]:
    return {
        "number": header.number,
        "hash": to_hex(header.hash),
        "parentHash": to_hex(header.parent_hash),
        "timestamp": header.timestamp,
        "chainId": header.chain_id,
        "groupId": header.group_id,
        "transactionsRoot": to_hex(header.tx_root),
        "receiptsRoot": to_hex(header.receipt_root),
        "stateRoot": to_hex(header.state_root),
        "proposer": to_hex(header.proposer),
        "view": header.view,
        "sealerList": [to_hex(s) for s in header.sealers],
        "signatures": [{"sealerIndex": s.sealer_index, "signature": to_hex(s.signature)} for s in header.signatures],
    }


def block_json(block: Block, *, include_transactions: bool) -> dict[str, Any]:
    doc = header_json(block.header)
    if include_transactions:
        doc["transactions"] = [transaction_json(t, number=block.number, index=i) for i, t in enumerate(block.transactions)]
    else:
        doc["transactions"] = [to_hex(t.hash) for t in block.transactions]
    return doc
