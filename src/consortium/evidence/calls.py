"""What the parties signed: the evidence contract's calls, read from signed transactions.

The offline verifier believes signatures, not state. A quorum of sealers can
certify any state root, so every fact a proof reports — who submitted, the
metadata, who must co-sign, who did, the status, a case's parties, its ruling —
is derived here from a transaction some party signed, after checking that the
call is one ``contracts/evidence.py`` would have accepted (the same argument
rules, mirrored). The certified state is then only a cross-check: the record it
holds must be, byte for byte, the record these calls produce
(:func:`expected_record`). Any difference means the quorum (or the proof) lies.

Each parser raises :class:`NotVerified` with a reason a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortium.crypto.suite import ADDRESS_SIZE, HASH_SIZE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.errors import ANOTHER_CHAIN, INVALID_CALL, NOT_A_NOTARIZATION, NotVerified
from consortium.execution.genesis import EVIDENCE_ADDRESS, EVIDENCE_NAME
from consortium.execution.keys import name_address
from consortium.ledger.transaction import Transaction

# The contract's limits (contracts/evidence.py); a call outside them would have been refused.
MAX_SIGNERS = 16
MAX_PARTIES = 16
MAX_CASE_ID = 64
MAX_SUMMARY = 2048
METADATA_TEXT_LIMITS = {"case_id": 64, "file_name": 255, "media_type": 127, "note": 1024}
METADATA_FIELDS = (*METADATA_TEXT_LIMITS, "size")
PENDING, COMPLETE = "PENDING", "COMPLETE"


def evidence_targets(suite: CryptoSuite) -> tuple[bytes, bytes]:
    """The genesis evidence contract's address and its name alias: the only valid ``to`` of its calls."""
    return EVIDENCE_ADDRESS, name_address(EVIDENCE_NAME, suite)


@dataclass(frozen=True)
class SignedCall:
    """A transaction to the evidence contract, with what follows from its signed fields."""

    tx: Transaction
    tx_hash: bytes
    sender: bytes
    """The sender's address, derived from the signed public key."""


def signed_call(tx: Transaction, *, what: str, method: str, arity: int, chain: tuple[str, str],
                suite: CryptoSuite) -> SignedCall:
    """Check that ``tx`` is a call of ``method`` with ``arity`` arguments to the evidence contract, signed
    for this chain and group. Its signature is checked later (signatures last), by the caller."""
    if (tx.chain_id, tx.group_id) != chain:
        raise NotVerified(ANOTHER_CHAIN, f"the {what} transaction was signed for chain {tx.chain_id!r}/"
                                         f"{tx.group_id!r}, not {chain[0]!r}/{chain[1]!r}: it proves nothing here")
    if tx.to not in evidence_targets(suite):
        to = to_hex(tx.to) if tx.to else "nobody (a deploy)"
        raise NotVerified(NOT_A_NOTARIZATION if method.startswith("notarize") else INVALID_CALL,
                          f"the {what} transaction is addressed to {to}, not to the evidence contract "
                          f"{to_hex(EVIDENCE_ADDRESS)}")
    if tx.method != method or len(tx.args) != arity:
        raise NotVerified(NOT_A_NOTARIZATION if method.startswith("notarize") else INVALID_CALL,
                          f"the {what} transaction calls {tx.method!r} with {len(tx.args)} argument(s), "
                          f"not {method} with {arity}")
    return SignedCall(tx, tx.hash_with(suite), suite.address(tx.sender))


# --- notarize / sign ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notarize:
    call: SignedCall
    key: bytes
    metadata: dict[str, Value]
    signers: tuple[bytes, ...]


def parse_notarize(tx: Transaction, key: bytes, *, chain: tuple[str, str], suite: CryptoSuite) -> Notarize:
    """``notarize(key, metadata, signers)`` as the submitter signed it, held to the contract's rules."""
    call = signed_call(tx, what="notarization", method="notarize", arity=3, chain=chain, suite=suite)
    arg_key, metadata, signers = tx.args
    if arg_key != key:
        raise NotVerified(NOT_A_NOTARIZATION, f"the notarization transaction is for "
                                              f"{to_hex(arg_key) if isinstance(arg_key, bytes) else 'no hash'}, not "
                                              f"for this evidence ({to_hex(key)})")
    return Notarize(call, key, _metadata(metadata), addresses(signers, "signer", MAX_SIGNERS, "notarize"))


MAX_BATCH_ITEMS = 1 << 24
"""contracts/evidence.py MAX_BATCH_ITEMS."""


