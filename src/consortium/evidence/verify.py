"""The offline evidence verifier: a pure function of (genesis, proof bundle, file hash).

Like CometBFT's light verifier (light/verifier.go) it trusts one thing — here the
genesis file: chain identity, crypto suite and the first sealer set — and runs
every check that costs nothing first, Merkle hashing next, and signature
checks last, so a hostile proof is cheap to reject:

1. what the proof is about: the file hash, the chain (genesis hash, chain and group
   ids of every header);
2. what the transactions are: a ``notarize`` of this hash to the evidence
   contract, ``sign`` calls by the listed co-signers, receipts that match and are OK;
3. Merkle proofs: each transaction and receipt in its block, the evidence record in
   the state block's state tree, and the record agreeing with those transactions;
4. sealer sets: each header names the set in force per genesis and certified changes;
5. signatures: each header's commit certificate (a quorum of distinct sealers,
   :func:`consortium.consensus.verify.verify_commit_certificate`), then each
   transaction's signature by its sender.

It reads no clock, file or network; it raises :class:`NotVerified` (with a code
from :mod:`consortium.evidence.errors`) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consortium.consensus.errors import InvalidCommitCertificate
from consortium.consensus.quorum import quorum_size
from consortium.consensus.verify import header_hash, verify_commit_certificate
from consortium.crypto.suite import CryptoSuite
from consortium.encoding.canonical import DecodeError, Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.bundle import ProofBundle, TxInclusion
from consortium.evidence.errors import (
    ANOTHER_CHAIN,
    FILE_CHANGED,
    INVALID_SIGNATURE,
    NOT_A_NOTARIZATION,
    PROOF_ALTERED,
    TOO_FEW_SIGNATURES,
    TRANSACTION_FAILED,
    NotVerified,
)
from consortium.evidence.record import Cosignature, EvidenceRecord, record_key
from consortium.evidence.sealer_sets import SEALER_SET_RULE, SealerSetRule, build_schedule, check_sealers
from consortium.execution.genesis import EVIDENCE_ADDRESS, EVIDENCE_NAME
from consortium.execution.keys import name_address
from consortium.ledger.block import BlockHeader, commit_seal_payload
from consortium.ledger.merkle import InvalidListProof, verify_inclusion
from consortium.ledger.receipt import ReceiptStatus
from consortium.ledger.transaction import InvalidTransaction
from consortium.node.genesis import Genesis
from consortium.state import InvalidStateProof, verify_proof


@dataclass(frozen=True)
class VerifiedEvidence:
    """What a verified proof establishes."""

    evidence_hash: bytes
    block_number: int
    block_hash: bytes
    timestamp_ms: int
    """The notarization block's timestamp (milliseconds since the Unix epoch, UTC)."""
    submitter: bytes
    transaction: bytes
    metadata: dict[str, Value]
    signers: tuple[bytes, ...]
    cosignatures: tuple[Cosignature, ...]
    pending: tuple[bytes, ...]
    status: str
    state_block: int
    """The block whose certified state root proves the record (co-signatures as of that block)."""
    chain_id: str
    group_id: str
    genesis_hash: bytes
    sealers: int
    quorum: int

    @property
    def time_iso(self) -> str:
        return iso_time(self.timestamp_ms)


