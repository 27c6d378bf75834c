"""The offline evidence verifier: a pure function of (genesis, proof bundle, file hash).

It believes signatures and hashes, never a record because a quorum wrote it.
Like CometBFT's light verifier (light/verifier.go) it trusts one thing — the
genesis file: chain identity, crypto suite and the first sealer set — and it
runs every check that costs nothing first, Merkle hashing next, and signature
checks last, so a hostile proof is cheap to reject. The steps (numbered as in
docs/protocol.md §11.4, "Verification algorithm"):

1. what the proof is about: the file against the opening (salted commitment or
   public hash), the chain (genesis hash, chain and group ids of every header), no
   block 0;
2. what the parties signed (:mod:`consortium.evidence.calls`): a ``notarize`` of
   this key to the evidence contract signed for this chain, held to the contract's
   argument rules; ``sign`` calls by listed signers, each once, in later blocks;
   receipts that name them and are OK;
3. Merkle proofs: each transaction and receipt in its block, the record in the
   state block's state tree — and the record byte-identical to the one these
   signed calls produce (else ``contradicts-signed``, naming the fields);
4. sealer sets: each header names the set in force per genesis and certified changes;
5. signatures: each header's commit certificate (a quorum of distinct sealers,
   :func:`consortium.consensus.verify.verify_commit_certificate`), then each
   transaction's Ed25519 signature by its sender (acceptance rules: protocol.md §11.5);
6. the time anchor, if the bundle has one (:mod:`consortium.evidence.anchor`): the
   notarization block's hash in a checkpoint an RFC 3161 TSA the chain trusts signed.

Everything reported comes from signed transactions and certified headers. It
reads no clock, file or network; it raises :class:`NotVerified` (with a code from
:mod:`consortium.evidence.errors`) and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consortium.consensus.errors import InvalidCommitCertificate
from consortium.consensus.quorum import quorum_size
from consortium.consensus.verify import header_hash, verify_commit_certificate
from consortium.crypto.suite import CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.anchor import VerifiedAnchor, verify_anchor
from consortium.evidence.bundle import ProofBundle, TxInclusion
from consortium.evidence.calls import (
    Cosign,
    expected_record,
    parse_notarize,
    parse_notarize_batch,
    parse_sign,
    record_differences,
)
from consortium.evidence.commitment import Unopened
from consortium.evidence.errors import (
    ANOTHER_CHAIN,
    CONTRADICTS_SIGNED,
    FILE_CHANGED,
    INVALID_CALL,
    INVALID_SIGNATURE,
    NO_OPENING,
    PROOF_ALTERED,
    TOO_FEW_SIGNATURES,
    TRANSACTION_FAILED,
    NotVerified,
)
from consortium.evidence.record import Cosignature, record_key
from consortium.evidence.sealer_sets import (
    SEALER_SET_RULE,
    SealerSchedule,
    SealerSetRule,
    build_schedule,
    check_sealers,
)
from consortium.ledger.block import BlockHeader, commit_seal_payload
from consortium.ledger.merkle import InvalidListProof, verify_inclusion
from consortium.ledger.receipt import ReceiptStatus
from consortium.ledger.transaction import InvalidTransaction, Transaction
from consortium.node.genesis import Genesis
from consortium.state import InvalidStateProof, verify_proof


@dataclass(frozen=True)
class VerifiedEvidence:
    """What a verified proof establishes; every field comes from a signed transaction or a certified header."""

    evidence_hash: bytes | None
    """SHA-256 of the file (None for an unopened bundle: a record, no file)."""
    key: bytes
    """What is on chain: the salted commitment, or the file hash in public-hash mode."""
    mode: str
    """``"salted"`` or ``"public"``."""
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
    sealed_by: tuple[bytes, ...] = ()
    """Node ids of the sealers whose commit seals on the notarization block verify."""
    sealed_orgs: tuple[str | None, ...] = ()
    """The organization of each of ``sealed_by`` as proven (genesis file, or the organizations a certified
    sealer-set change carries); None: not proven. All None on a chain whose genesis names no organizations."""
    organized: bool = False
    """The genesis file lists member organizations (a chain of organizations)."""
    bundle_version: int = 2
    anchor: VerifiedAnchor | None = None
    """The TSA's bound on the notarization block's time; None: the time rests on the sealers alone."""

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


def genesis_orgs(genesis: Genesis) -> dict[bytes, str]:
    """Each genesis sealer's organization as the genesis file names it (empty for a single-CA chain)."""
    return {s.node_id: s.org for s in genesis.sealers if s.org}


def certified_by(header: BlockHeader, schedule: SealerSchedule) -> tuple[tuple[bytes, str | None], ...]:
    """(node id, organization or None if not proven) of each sealer whose seal is in ``header``'s certificate
    (called after the certificate verified)."""
    nodes = tuple(header.sealers[s.sealer_index] for s in header.signatures)
    return tuple((n, schedule.org_of(header.number, n)) for n in nodes)


