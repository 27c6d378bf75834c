"""The genesis ``evidence`` contract as native code, as FISCO BCOS runs its precompiled contracts.

contracts/evidence.py is the specification: this module is a line-by-line port of
exactly that source (its SHA-256 is :data:`SOURCE_SHA256`), and the executor runs
it only for a contract whose code hash is that one. Any other code — a user
contract, or an edited evidence contract — runs in the sandbox, so a change to
contracts/evidence.py that is not ported here costs speed, never correctness
(and ``tests/execution/test_native_evidence.py`` fails until it is ported).

Identical behaviour means: the same state keys and values (one canonical
encoding), the same events, the same return values, the same receipt statuses and
error texts (``require`` / ``authorize`` / ``revert`` raise the sandbox's exceptions
with the same messages). Keys and values here are built from checked arguments, so
they are far inside the sandbox's size limits; the two reads whose key holds an
unchecked argument (``get``, ``get_case``) go through the sandbox's own helper, so
an oversize or over-deep key fails with the sandbox's error text and source line.

What differs is gas, a fixed schedule (docs/contracts.md, "Gas"): per call
:data:`G_EVIDENCE_CALL`; per storage read ``G_STORAGE_READ`` + ``G_STORAGE_READ_BYTE``
per key and value byte; per write ``G_STORAGE_WRITE`` + ``G_STORAGE_WRITE_BYTE`` per
key and value byte; per event :data:`G_EVIDENCE_EVENT`; plus the transaction's base
charge and the argument charge every call pays. No charge per statement: there is no
interpreter to meter. Gas is in receipts, so every node of a chain runs the same
mode; the offline verifier does not depend on gas.
"""

from __future__ import annotations

from typing import Any

from consortium.encoding import canonical
from consortium.encoding.canonical import INT_MAX, INT_MIN
from consortium.execution.checked import type_name
from consortium.execution.errors import PermissionDenied, Revert, SandboxViolation
from consortium.execution.limits import (
    G_STORAGE_READ,
    G_STORAGE_READ_BYTE,
    G_STORAGE_WRITE,
    G_STORAGE_WRITE_BYTE,
    MAX_ERROR_LEN,
)
from consortium.ledger.receipt import Event

SOURCE_SHA256 = bytes.fromhex("eedf18dbb017609a719893ca844013f73ee457a929415ec396904e2256ee12a1")
"""SHA-256 of the contracts/evidence.py this module ports (its code hash on chain)."""

G_EVIDENCE_CALL = 200
"""Gas of one native evidence call (its storage reads and writes and events are charged on top)."""
G_EVIDENCE_EVENT = 100
"""Gas of one event of the native evidence contract."""

LINE_GET = 129
LINE_GET_CASE = 197
"""Lines of contracts/evidence.py whose ``storage.get`` takes an unchecked argument: the sandbox names
the line when it refuses the key, so the native port does too."""

MAX_ARBITRATORS = 256
MAX_SIGNERS = 16
MAX_PARTIES = 16
MAX_CASE_ID = 64
MAX_FILE_NAME = 255
MAX_MEDIA_TYPE = 127
MAX_NOTE = 1024
MAX_SUMMARY = 2048
MAX_PAGE = 100
MAX_BATCH_ITEMS = 16777216
PENDING = "PENDING"
COMPLETE = "COMPLETE"
OPEN = "OPEN"
CLOSED = "CLOSED"


def require(cond: Any, msg: str) -> None:
    if not cond:
        raise Revert(msg[:MAX_ERROR_LEN])


def authorize(cond: Any, msg: str) -> None:
    if not cond:
        raise PermissionDenied(msg[:MAX_ERROR_LEN])


def revert(msg: str) -> None:
    raise Revert(msg[:MAX_ERROR_LEN])


def typeof(value: Any) -> str:
    return type_name(value)


