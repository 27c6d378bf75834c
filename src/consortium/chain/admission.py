"""Whether a transaction may enter a block on top of a given head.

The same checks run in three places — the txpool on entry, the proposer when it
builds a block, and every replica when it re-checks a proposal — so they live
here once, as deterministic functions of (transaction, chain state). Replay
protection follows FISCO BCOS: chain and group ids are signed; a transaction is
valid only while ``head < block_limit <= head + window``; and within that window
a (sender, nonce) pair may be used once. A transaction already on chain is
refused by hash. Chain identity and signatures are checked once, where a transaction
enters (:mod:`consortium.chain.edge`); the rules here are the ones that depend on
the head.
"""


from __future__ import annotations

from dataclasses import dataclass

from consortium.ledger.transaction import Transaction

DEFAULT_BLOCK_LIMIT_WINDOW = 600


class TransactionRejected(ValueError):
    """A transaction cannot be included; ``code`` is stable and maps to an RPC error code."""

    code = "rejected"


class WrongChain(TransactionRejected):
    code = "wrong_chain"


class InvalidSignature(TransactionRejected):
    code = "bad_signature"


class ExpiredBlockLimit(TransactionRejected):
    code = "expired_block_limit"


class BlockLimitTooFar(TransactionRejected):
    code = "block_limit_too_far"


class DuplicateTransaction(TransactionRejected):
    code = "duplicate"


class NonceReused(TransactionRejected):
    code = "nonce_reused"


class PermissionRefused(TransactionRejected):
    code = "permission_denied"


@dataclass(frozen=True)
class ChainIdentity:
    chain_id: str
    group_id: str
    block_limit_window: int = DEFAULT_BLOCK_LIMIT_WINDOW


def check_block_limit(tx: Transaction, head_number: int, window: int) -> None:
    """Valid for inclusion in block ``head_number + 1`` iff head < block_limit <= head + window."""
    if tx.block_limit <= head_number:
        raise ExpiredBlockLimit(
            f"block_limit {tx.block_limit} has passed (chain head is {head_number}); "
            f"re-sign with a block_limit in ({head_number}, {head_number + window}]"
        )
    if tx.block_limit > head_number + window:
        raise BlockLimitTooFar(
            f"block_limit {tx.block_limit} is more than {window} blocks ahead of the head {head_number}; "
            f"use at most {head_number + window}"
        )
