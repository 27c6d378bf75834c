"""A leader and a replica of a throwaway 4-node chain, for in-process benchmarks of the block pipeline.

cluster_bench.py (stage costs) and gc_bench.py both measure a node's own code paths without a
cluster: real nodes (LevelDB ledger, txpool, consensus driver) built from a fresh chain folder and
never started, the leader executing blocks and the replica validating them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consortium.chain.ledger import ExecutedBlock
from consortium.node.chain_files import ChainSpec, new_chain
from consortium.node.config import load_config
from consortium.node.genesis import load_genesis
from consortium.node.runtime import Node


@contextmanager
def node_pair(prefix: str) -> Iterator[tuple[Node, Node]]:
    """(leader, replica): nodes 0 and 1 of a new 4-node chain in a temporary folder, removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        layout = new_chain(tmp / "chain", ChainSpec(nodes=4, p2p_port=41000, rpc_port=41100))
        nodes = []
        for i in (0, 1):
            config = load_config(layout.nodes[i].dir / "config.toml")
            nodes.append(Node(config, load_genesis(config.genesis_path)))
        leader, replica = nodes
        yield leader, replica
        for node in nodes:
            node.ledger.kv.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def execute_next(leader: Node, size: int) -> ExecutedBlock:
    """The leader's next block: up to ``size`` transactions from its pool, executed as view 0's proposal."""
    return leader.ledger.execute(
        leader.txpool.take(size), timestamp=leader.ledger.head_header().timestamp + 1,
        proposer=leader.node_id, view=0, sealers=tuple(leader.core.sealers))
