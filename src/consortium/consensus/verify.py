"""Verification of consensus messages and certificates: pure functions of (context, message).

Nothing a peer sends is believed before it passes here: every signature is
checked against the sealer it names, every attached block is re-hashed (header
hash and transaction root), and every message embedded in a prepared
certificate, a VIEW-CHANGE or a NEW-VIEW is checked exactly like a message
received on its own. (FISCO BCOS once accepted a VIEW-CHANGE whose embedded
votes were never verified; this module is where that cannot happen.)

Like CometBFT's light verifier, each function runs its cheap structural checks
first and signature checks last, so a hostile message costs little to reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from consortium.consensus.errors import (
    BadBlock,
    BadSeal,
    BadSignature,
    DuplicateSealer,
    InvalidCertificate,
    InvalidMessage,
    NotASealer,
    TooFewSeals,
    UnknownSealer,
    WrongChain,
)
from consortium.consensus.messages import (
    Commit,
    Message,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from consortium.consensus.quorum import leader_index, max_faulty, quorum_size
from consortium.crypto.suite import CryptoSuite
from consortium.ledger.block import Block, BlockHeader, commit_seal_payload, tx_root


@dataclass(frozen=True)
class HeightContext:
    """What a verifier must know about the height being decided."""

    chain_id: str
    group_id: str
    height: int
    parent_hash: bytes
    sealers: tuple[bytes, ...]
    suite: CryptoSuite = field(compare=False)

    @cached_property
    def index(self) -> dict[bytes, int]:
        return {s: i for i, s in enumerate(self.sealers)}

    @property
    def n(self) -> int:
        return len(self.sealers)

    @property
    def quorum(self) -> int:
        return quorum_size(self.n)

    @property
    def f(self) -> int:
        return max_faulty(self.n)

    def leader(self, view: int) -> bytes:
        return self.sealers[leader_index(self.height, view, self.n)]


def header_hash(header: BlockHeader, suite: CryptoSuite) -> bytes:
    """The block hash under ``suite``: the header's cached hash when it was made or decoded under a
    suite of that name (suites are identified by name, as the genesis file names one)."""
    return header.hash_with(suite)


def block_tx_root(block: Block, suite: CryptoSuite) -> bytes:
    """The block's transaction root under ``suite``, computed once per block object."""
    return block.computed_tx_root if block.suite.name == suite.name else tx_root(block.transactions, suite)


# --- single messages ----------------------------------------------------------------------------


def check_envelope(msg: Message, ctx: HeightContext) -> int:
    """Chain, group, height and sealer membership; returns the sender's sealer index."""
    if msg.chain_id != ctx.chain_id or msg.group_id != ctx.group_id:
        raise WrongChain(f"{msg.NAME} is for chain {msg.chain_id!r}/{msg.group_id!r}, "
                         f"this node runs {ctx.chain_id!r}/{ctx.group_id!r}")
    if msg.height != ctx.height:
        raise InvalidMessage(f"{msg.NAME} is for height {msg.height}, expected {ctx.height}")
    idx = ctx.index.get(msg.sender)
    if idx is None:
        raise NotASealer(f"{msg.NAME} sender {msg.sender.hex()[:16]}... is not a sealer at height {ctx.height}")
    return idx


def check_signature(msg: Message, ctx: HeightContext) -> None:
    if not ctx.suite.verify(msg.sender, msg.digest(ctx.suite), msg.signature):
        raise BadSignature(f"{msg.NAME} signature does not verify against sender {msg.sender.hex()[:16]}...")
    if isinstance(msg, Commit) and not ctx.suite.verify(msg.sender, msg.seal_payload, msg.seal):
        raise BadSignature(f"COMMIT seal does not verify against sender {msg.sender.hex()[:16]}...")