def check_anchor(genesis: Genesis, genesis_hash: bytes, chain_id: str, group_id: str,
                 headers: Sequence[BlockHeader]) -> None:
    """Step 1: the proof is for the chain the genesis file describes, and proves nothing "in" block 0."""
    chain = (genesis.chain_id, genesis.group_id)
    if genesis_hash != genesis.hash() or (chain_id, group_id) != chain:
        raise NotVerified(ANOTHER_CHAIN, f"the proof is for chain {chain_id!r}/{group_id!r} with genesis "
                                         f"{to_hex(genesis_hash)}; the genesis file describes "
                                         f"{chain[0]!r}/{chain[1]!r} with genesis {to_hex(genesis.hash())}")
    for header in headers:
        if (header.chain_id, header.group_id) != chain:
            raise NotVerified(ANOTHER_CHAIN, f"block {header.number} in the proof belongs to chain "
                                             f"{header.chain_id!r}/{header.group_id!r}, not {chain[0]!r}/{chain[1]!r}")
        if header.number == 0:
            raise NotVerified(PROOF_ALTERED, "the proof relies on a \"block 0\": block 0 is the genesis block, "
                                             "derived from the genesis file, with no transactions and no commit "
                                             "seals, so nothing can be proven in it")


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
    ``notarize_batch(root, batch_size)`` with no co-signatures; everything else is verified exactly as
    for a file.
    """
    opening = bundle.opening
    if isinstance(opening, Unopened):
        raise NotVerified(NO_OPENING, "this proof carries no opening (the file's hash and salt): it proves the "
                                      f"record {to_hex(opening.key)}, not that a file is its evidence")
    if opening.file_hash != file_hash:
        raise NotVerified(FILE_CHANGED, f"the file's SHA-256 is {to_hex(file_hash)}, but the proof is for "
                                        f"{to_hex(opening.file_hash)}: the file was changed, or it is another file")
    return verify_record(genesis, bundle, sealer_rule=sealer_rule, batch_size=batch_size)


def verify_record(
    genesis: Genesis,
    bundle: ProofBundle,
    *,
    sealer_rule: SealerSetRule | None = SEALER_SET_RULE,
    batch_size: int | None = None,
) -> VerifiedEvidence:
    """Everything :func:`verify_bundle` checks except the file (step 1.1): what the record under the
    bundle's key establishes. For an opened bundle the caller has compared the file hash."""
    suite = genesis.suite
    chain = (genesis.chain_id, genesis.group_id)
    headers = bundle.headers

    # 1. What the proof is about (the file, step 1.1, is verify_bundle's) ----------------------
    opening = bundle.opening
    key = opening.key
    check_anchor(genesis, bundle.genesis_hash, bundle.chain_id, bundle.group_id,
                 (*headers, *(c.header for c in bundle.sealer_changes)))

    # 2. What the parties signed --------------------------------------------------------------
    notarization = bundle.notarization
    if batch_size is None:
        notarize = parse_notarize(notarization.transaction, key, chain=chain, suite=suite)
    else:
        notarize = parse_notarize_batch(notarization.transaction, key, batch_size, chain=chain, suite=suite)
    check_receipt(notarization, notarize.call.tx_hash, "notarization")
    notarization_header = headers[notarization.header]
    record_header = headers[bundle.record.header]
    if record_header.number < notarization_header.number:
        raise NotVerified(PROOF_ALTERED, f"the record is proven at block {record_header.number}, before its "
                                         f"notarization in block {notarization_header.number}")
    cosigns: list[Cosign] = []
    for i, inc in enumerate(bundle.cosignatures):
        call = parse_sign(inc.transaction, key, i, chain=chain, suite=suite)
        who = to_hex(call.sender)
        if call.sender not in notarize.signers:
            raise NotVerified(INVALID_CALL, f"co-signature {i} is by {who}, whom the submitter did not list as a "
                                            "signer in the notarize call: the contract would have refused it")
        if any(c.call.sender == call.sender for c in cosigns):
            raise NotVerified(INVALID_CALL, f"co-signature {i}: {who} co-signs twice; the contract refuses that")
        header = headers[inc.header]
        if header.number <= notarization_header.number:
            raise NotVerified(INVALID_CALL, f"co-signature {i} by {who} is in block {header.number}, not after the "
                                            f"notarization in block {notarization_header.number}")
        if header.number > record_header.number:
            raise NotVerified(PROOF_ALTERED, f"co-signature {i} is in block {header.number}, after block "
                                             f"{record_header.number} whose state the record is proven in")
        check_receipt(inc, call.tx_hash, f"co-signature {i}")
        cosigns.append(Cosign(call, header.number, header.timestamp))

    # 3. Merkle proofs, and the certified record against what was signed -----------------------
    check_inclusion(notarization_header, notarization, "the notarization", suite)
    for i, inc in enumerate(bundle.cosignatures):
        check_inclusion(headers[inc.header], inc, f"co-signature {i}", suite)
    try:
        verify_proof(record_header.state_root, record_key(key), bundle.record.value, bundle.record.proof, suite)
    except InvalidStateProof as exc:
        raise NotVerified(PROOF_ALTERED, f"the state proof of the evidence record does not lead to block "
                                         f"{record_header.number}'s state root: {exc}") from None
    expected = expected_record(notarize, notarization_header.number, notarization_header.timestamp, tuple(cosigns))
    _check_record(expected, bundle.record.value, record_header.number)

    # 4. Sealer sets -------------------------------------------------------------------------
    schedule = build_schedule(genesis.sealer_ids, bundle.sealer_changes, chain=chain, rule=sealer_rule, suite=suite,
                              genesis_orgs=genesis_orgs(genesis))
    for header in headers:
        check_sealers(header, schedule)

    # 5. Signatures, last --------------------------------------------------------------------
    for header in (*schedule.certified, *headers):
        check_certificate(header, suite)
    check_transaction_signature(notarization.transaction, "notarization", suite)
    for i, inc in enumerate(bundle.cosignatures):
        check_transaction_signature(inc.transaction, f"co-signature {i}", suite)

    # 6. The time anchor, if any: only now is the block hash it must contain certified ----------
    block_hash = header_hash(notarization_header, suite)
    anchor = None
    if bundle.anchor is not None:
        anchor = verify_anchor(bundle.anchor, notarization_header, block_hash, genesis.tsas, record_header, suite)

    certifiers = certified_by(notarization_header, schedule)
    return VerifiedEvidence(
        evidence_hash=None if isinstance(opening, Unopened) else opening.file_hash, key=key, mode=opening.mode, block_number=notarization_header.number,
        block_hash=block_hash, timestamp_ms=notarization_header.timestamp,
        submitter=notarize.call.sender, transaction=notarize.call.tx_hash, metadata=notarize.metadata,
        signers=notarize.signers,
        cosignatures=tuple(Cosignature(c.call.sender, c.block, c.timestamp, c.call.tx_hash) for c in cosigns),
        pending=tuple(s for s in notarize.signers if all(c.call.sender != s for c in cosigns)),
        status=str(expected["status"]), state_block=record_header.number, chain_id=genesis.chain_id,
        group_id=genesis.group_id, genesis_hash=bundle.genesis_hash, sealers=len(notarization_header.sealers),
        quorum=quorum_size(len(notarization_header.sealers)), sealed_by=tuple(n for n, _ in certifiers),
        sealed_orgs=tuple(o for _, o in certifiers), organized=bool(genesis.organizations), bundle_version=bundle.version,
        anchor=anchor,
    )


