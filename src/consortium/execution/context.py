"""The block context given to the executor, and the read-only views contracts see.

Contract code can only write ``msg.sender``, ``block.number`` and the like (the
validator refuses ``msg`` as a value), so these views never escape into
contract values; they are slotted classes with nothing else on them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockContext:
    """The block being executed, as agreed by consensus (never the local clock)."""

    chain_id: str
    group_id: str
    number: int
    timestamp: int
    """Milliseconds since the Unix epoch, from the block header."""


class MsgView:
    __slots__ = ("sender", "contract")

    def __init__(self, sender: bytes, contract: bytes) -> None:
        self.sender = sender
        self.contract = contract

    def __repr__(self) -> str:
        return "<msg>"


class BlockView:
    __slots__ = ("number", "timestamp", "chain_id", "group_id")

    def __init__(self, ctx: BlockContext) -> None:
        self.number = ctx.number
        self.timestamp = ctx.timestamp
        self.chain_id = ctx.chain_id
        self.group_id = ctx.group_id

    def __repr__(self) -> str:
        return "<block>"


class TxView:
    __slots__ = ("hash", "nonce")

    def __init__(self, tx_hash: bytes, nonce: int) -> None:
        self.hash = tx_hash
        self.nonce = nonce

    def __repr__(self) -> str:
        return "<tx>"
