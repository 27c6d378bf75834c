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
    INT_MAX,
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


_ADDRESS_CACHE = 65_536
_ADDRESSES: dict[tuple[str, bytes], bytes] = {}
"""(suite name, public key) -> address: a cache of a pure function, so never consensus-relevant."""


class InvalidTransaction(ValueError):

    """A transaction is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Transaction:
    """A signed call: ``to`` empty means deploy (``args[0]`` is the contract source).

    The hash covers every field but the signature; the signature is over the hash. Both are
    under ``suite``, the chain's crypto suite: the one the signing key belongs to
    (:meth:`signed_by`) or the one the chain decodes with (:meth:`decode`).

    A decoded transaction keeps the exact bytes it arrived as: its wire form, and its signing
    bytes as a slice of them, so it is never encoded again, and its hash is one hash call.
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
    suite: CryptoSuite = field(default=DEFAULT_SUITE, compare=False, repr=False)
    """The suite that hashes and verifies it (not part of the encoding: a chain parameter)."""

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
        """The transaction hash under :attr:`suite`."""
        return self.suite.hash(self._signing_bytes)

    def hash_with(self, suite: CryptoSuite) -> bytes:
        return self.hash if suite.name == self.suite.name else suite.hash(self._signing_bytes)

    @cached_property
    def sender_address(self) -> bytes:
        # A handful of senders send most transactions: their addresses (a hash each) are cached.
        key = (self.suite.name, self.sender)
        address = _ADDRESSES.get(key)
        if address is None:
            if len(_ADDRESSES) >= _ADDRESS_CACHE:
                _ADDRESSES.clear()
            address = _ADDRESSES[key] = self.suite.address(self.sender)
        return address

    @property
    def is_deploy(self) -> bool:
        return self.to == b""

    def signed_by(self, key: KeyPair) -> Transaction:
        """Return a copy with ``sender`` set to ``key``'s public key, signed by it under its suite."""
        unsigned = replace(self, sender=key.public_key, signature=b"", suite=key.suite)
        signed = replace(unsigned, signature=key.sign(unsigned.hash))
        signed.__dict__["_signing_bytes"] = unsigned._signing_bytes  # the signature is not in it
        signed.__dict__["hash"] = unsigned.hash
        return signed

    def verify_signature(self, suite: CryptoSuite | None = None) -> None:
        """Raise :class:`InvalidTransaction` unless the signature is the sender's over the hash."""
        suite = self.suite if suite is None else suite
        tx_hash = self.hash_with(suite)
        if not suite.verify(self.sender, tx_hash, self.signature):
            raise InvalidTransaction(
                f"signature of transaction 0x{tx_hash.hex()} does not verify "
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
    def from_value(cls, value: Value, suite: CryptoSuite = DEFAULT_SUITE) -> Transaction:
        """A transaction from a decoded value (its bytes are encoded again when needed); prefer :meth:`decode`."""
        v = expect_array(value, TAG_TRANSACTION, _FIELDS, "transaction")
        return cls._checked(v, suite)

    @classmethod
    def _checked(cls, v: list[Value], suite: CryptoSuite) -> Transaction:
        to = v[6]
        if type(to) is not bytes or (to and len(to) != ADDRESS_SIZE):
            to = field_bytes(v[6], "transaction.to")
            if to and len(to) != ADDRESS_SIZE:
                raise DecodeError(f"transaction.to: expected empty (deploy) or {ADDRESS_SIZE} bytes, got {len(to)}")
        # Each field as field_str/field_int/field_bytes would return it; the checks of the common case
        # (exact types, within limits) are written in line, anything else goes to the field_* helper,
        # which accepts it or raises its error.
        chain_id, group_id, nonce, block_limit, sender, method, args, signature = (
            v[1], v[2], v[3], v[4], v[5], v[7], v[8], v[9])
        if not (type(chain_id) is str and len(chain_id) <= MAX_ID_LEN):
            chain_id = field_str(chain_id, "transaction.chain_id", max_len=MAX_ID_LEN)
        if not (type(group_id) is str and len(group_id) <= MAX_ID_LEN):
            group_id = field_str(group_id, "transaction.group_id", max_len=MAX_ID_LEN)
        if not (type(nonce) is int and 0 <= nonce <= INT_MAX):
            nonce = field_int(nonce, "transaction.nonce")
        if not (type(block_limit) is int and 0 <= block_limit <= INT_MAX):
            block_limit = field_int(block_limit, "transaction.block_limit")
        if not (type(sender) is bytes and len(sender) <= 128):
            sender = field_bytes(sender, "transaction.sender", max_size=128)
        if not (type(method) is str and len(method) <= MAX_METHOD_LEN):
            method = field_str(method, "transaction.method", max_len=MAX_METHOD_LEN)
        if not (type(args) is list and len(args) <= MAX_ARGS):
            args = field_list(args, "transaction.args", max_len=MAX_ARGS)
        if not (type(signature) is bytes and len(signature) <= 128):
            signature = field_bytes(signature, "transaction.signature", max_size=128)
        tx = object.__new__(cls)
        # Field by field as __init__ would (frozen dataclass), without its per-field setattr calls.
        tx.__dict__.update(
            chain_id=chain_id, group_id=group_id, nonce=nonce, block_limit=block_limit, sender=sender, to=to,
            method=method, args=tuple([freeze(a) for a in args]), signature=signature, suite=suite,
        )
        return tx

    @classmethod
    def decode(cls, data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> Transaction:
        """Decode untrusted bytes (one strict pass); raises :class:`DecodeError` only. Does not check
        the signature: that is admission's job (``consortium.chain.edge``)."""
        if len(data) > MAX_TX_SIZE:
            raise DecodeError(f"transaction is {len(data)} bytes; the limit is {MAX_TX_SIZE}")
        data = bytes(data)
        return cls.from_wire(canonical.decode(data, max_size=MAX_TX_SIZE), data, suite)

    @classmethod
    def from_wire(cls, value: Value, data: bytes, suite: CryptoSuite = DEFAULT_SUITE) -> Transaction:
        """The transaction whose canonical bytes are ``data``, already decoded (and checked canonical)
        into ``value``; it keeps ``data`` as its wire form and signs/hashes a slice of it."""
        if len(data) > MAX_TX_SIZE:
            raise DecodeError(f"transaction is {len(data)} bytes; the limit is {MAX_TX_SIZE}")
        v = expect_array(value, TAG_TRANSACTION, _FIELDS, "transaction")
        tx = cls._checked(v, suite)
        # Canonical, so ``data`` IS the encoding: fixarray 10, nine fields, then the signature as
        # bin8 (at most 128 bytes). The signing bytes are fixarray 9 and the same nine fields.
        tx.__dict__["_wire"] = data
        tx.__dict__["_signing_bytes"] = b"\x99" + data[1:len(data) - 2 - len(tx.signature)]
        return tx
