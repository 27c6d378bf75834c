"""Receipts: the outcome of executing one transaction, committed by the block's receipt root."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from consortium.encoding import canonical
from consortium.encoding.canonical import (
    INT_MAX,
    INT_MIN,
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
_PLAIN = frozenset((bytes, str, type(None), bool))
"""Exact types that freeze to themselves and encode as they are."""


def _ascii_str_keys(fields: dict[str, Value]) -> bool:
    try:
        return "".join(fields).isascii()
    except TypeError:
        return False


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
        keys = sorted(fields) if _ascii_str_keys(fields) else None
        if keys is None:  # non-ASCII (or non-str) keys: sort by UTF-8 bytes, raising as it always did
            ordered = tuple((k, freeze(v)) for k, v in sorted(fields.items(), key=lambda kv: kv[0].encode("utf-8")))
        else:  # ASCII keys: code point order is UTF-8 byte order
            ordered = tuple((k, v if type(v) in _PLAIN else freeze(v)) for k in keys for v in (fields[k],))
        return cls(address, name, ordered)

    @classmethod
    def presorted(cls, address: bytes, name: str, fields: tuple[tuple[str, Value], ...]) -> Event:
        """The event :meth:`make` would build, for fields already in key order and frozen (the native
        contract's fixed events); saves the sort and the dataclass's per-field set-up."""
        event = object.__new__(cls)
        d = event.__dict__
        d["address"] = address
        d["name"] = name
        d["fields"] = fields
        return event

    def to_value(self) -> list[Value]:
        return [self.address, self.name, dict(self.fields)]

    def encode(self) -> bytes:
        """``canonical.encode(self.to_value())``, computed once (a receipt's encoding embeds it)."""
        raw: bytes | None = self.__dict__.get("_encoded")
        if raw is None:
            raw = self.__dict__["_encoded"] = _event_bytes(self)
        return raw

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

    @classmethod
    def fields_of(cls, tx_hash: bytes, status: int, output: Value, gas_used: int, events: tuple[Event, ...],
                  error: str, contract_address: bytes) -> Receipt:
        """``Receipt(...)`` with every field given, as the executor makes one per transaction: the same
        object, without the frozen dataclass's per-field set-up."""
        receipt = object.__new__(cls)
        receipt.__dict__.update(
            tx_hash=tx_hash, status=status, output=output if type(output) in _PLAIN else freeze(output),
            gas_used=gas_used, events=tuple(events), error=error, contract_address=contract_address)
        return receipt

    @property
    def ok(self) -> bool:
        return self.status == ReceiptStatus.OK

    def to_value(self) -> list[Value]:
        return [
            TAG_RECEIPT, self.tx_hash, self.status, self.output, self.gas_used,
            [e.to_value() for e in self.events], self.error, self.contract_address,
        ]

    def encode(self) -> bytes:
        """``canonical.encode(self.to_value())``, computed once: a receipt is encoded for the receipt
        root and again for storage."""
        raw: bytes | None = self.__dict__.get("_encoded")
        if raw is None:
            raw = self.__dict__["_encoded"] = _receipt_bytes(self)
        return raw

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


# --- encoding fast paths ----------------------------------------------------------------------
#
# Every transaction makes a receipt and most make events, each encoded for the receipt root: the
# general encoder walks them item by item. These build the same bytes from parts when every part
# is plainly canonical (exact scalar types, integers in range, event fields in increasing key
# order); anything else, and any error, takes canonical.encode of the whole value, so the bytes
# and the errors are always the general encoder's (tests/test_encoding_fast.py compares them).


def _plain(value: object) -> bool:
    """Whether ``value`` packs as it is to its canonical encoding (a scalar of an exact type, in range)."""
    t = type(value)
    return t in _PLAIN or (t is int and INT_MIN <= value <= INT_MAX)  # type: ignore[operator]


def _event_bytes(event: Event) -> bytes:
    address, name, fields = event.address, event.name, event.fields
    if type(address) is bytes and type(name) is str:
        previous: str | None = None
        for item in fields:
            k, v = item
            tv = type(v)
            if not (type(k) is str and (previous is None or k > previous)
                    and (tv in _PLAIN or (tv is int and INT_MIN <= v <= INT_MAX))):  # type: ignore[operator]
                break
            previous = k
        else:
            try:
                return canonical.pack([address, name, dict(fields)])
            except (ValueError, TypeError, OverflowError):  # e.g. a lone surrogate: the encoder says so
                pass
    return canonical.encode(event.to_value())


_RECEIPT_HEAD = canonical.array_header(_FIELDS)


def _receipt_bytes(receipt: Receipt) -> bytes:
    status = receipt.status
    output = receipt.output
    gas = receipt.gas_used
    to = type(output)
    if (type(receipt.tx_hash) is bytes and type(status) in _STATUS_TYPES and 0 <= status <= INT_MAX
            and (to in _PLAIN or (to is int and INT_MIN <= output <= INT_MAX))  # type: ignore[operator]
            and type(gas) is int and 0 <= gas <= INT_MAX and type(receipt.error) is str
            and type(receipt.contract_address) is bytes):
        # The five fields before the events and the two after them, each packed as a short array
        # whose one-byte header is dropped, around the events' own encodings.
        parts = [_RECEIPT_HEAD, b"", canonical.array_header(len(receipt.events))]
        for event in receipt.events:
            if type(event) is not Event:
                break
            parts.append(event.encode())
        else:
            try:
                parts[1] = canonical.pack([TAG_RECEIPT, receipt.tx_hash, int(status), output, gas])[1:]
                parts.append(canonical.pack([receipt.error, receipt.contract_address])[1:])
                return b"".join(parts)
            except (ValueError, TypeError, OverflowError):  # e.g. a lone surrogate: the encoder says so
                pass
    return canonical.encode(receipt.to_value())


_STATUS_TYPES = frozenset((int, ReceiptStatus))
