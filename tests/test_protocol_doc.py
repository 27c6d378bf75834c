"""docs/protocol.md's worked example must stay true: this test reads it out of the document."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from consortium.crypto import DEFAULT_SUITE, KeyPair
from consortium.encoding import decode, encode
from consortium.ledger import Transaction
from consortium.ledger.block import commit_seal_payload

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def examples() -> dict[str, bytes]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- example:(\w+) -->\s*```\s*([0-9a-f]+)\s*```", text)
    return {name: bytes.fromhex(hexed) for name, hexed in found}


def test_worked_example_matches_the_implementation() -> None:
    ex = examples()
    assert {"secret", "public_key", "address", "evidence_hash", "unsigned", "hash", "signature", "wire"} <= set(ex)
    key = KeyPair(ex["secret"])
    assert key.public_key == ex["public_key"]
    assert key.address == ex["address"] == hashlib.sha256(ex["public_key"]).digest()[:20]
    assert ex["evidence_hash"] == hashlib.sha256(b"hello, arbitration\n").digest()
    tx = Transaction(
        "chain0", "group0", 1, 600, b"", b"\x11" * 20, "notarize", (ex["evidence_hash"], {"case_id": "C-1"}, [])
    ).signed_by(key)
    assert tx.signing_bytes() == ex["unsigned"]
    assert hashlib.sha256(ex["unsigned"]).digest() == ex["hash"] == tx.hash
    assert tx.signature == ex["signature"]
    assert DEFAULT_SUITE.verify(ex["public_key"], ex["hash"], ex["signature"])
    assert tx.encode() == ex["wire"]
    assert Transaction.decode(ex["wire"]) == tx


def test_commit_seal_payload_layout() -> None:
    h = bytes(range(32))
    assert commit_seal_payload(h, 0) == bytes.fromhex("9305c420") + h + b"\x00" == encode([5, h, 0])
    assert commit_seal_payload(h, 300)[-3:] == bytes.fromhex("cd012c")


def test_commit_seal_example_signs_the_payload_itself() -> None:
    ex = examples()
    key = KeyPair(ex["secret"])
    assert commit_seal_payload(b"\xab" * 32, 2) == ex["seal_payload"]
    assert key.sign(ex["seal_payload"]) == ex["seal"]
    assert DEFAULT_SUITE.verify(ex["public_key"], ex["seal_payload"], ex["seal"])
    assert not DEFAULT_SUITE.verify(ex["public_key"], hashlib.sha256(ex["seal_payload"]).digest(), ex["seal"])


def test_gateway_item_examples_match_the_implementation() -> None:
    from consortium.evidence.item import EvidenceItem, encode_items_binary, items_from_binary
    from consortium.gateway.tree import BatchTree
    from consortium.ledger.merkle import ListProof, verify_inclusion

    ex = examples()
    item = EvidenceItem.create(hashlib.sha256(b"hello, arbitration\n").digest(), {"ref": "T1"})
    assert item.encoded == ex["item"] and EvidenceItem.decode(ex["item"]) == item
    others = [EvidenceItem.create(bytes([b]) * 32) for b in (0x22, 0x33)]
    tree = BatchTree([item.encoded, *(o.encoded for o in others)])
    assert tree.root == ex["batch_root"]
    assert encode(tree.path(0).to_value()) == ex["item_path"]
    verify_inclusion(ex["batch_root"], ex["item"], ListProof.from_value(decode(ex["item_path"])))
    assert encode_items_binary([item, others[0]]) == ex["binary_body"]
    assert items_from_binary(ex["binary_body"], max_items=2) == [item, others[0]]
