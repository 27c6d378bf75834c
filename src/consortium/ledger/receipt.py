"""Receipts: the outcome of executing one transaction, committed by the block's receipt root."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

from consortium.encoding import canonical
from consortium.encoding.canonical import (
    DecodeError,
    Value,
    expect_array,
    field_bytes,
    field_int,
    field_list,
    field_str,
    freeze,
)
from consortium.ledger.tags import TAG_RECEIPT

MAX_EVENTS = 256
MAX_ERROR_LEN = 1024
_FIELDS = 8


class ReceiptStatus(IntEnum):
    """Receipt status codes (stable numbers: they are hashed into the receipt root)."""

    OK = 0
    REVERTED = 1
    """The contract called require(False, ...) or raised; its state changes were rolled back."""
    OUT_OF_GAS = 2
    BAD_TRANSACTION = 3
    """Refused at execution: bad nonce/block limit, unknown contract or method, bad arguments."""
    PERMISSION_DENIED = 4
    CONTRACT_ERROR = 5
    """The sandbox stopped the contract (resource limit, forbidden operation at run time)."""


@dataclass(frozen=True)
class Event:
    """A contract event: ``emit(name, **fields)`` inside contract ``address``."""

    address: bytes
    name: str
    fields: tuple[tuple[str, Value], ...]
    """Sorted by key, so the event has one encoding."""

    @classmethod
    def make(cls, address: bytes, name: str, fields: dict[str, Value]) -> Event:
        ordered = tuple((k, freeze(v)) for k, v in sorted(fields.items(), key=lambda kv: kv[0].encode("utf-8")))
        return cls(address, name, ordered)

    def to_value(self) -> list[Value]:
        return [self.address, self.name, dict(self.fields)]

    @classmethod
    def from_value(cls, value: Value) -> Event:
        if not isinstance(value, list) or len(value) != 3:
            raise DecodeError("event: expected [address, name, fields]")
        fields = value[2]
        if not isinstance(fields, dict):
            raise DecodeError("event.fields: expected a map")
        return cls.make(
            field_bytes(value[0], "event.address", max_size=64),
            field_str(value[1], "event.name", max_len=64),
            {k: freeze(v) for k, v in fields.items()},
        )


@dataclass(frozen=True)
class Receipt:
    tx_hash: bytes
    status: int
    output: Value
    gas_used: int
    events: tuple[Event, ...] = ()
    error: str = ""
    """Why the transaction failed, for a person; empty when status is OK."""
    contract_address: bytes = b""
    """Address of the contract a deploy created; empty otherwise."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", freeze(self.output))
        object.__setattr__(self, "events", tuple(self.events))

    @property
    def ok(self) -> bool:
        return self.status == ReceiptStatus.OK

    def to_value(self) -> list[Value]:
        return [
            TAG_RECEIPT, self.tx_hash, self.status, self.output, self.gas_used,
            [e.to_value() for e in self.events], self.error, self.contract_address,
        ]

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # Cached: a receipt is encoded for the receipt root and again for storage.
        return canonical.encode(self.to_value())

    @classmethod
    def from_value(cls, value: Value) -> Receipt:
        v = expect_array(value, TAG_RECEIPT, _FIELDS, "receipt")
        return cls(
            tx_hash=field_bytes(v[1], "receipt.tx_hash", size=32),
            status=field_int(v[2], "receipt.status", hi=255),
            output=freeze(v[3]),
            gas_used=field_int(v[4], "receipt.gas_used"),
            events=tuple(Event.from_value(e) for e in field_list(v[5], "receipt.events", max_len=MAX_EVENTS)),
            error=field_str(v[6], "receipt.error", max_len=MAX_ERROR_LEN),
            contract_address=field_bytes(v[7], "receipt.contract_address", max_size=32),
        )

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        return cls.from_value(canonical.decode(data))
