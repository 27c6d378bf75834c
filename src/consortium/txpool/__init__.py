"""Pending transactions: bounded, deduplicated, checked on entry with the chain's admission rules."""

from consortium.txpool.pool import DEFAULT_POOL_LIMIT, AlreadyInPool, NonceInPool, TxPool, TxPoolFull

__all__ = ["DEFAULT_POOL_LIMIT", "AlreadyInPool", "NonceInPool", "TxPool", "TxPoolFull"]
