"""The edge where untrusted transactions become trusted ones: the only maker of :class:`VerifiedTx`.

Parse, don't validate. Bytes from a client (RPC), a peer (gossip) or a proposal
(a leader's block, a synced block) are decoded once, in one strict pass, into a
:class:`~consortium.ledger.transaction.Transaction` that keeps its wire bytes and
hashes a slice of them under the chain's suite. Here, and only here, its chain
identity and signature are checked; what comes out is a :class:`VerifiedTx`, and
everything inside — the txpool, the proposer, a replica's re-execution, the
ledger's admission rules — takes only that type. So no true/false flag decides
whose signature to trust: a value either carries the proof that its signature
was checked, or it is not accepted.

A replica validating a proposal reuses the :class:`VerifiedTx` its pool already
holds for a transaction, but only if the proposal carries exactly the same wire
bytes (signature included): the hash does not cover the signature, so matching
by hash alone would let a Byzantine leader swap pooled transactions' signatures
for garbage, and the chain would hold transactions that fail offline
verification (design.md §12.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from consortium.chain.admission import ChainIdentity, InvalidSignature, TransactionRejected, WrongChain
from consortium.crypto.suite import CryptoSuite
from consortium.ledger.block import Block
from consortium.ledger.transaction import Transaction

_EDGE: Final = object()
"""Capability to construct a VerifiedTx; never leaves this module."""


class VerifiedTx:
    """A transaction whose chain identity and signature this node checked under the chain's suite.

    Made only by :func:`verify_transaction` / :func:`verify_block` (the constructor
    refuses anyone else). Immutable; carries the decoded transaction, which carries
    its wire bytes and its hash.
    """

    __slots__ = ("tx",)
    tx: Transaction

    def __init__(self, tx: Transaction, capability: object) -> None:
        if capability is not _EDGE:
            raise TypeError("a VerifiedTx is made only by consortium.chain.edge (verify_transaction, verify_block)")
        object.__setattr__(self, "tx", tx)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("VerifiedTx is immutable")

    @property
    def hash(self) -> bytes:
        return self.tx.hash

    @property
    def wire(self) -> bytes:
        return self.tx.encode()

    @property
    def sender_address(self) -> bytes:
        return self.tx.sender_address

    @property
    def nonce(self) -> int:
        return self.tx.nonce

    @property
    def block_limit(self) -> int:
        return self.tx.block_limit

    @property
    def is_deploy(self) -> bool:
        return self.tx.is_deploy

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifiedTx) and other.tx.encode() == self.tx.encode()

    def __hash__(self) -> int:
        return hash(self.tx.hash)

    def __repr__(self) -> str:
        return f"VerifiedTx(0x{self.tx.hash.hex()})"


def verify_transaction(tx: Transaction, chain: ChainIdentity, suite: CryptoSuite) -> VerifiedTx:
    """Check chain and group ids, then the signature (the costly check, last). Raises
    :class:`~consortium.chain.admission.TransactionRejected` (``WrongChain``, ``InvalidSignature``)."""
    if tx.chain_id != chain.chain_id or tx.group_id != chain.group_id:
        raise WrongChain(
            f"transaction is for chain {tx.chain_id!r} group {tx.group_id!r}; "
            f"this node serves chain {chain.chain_id!r} group {chain.group_id!r}"
        )
    if tx.suite.name != suite.name:
        # Hashed under another suite than the chain's: decode it with the chain's suite.
        tx = Transaction.from_wire(tx.to_value(), tx.encode(), suite)
    if not suite.verify(tx.sender, tx.hash, tx.signature):
        raise InvalidSignature(
            f"signature of transaction 0x{tx.hash.hex()} does not verify against its sender public key "
            "(signed with another key, or altered after signing)"
        )
    return VerifiedTx(tx, _EDGE)


def verify_transactions(
    txs: Sequence[Transaction], chain: ChainIdentity, suite: CryptoSuite,
) -> list[VerifiedTx | TransactionRejected]:
    """:func:`verify_transaction` for each of ``txs``: the verified value or the refusal, in order.
    Pure (no shared state), so a caller may run it in a worker thread: libsodium releases the GIL."""
    out: list[VerifiedTx | TransactionRejected] = []
    for tx in txs:
        try:
            out.append(verify_transaction(tx, chain, suite))
        except TransactionRejected as exc:
            out.append(exc)
    return out


class BlockTransactionRejected(ValueError):
    """A transaction of a proposed or synced block fails the edge checks; the message names it."""


def verify_block(
    block: Block, chain: ChainIdentity, suite: CryptoSuite,
    known: Callable[[bytes], VerifiedTx | None] = lambda tx_hash: None,
) -> VerifiedBlock:
    """The block with its transactions as :class:`VerifiedTx`, in order.

    ``known(hash)`` offers transactions this node already verified (its txpool); one is reused
    only if the block carries exactly its wire bytes. Every other transaction is verified here.
    Raises :class:`BlockTransactionRejected` naming the first that fails.
    """
    out = []
    for i, tx in enumerate(block.transactions):
        held = known(tx.hash)
        if held is not None and held.tx.encode() == tx.encode():
            out.append(held)
            continue
        try:
            out.append(verify_transaction(tx, chain, suite))
        except TransactionRejected as exc:
            raise BlockTransactionRejected(f"transaction {i} (0x{tx.hash.hex()}): {exc}") from None
    return VerifiedBlock(block, tuple(out), _EDGE)


class VerifiedBlock:
    """A proposed or synced block whose every transaction passed the edge (:func:`verify_block`).
    The ledger re-executes only this type, so what it re-executes was verified by construction."""

    __slots__ = ("block", "txs")
    block: Block
    txs: tuple[VerifiedTx, ...]

    def __init__(self, block: Block, txs: tuple[VerifiedTx, ...], capability: object) -> None:
        if capability is not _EDGE:
            raise TypeError("a VerifiedBlock is made only by consortium.chain.edge.verify_block")
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "txs", txs)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("VerifiedBlock is immutable")
