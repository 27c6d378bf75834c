"""The offline case verifier: a pure function of (genesis, case proof, evidence file hashes).

It reports a case — who opened it, the parties, the arbitrator and how the committee
registered them, each piece of evidence attached and by whom, the ruling — only from
transactions the parties, the arbitrator and the committee members signed, and
cross-checks the certified state against them, as :mod:`consortium.evidence.verify`
does for one notarization (docs/protocol.md §13.2 is the step list):

1. the chain: genesis hash, chain and group ids, no block 0;
2. what was signed: ``open_case`` (by a party or the arbitrator), each ``attach`` (by a
   party, its receipt naming its position), ``rule`` (by the arbitrator, in a later block
   than the opening and every attachment), each held to the contract's argument rules;
3. Merkle proofs; the case record byte-identical to the one these calls produce; the
   arbitrator in the registry state at the opening and ruling blocks;
4. the registration: an executed ``register_arbitrator`` proposal for this arbitrator,
   passed no later than the opening, whose approving votes are transactions signed by
   committee members whose weights reach the threshold in force (genesis, or the
   certified governance state of the block before it executed);
5. each attachment's evidence bundle (verify.py), about the attached key;
6. sealer sets, commit certificates, then every transaction signature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consortium.consensus.quorum import quorum_size
from consortium.crypto.suite import ADDRESS_SIZE, HASH_SIZE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.bundle import TxInclusion
from consortium.evidence.calls import MAX_CASE_ID, MAX_PARTIES, MAX_SUMMARY, SignedCall, addresses, signed_call
from consortium.evidence.case_bundle import CaseBundle, StateEntry
from consortium.evidence.commitment import Opening
from consortium.evidence.errors import (
    CONTRADICTS_SIGNED,
    FILE_CHANGED,
    INVALID_CALL,
    MALFORMED_PROOF,
    NOT_A_NOTARIZATION,
    PROOF_ALTERED,
    NotVerified,
)
from consortium.evidence.sealer_sets import SEALER_SET_RULE, SealerSetRule, build_schedule, check_sealers
from consortium.evidence.verify import (
    VerifiedEvidence,
    certified_by,
    check_anchor,
    check_certificate,
    check_inclusion,
    check_receipt,
    check_transaction_signature,
    genesis_orgs,
    verify_record,
)
from consortium.execution.committee import COMMITTEE_KINDS, change_committee
from consortium.execution.errors import BadTransaction, Revert
from consortium.execution.genesis import EVIDENCE_ADDRESS
from consortium.execution.governance import (
    GOVERNANCE_ADDRESS,
    GOVERNANCE_NAME,
    KEY_COMMITTEE,
    KEY_THRESHOLD,
    PROPOSAL_PREFIX,
    arbitrators_key,
)
from consortium.execution.keys import name_address, storage_prefix
from consortium.ledger.block import BlockHeader
from consortium.ledger.transaction import Transaction
from consortium.node.genesis import Genesis
from consortium.state import InvalidStateProof, verify_proof


@dataclass(frozen=True)
class Attachment:
    index: int
    key: bytes
    by: bytes
    block: int
    timestamp: int
    transaction: bytes
    evidence: VerifiedEvidence
    file: str | None = None
    """The name of the evidence file given to the verifier that this attachment's opening matches, if any."""


@dataclass(frozen=True)
class Ruling:
    hash: bytes
    summary: str
    block: int
    timestamp: int
    transaction: bytes


@dataclass(frozen=True)
class ArbitratorRegistration:
    proposal: int
    executed_at: int
    approvals: tuple[tuple[bytes, int], ...]
    """(committee member, weight) of each approving vote proven by its signed transaction."""
    threshold: int
    committee_from: str
    """Where the weights and threshold come from: "genesis", or "genesis and the signed committee changes #a, #b;
    the certified state after block N agrees" (followed by signatures, cross-checked with certified state)."""
    registered_at: tuple[int, ...]
    """Blocks after which the registry state is proven to hold the arbitrator (the opening, the ruling)."""


