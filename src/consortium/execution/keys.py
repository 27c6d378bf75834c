"""Where the executor keeps things in the state tree, and how addresses are derived.

Every key the executor writes starts with a two-letter namespace and a slash,
so other layers (governance, chain configuration) can own other prefixes of the
same tree without collision:

====================================  ==========================================================
key                                   value (canonical encoding)
====================================  ==========================================================
``ct/`` + address (20)                contract record ``[1, code_hash, name, creator, block, tx_hash]``
``cd/`` + code_hash (32)              contract source (str); shared by every contract with that code
``cs/`` + address (20) + enc(key)     one storage entry: ``enc(value)``
``cn/`` + name_address(name) (20)     name registry entry ``[name, address]``
====================================  ==========================================================

Addresses are fixed-length, so ``cs/`` + address is prefix-free: no contract's
storage range can overlap another's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consortium.crypto.suite import ADDRESS_SIZE, DEFAULT_SUITE, HASH_SIZE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, field_bytes, field_int, field_str
from consortium.execution.limits import MAX_NAME_LEN

CONTRACT_PREFIX = b"ct/"
CODE_PREFIX = b"cd/"
STORAGE_PREFIX = b"cs/"
NAME_PREFIX = b"cn/"
_RECORD_VERSION = 1

REGISTRY_ADDRESS = bytes(ADDRESS_SIZE - 1) + b"\x01"
"""The built-in name registry (native, not a Python contract): methods resolve, info, code, register."""
GENESIS_DEPLOYER = bytes(ADDRESS_SIZE)
"""The sender address of contracts deployed in the genesis block."""

NAME_RE = re.compile(r"[a-z][a-z0-9_.-]*\Z")
_NAME_DOMAIN = b"consortium/contract-name\x00"


def contract_address(sender_address: bytes, nonce: int, suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    """Address of a contract deployed by ``sender_address`` with transaction nonce ``nonce``:
    the first 20 bytes of H(sender_address || nonce as 8 bytes big-endian)."""
    return suite.hash(sender_address + nonce.to_bytes(8, "big"))[:ADDRESS_SIZE]


def name_address(name: str, suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    """The 20-byte alias of a registered name: first 20 bytes of H("consortium/contract-name" 0x00 name).

    A transaction whose ``to`` is this alias is executed by the contract the name is
    registered to, so a client that knows only the name computes the alias offline and
    sends an ordinary transaction; ledger objects need no name field.
    """
    return suite.hash(_NAME_DOMAIN + name.encode("utf-8"))[:ADDRESS_SIZE]


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be registered, or None if it can."""
    if not isinstance(name, str) or not name:
        return "a contract name must be a non-empty string"
    if len(name) > MAX_NAME_LEN:
        return f"contract name {name[:40]!r} is longer than {MAX_NAME_LEN} characters"
    if not NAME_RE.match(name):
        return f"contract name {name!r} must start with a-z and contain only a-z, 0-9, '_', '.', '-'"
    return None


def contract_key(address: bytes) -> bytes:
    return CONTRACT_PREFIX + address


def code_key(code_hash: bytes) -> bytes:
    return CODE_PREFIX + code_hash


def storage_prefix(address: bytes) -> bytes:
    return STORAGE_PREFIX + address


def name_key(alias: bytes) -> bytes:
    return NAME_PREFIX + alias


@dataclass(frozen=True)
class ContractRecord:
    """What the chain knows about one deployed contract."""

    code_hash: bytes
    name: str
    """Registered name, or "" if none."""
    creator: bytes
    block_number: int
    tx_hash: bytes
    """Deploying transaction (all zeros for genesis contracts)."""

    def encode(self) -> bytes:
        return canonical.encode([_RECORD_VERSION, self.code_hash, self.name, self.creator, self.block_number, self.tx_hash])

    @classmethod
    def decode(cls, data: bytes) -> ContractRecord:
        v = canonical.decode(data)
        if not isinstance(v, list) or len(v) != 6 or v[0] != _RECORD_VERSION or isinstance(v[0], bool):
            raise DecodeError("contract record: expected [1, code_hash, name, creator, block, tx_hash]")
        return cls(
            code_hash=field_bytes(v[1], "contract record.code_hash", size=HASH_SIZE),
            name=field_str(v[2], "contract record.name", max_len=MAX_NAME_LEN),
            creator=field_bytes(v[3], "contract record.creator", size=ADDRESS_SIZE),
            block_number=field_int(v[4], "contract record.block"),
            tx_hash=field_bytes(v[5], "contract record.tx_hash", size=HASH_SIZE),
        )

    def to_value(self, address: bytes) -> dict[str, object]:
        return {
            "address": address, "name": self.name, "code_hash": self.code_hash, "creator": self.creator,
            "block": self.block_number, "tx_hash": self.tx_hash,
        }
