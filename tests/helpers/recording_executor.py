"""A deterministic stand-in executor for ledger tests: records each transaction in the state.

Every transaction writes key ``b"rec" + tx.hash`` = its method name and bumps a counter;
method "fail" gets a REVERTED receipt and writes nothing. This exercises the ledger's
handling of receipts and write sets without the contract runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortium.ledger import Receipt, ReceiptStatus

COUNTER = b"rec-count"


@dataclass(frozen=True)
class Result:
    receipts: tuple[Receipt, ...]
    writes: dict


class RecordingExecutor:
    def execute_block(self, state, ctx, txs, *, block_gas_limit=None):
        writes: dict[bytes, bytes | None] = {}
        count = int(state.get(COUNTER) or b"0")
        receipts = []
        for tx in txs:
            if tx.method == "fail":
                receipts.append(Receipt(tx.hash, ReceiptStatus.REVERTED, None, 1, error="asked to fail"))
                continue
            count += 1
            writes[b"rec" + tx.hash] = tx.method.encode()
            receipts.append(Receipt(tx.hash, ReceiptStatus.OK, count, 1))
        writes[COUNTER] = str(count).encode()
        return Result(tuple(receipts), writes)