@dataclass(frozen=True)
class VerifiedCase:
    case_id: str
    parties: tuple[bytes, ...]
    arbitrator: bytes
    opened_by: bytes
    opened_block: int
    opened_timestamp: int
    opened_transaction: bytes
    status: str
    attachments: tuple[Attachment, ...]
    ruling: Ruling | None
    registration: ArbitratorRegistration
    state_block: int
    chain_id: str
    group_id: str
    genesis_hash: bytes
    sealers: int
    quorum: int
    opening_certified: tuple[tuple[bytes, str | None], ...] = ()
    """(sealer, organization or None if not proven) of each commit seal on the opening block."""
    ruling_certified: tuple[tuple[bytes, str | None], ...] = ()
    """The same for the ruling block (empty without a ruling)."""
    organized: bool = False
    """The genesis file lists member organizations."""


def _value(entry: StateEntry, what: str) -> Value:
    if entry.value is None:
        raise NotVerified(PROOF_ALTERED, f"{what} is absent from the proven state")
    try:
        return canonical.decode(entry.value)
    except ValueError as exc:
        raise NotVerified(PROOF_ALTERED, f"{what} cannot be read: {exc}") from None


def _prove(entry: StateEntry, headers: Sequence[BlockHeader], key: bytes, what: str, suite: CryptoSuite) -> BlockHeader:
    header = headers[entry.header]
    try:
        verify_proof(header.state_root, key, entry.value, entry.proof, suite)
    except InvalidStateProof as exc:
        raise NotVerified(PROOF_ALTERED, f"the state proof of {what} does not lead to block {header.number}'s "
                                         f"state root: {exc}") from None
    return header