def parse_notarize_batch(tx: Transaction, root: bytes, size: int, *, chain: tuple[str, str],
                         suite: CryptoSuite) -> Notarize:
    """``notarize_batch(root, size)`` as the gateway signed it (docs/protocol.md §12): a record shaped like a
    notarization with metadata ``{"batch_size": size}`` and no co-signers."""
    call = signed_call(tx, what="batch notarization", method="notarize_batch", arity=2, chain=chain, suite=suite)
    arg_root, count = tx.args
    if arg_root != root:
        shown = to_hex(arg_root) if isinstance(arg_root, bytes) else repr(arg_root)[:80]
        raise NotVerified(NOT_A_NOTARIZATION, f"the item's path leads to batch root {to_hex(root)}, but the "
                                              f"transaction notarizes {shown}: that batch root is not on chain "
                                              "in this proof")
    if isinstance(count, bool) or count != size:  # True == 1 in Python; a boolean is no count
        raise NotVerified(NOT_A_NOTARIZATION, f"the item's path is for a batch of {size} items, but the transaction "
                                              f"notarizes a batch of {count!r}")
    if isinstance(size, bool) or not 0 < size <= MAX_BATCH_ITEMS:
        raise NotVerified(INVALID_CALL, f"a batch holds 1 to {MAX_BATCH_ITEMS} items; the contract would have "
                                        f"refused {size}")
    return Notarize(call, root, {"batch_size": size}, ())


def _metadata(value: Value) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise NotVerified(INVALID_CALL, "the notarize call's metadata is not a map: the contract would have "
                                        "refused it, yet the proof says it succeeded")
    for field, item in value.items():
        if field == "size":
            ok = isinstance(item, int) and not isinstance(item, bool) and item >= 0
        elif field in METADATA_TEXT_LIMITS:
            ok = isinstance(item, str) and len(item) <= METADATA_TEXT_LIMITS[field]
        else:
            ok = False
        if not ok:
            raise NotVerified(INVALID_CALL, f"the notarize call's metadata field {field[:40]!r} breaks the contract's "
                                            "rules: the contract would have refused it, yet the proof says it "
                                            "succeeded")
    return dict(value)


def addresses(value: Value, what: str, limit: int, method: str, *, minimum: int = 0) -> tuple[bytes, ...]:
    """A list of ``minimum``..``limit`` distinct 20-byte addresses, as the contract requires."""
    if not isinstance(value, (list, tuple)) or not minimum <= len(value) <= limit:
        raise NotVerified(INVALID_CALL, f"the {method} call's {what}s are not a list of {minimum} to {limit} "
                                        "addresses: the contract would have refused it")
    seen: list[bytes] = []
    for a in value:
        if not isinstance(a, bytes) or len(a) != ADDRESS_SIZE or a in seen:
            raise NotVerified(INVALID_CALL, f"the {method} call lists a malformed or duplicate {what}: "
                                            "the contract would have refused it")
        seen.append(a)
    return tuple(seen)


@dataclass(frozen=True)
class Cosign:
    call: SignedCall
    block: int
    timestamp: int


def parse_sign(tx: Transaction, key: bytes, i: int, *, chain: tuple[str, str], suite: CryptoSuite) -> SignedCall:
    call = signed_call(tx, what=f"co-signature {i}", method="sign", arity=1, chain=chain, suite=suite)
    if tx.args[0] != key:
        raise NotVerified(INVALID_CALL, f"co-signature {i} signs other evidence, not {to_hex(key)}")
    return call


def check_hash_arg(value: Value, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise NotVerified(INVALID_CALL, f"the {what} is not a 32-byte hash: the contract would have refused it")
    return value


def expected_record(n: Notarize, block: int, timestamp: int, cosigns: tuple[Cosign, ...]) -> dict[str, Value]:
    """The record ``contracts/evidence.py`` writes for these calls (notarize, then each sign in order)."""
    signers: list[Value] = list(n.signers)
    return {
        "hash": n.key,
        "submitter": n.call.sender,
        "block": block,
        "timestamp": timestamp,
        "tx": n.call.tx_hash,
        "metadata": n.metadata,
        "signers": signers,
        "signatures": [{"signer": c.call.sender, "block": c.block, "timestamp": c.timestamp, "tx": c.call.tx_hash}
                       for c in cosigns],
        "status": COMPLETE if len(cosigns) == len(signers) else PENDING,
    }


def record_differences(expected: dict[str, Value], actual_bytes: bytes) -> list[str]:
    """Fields in which the certified record differs from the expected one (empty: byte-identical)."""
    if canonical.encode(expected) == actual_bytes:
        return []
    try:
        actual = canonical.decode(actual_bytes)
    except ValueError:
        return ["the whole record (not a canonical value)"]
    if not isinstance(actual, dict):
        return ["the whole record (not a map)"]
    names = sorted(set(expected) | set(actual))
    return [n for n in names if canonical.encode(expected.get(n)) != canonical.encode(actual.get(n))] or ["encoding"]