def check_block(block: Block, block_hash: bytes, ctx: HeightContext) -> None:
    """The attached block is the one signed for and extends this node's chain with this sealer set.

    Transactions and state are the application's to validate (ValidateRequest);
    what is checked here is only what the core itself relies on.
    """
    header = block.header
    if header_hash(header, ctx.suite) != block_hash:
        raise BadBlock("attached block does not hash to the signed block hash")
    if header.number != ctx.height:
        raise BadBlock(f"block number {header.number} is not the height being decided ({ctx.height})")
    if header.parent_hash != ctx.parent_hash:
        raise BadBlock("block does not extend this node's chain (parent hash differs)")
    if header.sealers != ctx.sealers:
        raise BadBlock("block names a sealer set other than the one in force at this height")
    if header.chain_id != ctx.chain_id or header.group_id != ctx.group_id:
        raise BadBlock("block is for another chain or group")
    if block_tx_root(block, ctx.suite) != header.tx_root:
        raise BadBlock("block transactions do not match the header's transaction root")


def check_fresh_proposal(header: BlockHeader, view: int, ctx: HeightContext) -> None:
    """A block first proposed in ``view`` names that view and its leader."""
    if header.view != view:
        raise BadBlock(f"fresh proposal for view {view} carries view {header.view} in its header")
    if header.proposer != ctx.leader(view):
        raise BadBlock(f"fresh proposal for view {view} names a proposer other than that view's leader")


def check_pre_prepare(pp: PrePrepare, ctx: HeightContext) -> None:
    """Envelope, leadership and signature of a PRE-PREPARE (attachment not included)."""
    check_envelope(pp, ctx)
    if pp.sender != ctx.leader(pp.view):
        raise InvalidMessage(f"PRE-PREPARE for view {pp.view} from a sealer that is not its leader")
    check_signature(pp, ctx)


# --- certificates ---------------------------------------------------------------------------------


def check_prepared_certificate(cert: PreparedCertificate, ctx: HeightContext, *, before_view: int) -> None:
    """A quorum of distinct sealers prepared ``cert.block_hash`` in ``cert.view < before_view``."""
    pp = cert.pre_prepare
    if pp.view >= before_view:
        raise InvalidCertificate(f"prepared certificate for view {pp.view} is not older than view {before_view}")
    if pp.block is not None:
        raise InvalidCertificate("prepared certificate embeds a block")
    if len(cert.prepares) < ctx.quorum:
        raise InvalidCertificate(f"prepared certificate has {len(cert.prepares)} prepares; {ctx.quorum} needed")
    try:
        check_envelope(pp, ctx)
        if pp.sender != ctx.leader(pp.view):
            raise InvalidCertificate("prepared certificate's PRE-PREPARE is not from that view's leader")
        seen: set[int] = set()
        for p in cert.prepares:
            idx = check_envelope(p, ctx)
            if p.view != pp.view or p.block_hash != pp.block_hash:
                raise InvalidCertificate("prepared certificate mixes prepares of another view or block")
            if idx in seen:
                raise InvalidCertificate("prepared certificate counts one sealer twice")
            seen.add(idx)
        check_signature(pp, ctx)
        for p in cert.prepares:
            check_signature(p, ctx)
    except InvalidCertificate:
        raise
    except InvalidMessage as exc:
        raise InvalidCertificate(f"prepared certificate: {exc}") from None


def check_view_change(vc: ViewChange, ctx: HeightContext) -> int:
    """Envelope, certificate and signature of a VIEW-CHANGE; returns the sender index."""
    idx = check_envelope(vc, ctx)
    if vc.view < 1:
        raise InvalidMessage("VIEW-CHANGE must ask for a view above 0")
    if vc.block is not None:
        if vc.prepared is None:
            raise InvalidCertificate("VIEW-CHANGE carries a block but no prepared certificate")
        check_block(vc.block, vc.prepared.block_hash, ctx)
    check_signature(vc, ctx)
    if vc.prepared is not None:
        check_prepared_certificate(vc.prepared, ctx, before_view=vc.view)
    return idx


def highest_prepared(view_changes: tuple[ViewChange, ...]) -> PreparedCertificate | None:
    """The prepared certificate of the highest view among ``view_changes`` (first one on ties).

    Two valid certificates of one view always name the same block (their
    prepare quorums share an honest sealer), so the tie rule only matters for
    determinism.
    """
    best: PreparedCertificate | None = None
    for vc in view_changes:
        if vc.prepared is not None and (best is None or vc.prepared.view > best.view):
            best = vc.prepared
    return best