def verify_case(
    genesis: Genesis,
    bundle: CaseBundle,
    files: Sequence[tuple[str, bytes]] = (),
    *,
    sealer_rule: SealerSetRule | None = SEALER_SET_RULE,
) -> VerifiedCase:
    """What the case proof establishes, or NotVerified. ``files`` are (name, SHA-256) of evidence files the
    arbitrator holds: each must be the opened evidence of some attachment."""
    suite = genesis.suite
    chain = (genesis.chain_id, genesis.group_id)
    headers = bundle.headers
    case_id = bundle.case_id

    # 1. The chain ---------------------------------------------------------------------------------
    check_anchor(genesis, bundle.genesis_hash, bundle.chain_id, bundle.group_id,
                 (*headers, *(c.header for c in bundle.sealer_changes)))

    # 2. What was signed ---------------------------------------------------------------------------
    opening_tx = bundle.opening.transaction
    opening = signed_call(opening_tx, what="case opening", method="open_case", arity=3, chain=chain, suite=suite)
    arg_case, raw_parties, arbitrator = opening_tx.args
    if arg_case != case_id:
        raise NotVerified(INVALID_CALL, f"the opening transaction opens case {str(arg_case)[:64]!r}, not {case_id!r}")
    if not isinstance(case_id, str) or not 0 < len(case_id) <= MAX_CASE_ID:
        raise NotVerified(INVALID_CALL, "the case id breaks the contract's rules")
    parties = addresses(raw_parties, "party", MAX_PARTIES, "open_case", minimum=2)
    if not isinstance(arbitrator, bytes) or len(arbitrator) != ADDRESS_SIZE or arbitrator in parties:
        raise NotVerified(INVALID_CALL, "the open_case call names a malformed arbitrator, or a party as arbitrator")
    if opening.sender not in (*parties, arbitrator):
        raise NotVerified(INVALID_CALL, f"the case was opened by {to_hex(opening.sender)}, neither a party nor "
                                        "the arbitrator: the contract would have refused it")
    check_receipt(bundle.opening, opening.tx_hash, "case opening")
    opened = headers[bundle.opening.header]
    case_header = headers[bundle.case.header]

    attached: list[tuple[SignedCall, bytes, BlockHeader]] = []
    for i, inc in enumerate(bundle.attachments):
        call = signed_call(inc.transaction, what=f"attachment {i}", method="attach", arity=2, chain=chain, suite=suite)
        arg_case, key = inc.transaction.args
        if arg_case != case_id or not isinstance(key, bytes) or len(key) != HASH_SIZE:
            raise NotVerified(INVALID_CALL, f"attachment {i} does not attach a 32-byte evidence key to {case_id!r}")
        if call.sender not in parties:
            raise NotVerified(INVALID_CALL, f"attachment {i} was made by {to_hex(call.sender)}, not a party to the "
                                            "case: the contract would have refused it")
        if any(k == key for _, k, _ in attached):
            raise NotVerified(INVALID_CALL, f"attachment {i} attaches {to_hex(key)} a second time")
        header = headers[inc.header]
        if header.number < opened.number:
            raise NotVerified(INVALID_CALL, f"attachment {i} is in block {header.number}, before the case was opened "
                                            f"in block {opened.number}")
        check_receipt(inc, call.tx_hash, f"attachment {i}")
        if inc.receipt.output != i:
            raise NotVerified(PROOF_ALTERED, f"attachment {i}'s receipt gives it position {inc.receipt.output!r}: "
                                             "the proof's attachments are out of order or incomplete")
        attached.append((call, key, header))
    updated_block = max([opened.number, *(h.number for _, _, h in attached)])

    ruling: Ruling | None = None
    ruled_header: BlockHeader | None = None
    if bundle.ruling is not None:
        rule_tx = bundle.ruling.transaction
        call = signed_call(rule_tx, what="ruling", method="rule", arity=3, chain=chain, suite=suite)
        arg_case, ruling_hash, summary = rule_tx.args
        if arg_case != case_id or not isinstance(ruling_hash, bytes) or len(ruling_hash) != HASH_SIZE \
                or not isinstance(summary, str) or len(summary) > MAX_SUMMARY:
            raise NotVerified(INVALID_CALL, "the rule call breaks the contract's rules (case id, 32-byte ruling "
                                            f"hash, summary of at most {MAX_SUMMARY} characters)")
        if call.sender != arbitrator:
            raise NotVerified(INVALID_CALL, f"the ruling is signed by {to_hex(call.sender)}, not by the case's "
                                            f"arbitrator {to_hex(arbitrator)}")
        ruled_header = headers[bundle.ruling.header]
        if ruled_header.number <= updated_block:
            raise NotVerified(INVALID_CALL, f"the ruling is in block {ruled_header.number}, not after the case's "
                                            f"last opening or attachment (block {updated_block})")
        check_receipt(bundle.ruling, call.tx_hash, "ruling")
        ruling = Ruling(ruling_hash, summary, ruled_header.number, ruled_header.timestamp, call.tx_hash)
    last = ruled_header.number if ruled_header is not None else updated_block
    if case_header.number < last:
        raise NotVerified(PROOF_ALTERED, f"the case record is proven at block {case_header.number}, before the "
                                         f"transactions it must reflect (block {last})")

    # 3. Merkle proofs, the case record, the registry ---------------------------------------------
    check_inclusion(opened, bundle.opening, "the case opening", suite)
    for i, (inc, (_, _, header)) in enumerate(zip(bundle.attachments, attached, strict=True)):
        check_inclusion(header, inc, f"attachment {i}", suite)
    if bundle.ruling is not None and ruled_header is not None:
        check_inclusion(ruled_header, bundle.ruling, "the ruling", suite)
    _prove(bundle.case, headers, storage_prefix(EVIDENCE_ADDRESS) + canonical.encode(["case", case_id]),
           "the case record", suite)
    expected: dict[str, Value] = {
        "case_id": case_id, "parties": list(parties), "arbitrator": arbitrator, "opened_by": opening.sender,
        "opened_block": opened.number, "opened_timestamp": opened.timestamp, "opened_tx": opening.tx_hash,
        "status": "OPEN" if ruling is None else "CLOSED", "evidence_count": len(attached),
        "ruling": None if ruling is None else {"hash": ruling.hash, "summary": ruling.summary, "block": ruling.block,
                                               "timestamp": ruling.timestamp, "tx": ruling.transaction},
        "updated_block": updated_block,
    }
    if bundle.case.value != canonical.encode(expected):
        actual = _value(bundle.case, "the case record")
        fields = sorted(k for k in set(expected) | set(actual if isinstance(actual, dict) else {})
                        if not isinstance(actual, dict)
                        or canonical.encode(expected.get(k)) != canonical.encode(actual.get(k)))
        raise NotVerified(CONTRADICTS_SIGNED, f"the case record certified at block {case_header.number} differs from "
                                              f"what the parties and the arbitrator signed, in: {', '.join(fields)}")
    needed = [opened.number] + ([ruled_header.number] if ruled_header is not None else [])
    proven_at = []
    for entry in bundle.registry:
        header = _prove(entry, headers, arbitrators_key(EVIDENCE_ADDRESS), "the arbitrator registry", suite)
        registry = _value(entry, "the arbitrator registry")
        if not isinstance(registry, list) or arbitrator not in registry:
            raise NotVerified(CONTRADICTS_SIGNED, f"the arbitrator {to_hex(arbitrator)} is not in the registry "
                                                  f"after block {header.number}")
        proven_at.append(header.number)
    if sorted(proven_at) != needed:
        raise NotVerified(PROOF_ALTERED, f"the registry must be proven after the opening and the ruling blocks "
                                         f"({', '.join(map(str, needed))}); the proof has {proven_at or 'none'}")

    # 4. The arbitrator's registration by the committee -------------------------------------------
    registration = _check_registration(genesis, bundle, arbitrator, opened.number, tuple(proven_at), suite, chain)

    # 5. Each attachment's evidence ---------------------------------------------------------------
    results: list[Attachment] = []
    matched: dict[bytes, str] = {}
    for i, ((call, key, header), ev) in enumerate(zip(attached, bundle.evidence, strict=True)):
        if ev.key != key:
            raise NotVerified(PROOF_ALTERED, f"evidence bundle {i} is about {to_hex(ev.key)}, but attachment {i} "
                                             f"attaches {to_hex(key)}")
        if (ev.chain_id, ev.group_id, ev.genesis_hash) != (bundle.chain_id, bundle.group_id, bundle.genesis_hash):
            raise NotVerified(PROOF_ALTERED, f"evidence bundle {i} is for another chain than the case")
        try:
            verified = verify_record(genesis, ev, sealer_rule=sealer_rule)
        except NotVerified as exc:
            raise NotVerified(exc.code, f"attachment {i} ({to_hex(key)[:18]}…): {exc.message}") from None
        if verified.block_number > header.number:
            raise NotVerified(NOT_A_NOTARIZATION, f"attachment {i} is in block {header.number}, before the evidence "
                                                  f"was notarized (block {verified.block_number})")
        name = None
        # An opened bundle names its file; an unopened key equal to a file's SHA-256 is that file's public hash.
        opened_hash = ev.opening.file_hash if isinstance(ev.opening, Opening) else key
        for fname, fhash in files:
            if fhash == opened_hash:
                name = fname
                matched[fhash] = fname
        results.append(Attachment(i, key, call.sender, header.number, header.timestamp, call.tx_hash, verified, name))
    for fname, fhash in files:
        if fhash not in matched:
            raise NotVerified(FILE_CHANGED, f"{fname} (SHA-256 {to_hex(fhash)}) is not the opened evidence of any "
                                            "attachment in this case proof: changed, or not part of the case")

    # 6. Sealer sets, certificates, signatures -------------------------------------------------------
    schedule = build_schedule(genesis.sealer_ids, bundle.sealer_changes, chain=chain, rule=sealer_rule, suite=suite,
                              genesis_orgs=genesis_orgs(genesis))
    for header in headers:
        check_sealers(header, schedule)
    for header in (*schedule.certified, *headers):
        check_certificate(header, suite)
    signed: list[tuple[Transaction, str]] = [(opening_tx, "case opening")]
    signed += [(inc.transaction, f"attachment {i}") for i, inc in enumerate(bundle.attachments)]
    signed += [(inc.transaction, f"committee vote {i}") for i, inc in enumerate(bundle.registration.transactions)]
    signed += [(inc.transaction, f"committee change #{c.id}: vote {i}") for c in bundle.committee_changes
               for i, inc in enumerate(c.transactions)]
    if bundle.ruling is not None:
        signed.append((bundle.ruling.transaction, "ruling"))
    for tx, what in signed:
        check_transaction_signature(tx, what, suite)

    return VerifiedCase(
        case_id=case_id, parties=parties, arbitrator=arbitrator, opened_by=opening.sender, opened_block=opened.number,
        opened_timestamp=opened.timestamp, opened_transaction=opening.tx_hash,
        status=str(expected["status"]), attachments=tuple(results), ruling=ruling, registration=registration,
        state_block=case_header.number, chain_id=genesis.chain_id, group_id=genesis.group_id,
        genesis_hash=bundle.genesis_hash, sealers=len(opened.sealers), quorum=quorum_size(len(opened.sealers)),
        opening_certified=certified_by(opened, schedule),
        ruling_certified=certified_by(ruled_header, schedule) if ruled_header is not None else (),
        organized=bool(genesis.organizations),
    )


