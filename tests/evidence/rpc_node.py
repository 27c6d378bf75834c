"""A one-process node for CLI tests: the evidence test chain behind the real JSON-RPC HTTP server.

Everything the CLI talks to is real (aiohttp server, RPC method table, ledger on LevelDB, executor,
governance); only consensus is collapsed: an admitted transaction is sealed into a block at once by
the four sealer keys. The server runs on its own event loop in a thread, so the CLI's SyncClient can
call it from the test's thread; the ledger is touched only from the server thread while serving.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.evidence.evidence_chain import EvidenceChain

from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.execution import BlockContext, ContractRecord, governance
from consortium.execution.keys import code_key, contract_key
from consortium.ledger import Transaction
from consortium.rpc.methods import CallFailed
from consortium.rpc.server import RpcServer


class InstantNode(EvidenceChain):
    async def submit(self, tx: Transaction) -> None:
        self.ledger.admit(tx)  # raises TransactionRejected, which RPC maps to its error codes
        self.produce([tx])

    def pending_count(self) -> int:
        return 0

    def system_config(self, key: str) -> Value:
        """As rpc/node_api.py answers it (the SDK reads block_limit_window to choose a block limit)."""
        config = {**governance.GovernanceState(self.ledger.state_reader().get).config(),
                  "block_limit_window": self.genesis.block_limit_window, "crypto_suite": self.genesis.crypto_suite}
        return config[key]

    async def call(self, to: bytes, method: str, args: tuple[Value, ...], sender: bytes) -> Value:
        head = self.ledger.head_header()
        ctx = BlockContext(head.chain_id, head.group_id, head.number, head.timestamp)
        result = self.ledger.executor.call(self.ledger.state_reader(), ctx, to, method, args, sender)  # type: ignore[attr-defined]
        if not result.ok:
            raise CallFailed(result.error or result.status.name)
        return result.output

    def code(self, address: bytes) -> str | None:
        state = self.ledger.state_reader()
        raw = state.get(contract_key(address))
        if raw is None:
            return None
        source = state.get(code_key(ContractRecord.decode(raw).code_hash))
        return None if source is None else canonical.decode(source)  # type: ignore[return-value]

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve JSON-RPC on a free loopback port; yields the URL; stops the server on exit."""
        loop = asyncio.new_event_loop()
        server = RpcServer(self.dispatcher, "127.0.0.1", 0)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="rpc-node", daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("the RPC server did not start")
        try:
            yield f"http://127.0.0.1:{server.port}/"
        finally:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
