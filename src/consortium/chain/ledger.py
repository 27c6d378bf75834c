"""The single-process ledger: execute a list of transactions as a block, commit it, read it back.

This is the one place where the block store, the Merkle state tree and the
executor meet. Consensus (through the node layer) uses it in two roles:

* the proposer calls :meth:`Ledger.execute` to turn pending transactions into a
  block whose header carries the resulting state and receipt roots;
* a replica calls :meth:`Ledger.verify_and_execute` on a proposal: it re-checks
  every transaction, re-executes the block against its own state, and refuses
  the proposal if any root differs from its own result.

Either way the result is an :class:`ExecutedBlock` held in memory; nothing is
written until :meth:`Ledger.commit` stores block, receipts, indexes and the
state tree's new nodes in one atomic batch. Execution is speculative and
repeatable: a view change may execute several candidate blocks at one height.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from consortium.chain.admission import (
    ChainIdentity,
    DuplicateTransaction,
    NonceReused,
    PermissionRefused,
    TransactionRejected,
    check_block_limit,
    check_static,
)
from consortium.crypto.suite import DEFAULT_SUITE, CryptoSuite
from consortium.execution.context import BlockContext
from consortium.execution.executor import within_block_gas
from consortium.execution.governance import GovernanceState, Permissions
from consortium.ledger.block import ZERO_HASH, Block, BlockHeader, CommitSignature, receipt_root, tx_root
from consortium.ledger.merkle import ListProof, prove
from consortium.ledger.receipt import Receipt
from consortium.ledger.transaction import Transaction
from consortium.state import StateProof, StateTree
from consortium.storage.blockstore import BlockStore, TxLocation
from consortium.storage.kv import KVStore, MemoryStore, WriteBatch

Writes = Mapping[bytes, bytes | None]


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


class BlockResultLike(Protocol):
    @property
    def receipts(self) -> tuple[Receipt, ...]: ...

    @property
    def writes(self) -> Writes: ...



class BlockExecutor(Protocol):
    def execute_block(
        self, state: StateReader, ctx: BlockContext, txs: Sequence[Transaction], *, block_gas_limit: int | None = None,
    ) -> BlockResultLike: ...


class BlockRejected(ValueError):
    """A proposed or synced block is invalid on top of this ledger; the message says why."""


@dataclass(frozen=True)
class ExecutedBlock:
    """A block and what executing it produced, not yet committed."""

    block: Block
    receipts: tuple[Receipt, ...]
    writes: Writes
    state_batch: WriteBatch = field(compare=False, repr=False, default_factory=WriteBatch)
    """The state tree's new nodes for this block, computed once during execution."""


class _VersionReader:
    """The committed state at one version, as the executor sees it."""

    __slots__ = ("tree", "version")

    def __init__(self, tree: StateTree, version: int) -> None:
        self.tree = tree
        self.version = version

    def get(self, key: bytes) -> bytes | None:
        if self.version < 0:
            return None
        return self.tree.get(key, self.version)