def proposal_key(pid: int) -> bytes:
    return PROPOSAL_PREFIX + pid.to_bytes(8, "big")


def _check_registration(genesis: Genesis, bundle: CaseBundle, arbitrator: bytes, opened_block: int,
                        registered_at: tuple[int, ...], suite: CryptoSuite,
                        chain: tuple[str, str]) -> ArbitratorRegistration:
    reg = bundle.registration
    headers = bundle.headers
    proposal, created, executed_at = _executed_proposal(reg.id, reg.proposal, headers, suite)
    if proposal.get("kind") != "register_arbitrator" or proposal.get("params") != [arbitrator]:
        raise NotVerified(CONTRADICTS_SIGNED, f"proposal {reg.id} is not an executed register_arbitrator of "
                                              f"{to_hex(arbitrator)}")
    if executed_at > opened_block:
        raise NotVerified(INVALID_CALL, f"the arbitrator's registration executed in block {executed_at}, after the "
                                        f"case was opened in block {opened_block}")
    # The committee in force when it executed: genesis, followed through the signed committee changes.
    weights, threshold, followed = _follow_committee(genesis, bundle, executed_at, suite, chain)
    if executed_at - 1 <= 0:
        committee_from = "genesis"
        if reg.committee is not None or reg.threshold is not None:
            raise NotVerified(PROOF_ALTERED, "the registration carries a committee state although genesis defines it")
    else:
        if bundle.version < 2:
            raise NotVerified(MALFORMED_PROOF, f"this version-1 case proof takes the committee of block "
                                               f"{executed_at - 1} from the sealers' certified state only, which a "
                                               "lying quorum could misstate; make a new case proof ('consortium case "
                                               "proof'): version 2 follows the committee from genesis by signatures")
        if reg.committee is None or reg.threshold is None:
            raise NotVerified(PROOF_ALTERED, f"the registration lacks the committee state of block {executed_at - 1}")
        for entry, key, what in ((reg.committee, KEY_COMMITTEE, "the committee"),
                                 (reg.threshold, KEY_THRESHOLD, "the committee threshold")):
            h = _prove(entry, headers, key, what, suite)
            if h.number != executed_at - 1:
                raise NotVerified(PROOF_ALTERED, f"{what} is proven at block {h.number}, not at block {executed_at - 1} "
                                                 "(the state the proposal executed against)")
        certified = _committee(_value(reg.committee, "the committee"))
        certified_threshold = _value(reg.threshold, "the committee threshold")
        if certified != weights or certified_threshold != threshold:
            raise NotVerified(CONTRADICTS_SIGNED, f"the committee certified at block {executed_at - 1} differs from "
                                                  "the one the genesis file and the signed committee changes in this "
                                                  "proof give: a change is missing from the proof, or the sealers "
                                                  "misstate the committee")
        changes = ", ".join(f"#{pid}" for pid in followed)
        committee_from = (f"genesis and the signed committee changes {changes}" if followed else "genesis") + \
            f"; the certified state after block {executed_at - 1} agrees"
    approvals = _signed_approvals(reg.transactions, reg.id, created, executed_at, weights, headers, suite, chain,
                                  f"proposal {reg.id} (register {to_hex(arbitrator)})",
                                  lambda args: args[0] == "register_arbitrator" and args[1] == (arbitrator,))[0]
    if sum(approvals.values()) < threshold:
        raise NotVerified(INVALID_CALL, f"the signed approvals of proposal {reg.id} weigh {sum(approvals.values())}, "
                                        f"below the committee threshold {threshold}: the registration is not proven")
    _check_votes_recorded(proposal, approvals, reg.id)
    return ArbitratorRegistration(reg.id, executed_at, tuple(sorted(approvals.items())), threshold, committee_from,
                                  registered_at)


