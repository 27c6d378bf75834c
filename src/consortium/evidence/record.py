"""The evidence contract's record of one file, as it sits in the state tree.

``contracts/evidence.py`` stores the record of hash ``h`` under its storage key
``["ev", h]``; the executor keeps a contract's storage entry at state key
``"cs/" + contract address + canonical(key)`` with value ``canonical(record)``
(execution/keys.py). So the record is provable against a block's state root with
one state proof, and this module is the one place that knows its layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortium.crypto.suite import ADDRESS_SIZE, HASH_SIZE
from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, Value, field_bytes, field_int, field_list, field_str
from consortium.execution.genesis import EVIDENCE_ADDRESS
from consortium.execution.keys import storage_prefix

MAX_RECORD_BYTES = 64 * 1024
"""Far above the largest record the contract can write (16 signers, 16 signatures, 1 KiB note)."""
MAX_SIGNERS = 16
_STATUSES = ("PENDING", "COMPLETE")


def record_key(evidence_hash: bytes) -> bytes:
    """State key of the record of ``evidence_hash`` in the genesis evidence contract."""
    return storage_prefix(EVIDENCE_ADDRESS) + canonical.encode(["ev", evidence_hash])


def record_storage_key(evidence_hash: bytes) -> list[Value]:
    """The contract-level storage key (what RPC getStateProof takes as ``key``)."""
    return ["ev", evidence_hash]


@dataclass(frozen=True)
class Cosignature:
    """A listed signer's co-signature: the ``sign`` transaction ``tx`` in block ``block``."""

    signer: bytes
    block: int
    timestamp: int
    tx: bytes


@dataclass(frozen=True)
class EvidenceRecord:
    hash: bytes
    submitter: bytes
    block: int
    timestamp: int
    tx: bytes
    metadata: dict[str, Value]
    signers: tuple[bytes, ...]
    """Who must co-sign, in the order the notarize call listed them."""
    signatures: tuple[Cosignature, ...]
    """Co-signatures so far, in the order they were committed."""
    status: str

    @property
    def pending(self) -> tuple[bytes, ...]:
        signed = {s.signer for s in self.signatures}
        return tuple(s for s in self.signers if s not in signed)

    @classmethod
    def decode(cls, data: bytes) -> EvidenceRecord:
        """Parse a record's state value; raises :class:`DecodeError` (a ValueError) on anything else."""
        value = canonical.decode(data, max_size=MAX_RECORD_BYTES)
        if not isinstance(value, dict):
            raise DecodeError("evidence record: expected a map")
        expected = {"hash", "submitter", "block", "timestamp", "tx", "metadata", "signers", "signatures", "status"}
        if set(value) != expected:
            raise DecodeError(f"evidence record: expected the fields {sorted(expected)}, got {sorted(value)}")
        metadata = value["metadata"]
        if not isinstance(metadata, dict):
            raise DecodeError("evidence record.metadata: expected a map")
        signers = tuple(field_bytes(s, "evidence record.signers[]", size=ADDRESS_SIZE)
                        for s in field_list(value["signers"], "evidence record.signers", max_len=MAX_SIGNERS))
        signatures = []
        for raw in field_list(value["signatures"], "evidence record.signatures", max_len=MAX_SIGNERS):
            if not isinstance(raw, dict) or set(raw) != {"signer", "block", "timestamp", "tx"}:
                raise DecodeError("evidence record.signatures[]: expected {signer, block, timestamp, tx}")
            signatures.append(Cosignature(
                signer=field_bytes(raw["signer"], "evidence record.signatures[].signer", size=ADDRESS_SIZE),
                block=field_int(raw["block"], "evidence record.signatures[].block"),
                timestamp=field_int(raw["timestamp"], "evidence record.signatures[].timestamp"),
                tx=field_bytes(raw["tx"], "evidence record.signatures[].tx", size=HASH_SIZE),
            ))
        status = field_str(value["status"], "evidence record.status", max_len=16)
        if status not in _STATUSES:
            raise DecodeError(f"evidence record.status: unknown status {status!r}")
        return cls(
            hash=field_bytes(value["hash"], "evidence record.hash", size=HASH_SIZE),
            submitter=field_bytes(value["submitter"], "evidence record.submitter", size=ADDRESS_SIZE),
            block=field_int(value["block"], "evidence record.block"),
            timestamp=field_int(value["timestamp"], "evidence record.timestamp"),
            tx=field_bytes(value["tx"], "evidence record.tx", size=HASH_SIZE),
            metadata=dict(metadata),
            signers=signers,
            signatures=tuple(signatures),
            status=status,
        )
