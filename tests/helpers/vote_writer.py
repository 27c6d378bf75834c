"""A process that saves consensus vote states as fast as it can, printing each view once saved.

Run as ``python -m tests.helpers.vote_writer DATA_DIR``; the test kills it with SIGKILL.
Each state carries a prepared block (tens of KB), so records are large enough for a kill
to land in the middle of one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.helpers.chainmaker import make_block

from consortium.consensus.messages import TAG_PREPARE, Prepare, PreparedCertificate, PrePrepare
from consortium.consensus.persist import PersistedState
from consortium.crypto.suite import DEFAULT_SUITE
from consortium.ledger import ZERO_HASH, Block
from consortium.node.vote_store import VoteStore


def state(view: int, block: Block) -> PersistedState:
    """A vote state at view ``view`` holding a prepared block (the decoder checks structure only)."""
    pp = PrePrepare("chain0", "group0", 5, 0, b"s" * 32, block.hash, signature=b"x" * 64)
    cert = PreparedCertificate(pp, (Prepare("chain0", "group0", 5, 0, b"t" * 32, block.hash, b"y" * 64),))
    return PersistedState("chain0", "group0", 5, view, view, ((TAG_PREPARE, bytes([view % 256]) * 32),), cert, block)


def main() -> None:
    store = VoteStore(Path(sys.argv[1]), DEFAULT_SUITE, rotate_bytes=int(sys.argv[2]) if len(sys.argv) > 2 else 2**26)
    block, _ = make_block(1, ZERO_HASH, n_txs=100)
    loaded = store.load()
    view = 0 if loaded is None else loaded.view + 1
    while True:
        store.save(state(view, block))
        print(view, flush=True)
        view += 1


if __name__ == "__main__":
    main()