def _check_record(expected: dict[str, Value], actual: bytes, block: int) -> None:
    """The certified record must be exactly what the signed calls produce."""
    diffs = record_differences(expected, actual)
    if not diffs:
        return
    if "signatures" in diffs:
        try:
            held = canonical.decode(actual).get("signatures")  # type: ignore[union-attr]
        except (ValueError, AttributeError):
            held = None
        carried = len(expected["signatures"])  # type: ignore[arg-type]
        if isinstance(held, list) and len(held) != carried:
            raise NotVerified(PROOF_ALTERED, f"the record holds {len(held)} co-signature(s) but the proof carries "
                                             f"{carried} signing transaction(s): a co-signature counts only with "
                                             "the transaction its signer signed")
    raise NotVerified(CONTRADICTS_SIGNED, f"the evidence record certified at block {block} differs from what the "
                                          f"parties signed, in: {', '.join(diffs)}; the sealers who certified it, "
                                          "or the proof, are not telling the truth")


def check_transaction_signature(tx: Transaction, what: str, suite: CryptoSuite) -> None:
    try:
        tx.verify_signature(suite)
    except InvalidTransaction:
        raise NotVerified(INVALID_SIGNATURE, f"the {what} transaction's signature does not verify against "
                                             "its sender's key: the transaction was altered") from None


def check_receipt(inc: TxInclusion, tx_hash: bytes, what: str) -> None:
    receipt = inc.receipt
    if receipt.tx_hash != tx_hash:
        raise NotVerified(PROOF_ALTERED, f"the {what} receipt is for transaction {to_hex(receipt.tx_hash)}, "
                                         f"not {to_hex(tx_hash)}")
    if receipt.status != ReceiptStatus.OK:
        raise NotVerified(TRANSACTION_FAILED, f"the {what} transaction failed on chain "
                                              f"(status {receipt.status}: {receipt.error[:200]}); it recorded nothing")


def check_inclusion(header: BlockHeader, inc: TxInclusion, what: str, suite: CryptoSuite) -> None:
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


def check_certificate(header: BlockHeader, suite: CryptoSuite) -> None:
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
