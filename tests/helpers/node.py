"""A real node object of a throwaway 4-node chain, not started: its ledger (LevelDB), txpool,
consensus core and driver, without sockets. For in-process tests of node-layer logic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consortium.node.chain_files import ChainSpec, new_chain
from consortium.node.config import load_config
from consortium.node.genesis import load_genesis
from consortium.node.runtime import Node


@contextmanager
def unstarted_node(root: Path, index: int = 0) -> Iterator[Node]:
    layout = new_chain(root / "chain", ChainSpec(nodes=4, p2p_port=41000, rpc_port=41100))
    config = load_config(layout.nodes[index].dir / "config.toml")
    node = Node(config, load_genesis(config.genesis_path))
    try:
        yield node
    finally:
        node.anchor_store.close()
        node.ledger.kv.close()
