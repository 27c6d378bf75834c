"""Builds valid chains of blocks for storage tests (no consensus, no execution)."""

from __future__ import annotations

from consortium.crypto import KeyPair
from consortium.ledger import ZERO_HASH, Block, BlockHeader, Receipt, Transaction, receipt_root, tx_root

SEALER = KeyPair(b"\x07" * 32)
CLIENT = KeyPair(b"\x08" * 32)


def make_block(number: int, parent_hash: bytes, n_txs: int = 3, *, salt: int = 0) -> tuple[Block, tuple[Receipt, ...]]:
    txs = tuple(
        Transaction("chain0", "group0", number * 1000 + i + salt, number + 100, b"", b"\x01" * 20, "notarize",
                    (b"%d" % i,)).signed_by(CLIENT)
        for i in range(n_txs)
    )
    receipts = tuple(Receipt(tx.hash, 0, None, 10 + i) for i, tx in enumerate(txs))
    header = BlockHeader(
        chain_id="chain0", group_id="group0", number=number,
        parent_hash=parent_hash, timestamp=1_700_000_000_000 + number, tx_root=tx_root(txs),
        receipt_root=receipt_root(receipts), state_root=bytes([number % 256]) * 32,
        proposer=SEALER.public_key, view=0, sealers=(SEALER.public_key,),
    )
    return Block(header, txs), receipts


def make_chain(length: int, n_txs: int = 3) -> list[tuple[Block, tuple[Receipt, ...]]]:
    out = []
    parent = ZERO_HASH
    for n in range(length):
        block, receipts = make_block(n, parent, n_txs)
        out.append((block, receipts))
        parent = block.hash
    return out