class NativeEvidence:
    """One invocation: the transaction's state overlay under the contract's storage prefix, its gas
    meter and event list, and msg/block/tx."""

    def __init__(self, state: Any, prefix: bytes, address: bytes, charge: Any, events: list[Event],
                 sandbox_get: Any, sender: bytes, number: int, timestamp: int, tx_hash: bytes) -> None:
        self._state = state
        self._prefix = prefix
        self._address = address
        self._charge = charge
        self._events = events
        self._sandbox_get = sandbox_get
        self.sender = sender
        self.number = number
        self.timestamp = timestamp
        self.tx_hash = tx_hash

    # -- storage and events, as the sandbox lays them out ------------------------------------------
    def _read(self, key: Any) -> bytes | None:
        k = self._prefix + canonical.encode(key)
        raw = self._state.get(k)
        self._charge(G_STORAGE_READ + G_STORAGE_READ_BYTE * (len(k) + (len(raw) if raw is not None else 0)))
        return raw

    def _get(self, key: Any) -> Any:
        raw = self._read(key)
        return None if raw is None else canonical.decode(raw)

    def _load(self, key: Any) -> Any:
        raw = self._read(key)
        if raw is None:
            raise KeyError(key)
        return canonical.decode(raw)

    def _has(self, key: Any) -> bool:
        return self._read(key) is not None

    def _store(self, key: Any, value: Any) -> None:
        self._store_at(self._prefix + canonical.encode(key), canonical.encode(value))

    def _read_at(self, k: bytes) -> bytes | None:
        """:meth:`_read` of a key already encoded (with the prefix)."""
        raw = self._state.get(k)
        self._charge(G_STORAGE_READ + G_STORAGE_READ_BYTE * (len(k) + (len(raw) if raw is not None else 0)))
        return raw

    def _store_at(self, k: bytes, raw: bytes) -> None:
        """:meth:`_store` of a key and value already encoded."""
        self._charge(G_STORAGE_WRITE + G_STORAGE_WRITE_BYTE * (len(k) + len(raw)))
        self._state.put(k, raw)

    def _emit(self, name: str, **fields: Any) -> None:
        self._charge(G_EVIDENCE_EVENT)
        self._events.append(Event.make(self._address, name, fields))

    # -- the arbitrator registry (written by committee governance only) ----------------------------
    def arbitrators(self) -> Any:
        return self._load("arbitrators")

    def is_arbitrator(self, address: Any) -> Any:
        return address in self._load("arbitrators")

    # -- evidence --------------------------------------------------------------------------------
    def notarize(self, evidence_hash: Any, metadata: Any, signers: Any) -> Any:
        self._check_hash(evidence_hash, "evidence hash")
        k = self._prefix + _ev_key(evidence_hash)  # the key ["ev", evidence_hash]
        raw = self._read_at(k)
        existing: Any = None if raw is None else canonical.decode(raw)
        if existing is not None:
            revert(f"already notarized at block {existing['block']}")
        meta = self._check_metadata(metadata)
        if not ((type(signers) is list or typeof(signers) == "list") and len(signers) <= MAX_SIGNERS):
            revert(f"signers must be a list of at most {MAX_SIGNERS} addresses")
        signers = self._unique_addresses(signers, "signer")
        status = PENDING if signers else COMPLETE
        # The record {"hash", "submitter", "block", "timestamp", "tx", "metadata", "signers",
        # "signatures", "status"}, written with its keys in canonical order (encode sorts them anyway).
        record = {
            "block": self.number,
            "hash": evidence_hash,
            "metadata": meta,
            "signatures": [],
            "signers": signers,
            "status": status,
            "submitter": self.sender,
            "timestamp": self.timestamp,
            "tx": self.tx_hash,
        }
        self._store_at(k, _evidence_record_bytes(record) or canonical.encode(record))
        self._events.append(self._notarized(evidence_hash, meta.get("case_id", ""), len(signers)))
        if status == COMPLETE:
            self._charge(G_EVIDENCE_EVENT)
            self._events.append(Event.presorted(self._address, "Completed", (("hash", evidence_hash),)))
        return status

    def _notarized(self, evidence_hash: Any, case_id: Any, signers: int) -> Event:
        """``_emit("Notarized", hash=, submitter=, case_id=, signers=)`` with its fields in key order."""
        self._charge(G_EVIDENCE_EVENT)
        if type(case_id) is str:
            return Event.presorted(self._address, "Notarized", (
                ("case_id", case_id), ("hash", evidence_hash), ("signers", signers), ("submitter", self.sender)))
        return Event.make(self._address, "Notarized",
                          {"hash": evidence_hash, "submitter": self.sender, "case_id": case_id, "signers": signers})

    def notarize_batch(self, root: Any, count: Any) -> Any:
        self._check_hash(root, "batch root")
        require(typeof(count) == "int" and 0 < count <= MAX_BATCH_ITEMS,
                f"count must be an int from 1 to {MAX_BATCH_ITEMS}")
        key = ["ev", root]
        existing = self._get(key)
        if existing is not None:
            revert(f"already notarized at block {existing['block']}")
        self._store(key, {
            "hash": root,
            "submitter": self.sender,
            "block": self.number,
            "timestamp": self.timestamp,
            "tx": self.tx_hash,
            "metadata": {"batch_size": count},
            "signers": [],
            "signatures": [],
            "status": COMPLETE,
        })
        self._emit("BatchNotarized", root=root, submitter=self.sender, count=count)
        return COMPLETE

    def sign(self, evidence_hash: Any) -> Any:
        self._check_hash(evidence_hash, "evidence hash")
        key = ["ev", evidence_hash]
        record = self._get(key)
        require(record is not None, f"evidence 0x{evidence_hash.hex()} is not notarized")
        authorize(self.sender in record["signers"], f"0x{self.sender.hex()} is not a listed signer of this evidence")
        require(self.number > record["block"],
                f"co-sign in a block after the notarization (block {record['block']}); retry shortly")
        for s in record["signatures"]:
            require(s["signer"] != self.sender, f"already signed at block {s['block']}")
        record["signatures"].append({"signer": self.sender, "block": self.number, "timestamp": self.timestamp,
                                     "tx": self.tx_hash})
        self._emit("Signed", hash=evidence_hash, signer=self.sender)
        if len(record["signatures"]) == len(record["signers"]):
            record["status"] = COMPLETE
            self._emit("Completed", hash=evidence_hash)
        self._store(key, record)
        return record["status"]

    def get(self, evidence_hash: Any) -> Any:
        return self._get_at(["ev", evidence_hash], LINE_GET)

    # -- arbitration cases ---------------------------------------------------------------------
    def open_case(self, case_id: Any, parties: Any, arbitrator: Any) -> Any:
        self._check_case_id(case_id)
        require(not self._has(["case", case_id]), f"case {case_id!r} already exists")
        require(typeof(parties) == "list" and 2 <= len(parties) <= MAX_PARTIES,
                f"a case has 2 to {MAX_PARTIES} parties")
        parties = self._unique_addresses(parties, "party")
        self._check_address(arbitrator, "arbitrator")
        require(arbitrator in self._load("arbitrators"), f"0x{arbitrator.hex()} is not a registered arbitrator")
        require(arbitrator not in parties, "the arbitrator cannot be a party")
        authorize(self.sender in parties or self.sender == arbitrator,
                  "only a party or the arbitrator can open a case")
        self._store(["case", case_id], {
            "case_id": case_id,
            "parties": parties,
            "arbitrator": arbitrator,
            "opened_by": self.sender,
            "opened_block": self.number,
            "opened_timestamp": self.timestamp,
            "opened_tx": self.tx_hash,
            "status": OPEN,
            "evidence_count": 0,
            "ruling": None,
            "updated_block": self.number,
        })
        self._emit("CaseOpened", case_id=case_id, arbitrator=arbitrator, by=self.sender)
        return None

    def attach(self, case_id: Any, evidence_hash: Any) -> Any:
        case = self._case(case_id)
        require(case["status"] == OPEN, f"case {case_id!r} is closed; nothing more can be attached")
        authorize(self.sender in case["parties"], f"0x{self.sender.hex()} is not a party to case {case_id!r}")
        self._check_hash(evidence_hash, "evidence hash")
        require(self._has(["ev", evidence_hash]), f"evidence 0x{evidence_hash.hex()} is not notarized")
        require(not self._has(["case_has", case_id, evidence_hash]), "evidence already attached to this case")
        n = case["evidence_count"]
        self._store(["case_ev", case_id, n], {"hash": evidence_hash, "by": self.sender, "block": self.number,
                                               "tx": self.tx_hash})
        self._store(["case_has", case_id, evidence_hash], True)
        case["evidence_count"] = n + 1
        case["updated_block"] = self.number
        self._store(["case", case_id], case)
        self._emit("EvidenceAttached", case_id=case_id, hash=evidence_hash, by=self.sender)
        return n

    def rule(self, case_id: Any, ruling_hash: Any, summary: Any) -> Any:
        case = self._case(case_id)
        authorize(self.sender == case["arbitrator"], f"only the case's arbitrator can rule on case {case_id!r}")
        authorize(self.sender in self._load("arbitrators"), "the arbitrator is no longer registered")
        require(case["status"] == OPEN, f"case {case_id!r} is already closed")
        require(self.number > case["updated_block"],
                f"rule in a block after the case's last change (block {case['updated_block']}); retry shortly")
        self._check_hash(ruling_hash, "ruling hash")
        require(typeof(summary) == "str" and len(summary) <= MAX_SUMMARY,
                f"summary must be a string of at most {MAX_SUMMARY} characters")
        case["status"] = CLOSED
        case["ruling"] = {"hash": ruling_hash, "summary": summary, "block": self.number,
                          "timestamp": self.timestamp, "tx": self.tx_hash}
        self._store(["case", case_id], case)
        self._emit("CaseRuled", case_id=case_id, ruling_hash=ruling_hash, arbitrator=self.sender)
        return None

    def get_case(self, case_id: Any) -> Any:
        return self._get_at(["case", case_id], LINE_GET_CASE)

    def case_evidence(self, case_id: Any, start: Any = 0, limit: Any = 100) -> Any:
        case = self._case(case_id)
        require(typeof(start) == "int" and start >= 0, "start must be a non-negative int")
        require(typeof(limit) == "int" and 0 < limit <= MAX_PAGE, f"limit must be 1 to {MAX_PAGE}")
        end = min(case["evidence_count"], start + limit)
        return [self._load(["case_ev", case_id, i])["hash"] for i in range(start, end)]

    # -- helpers ---------------------------------------------------------------------------------
    def _get_at(self, key: Any, line: int) -> Any:
        """``storage.get(key)`` with a caller's unchecked argument in the key: a key the sandbox refuses
        (too long, too deep) ends the transaction with the same text, source line included."""
        try:
            return self._sandbox_get(key)
        except SandboxViolation as exc:
            raise SandboxViolation(f"{exc} (line {line})") from None

    def _case(self, case_id: Any) -> Any:
        self._check_case_id(case_id)
        case = self._get(["case", case_id])
        require(case is not None, f"no case {case_id!r}")
        return case

    def _check_hash(self, h: Any, what: str) -> None:
        if not ((type(h) is bytes or typeof(h) == "bytes") and len(h) == 32):
            revert(f"{what} must be 32 bytes (SHA-256)")

    def _check_address(self, a: Any, what: str) -> None:
        if not ((type(a) is bytes or typeof(a) == "bytes") and len(a) == 20):
            revert(f"{what} must be a 20-byte address")

    def _check_case_id(self, case_id: Any) -> None:
        require(typeof(case_id) == "str" and 0 < len(case_id) <= MAX_CASE_ID,
                f"case id must be a string of 1 to {MAX_CASE_ID} characters")

    def _unique_addresses(self, items: Any, what: str) -> list[bytes]:
        result: list[bytes] = []
        for a in items:
            self._check_address(a, what)
            if a in result:
                revert(f"duplicate {what} 0x{a.hex()}")
            result.append(a)
        return result

    def _check_metadata(self, metadata: Any) -> dict[str, Any]:
        # require(...) of the source, written as `if not ...: revert(...)` so that a passing check
        # formats no message; `type(x) is T or typeof(x) == "T"` is typeof's test with its common
        # case first.
        if not (type(metadata) is dict or typeof(metadata) == "dict"):
            revert("metadata must be a map")
        meta = {}
        for field, value in metadata.items():
            if field == "size":
                if not ((type(value) is int or typeof(value) == "int") and value >= 0):
                    revert("metadata.size must be a non-negative int")
            elif field == "case_id":
                if not ((type(value) is str or typeof(value) == "str") and len(value) <= MAX_CASE_ID):
                    revert(f"metadata.case_id must be a string of at most {MAX_CASE_ID} characters")
            elif field == "file_name":
                if not ((type(value) is str or typeof(value) == "str") and len(value) <= MAX_FILE_NAME):
                    revert(f"metadata.file_name must be a string of at most {MAX_FILE_NAME} characters")
            elif field == "media_type":
                if not ((type(value) is str or typeof(value) == "str") and len(value) <= MAX_MEDIA_TYPE):
                    revert(f"metadata.media_type must be a string of at most {MAX_MEDIA_TYPE} characters")
            elif field == "note":
                if not ((type(value) is str or typeof(value) == "str") and len(value) <= MAX_NOTE):
                    revert(f"metadata.note must be a string of at most {MAX_NOTE} characters")
            else:
                revert(f"unknown metadata field {field!r} (allowed: case_id, file_name, size, media_type, note)")
            meta[field] = value
        return meta

    # -- dispatch ----------------------------------------------------------------------------------
    METHODS = frozenset({
        "arbitrators", "is_arbitrator", "notarize", "notarize_batch", "sign", "get", "open_case", "attach",
        "rule", "get_case", "case_evidence",
    })


