"""A quorum of sealers that lies: it runs the real contract, then rewrites what it certifies.

:class:`LyingExecutor` wraps the real executor and lets a test change a block's
write set and receipts before the block is built, so the state root, receipt root
and commit seals all certify the lie exactly as a colluding quorum's would. The
ledger is told not to check transaction signatures or chain ids at admission
(a lying quorum runs modified software); transactions themselves are always
signed by their real keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consortium.encoding import canonical
from consortium.evidence.record import record_key
from consortium.ledger import Receipt, ReceiptStatus, Transaction

Lie = Callable[[Any, Sequence[Transaction], list[Receipt], dict[bytes, bytes | None]], None]


@dataclass(frozen=True)
class _Result:
    receipts: tuple[Receipt, ...]
    writes: dict[bytes, bytes | None]


class LyingExecutor:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.lie: Lie | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def execute_block(self, state, ctx, txs, *, block_gas_limit=None):  # type: ignore[no-untyped-def]
        result = self.real.execute_block(state, ctx, txs, block_gas_limit=block_gas_limit)
        receipts, writes = list(result.receipts), dict(result.writes)
        if self.lie is not None:
            self.lie(ctx, txs, receipts, writes)
        return _Result(tuple(receipts), writes)


def force_ok(receipts: list[Receipt], tx: Transaction, output: Any = None) -> None:
    """The quorum certifies ``tx`` as successful whatever the contract said."""
    for i, r in enumerate(receipts):
        if r.tx_hash == tx.hash:
            receipts[i] = dataclasses.replace(r, status=ReceiptStatus.OK, error="", output=output)
            return
    raise AssertionError("transaction not in the block")


def rewrite_record(writes: dict[bytes, bytes | None], key: bytes, change: Callable[[dict], None],
                   base: dict | None = None) -> None:
    """Change the evidence record of ``key`` in this block's writes (or write ``base`` changed)."""
    k = record_key(key)
    record = canonical.decode(writes[k]) if writes.get(k) is not None else dict(base or {})
    change(record)
    writes[k] = canonical.encode(record)
