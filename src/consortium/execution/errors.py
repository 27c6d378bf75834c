"""Typed errors of the contract runtime.

Two families. :class:`ContractRejected` is raised at deploy time (or by
:func:`consortium.execution.check_contract`) and names the line and the
construct to fix. The others end one transaction and map to one receipt status
each, so the executor never has to guess from a message what went wrong.
"""

from __future__ import annotations

from consortium.ledger.receipt import ReceiptStatus


class ContractRejected(ValueError):
    """Contract source outside the language subset. ``line`` is 1-based (0: the whole file)."""

    def __init__(self, line: int, construct: str, reason: str) -> None:
        self.line = line
        self.construct = construct
        self.reason = reason
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{construct}: {reason}")


def rejection(node: object, construct: str, reason: str) -> ContractRejected:
    """A :class:`ContractRejected` located at ``node`` (an AST node; line 0 if it has none)."""
    return ContractRejected(getattr(node, "lineno", 0) if node is not None else 0, construct, reason)


class TxAbort(Exception):
    """Base of every error that ends a transaction; ``status`` is its receipt status."""

    status: ReceiptStatus = ReceiptStatus.CONTRACT_ERROR


class OutOfGas(TxAbort):
    status = ReceiptStatus.OUT_OF_GAS


class Revert(TxAbort):
    """``require(False, message)``: the contract refused the call."""

    status = ReceiptStatus.REVERTED


class PermissionDenied(TxAbort):
    """``authorize(False, message)``: the sender may not do this."""

    status = ReceiptStatus.PERMISSION_DENIED


class SandboxViolation(TxAbort):
    """A run-time guard stopped the contract (size, depth, forbidden operation)."""

    status = ReceiptStatus.CONTRACT_ERROR


class BadTransaction(TxAbort):
    """The transaction cannot run at all: unknown contract or method, wrong arguments."""

    status = ReceiptStatus.BAD_TRANSACTION
