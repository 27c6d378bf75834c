"""A tiny in-memory chain over the real executor, for the contract tests (and their fixtures).

State is a dict behind the StateReader interface (the executor never sees
storage); everything else — compilation, sandbox, gas, receipts, write sets —
is the real thing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pytest

from consortium.crypto.suite import KeyPair
from consortium.encoding.canonical import Value
from consortium.execution import (
    BlockContext,
    BlockResult,
    CallResult,
    DictReader,
    Executor,
    genesis_writes,
)
from consortium.execution.limits import DEFAULT_GAS_LIMIT
from consortium.ledger import Receipt, Transaction

CHAIN_ID = "test-chain"
GROUP_ID = "g1"
KEYS = [KeyPair(bytes([i]) * 32) for i in range(1, 9)]
ADMIN, ALICE, BOB, CAROL, ARBITER, MALLORY, DAVE, ERIN = KEYS


class Chain:
    """Blocks of transactions executed and applied one after another."""

    def __init__(self, gas_limit: int = DEFAULT_GAS_LIMIT, state: dict[bytes, bytes] | None = None) -> None:
        self.state = DictReader(dict(state or {}))
        self.executor = Executor(gas_limit_per_tx=gas_limit)
        self.number = 0
        self.nonces: dict[bytes, int] = {}

    @property
    def ctx(self) -> BlockContext:
        return BlockContext(CHAIN_ID, GROUP_ID, self.number + 1, 1_700_000_000_000 + 1000 * (self.number + 1))

    def tx(self, key: KeyPair, to: bytes, method: str, *args: Value) -> Transaction:
        nonce = self.nonces.get(key.public_key, 0)
        self.nonces[key.public_key] = nonce + 1
        return Transaction(CHAIN_ID, GROUP_ID, nonce, 1000, key.public_key, to, method, args)

    def block(self, *txs: Transaction) -> BlockResult:
        result = self.executor.execute_block(self.state, self.ctx, txs)
        self.state.apply(result.writes)
        self.number += 1
        return result

    def send(self, key: KeyPair, to: bytes, method: str, *args: Value) -> Receipt:
        return self.block(self.tx(key, to, method, *args)).receipts[0]

    def deploy(self, key: KeyPair, source: str, *args: Value, name: str = "") -> Receipt:
        return self.block(self.tx(key, b"", name, source, *args)).receipts[0]

    def deployed(self, key: KeyPair, source: str, *args: Value, name: str = "") -> bytes:
        receipt = self.deploy(key, source, *args, name=name)
        assert receipt.ok, receipt.error
        return receipt.contract_address

    def call(self, to: bytes, method: str, *args: Value, sender: bytes = b"") -> CallResult:
        return self.executor.call(self.state, self.ctx, to, method, args, sender=sender)

    def view(self, to: bytes, method: str, *args: Value, sender: bytes = b"") -> Value:
        result = self.call(to, method, *args, sender=sender)
        assert result.ok, result.error
        return result.output


def contract(methods: str, constants: str = "") -> str:
    """A contract module with class ``C`` whose body is ``methods`` (dedented)."""
    body = textwrap.indent(textwrap.dedent(methods).strip("\n"), "    ")
    return f"{textwrap.dedent(constants)}\nclass C:\n{body}\n"


COUNTER = contract("""
    def constructor(self, start=0):
        storage["n"] = start

    def inc(self, by=1):
        storage["n"] += by
        emit("Incremented", by=by, n=storage["n"])
        return storage["n"]

    def get(self):
        return storage.get("n")
""")


@pytest.fixture
def chain() -> Chain:
    return Chain()


@pytest.fixture
def evidence_chain() -> Chain:
    """A chain whose genesis deployed the evidence contract (ADMIN administers, ARBITER registered)."""
    return Chain(state=genesis_writes(arbitrators=[ARBITER.address], chain_id=CHAIN_ID,
                                      group_id=GROUP_ID))


def statuses(receipts: Sequence[Receipt]) -> list[str]:
    from consortium.ledger import ReceiptStatus

    return [ReceiptStatus(r.status).name for r in receipts]
