"""The transaction pool: signed transactions waiting for a block.

It holds only :class:`~consortium.chain.edge.VerifiedTx` (chain identity and
signature checked where the transaction entered), and runs the chain's own
head-dependent rules (``chain.admission`` through :class:`Admission`) on entry,
so a transaction a client gets "accepted" for is one the chain would include
right now. The pool is bounded; when it is full a
new transaction is refused with :class:`TxPoolFull` rather than evicting
older ones, so a flood cannot push out transactions already acknowledged.

Order is arrival order. It is not consensus-relevant: the leader picks a
block's contents and every replica re-checks them, so the pool needs no
determinism across nodes.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

from consortium.chain.admission import TransactionRejected
from consortium.chain.edge import VerifiedTx
from consortium.ledger.block import Block
from consortium.ledger.transaction import Transaction

DEFAULT_POOL_LIMIT = 20_000
MAX_BLOCK_TX_BYTES = 8 * 1024 * 1024
"""Half the default 16 MiB P2P frame: room for the header and the PRE-PREPARE around the block."""


class TxPoolFull(TransactionRejected):
    code = "txpool_full"


class AlreadyInPool(TransactionRejected):
    code = "duplicate"


class NonceInPool(AlreadyInPool):
    """Another pending transaction of the same sender uses this nonce. Same remedy as a nonce
    already used on chain (sign again with a fresh nonce), so the same stable code."""

    code = "nonce_reused"


class Admission(Protocol):
    """What the pool needs from the ledger: the head, and the chain's admission rules."""

    @property
    def height(self) -> int: ...

    def admit(self, tx: VerifiedTx) -> None: ...


class TxPool:
    def __init__(self, ledger: Admission, *, limit: int = DEFAULT_POOL_LIMIT) -> None:
        if limit < 1:
            raise ValueError("txpool limit must be at least 1")
        self.ledger = ledger
        self.limit = limit
        self._txs: OrderedDict[bytes, VerifiedTx] = OrderedDict()
        self._nonces: dict[tuple[bytes, int], bytes] = {}
        self.rejected = 0
        self.rejections: Counter[str] = Counter()
        """Rejections by reason (TransactionRejected.code), for the mempool_failed_txs metric."""

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

    def get(self, tx_hash: bytes) -> VerifiedTx | None:
        return self._txs.get(tx_hash)

    def admit(self, tx: Transaction, verify: Callable[[Transaction], VerifiedTx]) -> VerifiedTx:
        """A transaction from outside (RPC, gossip): admit it or raise a :class:`TransactionRejected`
        subclass saying why.

        Cheap checks come first, so a flood of junk costs little: a duplicate, a full pool or a
        pending nonce is refused before ``verify`` (the chain's edge: chain identity and the
        signature, the costly check) runs; then the ledger's head-dependent rules.
        """
        try:
            self.check_room(tx)
            verified = verify(tx)
        except TransactionRejected as exc:
            self.rejected += 1
            self.rejections[exc.code] += 1
            raise
        self.add(verified)
        return verified

    def add(self, tx: VerifiedTx) -> None:
        """Admit an already verified ``tx`` or raise a :class:`TransactionRejected` subclass saying why."""
        try:
            self.check_room(tx)
            self.ledger.admit(tx)
        except TransactionRejected as exc:
            self.rejected += 1
            self.rejections[exc.code] += 1
            raise
        self._txs[tx.hash] = tx
        self._nonces[(tx.sender_address, tx.nonce)] = tx.hash

    def check_room(self, tx: Transaction | VerifiedTx) -> None:
        """Raise what :meth:`add` would raise before the ledger's rules: duplicate, full, nonce pending."""
        if tx.hash in self._txs:
            raise AlreadyInPool(f"transaction 0x{tx.hash.hex()} is already in the pool")
        if len(self._txs) >= self.limit:
            raise TxPoolFull(f"txpool full ({self.limit} pending transactions); retry after the next block")
        nonce_key = (tx.sender_address, tx.nonce)
        if nonce_key in self._nonces:
            raise NonceInPool(
                f"nonce {tx.nonce} of sender 0x{tx.sender_address.hex()} is already used by pending "
                f"transaction 0x{self._nonces[nonce_key].hex()}"
            )

    def take(self, max_count: int, max_bytes: int = MAX_BLOCK_TX_BYTES, *, after: Block | None = None,
             besides: Block | None = None) -> list[VerifiedTx]:
        """Up to ``max_count`` transactions (and ``max_bytes`` of them) for the next block, oldest first.

        The byte budget keeps a proposal inside the P2P frame limit: a block that
        cannot be sent would be rebuilt by every leader in turn and stall the chain.

        Transactions whose block_limit has passed are dropped on the way. The
        rest stay in the pool until :meth:`remove_committed` sees them in a block,
        so a proposal that fails (view change) loses nothing.

        ``after``: for the block after this one, not yet committed (a speculative
        proposal): its transactions are skipped and expiry is judged after it.
        ``besides``: to be appended to this (speculative, uncommitted) block: its
        transactions are skipped.
        """
        out: list[VerifiedTx] = []
        expired: list[bytes] = []
        next_number = self.ledger.height + 1 if after is None else after.number + 1
        skip = frozenset(tx.hash for b in (after, besides) if b is not None for tx in b.transactions)
        size = 0
        for tx_hash, tx in self._txs.items():
            if tx.block_limit < next_number:
                expired.append(tx_hash)
                continue
            if tx_hash in skip:
                continue
            size += len(tx.wire)
            if (out or besides is not None) and size > max_bytes:
                break
            out.append(tx)
            if len(out) >= max_count:
                break
        self._drop(expired)
        return out

    def remove_committed(self, block: Block) -> None:
        """Forget the block's transactions and any that can no longer be included."""
        self._drop(tx.hash for tx in block.transactions)
        next_number = block.number + 1
        self._drop([h for h, tx in self._txs.items() if tx.block_limit < next_number])

    def remove_invalid(self, txs: Iterable[VerifiedTx]) -> int:
        """Drop those of ``txs`` the chain would no longer admit."""
        bad = []
        for tx in txs:
            try:
                self.ledger.admit(tx)
            except TransactionRejected:
                bad.append(tx.hash)
        self._drop(bad)
        return len(bad)

    def _drop(self, hashes: Iterable[bytes]) -> None:
        for tx_hash in hashes:
            tx = self._txs.pop(tx_hash, None)
            if tx is not None:
                self._nonces.pop((tx.sender_address, tx.nonce), None)