def check_new_view(nv: NewView, ctx: HeightContext) -> PreparedCertificate | None:
    """Everything a replica must check before installing a NEW-VIEW; returns the justifying certificate.

    The NEW-VIEW must come from the new view's leader, carry VIEW-CHANGEs for
    that view from a quorum of distinct sealers (each verified in full,
    certificates included), and propose exactly the block of the highest
    prepared certificate among them, or a fresh block when none has one.
    """
    check_envelope(nv, ctx)
    if nv.view < 1:
        raise InvalidMessage("NEW-VIEW must be for a view above 0")
    if nv.sender != ctx.leader(nv.view):
        raise InvalidMessage(f"NEW-VIEW for view {nv.view} from a sealer that is not its leader")
    pp = nv.pre_prepare
    check_envelope(pp, ctx)
    if pp.view != nv.view or pp.sender != nv.sender:
        raise InvalidCertificate("NEW-VIEW's PRE-PREPARE is not the leader's proposal for that view")
    if nv.block is None:
        raise BadBlock("NEW-VIEW carries no block")
    if len(nv.view_changes) < ctx.quorum:
        raise InvalidCertificate(f"NEW-VIEW carries {len(nv.view_changes)} view changes; {ctx.quorum} needed")
    senders: set[bytes] = set()
    for vc in nv.view_changes:
        if vc.view != nv.view:
            raise InvalidCertificate(f"NEW-VIEW for view {nv.view} includes a VIEW-CHANGE for view {vc.view}")
        if vc.sender in senders:
            raise InvalidCertificate("NEW-VIEW counts one sealer's VIEW-CHANGE twice")
        senders.add(vc.sender)
    chosen = highest_prepared(nv.view_changes)
    if chosen is not None and pp.block_hash != chosen.block_hash:
        raise InvalidCertificate("NEW-VIEW proposes a block other than the highest prepared one "
                                 f"(prepared in view {chosen.view})")
    check_block(nv.block, pp.block_hash, ctx)
    if chosen is None:
        check_fresh_proposal(nv.block.header, nv.view, ctx)
    check_signature(nv, ctx)
    check_signature(pp, ctx)
    try:
        for vc in nv.view_changes:
            check_view_change(vc, ctx)
    except InvalidCertificate:
        raise
    except InvalidMessage as exc:
        raise InvalidCertificate(f"NEW-VIEW includes an invalid VIEW-CHANGE: {exc}") from None
    return chosen


# --- commit certificates ------------------------------------------------------------------------


def verify_commit_certificate(header: BlockHeader, suite: CryptoSuite) -> None:
    """Check that ``header.signatures`` are commit seals of a quorum of distinct sealers of ``header.sealers``.

    Raises a subclass of :class:`InvalidCommitCertificate` naming the first
    problem: too few seals, a sealer counted twice (or listed twice in the
    sealer set), a seal from an index outside the sealer set, a seal that does
    not verify over ``commit_seal_payload(header hash, header.commit_view)`` — so all
    seals are of one view, which is what makes a certificate unique per height. Every seal present must
    verify: a certificate is stored forever, so it must be clean, not merely
    sufficient. Signatures are checked last.

    Used by block sync and by the offline evidence verifier. The caller must
    separately check that ``header.sealers`` is the sealer set its trusted
    chain state says was in force at ``header.number``.
    """
    n = len(header.sealers)
    if n == 0:
        raise TooFewSeals("block header names no sealers")
    if len(set(header.sealers)) != n:
        raise DuplicateSealer("block header's sealer set lists one node twice")
    needed = quorum_size(n)
    if len(header.signatures) < needed:
        raise TooFewSeals(f"block {header.number} has {len(header.signatures)} commit seals; "
                          f"{needed} of {n} sealers are needed")
    seen: set[int] = set()
    for s in header.signatures:
        if not 0 <= s.sealer_index < n:
            raise UnknownSealer(f"commit seal names sealer index {s.sealer_index}; the block has {n} sealers")
        if s.sealer_index in seen:
            raise DuplicateSealer(f"sealer {s.sealer_index} seals block {header.number} twice")
        seen.add(s.sealer_index)
    payload = commit_seal_payload(header_hash(header, suite), header.commit_view)
    for s in header.signatures:
        if not suite.verify(header.sealers[s.sealer_index], payload, s.signature):
            raise BadSeal(f"commit seal of sealer {s.sealer_index} does not verify over block "
                          f"{header.number}'s hash")
