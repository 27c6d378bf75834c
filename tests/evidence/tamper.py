"""Editors that tamper with a proof bundle's JSON document the way an attacker would (re-encoding
objects canonically, so the edit survives parsing and must be caught by verification)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.ledger import CommitSignature, commit_seal_payload
from consortium.ledger.block import BlockHeader
from consortium.ledger.receipt import Receipt
from consortium.ledger.transaction import Transaction
from consortium.state import StateProof

Doc = dict[str, Any]


def hex_obj(decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], change: Callable[[Any], Any]):
    """An editor of a hex field holding an encoded object."""
    return lambda text: to_hex(encode(change(decode(from_hex(text)))))


def tx_edit(change):
    return hex_obj(Transaction.decode, lambda t: t.encode(), change)


def receipt_edit(change):
    return hex_obj(Receipt.decode, lambda r: r.encode(), change)


def header_edit(change):
    return hex_obj(BlockHeader.decode, lambda h: h.encode(), change)


def flip_last_byte(text: str) -> str:
    raw = bytearray(from_hex(text))
    raw[-1] ^= 0x01
    return to_hex(bytes(raw))


def list_proof_edit(text: str) -> str:
    index, size, path = canonical.decode(from_hex(text))
    path[0] = bytes(b ^ 0xFF for b in path[0])
    return to_hex(canonical.encode([index, size, path]))


def state_proof_edit(text: str) -> str:
    proof = StateProof.decode(from_hex(text))
    bitmap, hashes = proof.siblings[0]
    hashes = bytes([hashes[0] ^ 1]) + hashes[1:]
    return to_hex(dataclasses.replace(proof, siblings=((bitmap, hashes), *proof.siblings[1:])).encode())


def record_edit(change):
    def edit(text: str) -> str:
        value = canonical.decode(from_hex(text))
        change(value)
        return to_hex(canonical.encode(value))
    return edit


def reseal(header: BlockHeader, keys_by_index: dict[int, Any]) -> BlockHeader:
    payload = commit_seal_payload(header.hash, header.commit_view)
    return header.with_signatures([CommitSignature(i, k.sign(payload)) for i, k in keys_by_index.items()])


def corrupt_seal(header: BlockHeader, which: int = 0) -> BlockHeader:
    sigs = list(header.signatures)
    s = sigs[which]
    sigs[which] = CommitSignature(s.sealer_index, bytes([s.signature[0] ^ 1]) + s.signature[1:])
    return dataclasses.replace(header, signatures=tuple(sigs))


def at(doc: Doc, path: tuple, edit: Callable[[Any], Any]) -> Doc:
    doc = copy.deepcopy(doc)
    if not path:
        return edit(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = edit(node[path[-1]])
    return doc


def drop_cosignature(doc: Doc) -> Doc:
    """Remove Bob's signing transaction and its block, keeping the bundle well-formed."""
    del doc["headers"][1]
    doc["cosignatures"] = []
    doc["record"]["header"] = 1
    return doc


def inject_sealer_change(doc: Doc) -> Doc:
    """A real certified header offered as a sealer-set change it never made."""
    doc["sealerChanges"] = [{"header": doc["headers"][0], "value": "0x00",
                             "proof": to_hex(canonical.encode([35, [], None]))}]
    return doc