def _executed_proposal(pid: int, entry: StateEntry, headers: Sequence[BlockHeader],
                       suite: CryptoSuite) -> tuple[dict[str, Value], int, int]:
    """The proven record of proposal ``pid``, which must be executed: (record, created, executed_at)."""
    _prove(entry, headers, proposal_key(pid), f"proposal {pid}", suite)
    proposal = _value(entry, f"proposal {pid}")
    if not isinstance(proposal, dict):
        raise NotVerified(PROOF_ALTERED, f"proposal {pid} is not a proposal record")
    executed_at = proposal.get("executed_at")
    created = proposal.get("created")
    if (proposal.get("status") != "executed" or not isinstance(executed_at, int) or isinstance(executed_at, bool)
            or not isinstance(created, int) or isinstance(created, bool) or not 0 < created <= executed_at):
        raise NotVerified(CONTRADICTS_SIGNED, f"proposal {pid} is not an executed proposal")
    return proposal, created, executed_at


def _follow_committee(genesis: Genesis, bundle: CaseBundle, before: int, suite: CryptoSuite,
                      chain: tuple[str, str]) -> tuple[dict[bytes, int], int, tuple[int, ...]]:
    """The committee (weights) and threshold in force after the committee changes executed before block
    ``before``: from the genesis file, through each change the committee in force signed (its proposal and
    approving votes reaching the threshold), applied by the contract's own rules (execution/committee.py)."""
    weights = {m.address: m.weight for m in genesis.committee}
    threshold = genesis.committee_threshold
    last = 0
    followed: list[int] = []
    for change in bundle.committee_changes:
        pid = change.id
        proposal, created, executed_at = _executed_proposal(pid, change.proposal, bundle.headers, suite)
        if executed_at <= last or executed_at >= before:
            raise NotVerified(PROOF_ALTERED, f"committee change #{pid} executed in block {executed_at}: committee "
                                             "changes must be in ascending blocks, each before the registration "
                                             f"(block {before}), one per block")
        last = executed_at
        approvals, propose = _signed_approvals(change.transactions, pid, created, executed_at, weights, bundle.headers,
                                               suite, chain, f"committee change #{pid}",
                                               lambda args: args[0] in COMMITTEE_KINDS)
        if propose is None:
            raise NotVerified(INVALID_CALL, f"committee change #{pid}: the proof lacks its signed proposal, so what "
                                            "it changed is not proven")
        kind, params = propose.args[0], propose.args[1]
        assert isinstance(kind, str) and isinstance(params, tuple)  # checked by the accept function above
        if proposal.get("kind") != kind or proposal.get("params") != list(params):
            raise NotVerified(CONTRADICTS_SIGNED, f"committee change #{pid}: the certified proposal differs from the "
                                                  f"signed {kind} proposal")
        if sum(approvals.values()) < threshold:
            raise NotVerified(INVALID_CALL, f"committee change #{pid} ({kind}): the signed approvals weigh "
                                            f"{sum(approvals.values())}, below the threshold {threshold} of the "
                                            "committee in force: it is not proven to have passed")
        _check_votes_recorded(proposal, approvals, pid)
        try:
            weights, threshold = change_committee(weights, threshold, kind, list(params))
        except (BadTransaction, Revert) as exc:
            raise NotVerified(INVALID_CALL, f"committee change #{pid} ({kind}) could not have executed: "
                                            f"{exc}") from None
        followed.append(pid)
    return weights, threshold, tuple(followed)


