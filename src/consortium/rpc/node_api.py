"""The RPC layer's view of a running node: implements :class:`consortium.rpc.methods.NodeApi`."""

from __future__ import annotations

import asyncio
from typing import Any

from consortium import __version__
from consortium.chain.ledger import Ledger
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.execution import BlockContext, ContractRecord, Executor
from consortium.execution.keys import code_key, contract_key, storage_prefix
from consortium.ledger.transaction import Transaction
from consortium.node.anchoring import anchor_proof
from consortium.node.runtime import Node
from consortium.rpc.methods import CallFailed, build_dispatcher
from consortium.rpc.subscriptions import SubscriptionHub


class NodeRpcApi:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.ledger: Ledger = node.ledger
        self.executor: Executor = node.executor
        self.rpc_url = ""
        self.dispatcher = build_dispatcher(self)
        self.hub = SubscriptionHub(self.ledger.blocks.receipts, self.resolve)
        node.driver.committed_callbacks.append(self.hub.on_commit)

    async def submit(self, tx: Transaction) -> None:
        self.node.admit(tx)
        self.node.gossip.add(tx)

        self.node.driver.transactions_arrived()

    def pending_count(self) -> int:
        return len(self.node.txpool)

    def _context(self) -> BlockContext:
        head = self.ledger.head_header()
        return BlockContext(chain_id=head.chain_id, group_id=head.group_id, number=head.number, timestamp=head.timestamp)

    async def call(self, to: bytes, method: str, args: tuple[Value, ...], sender: bytes) -> Value:
        state = self.ledger.state_reader()
        result = await asyncio.to_thread(self.executor.call, state, self._context(), to, method, args, sender)
        if not result.ok:
            raise CallFailed(result.error or result.status.name)
        return result.output

    def resolve(self, name: str) -> bytes | None:
        return self.executor.resolve(self.ledger.state_reader(), name)

    def code(self, address: bytes) -> str | None:
        state = self.ledger.state_reader()
        raw = state.get(contract_key(address))
        if raw is None:
            return None
        record = ContractRecord.decode(raw)
        source = state.get(code_key(record.code_hash))
        return None if source is None else canonical.decode(source)  # type: ignore[return-value]

    def system_config(self, key: str) -> Value:
        return self.node.system_config()[key]

    def consensus_status(self) -> dict[str, Any]:
        s = self.node.core.status()
        return {
            "height": s.height, "view": s.view, "leader": to_hex(s.leader), "isSealer": s.is_sealer,
            "viewActive": s.view_active,
            "counters": {k: v for k, v in s.counters.__dict__.items()},
            # The evidence behind the equivocation counter: who signed two conflicting messages.
            "recentEquivocations": [
                {"sender": to_hex(e.sender), "height": e.first.height, "view": e.first.view,
                 "kind": type(e.first).__name__} for e in s.recent_equivocations
            ],
            "droppedMessages": self.node.driver.dropped_messages,
            "speculativeProposals": dict(self.node.driver.speculations),
            "quorum": self.quorum_status(),
        }

    def quorum_status(self) -> dict[str, Any]:
        """Whether the sealers this node hears from make a quorum; who is silent (node/liveness.py)."""
        liveness = self.node.liveness
        v = liveness.view()
        return {"ok": v.ok, "sealers": v.sealers, "needed": v.needed, "heard": len(v.heard),
                "silent": [{"nodeId": to_hex(s), "name": liveness.names.get(s, "")} for s in v.silent]}

    def sealers(self) -> list[bytes]:
        return list(self.node.core.sealers)

    def observers(self) -> list[bytes]:
        """The observers admitted on chain by governance (as FISCO BCOS's getObserverList)."""
        return list(self.node.governance().observers())

    def peers(self) -> list[dict[str, Any]]:
        heights = self.node.sync.peer_heights
        return [
            {"nodeId": to_hex(p.node_id), "address": f"{p.remote_addr[0]}:{p.remote_addr[1]}", "outbound": p.outbound,
             "blockNumber": heights.get(p.node_id)}
            for p in self.node.transport.peers()
        ]

    def sync_status(self) -> dict[str, Any]:
        return self.node.sync.status()

    def node_info(self) -> dict[str, Any]:
        node = self.node
        return {
            "nodeId": to_hex(node.node_id), "name": node.config.name, "version": __version__,
            "chainId": node.genesis.chain_id, "groupId": node.genesis.group_id,
            "genesisHash": to_hex(node.genesis.hash()), "cryptoSuite": node.genesis.crypto_suite,
            "role": "sealer" if node.node_id in node.core.sealers else "observer",
            "p2p": f"{node.config.p2p.host}:{node.transport.listen_port}",
            "advertised": str(node.config.p2p.endpoint),
            "rpc": self.rpc_url,
            "certificateWarnings": list(node.certificate_warnings),
        }

    def anchor(self, number: int) -> dict[str, Any] | None:
        found = anchor_proof(self.ledger, self.node.anchor_store, number)
        if found is None:
            return None
        anchor, path = found
        cp = anchor.checkpoint
        return {"blockNumber": number, "checkpoint": to_hex(cp.encode()), "first": cp.first, "last": cp.last,
                "reply": to_hex(anchor.reply), "proof": to_hex(canonical.encode(path.to_value()))}

    def anchor_status(self) -> dict[str, Any]:
        service = self.node.anchoring
        doc: dict[str, Any] = {"enabled": service is not None, **self.node.anchor_status.to_json(self.ledger.height)}
        if service is not None:
            doc["intervalS"] = service.settings.interval_s
            doc["tsaUrls"] = list(service.settings.tsa_urls)
        doc["trustedTsas"] = [t.name for t in self.node.trusted_tsas()]
        return doc

    def state_key(self, contract: bytes, key: Value) -> bytes:
        return storage_prefix(contract) + canonical.encode(key)
