"""The vote log (node/vote_store.py): one fsync per save, a torn tail tolerated, corruption refused,
rotation, the earlier single-file format, and SIGKILL at random points never losing a saved vote."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.chainmaker import make_block
from tests.helpers.sigkill import killed_rounds
from tests.helpers.vote_writer import state

from consortium.consensus.errors import CorruptPersistedState
from consortium.crypto.suite import DEFAULT_SUITE
from consortium.ledger import ZERO_HASH
from consortium.node.vote_store import FILE_NAME, LEGACY_FILE_NAME, VoteStore

ROOT = Path(__file__).resolve().parent.parent
BLOCK, _ = make_block(1, ZERO_HASH, n_txs=3)


def test_saves_append_with_one_fsync_each_and_load_returns_the_last(tmp_path) -> None:
    store = VoteStore(tmp_path, DEFAULT_SUITE)
    assert store.load() is None
    for view in range(5):
        store.save(state(view, BLOCK))
    assert store.fsyncs == 5
    store.close()
    loaded = VoteStore(tmp_path, DEFAULT_SUITE).load()
    assert loaded == state(4, BLOCK) and loaded.prepared_block == BLOCK
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o600


def two_saves(path: Path) -> bytearray:
    """The log's bytes after saving views 1 and 2."""
    store = VoteStore(path, DEFAULT_SUITE)
    store.save(state(1, BLOCK))
    store.save(state(2, BLOCK))
    store.close()
    return bytearray((path / FILE_NAME).read_bytes())


@pytest.mark.parametrize("damage", ["cut", "flip", "partial-length"])
def test_a_torn_last_record_falls_back_to_the_one_before(tmp_path, damage: str) -> None:
    path = tmp_path / FILE_NAME
    data = two_saves(tmp_path)
    if damage == "cut":
        data = data[:-10]
    elif damage == "flip":
        data[-5] ^= 0xFF
    else:
        data += b"\x00\x00"  # the start of a third record's length
    path.write_bytes(bytes(data))
    assert VoteStore(tmp_path, DEFAULT_SUITE).load() == state(1 if damage != "partial-length" else 2, BLOCK)


def test_damage_before_the_last_record_is_an_error(tmp_path) -> None:
    path = tmp_path / FILE_NAME
    data = two_saves(tmp_path)

    data[10] ^= 0xFF  # inside the first record
    data = data[:-3]  # and the last one torn: the one before must be good, and is not
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptPersistedState):
        VoteStore(tmp_path, DEFAULT_SUITE).load()


def test_rotation_keeps_the_log_small_and_the_state_intact(tmp_path) -> None:
    one = len(state(0, BLOCK).encode(DEFAULT_SUITE)) + 4
    store = VoteStore(tmp_path, DEFAULT_SUITE, rotate_bytes=3 * one)
    for view in range(10):
        store.save(state(view, BLOCK))
        assert (tmp_path / FILE_NAME).stat().st_size <= 3 * one
    store.close()
    assert VoteStore(tmp_path, DEFAULT_SUITE).load() == state(9, BLOCK)
    assert not (tmp_path / "consensus-votes.tmp").exists()


def test_the_earlier_single_file_is_read_then_retired(tmp_path) -> None:
    (tmp_path / LEGACY_FILE_NAME).write_bytes(state(7, BLOCK).encode(DEFAULT_SUITE))
    store = VoteStore(tmp_path, DEFAULT_SUITE)
    assert store.load() == state(7, BLOCK)
    store.save(state(8, BLOCK))
    assert not (tmp_path / LEGACY_FILE_NAME).exists()
    store.close()
    assert VoteStore(tmp_path, DEFAULT_SUITE).load() == state(8, BLOCK)


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_a_saved_vote(tmp_path) -> None:
    """A real writer is killed with SIGKILL at random moments; each view it printed (after save
    returned) must be what a restart loads, or an older view never: views only go forward."""
    for acknowledged in killed_rounds("tests.helpers.vote_writer", [str(tmp_path), "300000"], seed=99, max_sleep=0.3):
        loaded = VoteStore(tmp_path, DEFAULT_SUITE).load()
        assert loaded is not None and loaded.view >= acknowledged
