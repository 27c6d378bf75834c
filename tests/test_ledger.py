"""The single-process ledger on real LevelDB: execute, verify, commit, read, prove, restart."""

from __future__ import annotations

import dataclasses

import pytest
from tests.helpers.recording_executor import COUNTER, RecordingExecutor

from consortium.chain.admission import ChainIdentity, TransactionRejected
from consortium.chain.ledger import BlockRejected, Ledger
from consortium.crypto import KeyPair
from consortium.ledger import CommitSignature, Transaction, commit_seal_payload
from consortium.ledger.merkle import verify_inclusion
from consortium.state import verify_proof
from consortium.storage import LevelDBStore

CHAIN = ChainIdentity("chain0", "group0")
SEALER = KeyPair(b"\x05" * 32)
CLIENT = KeyPair(b"\x06" * 32)
GENESIS_TS = 1_700_000_000_000


def open_ledger(path) -> Ledger:
    ledger = Ledger(LevelDBStore(path), RecordingExecutor(), CHAIN)
    ledger.ensure_genesis(timestamp=GENESIS_TS, sealers=(SEALER.public_key,), writes={b"genesis": b"yes"})
    return ledger


def tx(nonce: int, method: str = "notarize", block_limit: int = 100) -> Transaction:
    return Transaction("chain0", "group0", nonce, block_limit, b"", b"\x01" * 20, method, (nonce,)).signed_by(CLIENT)


def seal(executed) -> list[CommitSignature]:
    return [CommitSignature(0, SEALER.sign(commit_seal_payload(executed.block.hash, 0)))]


def produce(ledger: Ledger, txs, ts: int = GENESIS_TS + 1000):
    executed = ledger.execute(txs, timestamp=ts, proposer=SEALER.public_key, view=0, sealers=(SEALER.public_key,))
    return ledger.commit(executed, seal(executed)), executed


def test_genesis_then_blocks_then_reads(tmp_path) -> None:
    ledger = open_ledger(tmp_path / "db")
    assert ledger.height == 0
    assert ledger.state_reader().get(b"genesis") == b"yes"
    txs = [tx(1), tx(2), tx(3, "fail")]
    block, executed = produce(ledger, txs)
    assert ledger.height == 1 and block.header.signatures
    assert ledger.block(1) == block and ledger.block_by_hash(block.hash) == block
    receipt, loc = ledger.receipt(txs[2].hash)
    assert receipt.status == 1 and receipt.error == "asked to fail" and (loc.number, loc.index) == (1, 2)
    assert ledger.state_reader().get(COUNTER) == b"2"
    assert ledger.state_reader(0).get(COUNTER) is None  # old versions stay readable
    assert ledger.blocks.total_transactions() == 3


def test_restart_keeps_everything_and_checks_genesis(tmp_path) -> None:
    ledger = open_ledger(tmp_path / "db")
    block, _ = produce(ledger, [tx(1)])
    ledger.kv.close()
    again = open_ledger(tmp_path / "db")
    assert again.height == 1 and again.block(1) == block
    assert again.state_reader().get(COUNTER) == b"1"
    produce(again, [tx(2)], ts=GENESIS_TS + 2000)
    again.kv.close()
    other = Ledger(LevelDBStore(tmp_path / "db"), RecordingExecutor(), CHAIN)
    with pytest.raises(BlockRejected, match="different genesis block"):
        other.ensure_genesis(timestamp=GENESIS_TS + 1, sealers=(SEALER.public_key,), writes={})


def test_replica_reexecutes_and_accepts_an_honest_proposal(tmp_path) -> None:
    proposer = open_ledger(tmp_path / "a")
    replica = open_ledger(tmp_path / "b")
    executed = proposer.execute([tx(1), tx(2)], timestamp=GENESIS_TS + 5, proposer=SEALER.public_key, view=0,
                                sealers=(SEALER.public_key,))
    checked = replica.verify_and_execute(executed.block)
    a = proposer.commit(executed, seal(executed))
    b = replica.commit(checked, seal(executed))
    assert a == b and proposer.head_header().state_root == replica.head_header().state_root


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda h: dataclasses.replace(h, state_root=b"\x01" * 32), "differs from this node's execution"),
        (lambda h: dataclasses.replace(h, receipt_root=b"\x01" * 32), "receipt root differs"),
        (lambda h: dataclasses.replace(h, tx_root=b"\x01" * 32), "tx_root does not match"),
        (lambda h: dataclasses.replace(h, parent_hash=b"\x01" * 32), "parent_hash"),
        (lambda h: dataclasses.replace(h, number=5), "does not follow"),
        (lambda h: dataclasses.replace(h, timestamp=1), "before its parent"),
        (lambda h: dataclasses.replace(h, chain_id="evil"), "belongs to chain"),
    ],
)
def test_replica_refuses_a_dishonest_proposal(tmp_path, tamper, reason) -> None:
    proposer = open_ledger(tmp_path / "a")
    replica = open_ledger(tmp_path / "b")
    executed = proposer.execute([tx(1)], timestamp=GENESIS_TS + 5, proposer=SEALER.public_key, view=0,
                                sealers=(SEALER.public_key,))
    bad = dataclasses.replace(executed.block, header=tamper(executed.block.header))
    with pytest.raises(BlockRejected, match=reason):
        replica.verify_and_execute(bad)
    assert replica.height == 0


