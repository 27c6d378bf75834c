"""Transactions: what a client signs and the chain executes.

Replay protection is FISCO BCOS's: ``chain_id`` and ``group_id`` are inside the
signed hash (a transaction for one chain is invalid on another), ``block_limit``
bounds the window in which it may be included, and ``nonce`` must be unique
among the transactions of that window (the txpool and executor enforce both).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from consortium.crypto.suite import ADDRESS_SIZE, DEFAULT_SUITE, CryptoSuite, KeyPair
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
from consortium.ledger.tags import TAG_TRANSACTION

MAX_TX_SIZE = 1024 * 1024
"""Largest encoded transaction (a contract deploy carries its source in ``args``)."""
MAX_ID_LEN = 64
MAX_METHOD_LEN = 64
MAX_ARGS = 64
_FIELDS = 10


class InvalidTransaction(ValueError):
    """A transaction is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Transaction:
    """A signed call: ``to`` empty means deploy (``args[0]`` is the contract source).

    The hash covers every field but the signature; the signature is over the hash.
    """

    chain_id: str
    group_id: str
    nonce: int
    block_limit: int
    sender: bytes
    """The sender's public key (the address is derived from it, never trusted from the client)."""
    to: bytes
    method: str
    args: tuple[Value, ...]
    signature: bytes = field(default=b"", compare=True)

    def __post_init__(self) -> None:
        # Equality must not depend on whether args were built from lists or decoded.
        object.__setattr__(self, "args", tuple(freeze(a) for a in self.args))

    # -- hashing and signing ---------------------------------------------------------------
    def unsigned_value(self) -> list[Value]:
        return [
            TAG_TRANSACTION, self.chain_id, self.group_id, self.nonce, self.block_limit,
            self.sender, self.to, self.method, list(self.args),
        ]

    def signing_bytes(self) -> bytes:
        """The exact bytes whose hash is the transaction hash (see docs/protocol.md)."""
        return self._signing_bytes

    @cached_property
    def _signing_bytes(self) -> bytes:
        # Cached, like the hash and the wire bytes: a transaction is encoded on entry, for
        # gossip, for tx_root, for the block and for storage, and it is immutable.
        return canonical.encode(self.unsigned_value())

    @cached_property
    def hash(self) -> bytes:
        return DEFAULT_SUITE.hash(self._signing_bytes)

    def hash_with(self, suite: CryptoSuite) -> bytes:
        return self.hash if suite is DEFAULT_SUITE else suite.hash(self._signing_bytes)

    @property
    def sender_address(self) -> bytes:
        return DEFAULT_SUITE.address(self.sender)

    @property
    def is_deploy(self) -> bool:
        return self.to == b""

    def signed_by(self, key: KeyPair) -> Transaction:
        """Return a copy with ``sender`` set to ``key``'s public key and signed by it."""
        unsigned = replace(self, sender=key.public_key, signature=b"")
        return replace(unsigned, signature=key.sign(unsigned.hash_with(key.suite)))

    def verify_signature(self, suite: CryptoSuite = DEFAULT_SUITE) -> None:
        """Raise :class:`InvalidTransaction` unless the signature is the sender's over the hash."""
        if not suite.verify(self.sender, self.hash_with(suite), self.signature):
            raise InvalidTransaction(
                f"signature of transaction 0x{self.hash_with(suite).hex()} does not verify "
                "against its sender public key (signed with another key, or altered after signing)"
            )

    # -- encoding ---------------------------------------------------------------------------
    def to_value(self) -> list[Value]:
        return self.unsigned_value() + [self.signature]

    def encode(self) -> bytes:
        data = self._wire
        if len(data) > MAX_TX_SIZE:
            raise InvalidTransaction(f"transaction is {len(data)} bytes; the limit is {MAX_TX_SIZE}")
        return data

    @cached_property
    def _wire(self) -> bytes:
        # The wire form is the signing form's nine items plus the signature: same bytes after
        # the one-byte array header (fixarray 9 -> fixarray 10), then the encoded signature.
        return b"\x9a" + self._signing_bytes[1:] + canonical.encode(self.signature)

    @classmethod
    def from_value(cls, value: Value) -> Transaction:
        v = expect_array(value, TAG_TRANSACTION, _FIELDS, "transaction")
        to = field_bytes(v[6], "transaction.to")
        if to and len(to) != ADDRESS_SIZE:
            raise DecodeError(f"transaction.to: expected empty (deploy) or {ADDRESS_SIZE} bytes, got {len(to)}")
        return cls(
            chain_id=field_str(v[1], "transaction.chain_id", max_len=MAX_ID_LEN),
            group_id=field_str(v[2], "transaction.group_id", max_len=MAX_ID_LEN),
            nonce=field_int(v[3], "transaction.nonce"),
            block_limit=field_int(v[4], "transaction.block_limit"),
            sender=field_bytes(v[5], "transaction.sender", max_size=128),
            to=to,
            method=field_str(v[7], "transaction.method", max_len=MAX_METHOD_LEN),
            args=tuple(freeze(a) for a in field_list(v[8], "transaction.args", max_len=MAX_ARGS)),
            signature=field_bytes(v[9], "transaction.signature", max_size=128),
        )

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        """Decode untrusted bytes; raises :class:`DecodeError` only. Does not check the signature."""
        if len(data) > MAX_TX_SIZE:
            raise DecodeError(f"transaction is {len(data)} bytes; the limit is {MAX_TX_SIZE}")
        tx = cls.from_value(canonical.decode(data, max_size=MAX_TX_SIZE))
        tx.__dict__["_wire"] = bytes(data)  # canonical (decode checked), so it IS the encoding
        return tx
