"""The block context given to the executor, and the read-only views contracts see.

Contract code can only write ``msg.sender``, ``block.number`` and the like (the
validator refuses ``msg`` as a value), so these views never escape into
contract values; they are slotted classes with nothing else on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockContext:
    """The block being executed, as agreed by consensus (never the local clock)."""

    chain_id: str
    group_id: str
    number: int
    timestamp: int
    """Milliseconds since the Unix epoch, from the block header."""
    recent_proposers: Callable[[int], tuple[bytes, ...] | None] | None = field(default=None, compare=False)
    """``recent(count)``: the proposers of the ``count`` committed blocks before this one (None if fewer
    exist). Headers are hashed, so every node gets the same answer; governance uses it to refuse a
    membership change that would leave quorum unreachable by the sealers that are live."""


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