def iso_time(ms: int) -> str:
    """UTC ISO-8601 with milliseconds, from integer milliseconds (no float rounding)."""
    try:
        t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        return f"{ms} ms after the Unix epoch"
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verify_bundle(
    genesis: Genesis,
    bundle: ProofBundle,
    file_hash: bytes,
    *,
    sealer_rule: SealerSetRule | None = SEALER_SET_RULE,
    batch_size: int | None = None,
) -> VerifiedEvidence:
    """Return what the proof establishes about the file with SHA-256 ``file_hash``, or raise NotVerified.

    With ``batch_size`` the proof is of a gateway batch: ``file_hash`` is the batch's Merkle root
    (already checked against an item's path by evidence/item_bundle.py) and the transaction must be
    ``notarize_batch(root, batch_size)``; everything else is verified exactly as for a file.
    """
    suite = genesis.suite
    chain = (genesis.chain_id, genesis.group_id)
    headers = bundle.headers

    # 1. What the proof is about -------------------------------------------------------------
    if bundle.evidence_hash != file_hash:
        raise NotVerified(FILE_CHANGED, f"the file's SHA-256 is {to_hex(file_hash)}, but the proof is for "
                                        f"{to_hex(bundle.evidence_hash)}: the file was changed, or it is another file")
    if bundle.genesis_hash != genesis.hash() or (bundle.chain_id, bundle.group_id) != chain:
        raise NotVerified(ANOTHER_CHAIN, f"the proof is for chain {bundle.chain_id!r}/{bundle.group_id!r} with genesis "
                                         f"{to_hex(bundle.genesis_hash)}; the genesis file describes "
                                         f"{chain[0]!r}/{chain[1]!r} with genesis {to_hex(genesis.hash())}")
    for header in headers:
        if (header.chain_id, header.group_id) != chain:
            raise NotVerified(ANOTHER_CHAIN, f"block {header.number} in the proof belongs to chain "
                                             f"{header.chain_id!r}/{header.group_id!r}, not {chain[0]!r}/{chain[1]!r}")
    evidence_targets = (EVIDENCE_ADDRESS, name_address(EVIDENCE_NAME, suite))

    # 2. What the transactions are ------------------------------------------------------------
    notarization = bundle.notarization
    tx = notarization.transaction
    if tx.to not in evidence_targets:
        raise NotVerified(NOT_A_NOTARIZATION, f"the transaction is addressed to {to_hex(tx.to) if tx.to else 'nobody (a deploy)'}, "
                                              f"not to the evidence contract {to_hex(EVIDENCE_ADDRESS)}")
    if batch_size is not None:
        _check_batch_call(tx.method, tx.args, file_hash, batch_size)
    elif tx.method != "notarize" or len(tx.args) != 3 or tx.args[0] != file_hash:
        raise NotVerified(NOT_A_NOTARIZATION, f"the transaction calls {tx.method!r} with {len(tx.args)} argument(s), "
                                              "not notarize(this file's hash, metadata, signers)")
    tx_hash = tx.hash_with(suite)
    _check_receipt(notarization, tx_hash, "notarization")

    record_header = headers[bundle.record.header]
    notarization_header = headers[notarization.header]
    if record_header.number < notarization_header.number:
        raise NotVerified(PROOF_ALTERED, f"the record is proven at block {record_header.number}, before its "
                                         f"notarization in block {notarization_header.number}")
    try:
        record = EvidenceRecord.decode(bundle.record.value)
    except (DecodeError, ValueError) as exc:
        raise NotVerified(PROOF_ALTERED, f"the evidence record cannot be read: {exc}") from None
    if len(bundle.cosignatures) != len(record.signatures):
        raise NotVerified(PROOF_ALTERED, f"the record holds {len(record.signatures)} co-signature(s) but the proof "
                                         f"carries {len(bundle.cosignatures)} signing transaction(s)")
    cosign_hashes = []
    for i, (inc, sig) in enumerate(zip(bundle.cosignatures, record.signatures, strict=True)):
        ctx = inc.transaction
        if ctx.to not in evidence_targets or ctx.method != "sign" or len(ctx.args) != 1 or ctx.args[0] != file_hash:
            raise NotVerified(PROOF_ALTERED, f"co-signature {i}: the transaction is not sign(this file's hash) "
                                             "to the evidence contract")
        ctx_hash = ctx.hash_with(suite)
        if ctx_hash != sig.tx or suite.address(ctx.sender) != sig.signer:
            raise NotVerified(PROOF_ALTERED, f"co-signature {i}: the signing transaction is not the one the record names")
        _check_receipt(inc, ctx_hash, f"co-signature {i}")
        header = headers[inc.header]
        if header.number != sig.block or header.timestamp != sig.timestamp or header.number > record_header.number:
            raise NotVerified(PROOF_ALTERED, f"co-signature {i}: the record's block and time differ from the "
                                             "block the transaction is proven in")
        cosign_hashes.append(ctx_hash)

    # 3. Merkle proofs and the record's agreement with them ------------------------------------
    _check_inclusion(notarization_header, notarization, "the notarization", suite)
    for i, inc in enumerate(bundle.cosignatures):
        _check_inclusion(headers[inc.header], inc, f"co-signature {i}", suite)
    try:
        verify_proof(record_header.state_root, record_key(file_hash), bundle.record.value, bundle.record.proof, suite)
    except InvalidStateProof as exc:
        raise NotVerified(PROOF_ALTERED, f"the state proof of the evidence record does not lead to block "
                                         f"{record_header.number}'s state root: {exc}") from None
    submitter = suite.address(tx.sender)
    if (record.hash != file_hash or record.submitter != submitter or record.tx != tx_hash
            or record.block != notarization_header.number or record.timestamp != notarization_header.timestamp):
        raise NotVerified(PROOF_ALTERED, "the evidence record does not match the notarization transaction "
                                         "(hash, submitter, transaction, block or time differ)")
    if batch_size is not None and (record.metadata != {"batch_size": batch_size} or record.signers):
        raise NotVerified(PROOF_ALTERED, f"the batch record does not match notarize_batch(root, {batch_size}) "
                                         "(batch size or co-signers differ)")

    # 4. Sealer sets -------------------------------------------------------------------------
    schedule = build_schedule(genesis.sealer_ids, bundle.sealer_changes, chain=chain, rule=sealer_rule, suite=suite)
    for header in headers:
        check_sealers(header, schedule)

    # 5. Signatures, last --------------------------------------------------------------------
    for header in (*schedule.certified, *headers):
        _check_certificate(header, suite)
    for what, t in (("notarization", tx), *((f"co-signature {i}", c.transaction)
                                             for i, c in enumerate(bundle.cosignatures))):
        try:
            t.verify_signature(suite)
        except InvalidTransaction:
            raise NotVerified(INVALID_SIGNATURE, f"the {what} transaction's signature does not verify against "
                                                 "its sender's key: the transaction was altered") from None

    return VerifiedEvidence(
        evidence_hash=file_hash, block_number=notarization_header.number,
        block_hash=header_hash(notarization_header, suite), timestamp_ms=notarization_header.timestamp,
        submitter=submitter, transaction=tx_hash, metadata=record.metadata, signers=record.signers,
        cosignatures=record.signatures, pending=record.pending, status=record.status,
        state_block=record_header.number, chain_id=genesis.chain_id, group_id=genesis.group_id,
        genesis_hash=bundle.genesis_hash, sealers=len(notarization_header.sealers),
        quorum=quorum_size(len(notarization_header.sealers)),
    )