# --- encoding fast paths for the notarize hot path ---------------------------------------------
# Each returns exactly canonical.encode of the value it stands for (tests/execution/test_native_fast.py
# compares them by hypothesis), or None when the value is not of the plain shape it handles.

_EV_KEY_HEAD = canonical.encode(["ev", b""])[:-1] + b"\x20"
"""``encode(["ev", h])`` for a 32-byte ``h`` is this head and then ``h`` (fixarray 2, "ev", bin8 of 32)."""


def _ev_key(evidence_hash: Any) -> bytes:
    """``canonical.encode(["ev", evidence_hash])``; a 32-byte ``bytes`` takes the fixed head."""
    if type(evidence_hash) is bytes and len(evidence_hash) == 32:
        return _EV_KEY_HEAD + evidence_hash
    return canonical.encode(["ev", evidence_hash])


def _evidence_record_bytes(record: dict[str, Any]) -> bytes | None:
    """``canonical.encode(record)`` for a fresh evidence record built by notarize (keys in canonical order,
    as notarize writes them), by one pack, when every leaf is a plain scalar or a list of bytes and the
    metadata's keys are in order (a decoded transaction's always are); None otherwise (the caller
    encodes it the general way)."""
    if list(record) != _RECORD_KEYS:
        return None
    meta = record["metadata"]
    signers = record["signers"]
    block = record["block"]
    timestamp = record["timestamp"]
    if not (type(meta) is dict and type(signers) is list and record["signatures"] == []
            and type(record["hash"]) is bytes and type(record["submitter"]) is bytes and type(record["tx"]) is bytes
            and type(block) is int and INT_MIN <= block <= INT_MAX
            and type(timestamp) is int and INT_MIN <= timestamp <= INT_MAX and type(record["status"]) is str):
        return None
    previous: str | None = None
    for k, v in meta.items():
        tv = type(v)
        if (type(k) is not str or (previous is not None and k <= previous)
                or not (tv is str or (tv is int and INT_MIN <= v <= INT_MAX))):
            return None
        previous = k
    for a in signers:
        if type(a) is not bytes:
            return None
    try:
        return canonical.pack(record)
    except (ValueError, TypeError, OverflowError):  # e.g. a lone surrogate: the encoder says so
        return None


_RECORD_KEYS = ["block", "hash", "metadata", "signatures", "signers", "status", "submitter", "timestamp", "tx"]
"""The keys of an evidence record in canonical (sorted) order."""
