"""The single-process ledger: execute a list of transactions as a block, commit it, read it back.

This is the one place where the block store, the Merkle state tree and the
executor meet. Consensus (through the node layer) uses it in two roles:

* the proposer calls :meth:`Ledger.execute` to turn pending transactions into a
  block whose header carries the resulting state and receipt roots;
* a replica calls :meth:`Ledger.verify_and_execute` on a proposal: it re-checks
  every transaction's admission rules, re-executes the block against its own
  state, and refuses the proposal if any root differs from its own result.

Both trust a transaction only by its type: a :class:`~consortium.chain.edge.VerifiedTx`
(or a :class:`~consortium.chain.edge.VerifiedBlock`) passed :mod:`consortium.chain.edge`;
anything else is sent through the edge first. No flag decides whose signature to trust.

Either way the result is an :class:`ExecutedBlock` held in memory; nothing is
written until :meth:`Ledger.commit` stores block, receipts, indexes and the
state tree's new nodes in one atomic batch. Execution is speculative and
repeatable: a view change may execute several candidate blocks at one height.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from consortium.chain.admission import (
    ChainIdentity,
    DuplicateTransaction,
    NonceReused,
    PermissionRefused,
    TransactionRejected,
    check_block_limit,
)
from consortium.chain.edge import BlockTransactionRejected, VerifiedBlock, VerifiedTx, verify_block, verify_transaction
from consortium.chain.recent import RecentIndex
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


class _Overlay:
    """State after an uncommitted block: its writes over the committed version before it."""

    __slots__ = ("writes", "base")

    def __init__(self, writes: Writes, base: StateReader) -> None:
        self.writes = writes
        self.base = base

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)


class _Parent:
    """Admission next to an uncommitted block: the height and permissions to judge at, and the
    block's transactions counted as already used."""

    __slots__ = ("number", "permissions", "_block", "_hashes", "_nonces")

    def __init__(self, number: int, permissions: Permissions, block: Block) -> None:
        self.number = number
        """The height admission judges at (the head the next block follows)."""
        self.permissions = permissions
        self._block = block.number
        self._hashes = {tx.hash for tx in block.transactions}
        self._nonces = {(tx.sender_address, tx.nonce) for tx in block.transactions}

    def check(self, tx: VerifiedTx) -> None:
        if tx.hash in self._hashes:
            raise DuplicateTransaction(f"transaction 0x{tx.hash.hex()} is already in block {self._block}")
        if (tx.sender_address, tx.nonce) in self._nonces:
            raise NonceReused(f"nonce {tx.nonce} of sender 0x{tx.sender_address.hex()} was used in block "
                              f"{self._block}; use a fresh nonce")


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
        self.blocks = BlockStore(kv, suite)
        self.state = StateTree(kv, suite=suite)
        self.executor = executor
        self.chain = chain
        self.suite = suite
        self._permissions: tuple[int, Permissions] | None = None
        self._recent = RecentIndex(chain.block_limit_window)
        for number in range(max(0, self.height - chain.block_limit_window + 1), self.height + 1):
            self._recent.add_block(number, self.blocks.tx_keys(number))

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
    def verify_transaction(self, tx: Transaction) -> VerifiedTx:
        """The edge check (chain identity, signature) under this chain's suite; see :mod:`.edge`."""
        return verify_transaction(tx, self.chain, self.suite)

    def verify_block(self, block: Block, known: Callable[[bytes], VerifiedTx | None] | None = None) -> VerifiedBlock:
        """Every transaction of ``block`` through the edge, reusing ``known`` ones with identical bytes.
        Raises :class:`BlockRejected`."""
        try:
            return verify_block(block, self.chain, self.suite, known or (lambda tx_hash: None))
        except BlockTransactionRejected as exc:
            raise BlockRejected(f"block {block.number}: {exc}") from None

    def _verified(self, tx: VerifiedTx | Transaction) -> VerifiedTx:
        return tx if isinstance(tx, VerifiedTx) else self.verify_transaction(tx)

    def admit(self, tx: VerifiedTx | Transaction) -> None:
        """Raise :class:`TransactionRejected` unless ``tx`` may go into the next block (a plain
        :class:`Transaction` passes the edge first)."""
        head = self.blocks.head
        self._admit_at(self._verified(tx), -1 if head is None else head.number, self.permissions())

    def _admit_at(self, tx: VerifiedTx, height: int, gov: Permissions) -> None:
        """:meth:`admit` for the block after ``height``, with ``gov`` the permissions in force there."""
        inner = tx.tx  # read the transaction's own (cached) fields, not through VerifiedTx's properties
        window = self.chain.block_limit_window
        check_block_limit(inner, height, window)
        # Only a transaction committed within the window can still pass the block-limit check, and
        # the nonce rule only looks at the window: the in-memory index answers, and the block store
        # is read only to confirm a (rare) fingerprint hit.
        tx_hash = inner.hash
        if self._recent.may_hold_tx(tx_hash) and self.blocks.locate(tx_hash) is not None:
            raise DuplicateTransaction(f"transaction 0x{tx_hash.hex()} is already on chain")
        sender = inner.sender_address
        nonce = inner.nonce
        if self._recent.may_hold_nonce(sender, nonce):
            used = self.blocks.nonce_used_at(sender, nonce)
            if used is not None and used > height - window:
                raise NonceReused(
                    f"nonce {nonce} of sender 0x{sender.hex()} was used in block {used}; "
                    "use a fresh nonce"
                )
        if not gov.may_send(sender):
            raise PermissionRefused(
                f"0x{sender.hex()} may not send transactions: the chain is in allow-list mode "
                "(ask the committee for grant_send)"
            )
        if inner.to == b"" and not gov.may_deploy(sender):
            raise PermissionRefused(
                f"0x{sender.hex()} may not deploy contracts (ask the committee for grant_deploy)"
            )

    def _check_batch(self, txs: Sequence[VerifiedTx | Transaction], parent: _Parent | None = None) -> list[VerifiedTx]:
        seen_hashes: set[bytes] = set()
        seen_nonces: set[tuple[bytes, int]] = set()
        height, gov = (self.height, self.permissions()) if parent is None else (parent.number, parent.permissions)
        out = []
        for i, given in enumerate(txs):
            try:
                tx = self._verified(given)
                if parent is not None:
                    parent.check(tx)
                self._admit_at(tx, height, gov)
            except TransactionRejected as exc:
                raise BlockRejected(f"transaction {i} (0x{given.hash.hex()}): {exc}") from None
            inner = tx.tx
            tx_hash = inner.hash
            if tx_hash in seen_hashes:
                raise BlockRejected(f"transaction {i} (0x{tx_hash.hex()}) appears twice in the block")
            nonce_key = (inner.sender_address, inner.nonce)
            if nonce_key in seen_nonces:
                raise BlockRejected(f"transaction {i}: nonce {inner.nonce} used twice by one sender in the block")
            seen_hashes.add(tx_hash)
            seen_nonces.add(nonce_key)
            out.append(tx)
        return out

    def execute(
        self,
        txs: Sequence[VerifiedTx | Transaction],
        *,
        timestamp: int,
        proposer: bytes,
        view: int,
        sealers: tuple[bytes, ...],
    ) -> ExecutedBlock:
        """Proposer side: build the next block from ``txs`` (which must all be admissible)."""
        head = self.head_header()
        verified = self._check_batch(txs)
        timestamp = max(timestamp, head.timestamp)
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, head.number + 1, timestamp,
                           recent_proposers=self._proposers_before(head.number + 1))
        plain = [v.tx for v in verified]
        result = self.executor.execute_block(self.state_reader(), ctx, plain, block_gas_limit=self.block_gas_limit())
        plain = plain[: len(result.receipts)]  # the block gas limit may have cut the list short
        return self._build(
            head.number + 1, head.hash, timestamp, tuple(plain), result.receipts, result.writes,
            proposer=proposer, view=view, sealers=sealers,
        )

    def execute_after(
        self,
        parent: ExecutedBlock,
        txs: Sequence[VerifiedTx | Transaction],
        *,
        timestamp: int,
        proposer: bytes,
        view: int,
        sealers: tuple[bytes, ...],
    ) -> ExecutedBlock:
        """Proposer side, speculatively: the block after ``parent``, executed but not committed yet.

        The result is the block :meth:`execute` would build from the same ``txs`` and
        ``timestamp`` once ``parent`` is committed (tests/chain/test_speculative.py holds
        it to that, byte for byte), so the next leader can execute while ``parent`` is still
        being voted on (design.md §12.7). Everything "after the parent" is read through it:
        state through its writes, the head, the replay rules (its transactions count as
        committed) and governance (permissions, gas limit, recent proposers). Nothing here
        writes; the parent may still be replaced, and then this block is simply dropped.
        It may run while the parent's commit is written: reads are pinned to versions.
        """
        head = parent.block.header
        committed = self.head_header()
        if not ((head.number == committed.number + 1 and head.parent_hash == committed.hash)
                or (head.number == committed.number and head.hash == committed.hash)):
            raise BlockRejected(f"block {head.number} is not the head or the block after it")
        reader = _Overlay(parent.writes, _VersionReader(self.state, head.number - 1))
        gov = GovernanceState(reader.get)
        context = _Parent(head.number, gov.permissions(), parent.block)
        verified = self._check_batch(txs, context)
        timestamp = max(timestamp, head.timestamp)
        number = head.number + 1
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, number, timestamp,
                           recent_proposers=self._proposers_before(number, head))
        plain = [v.tx for v in verified]
        limit = gov.config()["block_gas_limit"] if gov.governed() else None
        result = self.executor.execute_block(reader, ctx, plain, block_gas_limit=limit)
        plain = plain[: len(result.receipts)]
        state_batch = WriteBatch()
        state_root = self.state.apply(number, result.writes, state_batch, parent=dict(parent.state_batch.ops))
        header = self._header(number, head.hash, timestamp, tuple(plain), result.receipts, state_root,
                              proposer=proposer, view=view, sealers=sealers)
        return ExecutedBlock(Block(header, tuple(plain)), tuple(result.receipts), result.writes, state_batch)

    def extend(self, early: ExecutedBlock, txs: Sequence[VerifiedTx | Transaction]) -> ExecutedBlock:
        """``early`` (from :meth:`execute_after`, its parent now committed) with ``txs`` appended.

        The transactions that reached the pool during the votes on the parent would otherwise
        wait a height more. Only they are executed, on top of ``early``'s writes and with its
        timestamp; the state tree is then computed once for all the writes. The result is the
        block :meth:`execute` builds from ``early``'s transactions followed by ``txs`` with that
        timestamp (tests/test_speculative.py compares them byte for byte).
        """
        block = early.block
        head = self.head_header()
        if block.number != head.number + 1 or block.header.parent_hash != head.hash:
            raise BlockRejected(f"block {block.number} does not follow the head {head.number}")
        limit = self.block_gas_limit()
        spent = sum(r.gas_used for r in early.receipts)
        if not txs or (limit is not None and spent >= limit):
            return early
        verified = self._check_batch(txs, _Parent(head.number, self.permissions(), block))
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, block.number, block.header.timestamp,
                           recent_proposers=self._proposers_before(block.number))
        plain = [v.tx for v in verified]
        result = self.executor.execute_block(_Overlay(early.writes, self.state_reader()), ctx, plain,
                                             block_gas_limit=None if limit is None else limit - spent)
        plain = plain[: len(result.receipts)]
        writes = dict(early.writes)
        writes.update(result.writes)
        header = block.header
        return self._build(
            block.number, head.hash, header.timestamp, block.transactions + tuple(plain),
            early.receipts + tuple(result.receipts), {k: writes[k] for k in sorted(writes)},
            proposer=header.proposer, view=header.view, sealers=header.sealers,
        )

    def verify_and_execute(self, verified: VerifiedBlock | Block) -> ExecutedBlock:
        """Replica side: re-check and re-execute a proposal; refuse it unless every root matches.
        A plain :class:`Block` has every transaction verified at the edge first."""
        if not isinstance(verified, VerifiedBlock):
            verified = self.verify_block(verified)
        block = verified.block
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
        if block.computed_tx_root != header.tx_root:  # cached: consensus computed it on arrival
            raise BlockRejected(f"block {header.number}: tx_root does not match its transactions")
        ctx = BlockContext(self.chain.chain_id, self.chain.group_id, header.number, header.timestamp,
                           recent_proposers=self._proposers_before(header.number))
        self._check_batch(verified.txs)
        result = self.executor.execute_block(self.state_reader(), ctx, block.transactions)
        limit = self.block_gas_limit()
        if limit is not None and not within_block_gas(result.receipts, limit):
            raise BlockRejected(f"block {header.number} exceeds the block gas limit of {limit}")

        state_batch = WriteBatch()
        state_root = self.state.apply(header.number, result.writes, state_batch)
        if state_root != header.state_root:
            raise BlockRejected(
                f"block {header.number}: state root 0x{header.state_root.hex()} differs from this node's "
                f"execution result 0x{state_root.hex()}"
            )
        if receipt_root(result.receipts, self.suite) != header.receipt_root:
            raise BlockRejected(f"block {header.number}: receipt root differs from this node's execution result")
        return ExecutedBlock(block, tuple(result.receipts), result.writes, state_batch)

    def _proposers_before(self, number: int, parent: BlockHeader | None = None) -> Callable[[int], tuple[bytes, ...] | None]:
        """Lazily (governance asks only for membership changes): proposers of the ``count`` blocks before ``number``
        (``parent``: block ``number - 1``, perhaps not committed yet)."""
        def recent(count: int) -> tuple[bytes, ...] | None:
            if count < 1 or number - count < 1:
                return None
            headers = [parent if parent is not None and n == parent.number else self.blocks.header(n)
                       for n in range(number - count, number)]
            return tuple(h.proposer for h in headers if h is not None)
        return recent

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
            state_root=state_root, proposer=proposer, view=view, sealers=sealers, suite=self.suite,
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
        self._recent.add_block(block.number, [(tx.hash, tx.sender_address, tx.nonce) for tx in block.transactions])
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