def _check_batch_call(method: str, args: tuple, root: bytes, size: int) -> None:
    """The batch transaction is ``notarize_batch(root, size)`` for this item's batch root and batch size."""
    if method != "notarize_batch" or len(args) != 2:
        raise NotVerified(NOT_A_NOTARIZATION, f"the transaction calls {method!r} with {len(args)} argument(s), "
                                              "not notarize_batch(batch root, item count)")
    if args[0] != root:
        shown = to_hex(args[0]) if isinstance(args[0], bytes) else repr(args[0])[:80]
        raise NotVerified(NOT_A_NOTARIZATION, f"the item's path leads to batch root {to_hex(root)}, but the "
                                              f"transaction notarizes {shown}: that batch root is not on chain "
                                              "in this proof")
    if args[1] != size:
        raise NotVerified(NOT_A_NOTARIZATION, f"the item's path is for a batch of {size} items, but the transaction "
                                              f"notarizes a batch of {args[1]!r}")


def _check_receipt(inc: TxInclusion, tx_hash: bytes, what: str) -> None:
    receipt = inc.receipt
    if receipt.tx_hash != tx_hash:
        raise NotVerified(PROOF_ALTERED, f"the {what} receipt is for transaction {to_hex(receipt.tx_hash)}, "
                                         f"not {to_hex(tx_hash)}")
    if receipt.status != ReceiptStatus.OK:
        raise NotVerified(TRANSACTION_FAILED, f"the {what} transaction failed on chain "
                                              f"(status {receipt.status}: {receipt.error[:200]}); it recorded nothing")


def _check_inclusion(header: BlockHeader, inc: TxInclusion, what: str, suite: CryptoSuite) -> None:
    """The transaction and its receipt are leaves of the block's roots.

    RFC 6962 proofs authenticate the leaf, not its position: some other (index,
    size) pairs with the same path shape verify too. Nothing here relies on the
    position; the receipt is paired with its transaction by ``receipt.tx_hash``
    (checked before), and a block never holds a transaction twice.
    """
    try:
        verify_inclusion(header.tx_root, inc.transaction.encode(), inc.transaction_proof, suite.hash)
    except InvalidListProof as exc:
        raise NotVerified(PROOF_ALTERED, f"{what}: the transaction is not proven in block {header.number} "
                                         f"(transaction proof: {exc})") from None
    try:
        verify_inclusion(header.receipt_root, inc.receipt.encode(), inc.receipt_proof, suite.hash)
    except InvalidListProof as exc:
        raise NotVerified(PROOF_ALTERED, f"{what}: the receipt is not proven in block {header.number} "
                                         f"(receipt proof: {exc})") from None


def _check_certificate(header: BlockHeader, suite: CryptoSuite) -> None:
    """A quorum of distinct sealers' valid seals, and no invalid seal (a stored certificate is clean)."""
    try:
        verify_commit_certificate(header, suite)
    except InvalidCommitCertificate as exc:
        n = len(header.sealers)
        need = quorum_size(n) if n else 1
        valid = _valid_seals(header, suite)
        if valid < need:
            raise NotVerified(TOO_FEW_SIGNATURES, f"too few valid signatures on block {header.number}: {valid} of "
                                                  f"its {n} sealers' commit seals verify, {need} are needed "
                                                  f"(block altered, or seals missing or forged: {exc})") from None
        raise NotVerified(INVALID_SIGNATURE, f"block {header.number} carries an invalid commit seal ({exc}); "
                                             "certificates on chain are clean, so the proof was altered") from None


def _valid_seals(header: BlockHeader, suite: CryptoSuite) -> int:
    """Distinct sealers of ``header`` whose seal verifies (at most one signature check per sealer)."""
    n = len(header.sealers)
    payload = commit_seal_payload(header_hash(header, suite), header.commit_view)
    good: set[int] = set()
    for s in header.signatures:
        if 0 <= s.sealer_index < n and s.sealer_index not in good:
            if suite.verify(header.sealers[s.sealer_index], payload, s.signature):
                good.add(s.sealer_index)
    return len(good)
