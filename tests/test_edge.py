"""The edge (consortium.chain.edge): the one place a transaction's signature is checked, and the
suite as a chain parameter (a chain with another suite hashes and verifies with that one)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from tests.helpers.recording_executor import RecordingExecutor

from consortium.chain.admission import ChainIdentity, InvalidSignature, WrongChain
from consortium.chain.edge import VerifiedBlock, VerifiedTx, verify_block, verify_transaction
from consortium.chain.ledger import BlockRejected, Ledger
from consortium.crypto.suite import DEFAULT_SUITE, Ed25519Sha256, KeyPair
from consortium.ledger.block import Block, BlockHeader
from consortium.ledger.transaction import Transaction
from consortium.storage import LevelDBStore

CHAIN = ChainIdentity("chain0", "group0")
ALICE = KeyPair(b"\x0a" * 32)


class Ed25519Sha512t(Ed25519Sha256):
    """A second suite for the tests: same signatures, another hash (SHA-512 truncated to 32 bytes)."""

    name = "test-ed25519-sha512t"

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha512(data).digest()[:32]


OTHER = Ed25519Sha512t()


def tx(nonce: int, key: KeyPair = ALICE, chain_id: str = "chain0") -> Transaction:
    return Transaction(chain_id, "group0", nonce, 100, b"", b"\x01" * 20, "m", (nonce,)).signed_by(key)


def test_only_the_edge_makes_verified_values() -> None:
    with pytest.raises(TypeError, match="only by consortium.chain.edge"):
        VerifiedTx(tx(1), object())
    with pytest.raises(TypeError, match="only by consortium.chain.edge"):
        VerifiedBlock(Block(BlockHeader("c", "g", 1, bytes(32), 0, bytes(32), bytes(32), bytes(32), b"", 0, ()), ()),
                      (), object())
    v = verify_transaction(tx(1), CHAIN, DEFAULT_SUITE)
    with pytest.raises(AttributeError):
        v.tx = tx(2)  # type: ignore[misc]


def test_the_edge_refuses_another_chain_and_bad_signatures() -> None:
    with pytest.raises(WrongChain):
        verify_transaction(tx(1, chain_id="other"), CHAIN, DEFAULT_SUITE)
    with pytest.raises(InvalidSignature):
        verify_transaction(dataclasses.replace(tx(1), nonce=2), CHAIN, DEFAULT_SUITE)


def test_a_block_reuses_known_transactions_only_with_identical_bytes() -> None:
    good = [tx(n) for n in range(3)]
    known = {v.hash: v for v in (verify_transaction(t, CHAIN, DEFAULT_SUITE) for t in good)}
    header = BlockHeader("chain0", "group0", 1, bytes(32), 0, bytes(32), bytes(32), bytes(32), b"", 0, ())
    verified = verify_block(Block(header, tuple(good)), CHAIN, DEFAULT_SUITE, known.get)
    assert all(v is known[t.hash] for v, t in zip(verified.txs, good, strict=True))  # reused, not re-verified
    swapped = dataclasses.replace(good[1], signature=bytes(64))
    assert swapped.hash == good[1].hash
    with pytest.raises(ValueError, match="transaction 1 .*signature"):
        verify_block(Block(header, (good[0], swapped, good[2])), CHAIN, DEFAULT_SUITE, known.get)


def test_the_suite_is_a_chain_parameter(tmp_path) -> None:
    """A chain on another suite hashes transactions, blocks and roots with it, end to end, and refuses
    what was hashed under another."""
    key = KeyPair(b"\x0b" * 32, OTHER)
    t = Transaction("chain0", "group0", 1, 100, b"", b"\x01" * 20, "m", (1,)).signed_by(key)
    assert t.hash == OTHER.hash(t.signing_bytes()) != DEFAULT_SUITE.hash(t.signing_bytes())
    decoded = Transaction.decode(t.encode(), OTHER)
    assert decoded.hash == t.hash and decoded.sender_address == OTHER.address(key.public_key)
    # Signed over the SHA-256 hash, the same fields do not verify on this chain.
    with pytest.raises(InvalidSignature):
        verify_transaction(dataclasses.replace(t, suite=DEFAULT_SUITE).signed_by(KeyPair(b"\x0b" * 32)), CHAIN, OTHER)

    kv = LevelDBStore(tmp_path / "db")
    ledger = Ledger(kv, RecordingExecutor(), CHAIN, suite=OTHER)
    ledger.ensure_genesis(timestamp=1, sealers=(b"s",), writes={b"k": b"v"})
    executed = ledger.execute([decoded], timestamp=2, proposer=b"s", view=0, sealers=(b"s",))
    header = executed.block.header
    assert header.hash == OTHER.hash(header.hashing_bytes())
    ledger.commit(executed)
    kv.close()
    reopened = Ledger(LevelDBStore(tmp_path / "db"), RecordingExecutor(), CHAIN, suite=OTHER)
    block = reopened.block(1)
    assert block is not None and block.hash == header.hash and block.transactions[0].hash == t.hash
    assert reopened.transaction(t.hash) is not None
    again = Block.decode(block.encode(), OTHER)
    assert again.computed_tx_root == header.tx_root
    with pytest.raises(BlockRejected):  # under the default suite the roots and parent hash differ
        reopened.verify_and_execute(Block.decode(executed.block.encode(), DEFAULT_SUITE))
    reopened.kv.close()