def test_replay_and_bad_transactions_are_refused_in_blocks(tmp_path) -> None:
    ledger = open_ledger(tmp_path / "db")
    first = tx(1)
    produce(ledger, [first])
    with pytest.raises(BlockRejected, match="already on chain"):
        ledger.execute([first], timestamp=GENESIS_TS + 9, proposer=b"", view=0, sealers=())
    with pytest.raises(BlockRejected, match="nonce 1"):
        ledger.execute([tx(1, block_limit=101)], timestamp=GENESIS_TS + 9, proposer=b"", view=0, sealers=())
    with pytest.raises(BlockRejected, match="appears twice"):
        ledger.execute([tx(2), tx(2)], timestamp=GENESIS_TS + 9, proposer=b"", view=0, sealers=())
    with pytest.raises(BlockRejected, match="has passed"):
        ledger.execute([tx(3, block_limit=1)], timestamp=GENESIS_TS + 9, proposer=b"", view=0, sealers=())
    forged = dataclasses.replace(tx(4), args=("changed",))
    with pytest.raises(BlockRejected, match="does not verify"):
        ledger.execute([forged], timestamp=GENESIS_TS + 9, proposer=b"", view=0, sealers=())
    assert ledger.height == 1


def test_speculative_execution_leaves_no_trace(tmp_path) -> None:
    """A view change may execute several candidates at one height; only the committed one counts."""
    ledger = open_ledger(tmp_path / "db")
    ledger.execute([tx(1)], timestamp=GENESIS_TS + 5, proposer=b"", view=0, sealers=(SEALER.public_key,))
    other = ledger.execute([tx(2)], timestamp=GENESIS_TS + 6, proposer=b"", view=1, sealers=(SEALER.public_key,))
    block = ledger.commit(other, seal(other))
    assert ledger.transaction(tx(1).hash) is None and ledger.transaction(tx(2).hash) is not None
    assert ledger.state_reader().get(b"rec" + tx(1).hash) is None
    assert ledger.head_header() == block.header


def test_proofs_verify_against_the_header(tmp_path) -> None:
    ledger = open_ledger(tmp_path / "db")
    txs = [tx(i) for i in range(1, 6)]
    produce(ledger, txs)
    for t in txs:
        header, got, proof = ledger.transaction_proof(t.hash)
        verify_inclusion(header.tx_root, got.encode(), proof)
        header, receipt, rproof = ledger.receipt_proof(t.hash)
        verify_inclusion(header.receipt_root, receipt.encode(), rproof)
        header, value, sproof = ledger.state_proof(b"rec" + t.hash)
        assert value == b"notarize"
        verify_proof(header.state_root, b"rec" + t.hash, value, sproof)
    header, value, sproof = ledger.state_proof(b"rec" + txs[0].hash, 0)  # before it existed
    assert value is None
    verify_proof(header.state_root, b"rec" + txs[0].hash, None, sproof)


class CountingStore(LevelDBStore):
    """Real LevelDB, counting reads of the replay indexes (``Bx`` tx hashes, ``Bo`` nonces)."""

    replay_reads = 0

    def get(self, key: bytes) -> bytes | None:
        if key[:2] in (b"Bx", b"Bo"):
            CountingStore.replay_reads += 1
        return super().get(key)


def test_admission_reads_no_replay_index_from_disk_and_rebuilds_its_own_on_restart(tmp_path) -> None:
    chain = ChainIdentity("chain0", "group0", block_limit_window=3)
    ledger = Ledger(CountingStore(tmp_path / "db"), RecordingExecutor(), chain)
    ledger.ensure_genesis(timestamp=GENESIS_TS, sealers=(SEALER.public_key,), writes={})
    used = [tx(n, block_limit=3) for n in (1, 2)]
    produce(ledger, used[:1])
    produce(ledger, used[1:])
    CountingStore.replay_reads = 0
    for n in range(10, 20):  # fresh transactions: admitted on memory alone
        ledger.admit(tx(n, block_limit=4))
    ledger.execute([tx(n, block_limit=4) for n in range(20, 30)], timestamp=GENESIS_TS + 9, proposer=b"", view=0,
                   sealers=())
    assert CountingStore.replay_reads == 0
    ledger.kv.close()

    ledger = Ledger(CountingStore(tmp_path / "db"), RecordingExecutor(), chain)  # restart: index rebuilt
    with pytest.raises(TransactionRejected, match="already on chain"):
        ledger.admit(used[1])
    with pytest.raises(TransactionRejected, match="nonce 1 .* used in block 1"):
        ledger.admit(tx(1, block_limit=4))
    produce(ledger, [tx(3, block_limit=5)])
    produce(ledger, [tx(4, block_limit=6)])  # head 4: block 1 has left the 3-block window
    ledger.admit(tx(1, block_limit=6))  # the nonce may be used again, as the rule always said
    ledger.kv.close()
