"""A fake application for the simulator: a ledger of real blocks with a deterministic state root.

Blocks hold a few real signed transactions (a fixed pool, chosen per height,
view and the node's "txpool salt"); the state root of block h is
``H("state" || state_root(h-1) || tx_root(h))``, so a replica can re-execute a
proposal and refuse it when the root differs, exactly as the real driver will.
The ledger is the node's disk: it survives crashes.
"""

from __future__ import annotations

import functools
import hashlib

from consortium.consensus.simulation.crypto import SIM_SUITE
from consortium.consensus.verify import header_hash
from consortium.crypto.suite import CryptoSuite, KeyPair
from consortium.ledger.block import ZERO_HASH, Block, BlockHeader, tx_root
from consortium.ledger.transaction import Transaction

CHAIN_ID = "sim-chain"
GROUP_ID = "group0"
POOL_SIZE = 32
TXS_PER_BLOCK = 3


@functools.cache
def transaction_pool() -> tuple[Transaction, ...]:
    client = KeyPair(hashlib.sha256(b"consortium-sim/client").digest(), SIM_SUITE)
    return tuple(
        Transaction(CHAIN_ID, GROUP_ID, nonce=i, block_limit=10**9, sender=b"", to=bytes([1]) * 20,
                    method="notarize", args=(i, f"evidence-{i}")).signed_by(client)
        for i in range(POOL_SIZE)
    )


def genesis(sealers: tuple[bytes, ...], suite: CryptoSuite = SIM_SUITE) -> Block:
    header = BlockHeader(CHAIN_ID, GROUP_ID, 0, ZERO_HASH, 0, tx_root((), suite), ZERO_HASH,
                         suite.hash(b"genesis-state"), b"", 0, sealers)
    return Block(header, ())


def next_state_root(parent_state: bytes, txs_root: bytes, suite: CryptoSuite) -> bytes:
    return suite.hash(b"state" + parent_state + txs_root)


class SimLedger:
    """One node's durable chain (index = block number)."""

    def __init__(self, genesis_block: Block, suite: CryptoSuite = SIM_SUITE) -> None:
        self.suite = suite
        self.blocks: list[Block] = [genesis_block]

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    def head_hash(self) -> bytes:
        return header_hash(self.head.header, self.suite)

    def build(self, view: int, proposer: bytes, salt: int) -> Block:
        """What a leader's txpool and executor would produce on top of the head."""
        height = self.height + 1
        pool = transaction_pool()
        start = int.from_bytes(self.suite.hash(b"%d/%d/%d" % (height, view, salt))[:4], "big")
        txs = tuple(pool[(start + k) % POOL_SIZE] for k in range(TXS_PER_BLOCK))
        root = tx_root(txs, self.suite)
        parent = self.head.header
        header = BlockHeader(
            CHAIN_ID, GROUP_ID, height, self.head_hash(), height * 1000 + view, root,
            self.suite.hash(b"receipts" + root), next_state_root(parent.state_root, root, self.suite),
            proposer, view, parent.sealers,
        )
        return Block(header, txs)

    def validate(self, block: Block) -> tuple[bool, str]:
        """Re-check every transaction and re-execute: the replica side of a proposal."""
        h = block.header
        if h.number != self.height + 1 or h.parent_hash != self.head_hash():
            return False, "does not extend this node's head"
        for tx in block.transactions:
            if not self.suite.verify(tx.sender, tx.hash, tx.signature):
                return False, "transaction signature invalid"
        root = tx_root(block.transactions, self.suite)
        if root != h.tx_root:
            return False, "transaction root differs"
        if h.state_root != next_state_root(self.head.header.state_root, root, self.suite):
            return False, "state root differs from this node's execution"
        if h.receipt_root != self.suite.hash(b"receipts" + root):
            return False, "receipt root differs"
        return True, ""

    def append(self, block: Block) -> None:
        if block.header.number != self.height + 1 or block.header.parent_hash != self.head_hash():
            raise AssertionError(f"block {block.header.number} does not extend the ledger head {self.height}")
        self.blocks.append(block)