def _signed_approvals(transactions: Sequence[TxInclusion], pid: int, created: int, executed_at: int,
                      weights: dict[bytes, int], headers: Sequence[BlockHeader], suite: CryptoSuite,
                      chain: tuple[str, str], what: str,
                      accept: Callable[[tuple[Value, ...]], bool]) -> tuple[dict[bytes, int], Transaction | None]:
    """Committee members' signed approvals of proposal ``pid``: its ``propose`` (in block ``created``, receipt
    output ``pid``, args accepted by ``accept``, not expired when it executed) and ``vote(pid, true)`` calls in
    blocks ``[created, executed_at]``. Returns (member -> weight, the propose transaction if carried); a
    signer who is not a member of ``weights`` adds nothing (the contract counts only current members)."""
    targets = (GOVERNANCE_ADDRESS, name_address(GOVERNANCE_NAME, suite))
    approvals: dict[bytes, int] = {}
    propose: Transaction | None = None
    for i, inc in enumerate(transactions):
        tx = inc.transaction
        if (tx.chain_id, tx.group_id) != chain or tx.to not in targets:
            raise NotVerified(INVALID_CALL, f"{what}: vote {i} is not a governance transaction of this chain")
        header = headers[inc.header]
        if tx.method == "propose" and len(tx.args) == 3:
            expires = tx.args[2]
            ok = (header.number == created and inc.receipt.output == pid and isinstance(tx.args[1], tuple)
                  and isinstance(expires, int) and not isinstance(expires, bool) and executed_at <= expires
                  and propose is None and accept(tx.args))
            if ok:
                propose = tx
        elif tx.method == "vote" and len(tx.args) == 2:
            ok = tx.args[0] == pid and tx.args[1] is True and created <= header.number <= executed_at
        else:
            ok = False
        if not ok:
            raise NotVerified(INVALID_CALL, f"{what}: vote {i} is not a signed approval of proposal {pid}")
        tx_hash = tx.hash_with(suite)
        check_receipt(inc, tx_hash, f"{what}: vote {i}")
        check_inclusion(header, inc, f"{what}: vote {i}", suite)
        voter = suite.address(tx.sender)
        if voter in weights:
            approvals[voter] = weights[voter]
    return approvals, propose


def _check_votes_recorded(proposal: dict[str, Value], approvals: dict[bytes, int], pid: int) -> None:
    votes = proposal.get("votes")
    recorded = {v[0] for v in (votes if isinstance(votes, list) else [])
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes) and v[1] is True}
    if not set(approvals) <= recorded:
        raise NotVerified(CONTRADICTS_SIGNED, f"proposal {pid}'s record does not list every signed approval")


def _committee(value: Value) -> dict[bytes, int]:
    """gv/committee: ``[[address, weight], …]``."""
    out: dict[bytes, int] = {}
    for item in value if isinstance(value, list) else ():
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes)
                and isinstance(item[1], int) and not isinstance(item[1], bool)):
            raise NotVerified(PROOF_ALTERED, "the committee state cannot be read")
        out[item[0]] = item[1]
    if not out:
        raise NotVerified(PROOF_ALTERED, "the committee state cannot be read (empty)")
    return out
