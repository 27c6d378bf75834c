"""Ledger objects (immutable) and the Merkle roots that bind them into a block header.

Depends only on consortium.encoding and consortium.crypto.
"""

from consortium.ledger.block import (
    ZERO_HASH,
    Block,
    BlockHeader,
    CommitSignature,
    commit_seal_payload,
    receipt_root,
    tx_root,
)
from consortium.ledger.receipt import Event, Receipt, ReceiptStatus
from consortium.ledger.transaction import InvalidTransaction, Transaction

__all__ = [
    "ZERO_HASH", "Block", "BlockHeader", "CommitSignature", "Event", "InvalidTransaction", "Receipt",
    "ReceiptStatus", "Transaction", "commit_seal_payload", "receipt_root", "tx_root",
]