class Ledger:
    """Blocks, receipts and state of one chain in one KV database. One writer at a time."""

    def __init__(
        self,
        kv: KVStore,
        executor: BlockExecutor,
        chain: ChainIdentity,
        *,
        suite: CryptoSuite = DEFAULT_SUITE,
    ) -> None:
        self.kv = kv
        self.blocks = BlockStore(kv)
        self.state = StateTree(kv, suite=suite)
        self.executor = executor
        self.chain = chain
        self.suite = suite
        self._permissions: tuple[int, Permissions] | None = None

    # -- head ---------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        """Number of the last committed block; -1 before genesis."""
        head = self.blocks.head
        return -1 if head is None else head.number

    def head_header(self) -> BlockHeader:
        header = self.blocks.header(self.height)
        if header is None:
            raise LookupError("the ledger has no genesis block yet")
        return header

    def permissions(self) -> Permissions:
        """Who may send and deploy on top of the head; read from state once per head."""
        cached = self._permissions
        if cached is None or cached[0] != self.height:
            cached = (self.height, GovernanceState(self.state_reader().get).permissions())
            self._permissions = cached
        return cached[1]

    def block_gas_limit(self) -> int | None:
        """The limit in force for the next block (governance config), or None on an ungoverned chain."""
        gov = GovernanceState(self.state_reader().get)
        return gov.config()["block_gas_limit"] if gov.governed() else None

    def state_reader(self, version: int | None = None) -> StateReader:
        return _VersionReader(self.state, self.height if version is None else version)

    # -- genesis ------------------------------------------------------------------------------
    def ensure_genesis(self, *, timestamp: int, sealers: tuple[bytes, ...], writes: Writes) -> Block:
        """Commit block 0 (no transactions; ``writes`` are the genesis state) unless present.

        If a genesis block exists, check it is the one this configuration would
        create, so a node started with another genesis file fails loudly.
        """
        if self.height < 0:
            executed = self._build(0, ZERO_HASH, timestamp, (), (), writes, proposer=b"", view=0, sealers=sealers)
            self.commit(executed)
            return executed.block
        # Recompute the genesis root on a scratch tree: same algorithm, so the same root.
        root = StateTree(MemoryStore(), suite=self.suite).apply(0, writes, WriteBatch())
        expected = self._header(0, ZERO_HASH, timestamp, (), (), root, proposer=b"", view=0, sealers=sealers)
        stored = self.blocks.header(0)
        if stored is None or stored.hash != expected.hash:
            raise BlockRejected(
                "the database holds a different genesis block than the genesis file describes "
                f"(stored 0x{stored.hash.hex() if stored else ''}, expected 0x{expected.hash.hex()}); "
                "was this data directory created for another chain?"
            )
        return self.blocks.block(0)  # type: ignore[return-value]

    # -- execution ----------------------------------------------------------------------------
    def admit(self, tx: Transaction, *, check_signature: bool = True) -> None:
        """Raise :class:`TransactionRejected` unless ``tx`` may go into the next block."""
        if check_signature:
            check_static(tx, self.chain, self.suite)
        check_block_limit(tx, self.height, self.chain.block_limit_window)
        if self.blocks.locate(tx.hash) is not None:
            raise DuplicateTransaction(f"transaction 0x{tx.hash.hex()} is already on chain")
        used = self.blocks.nonce_used_at(tx.sender_address, tx.nonce)
        if used is not None and used > self.height - self.chain.block_limit_window:
            raise NonceReused(
                f"nonce {tx.nonce} of sender 0x{tx.sender_address.hex()} was used in block {used}; use a fresh nonce"
            )
        gov = self.permissions()
        if not gov.may_send(tx.sender_address):
            raise PermissionRefused(
                f"0x{tx.sender_address.hex()} may not send transactions: the chain is in allow-list mode "
                "(ask the committee for grant_send)"
            )
        if tx.is_deploy and not gov.may_deploy(tx.sender_address):
            raise PermissionRefused(
                f"0x{tx.sender_address.hex()} may not deploy contracts (ask the committee for grant_deploy)"
            )

    def _check_batch(self, txs: Sequence[Transaction], *, check_signatures: bool) -> None:
        seen_hashes: set[bytes] = set()
        seen_nonces: set[tuple[bytes, int]] = set()
        for i, tx in enumerate(txs):
            try:
                self.admit(tx, check_signature=check_signatures)
            except TransactionRejected as exc:
                raise BlockRejected(f"transaction {i} (0x{tx.hash.hex()}): {exc}") from None
            if tx.hash in seen_hashes:
                raise BlockRejected(f"transaction {i} (0x{tx.hash.hex()}) appears twice in the block")
            nonce_key = (tx.sender_address, tx.nonce)
            if nonce_key in seen_nonces:
                raise BlockRejected(f"transaction {i}: nonce {tx.nonce} used twice by one sender in the block")
            seen_hashes.add(tx.hash)
            seen_nonces.add(nonce_key)

    def execute(
        self,
        txs: Sequence[Transaction],
        *,
        timestamp: int,
        proposer: bytes,
        view: int,
        sealers: tuple[bytes, ...],
        check_signatures: bool = True,
    ) -> ExecutedBlock:
        """Proposer side: build the next block from ``txs`` (which must all be admissible)."""
        head = self.head_header()
        self._check_batch(txs, check_signatures=check_signatures)
        timestamp = max(timestamp, head.timestamp)
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, head.number + 1, timestamp)
        result = self.executor.execute_block(self.state_reader(), ctx, txs, block_gas_limit=self.block_gas_limit())
        txs = txs[: len(result.receipts)]  # the block gas limit may have cut the list short
        return self._build(
            head.number + 1, head.hash, timestamp, tuple(txs), result.receipts, result.writes,
            proposer=proposer, view=view, sealers=sealers,
        )

    def verify_and_execute(self, block: Block, *, check_signatures: bool = True) -> ExecutedBlock:
        """Replica side: re-check and re-execute a proposal; refuse it unless every root matches."""
        header = block.header
        head = self.head_header()
        if header.number != head.number + 1:
            raise BlockRejected(f"block {header.number} does not follow the head {head.number}")
        if header.parent_hash != head.hash:
            raise BlockRejected(f"block {header.number}: parent_hash does not match block {head.number}")
        if (header.chain_id, header.group_id) != (self.chain.chain_id, self.chain.group_id):
            raise BlockRejected(f"block {header.number} belongs to chain {header.chain_id!r}/{header.group_id!r}")
        if header.timestamp < head.timestamp:
            raise BlockRejected(f"block {header.number}: timestamp {header.timestamp} is before its parent's")
        if tx_root(block.transactions, self.suite) != header.tx_root:
            raise BlockRejected(f"block {header.number}: tx_root does not match its transactions")
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, header.number, header.timestamp)
        self._check_batch(block.transactions, check_signatures=check_signatures)
        result = self.executor.execute_block(self.state_reader(), ctx, block.transactions)
        limit = self.block_gas_limit()
        if limit is not None and not within_block_gas(result.receipts, limit):
            raise BlockRejected(f"block {header.number} exceeds the block gas limit of {limit}")
        mine = self._build(
            header.number, header.parent_hash, header.timestamp, block.transactions, result.receipts,
            result.writes, proposer=header.proposer, view=header.view, sealers=header.sealers,
        )
        if mine.block.header.state_root != header.state_root:
            raise BlockRejected(
                f"block {header.number}: state root 0x{header.state_root.hex()} differs from this node's "
                f"execution result 0x{mine.block.header.state_root.hex()}"
            )
        if mine.block.header.receipt_root != header.receipt_root:
            raise BlockRejected(f"block {header.number}: receipt root differs from this node's execution result")
        return ExecutedBlock(block, mine.receipts, mine.writes, mine.state_batch)

    def _build(
        self, number: int, parent: bytes, timestamp: int, txs: tuple[Transaction, ...],
        receipts: tuple[Receipt, ...], writes: Writes, *, proposer: bytes, view: int, sealers: tuple[bytes, ...],
    ) -> ExecutedBlock:
        state_batch = WriteBatch()
        state_root = self.state.apply(number, writes, state_batch)
        header = self._header(number, parent, timestamp, txs, receipts, state_root,
                              proposer=proposer, view=view, sealers=sealers)
        return ExecutedBlock(Block(header, txs), tuple(receipts), writes, state_batch)

    def _header(
        self, number: int, parent: bytes, timestamp: int, txs: tuple[Transaction, ...],
        receipts: tuple[Receipt, ...], state_root: bytes, *, proposer: bytes, view: int, sealers: tuple[bytes, ...],
    ) -> BlockHeader:
        return BlockHeader(
            chain_id=self.chain.chain_id, group_id=self.chain.group_id, number=number, parent_hash=parent,
            timestamp=timestamp, tx_root=tx_root(txs, self.suite), receipt_root=receipt_root(receipts, self.suite),
            state_root=state_root, proposer=proposer, view=view, sealers=sealers,
        )

    # -- commit -------------------------------------------------------------------------------
    def commit(
        self, executed: ExecutedBlock, signatures: Sequence[CommitSignature] = (), commit_view: int = 0,
    ) -> Block:
        """Store ``executed`` with its commit certificate (seals made in ``commit_view``), atomically
        with its state changes."""
        block = executed.block
        if signatures:
            block = replace(block, header=block.header.with_signatures(signatures, commit_view))
        if block.number != self.height + 1:
            raise BlockRejected(f"cannot commit block {block.number}: the head is {self.height}")
        batch = WriteBatch()
        batch.ops = list(executed.state_batch.ops)  # a copy: the block store appends to it
        self.blocks.commit(block, executed.receipts, batch)
        return block

    # -- reads --------------------------------------------------------------------------------
    def block(self, number: int) -> Block | None:
        return self.blocks.block(number)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        return self.blocks.block_by_hash(block_hash)

    def transaction(self, tx_hash: bytes) -> tuple[Transaction, TxLocation] | None:
        return self.blocks.transaction(tx_hash)

    def receipt(self, tx_hash: bytes) -> tuple[Receipt, TxLocation] | None:
        return self.blocks.receipt(tx_hash)

    # -- proofs -------------------------------------------------------------------------------
    def transaction_proof(self, tx_hash: bytes) -> tuple[BlockHeader, Transaction, ListProof] | None:
        """The header, the transaction, and its inclusion proof against ``header.tx_root``."""
        found = self.blocks.transaction(tx_hash)
        if found is None:
            return None
        tx, loc = found
        txs = self.blocks.transactions(loc.number)
        proof = prove([t.encode() for t in txs], loc.index, self.suite.hash)
        return self.blocks.header(loc.number), tx, proof  # type: ignore[return-value]

    def receipt_proof(self, tx_hash: bytes) -> tuple[BlockHeader, Receipt, ListProof] | None:
        found = self.blocks.receipt(tx_hash)
        if found is None:
            return None
        receipt, loc = found
        receipts = self.blocks.receipts(loc.number)
        proof = prove([r.encode() for r in receipts], loc.index, self.suite.hash)
        return self.blocks.header(loc.number), receipt, proof  # type: ignore[return-value]

    def state_proof(self, key: bytes, number: int | None = None) -> tuple[BlockHeader, bytes | None, StateProof]:
        """The value of ``key`` after block ``number`` (default: head), proven against its state root."""
        number = self.height if number is None else number
        header = self.blocks.header(number)
        if header is None:
            raise LookupError(f"block {number} does not exist (head is {self.height})")
        value, proof = self.state.get_with_proof(key, number)
        return header, value, proof
