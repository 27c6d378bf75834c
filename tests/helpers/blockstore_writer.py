"""Subprocess for the crash test: commits blocks forever, printing each number once durable.

Each block's batch also carries 200 "state node" keys tagged with the block number, standing
for the Merkle nodes a real block commits in the same batch.
"""

from __future__ import annotations

import sys

from tests.helpers.chainmaker import make_block

from consortium.ledger import ZERO_HASH
from consortium.storage import LevelDBStore, WriteBatch
from consortium.storage.blockstore import BlockStore

STATE_KEYS = 200


def main(path: str) -> None:
    store = BlockStore(LevelDBStore(path))
    parent = ZERO_HASH if store.head is None else store.head.hash
    number = 0 if store.head is None else store.head.number + 1
    while True:
        block, receipts = make_block(number, parent, n_txs=20)
        batch = WriteBatch()
        for i in range(STATE_KEYS):
            batch.put(b"s" + number.to_bytes(8, "big") + i.to_bytes(4, "big"), b"v" * 64)
        store.commit(block, receipts, batch)
        print(number, flush=True)
        parent = block.hash
        number += 1


if __name__ == "__main__":
    main(sys.argv[1])
