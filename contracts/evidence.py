"""Arbitration evidence: notarize evidence by a 32-byte key (a salted commitment to the file's
SHA-256, or the bare hash when the submitter asks for a public hash: docs/protocol.md §11.1),
have the parties co-sign it, and run arbitration cases over it.

Deployed in the genesis block under the name ``evidence``. The constructor takes the
arbitrators registered from the start (genesis registers none). The contract has no
administrator: the arbitrator registry is written only by committee governance
(proposals ``register_arbitrator`` / ``unregister_arbitrator``, execution/governance.py),
which writes the storage entry "arbitrators" directly, so no single key can change
who may rule.

Storage layout (keys are canonical values):
  "arbitrators"                 -> [address, ...]   (written by governance)
  ["ev", key]                   -> evidence record (see notarize; a gateway batch root: notarize_batch)
  ["case", case_id]             -> case record (see open_case)
  ["case_ev", case_id, i]       -> i-th attachment {"hash": key, "by", "block", "tx"}
  ["case_has", case_id, key]    -> True once that evidence is attached
"""

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


class Evidence:
    def constructor(self, arbitrators):
        require(typeof(arbitrators) == "list" and len(arbitrators) <= MAX_ARBITRATORS,
                f"arbitrators must be a list of at most {MAX_ARBITRATORS} addresses")
        storage["arbitrators"] = self._unique_addresses(arbitrators, "arbitrator")

    # -- the arbitrator registry (written by committee governance only) ----------------------------
    def arbitrators(self):
        return storage["arbitrators"]

    def is_arbitrator(self, address):
        return address in storage["arbitrators"]

    # -- evidence --------------------------------------------------------------------------------
    def notarize(self, evidence_hash, metadata, signers):
        """Record the SHA-256 of an evidence file, who submitted it and when, its metadata,
        and the parties who must co-sign it. Returns the new record's status."""
        self._check_hash(evidence_hash, "evidence hash")
        key = ["ev", evidence_hash]
        existing = storage.get(key)
        if existing is not None:
            revert(f"already notarized at block {existing['block']}")
        meta = self._check_metadata(metadata)
        require(typeof(signers) == "list" and len(signers) <= MAX_SIGNERS,
                f"signers must be a list of at most {MAX_SIGNERS} addresses")
        signers = self._unique_addresses(signers, "signer")
        status = PENDING if signers else COMPLETE
        storage[key] = {
            "hash": evidence_hash,
            "submitter": msg.sender,
            "block": block.number,
            "timestamp": block.timestamp,
            "tx": tx.hash,
            "metadata": meta,
            "signers": signers,
            "signatures": [],
            "status": status,
        }
        emit("Notarized", hash=evidence_hash, submitter=msg.sender, case_id=meta.get("case_id", ""),
             signers=len(signers))
        if status == COMPLETE:
            emit("Completed", hash=evidence_hash)
        return status

    def notarize_batch(self, root, count):
        """Record the Merkle root of a gateway's batch of ``count`` evidence items (docs/protocol.md
        section 12). The record has the shape of a notarization with metadata {"batch_size": count}
        and no co-signers, so a batch is proven like a single file; a root seen before is refused."""
        self._check_hash(root, "batch root")
        require(typeof(count) == "int" and 0 < count <= MAX_BATCH_ITEMS,
                f"count must be an int from 1 to {MAX_BATCH_ITEMS}")
        key = ["ev", root]
        existing = storage.get(key)
        if existing is not None:
            revert(f"already notarized at block {existing['block']}")
        storage[key] = {
            "hash": root,
            "submitter": msg.sender,
            "block": block.number,
            "timestamp": block.timestamp,
            "tx": tx.hash,
            "metadata": {"batch_size": count},
            "signers": [],
            "signatures": [],
            "status": COMPLETE,
        }
        emit("BatchNotarized", root=root, submitter=msg.sender, count=count)
        return COMPLETE

    def sign(self, evidence_hash):
        """A listed party co-signs the evidence (the signature is this transaction's, by its sender)."""
        self._check_hash(evidence_hash, "evidence hash")
        key = ["ev", evidence_hash]
        record = storage.get(key)
        require(record is not None, f"evidence 0x{evidence_hash.hex()} is not notarized")
        authorize(msg.sender in record["signers"], f"0x{msg.sender.hex()} is not a listed signer of this evidence")
        # Co-signing in the notarization's own block is refused: a block proves which transactions it
        # holds, not their order, so an offline verifier could not tell the signature came second.
        require(block.number > record["block"],
                f"co-sign in a block after the notarization (block {record['block']}); retry shortly")
        for s in record["signatures"]:
            require(s["signer"] != msg.sender, f"already signed at block {s['block']}")
        record["signatures"].append({"signer": msg.sender, "block": block.number, "timestamp": block.timestamp,
                                     "tx": tx.hash})
        emit("Signed", hash=evidence_hash, signer=msg.sender)
        if len(record["signatures"]) == len(record["signers"]):
            record["status"] = COMPLETE
            emit("Completed", hash=evidence_hash)
        storage[key] = record
        return record["status"]

    def get(self, evidence_hash):
        """The evidence record, or None if that hash was never notarized."""
        return storage.get(["ev", evidence_hash])

    # -- arbitration cases ---------------------------------------------------------------------
    def open_case(self, case_id, parties, arbitrator):
        self._check_case_id(case_id)
        require(["case", case_id] not in storage, f"case {case_id!r} already exists")
        require(typeof(parties) == "list" and 2 <= len(parties) <= MAX_PARTIES,
                f"a case has 2 to {MAX_PARTIES} parties")
        parties = self._unique_addresses(parties, "party")
        self._check_address(arbitrator, "arbitrator")
        require(arbitrator in storage["arbitrators"], f"0x{arbitrator.hex()} is not a registered arbitrator")
        require(arbitrator not in parties, "the arbitrator cannot be a party")
        authorize(msg.sender in parties or msg.sender == arbitrator,
                  "only a party or the arbitrator can open a case")
        storage[["case", case_id]] = {
            "case_id": case_id,
            "parties": parties,
            "arbitrator": arbitrator,
            "opened_by": msg.sender,
            "opened_block": block.number,
            "opened_timestamp": block.timestamp,
            "opened_tx": tx.hash,
            "status": OPEN,
            "evidence_count": 0,
            "ruling": None,
            "updated_block": block.number,
        }
        emit("CaseOpened", case_id=case_id, arbitrator=arbitrator, by=msg.sender)

    def attach(self, case_id, evidence_hash):
        """A party attaches notarized evidence to an open case."""
        case = self._case(case_id)
        require(case["status"] == OPEN, f"case {case_id!r} is closed; nothing more can be attached")
        authorize(msg.sender in case["parties"], f"0x{msg.sender.hex()} is not a party to case {case_id!r}")
        self._check_hash(evidence_hash, "evidence hash")
        require(["ev", evidence_hash] in storage, f"evidence 0x{evidence_hash.hex()} is not notarized")
        require(["case_has", case_id, evidence_hash] not in storage, "evidence already attached to this case")
        n = case["evidence_count"]
        storage[["case_ev", case_id, n]] = {"hash": evidence_hash, "by": msg.sender, "block": block.number,
                                            "tx": tx.hash}
        storage[["case_has", case_id, evidence_hash]] = True
        case["evidence_count"] = n + 1
        case["updated_block"] = block.number
        storage[["case", case_id]] = case
        emit("EvidenceAttached", case_id=case_id, hash=evidence_hash, by=msg.sender)
        return n

    def rule(self, case_id, ruling_hash, summary):
        """The case's arbitrator records the ruling; the case is closed."""
        case = self._case(case_id)
        authorize(msg.sender == case["arbitrator"], f"only the case's arbitrator can rule on case {case_id!r}")
        authorize(msg.sender in storage["arbitrators"], "the arbitrator is no longer registered")
        require(case["status"] == OPEN, f"case {case_id!r} is already closed")
        # A block proves which transactions it holds, not their order: the ruling comes in a block after
        # the opening and the last attachment, so an offline verifier knows what it ruled on.
        require(block.number > case["updated_block"],
                f"rule in a block after the case's last change (block {case['updated_block']}); retry shortly")
        self._check_hash(ruling_hash, "ruling hash")
        require(typeof(summary) == "str" and len(summary) <= MAX_SUMMARY,
                f"summary must be a string of at most {MAX_SUMMARY} characters")
        case["status"] = CLOSED
        case["ruling"] = {"hash": ruling_hash, "summary": summary, "block": block.number,
                          "timestamp": block.timestamp, "tx": tx.hash}
        storage[["case", case_id]] = case
        emit("CaseRuled", case_id=case_id, ruling_hash=ruling_hash, arbitrator=msg.sender)

    def get_case(self, case_id):
        """The case record, or None."""
        return storage.get(["case", case_id])

    def case_evidence(self, case_id, start=0, limit=100):
        """Hashes of the evidence attached to a case, in attachment order (paged)."""
        case = self._case(case_id)
        require(typeof(start) == "int" and start >= 0, "start must be a non-negative int")
        require(typeof(limit) == "int" and 0 < limit <= MAX_PAGE, f"limit must be 1 to {MAX_PAGE}")
        end = min(case["evidence_count"], start + limit)
        return [storage[["case_ev", case_id, i]]["hash"] for i in range(start, end)]

    # -- helpers ---------------------------------------------------------------------------------
    def _case(self, case_id):
        self._check_case_id(case_id)
        case = storage.get(["case", case_id])
        require(case is not None, f"no case {case_id!r}")
        return case

    def _check_hash(self, h, what):
        require(typeof(h) == "bytes" and len(h) == 32, f"{what} must be 32 bytes (SHA-256)")

    def _check_address(self, a, what):
        require(typeof(a) == "bytes" and len(a) == 20, f"{what} must be a 20-byte address")

    def _check_case_id(self, case_id):
        require(typeof(case_id) == "str" and 0 < len(case_id) <= MAX_CASE_ID,
                f"case id must be a string of 1 to {MAX_CASE_ID} characters")

    def _unique_addresses(self, items, what):
        result = []
        for a in items:
            self._check_address(a, what)
            require(a not in result, f"duplicate {what} 0x{a.hex()}")
            result.append(a)
        return result

    def _check_metadata(self, metadata):
        require(typeof(metadata) == "dict", "metadata must be a map")
        meta = {}
        for field, value in metadata.items():
            if field == "size":
                require(typeof(value) == "int" and value >= 0, "metadata.size must be a non-negative int")
            elif field == "case_id":
                require(typeof(value) == "str" and len(value) <= MAX_CASE_ID,
                        f"metadata.case_id must be a string of at most {MAX_CASE_ID} characters")
            elif field == "file_name":
                require(typeof(value) == "str" and len(value) <= MAX_FILE_NAME,
                        f"metadata.file_name must be a string of at most {MAX_FILE_NAME} characters")
            elif field == "media_type":
                require(typeof(value) == "str" and len(value) <= MAX_MEDIA_TYPE,
                        f"metadata.media_type must be a string of at most {MAX_MEDIA_TYPE} characters")
            elif field == "note":
                require(typeof(value) == "str" and len(value) <= MAX_NOTE,
                        f"metadata.note must be a string of at most {MAX_NOTE} characters")
            else:
                require(False, f"unknown metadata field {field!r} (allowed: case_id, file_name, size, media_type, note)")
            meta[field] = value
        return meta
