"""Proof bundles with an RFC 3161 anchor, verified offline: the TSA's time, and every refusal with its reason.

A real chain (LevelDB ledger, real seals), a real TSA (openssl ts over HTTP), the node's anchoring service and
RPC methods, the bundle builder and the offline verifier and command line.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.evidence.evidence_chain import ALICE, MALLORY, EvidenceChain, file_hash, make_genesis
from tests.helpers.tsa import TsaFiles, TsaServer, stamp

from consortium.cli.main import main
from consortium.crypto.timestamp import TrustedTsa, build_request, parse_response
from consortium.evidence import NotVerified, load_bundle, verify_bundle
from consortium.evidence.anchor import BundleAnchor
from consortium.evidence.bundle import ProofBundle
from consortium.ledger.checkpoint import Checkpoint
from consortium.node.anchoring import AnchorService, AnchorStore, anchor_proof
from consortium.node.config import AnchorSettings
from consortium.node.genesis import Genesis

DOC = b"loan agreement, signed 2026-11-30\n" * 10


class AnchoredChain(EvidenceChain):
    """The evidence test chain plus this node's anchoring service, answering getAnchor like a node does."""

    def __init__(self, path: Path, genesis: Genesis, url: str, trusted: list[TsaFiles]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        super().__init__(path / "db", genesis)
        self.anchoring = AnchorService(AnchorSettings((url,)), self.ledger, AnchorStore.open(path),
                                       lambda: [TrustedTsa(t.name, t.ca_der) for t in trusted])

    def anchor_now(self) -> None:
        async def go() -> None:
            async with aiohttp.ClientSession() as session:
                await self.anchoring.anchor_once(session)
        asyncio.run(go())

    def anchor(self, number: int) -> dict[str, Any] | None:
        from consortium.rpc.node_api import NodeRpcApi

        return NodeRpcApi.anchor(self, number)  # type: ignore[arg-type]

    @property
    def node(self) -> AnchoredChain:  # NodeRpcApi.anchor reads self.node.anchor_store
        return self

    @property
    def anchor_store(self) -> AnchorStore:
        return self.anchoring.store

    def close(self) -> None:
        self.anchoring.store.close()
        super().close()


def genesis_trusting(*tsas: TsaFiles) -> Genesis:
    g = make_genesis()
    return Genesis(**{**g.__dict__, "tsas": tuple(TrustedTsa(t.name, t.ca_der) for t in tsas)})


@pytest.fixture
def anchored(tmp_path: Path, tsa: TsaFiles, tsa_server):
    chain = AnchoredChain(tmp_path, genesis_trusting(tsa), tsa_server.url, [tsa])
    chain.notarize(ALICE, b"earlier document")
    chain.notarize(ALICE, DOC)
    chain.notarize(ALICE, b"later document")
    chain.anchor_now()
    yield chain
    chain.close()


def verify(chain: EvidenceChain, bundle: ProofBundle):
    return verify_bundle(chain.genesis, bundle, file_hash(DOC))


def refused(chain: EvidenceChain, bundle: ProofBundle) -> NotVerified:
    with pytest.raises(NotVerified) as exc:
        verify(chain, bundle)
    return exc.value


def test_a_bundle_carries_the_anchor_and_verifies_offline(anchored: AnchoredChain, tsa: TsaFiles) -> None:
    bundle = anchored.bundle(DOC)
    assert bundle.anchor is not None and bundle.anchor.checkpoint.covers(2)
    again = load_bundle(bundle.dumps().encode())  # through its JSON form, as the arbitrator gets it
    assert again == bundle
    result = verify(anchored, again)
    a = result.anchor
    assert a is not None and a.tsa == tsa.name and (a.first, a.last) == (1, 3)
    now = datetime.now(UTC)
    assert now - timedelta(minutes=5) < a.gen_time <= a.latest < now + timedelta(minutes=5)
    assert a.trust.startswith("genesis")


def test_a_bundle_without_an_anchor_still_verifies_and_says_so(tmp_path: Path, anchored: AnchoredChain, capsys) -> None:
    chain = anchored
    chain.notarize(ALICE, b"not yet anchored")
    bundle = chain.bundle(b"not yet anchored")
    assert bundle.anchor is None
    assert verify_bundle(chain.genesis, bundle, file_hash(b"not yet anchored")).anchor is None
    (tmp_path / "doc.bin").write_bytes(b"not yet anchored")
    (tmp_path / "doc.proof.json").write_text(bundle.dumps())
    (tmp_path / "genesis.toml").write_text(chain.genesis.to_toml())
    assert main(["evidence", "verify", str(tmp_path / "doc.bin"), "--proof", str(tmp_path / "doc.proof.json"),
                 "--genesis", str(tmp_path / "genesis.toml")]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "rests on the sealers" in out and "time-stamping authority " not in out.replace("No time-stamping authority", "")


def test_the_command_line_reports_the_tsa_time(tmp_path: Path, anchored: AnchoredChain, tsa: TsaFiles, capsys) -> None:
    (tmp_path / "doc.pdf").write_bytes(DOC)
    (tmp_path / "doc.proof.json").write_text(anchored.bundle(DOC).dumps())
    (tmp_path / "genesis.toml").write_text(anchored.genesis.to_toml())
    args = ["evidence", "verify", str(tmp_path / "doc.pdf"), "--proof", str(tmp_path / "doc.proof.json"),
            "--genesis", str(tmp_path / "genesis.toml")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "existed no later than 20" in out and f"(time-stamping authority {tsa.name})" in out
    assert "block timestamp, set by the sealers" in out
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["timeAnchor"]["tsa"] == tsa.name and doc["timeAnchor"]["checkpoint"] == [1, 3]


def test_a_token_from_an_unlisted_tsa_is_not_verified(tmp_path: Path, tsa: TsaFiles, other_tsa: TsaFiles) -> None:
    # The node trusted the other TSA too (say, before governance removed it); the genesis lists only ``tsa``.
    with TsaServer(other_tsa) as other:
        chain = AnchoredChain(tmp_path, genesis_trusting(tsa), other.url, [tsa, other_tsa])
        try:
            chain.notarize(ALICE, DOC)
            chain.anchor_now()
            err = refused(chain, chain.bundle(DOC))
        finally:
            chain.close()
    assert err.code == "timestamp-untrusted-tsa" and other_tsa.name in err.message


def test_a_token_over_another_hash_is_not_verified(anchored: AnchoredChain, tsa: TsaFiles) -> None:
    bundle = anchored.bundle(DOC)
    cp = bundle.anchor.checkpoint
    other = Checkpoint(cp.chain_id, cp.group_id, cp.first, cp.last, bytes(32))
    reply = parse_response(stamp(tsa, build_request(other.encode()).der), normalize=True)
    err = refused(anchored, replace(bundle, anchor=replace(bundle.anchor, token=reply)))
    assert err.code == "timestamp-other-hash"


def test_a_flipped_byte_in_the_token_is_not_verified(anchored: AnchoredChain) -> None:
    bundle = anchored.bundle(DOC)
    der = bundle.anchor.token.der
    at = der.index(bundle.anchor.token.gen_time.strftime("%Y%m%d%H%M%S").encode()) + 2
    doc = bundle.to_json()
    altered = bytearray(der)
    altered[at] ^= 0x01
    doc["anchor"]["reply"] = "0x" + altered.hex()
    err = refused(anchored, load_bundle(json.dumps(doc).encode()))
    assert err.code == "timestamp-invalid" and "signature" in err.message.lower()


def test_an_anchor_offered_for_another_block_is_not_verified(anchored: AnchoredChain) -> None:
    bundle = anchored.bundle(DOC)
    a = bundle.anchor
    moved = replace(a, proof=replace(a.proof, index=a.proof.index + 1))
    assert refused(anchored, replace(bundle, anchor=moved)).code == "anchor-mismatch"
    other_path = anchor_proof(anchored.ledger, anchored.anchoring.store, 1)[1]  # block 1's path, offered for block 2
    assert refused(anchored, replace(bundle, anchor=replace(a, proof=replace(other_path, index=1)))).code == \
        "anchor-mismatch"


def test_a_history_re_signed_by_a_retired_quorum_cannot_carry_the_anchor(tmp_path: Path, anchored: AnchoredChain,
                                                                         tsa: TsaFiles, tsa_server) -> None:
    """The genesis sealers' keys (retired, say, and not destroyed) sign an alternative history later: Mallory,
    not Alice, notarized DOC in block 2. Every signature checks; the anchor is what gives it away."""
    genuine = anchored.bundle(DOC)
    forged_chain = AnchoredChain(tmp_path / "fork", anchored.genesis, tsa_server.url, [tsa])
    try:
        forged_chain.notarize(ALICE, b"earlier document")
        forged_chain.notarize(MALLORY, DOC)
        forged = forged_chain.bundle(DOC)
        assert forged.anchor is None and verify(forged_chain, forged).submitter != verify(anchored, genuine).submitter
        # With the anchor taken at the time (the forger cannot get a token dated before the forgery):
        err = refused(forged_chain, replace(forged, anchor=genuine.anchor))
        assert err.code == "anchor-mismatch" and "not the one anchored" in err.message
        # With a token fetched now, it verifies - but only as "existed no later than now", not the block's time.
        forged_chain.anchor_now()
        late = verify(forged_chain, forged_chain.bundle(DOC))
        block_time = datetime.fromtimestamp(late.timestamp_ms / 1000, UTC)
        assert late.anchor is not None and late.anchor.latest - block_time > timedelta(days=365)
    finally:
        forged_chain.close()


def test_a_governance_tsa_list_is_proven_and_used(anchored: AnchoredChain, tsa: TsaFiles) -> None:
    bundle = anchored.bundle(DOC)
    assert bundle.anchor.tsas is not None and bundle.anchor.tsas.value is None  # never set: genesis applies
    dropped = replace(bundle, anchor=BundleAnchor(bundle.anchor.checkpoint, bundle.anchor.proof, bundle.anchor.token))
    assert verify(anchored, dropped).anchor.trust == "genesis"
    forged_list = replace(bundle.anchor.tsas, value=b"\x90")  # "[]": claims governance trusts nobody
    err = refused(anchored, replace(bundle, anchor=replace(bundle.anchor, tsas=forged_list)))
    assert err.code == "anchor-mismatch" and "not proven" in err.message


def test_any_edit_of_the_anchor_is_a_typed_refusal_or_harmless(anchored: AnchoredChain) -> None:
    """Hypothesis over the anchor member: flipped hex digits, truncations, wrong types; never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from consortium.evidence import MalformedBundle

    bundle = anchored.bundle(DOC)
    base = bundle.to_json()
    good = verify(anchored, bundle).anchor

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(["checkpoint", "proof", "reply"]), data=st.data())
    def edit(field: str, data: st.DataObject) -> None:
        doc = json.loads(json.dumps(base))
        text = doc["anchor"][field]
        how = data.draw(st.sampled_from(["digit", "cut", "type"]))
        if how == "digit":
            at = data.draw(st.integers(2, len(text) - 1))
            text = text[:at] + data.draw(st.sampled_from("0123456789abcdef")) + text[at + 1:]
        elif how == "cut":
            text = text[:data.draw(st.integers(0, len(text) - 1))]
        else:
            text = data.draw(st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2)))
        doc["anchor"][field] = text
        try:
            result = verify(anchored, load_bundle(json.dumps(doc).encode()))
        except (NotVerified, MalformedBundle) as exc:
            assert exc.code and exc.message
        else:  # an edit that changed nothing signed (certificate order, an equal digit): the same claim
            assert (result.anchor.gen_time, result.anchor.serial, result.anchor.tsa) == (good.gen_time, good.serial,
                                                                                         good.tsa)

    edit()


def test_a_time_policy_refuses_a_late_or_missing_anchor(tmp_path: Path, anchored: AnchoredChain, capsys) -> None:
    """--max-anchor-lag / --require-anchor: a court's policy on top of the proof. The test chain's block times are
    its genesis's (years ago), so its token, fetched now, is years late: refused under a day's policy, accepted
    under a long one; a proof without a token is refused when one is required."""
    (tmp_path / "doc.pdf").write_bytes(DOC)
    (tmp_path / "doc.proof.json").write_text(anchored.bundle(DOC).dumps())
    (tmp_path / "genesis.toml").write_text(anchored.genesis.to_toml())
    args = ["evidence", "verify", str(tmp_path / "doc.pdf"), "--proof", str(tmp_path / "doc.proof.json"),
            "--genesis", str(tmp_path / "genesis.toml")]
    block_time = datetime.fromtimestamp(verify(anchored, anchored.bundle(DOC)).timestamp_ms / 1000, UTC)
    lag = datetime.now(UTC) - block_time
    assert lag > timedelta(days=2)

    assert main([*args, "--max-anchor-lag", "1d"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT VERIFIED: the time-stamp (Test TSA A) says") and "the policy allows at most 1 d" in out
    assert "(anchor-too-late)" in out and "What to do:" in out
    assert main([*args, "--max-anchor-lag", "86400", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["code"] == "anchor-too-late"

    allowed = f"{lag.days + 2}d"
    assert main([*args, "--max-anchor-lag", allowed]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and f"Policy met: the time-stamp is {lag.days} d" in out and "your policy allows" in out
    assert main([*args, "--max-anchor-lag", allowed, "--json"]) == 0
    policy = json.loads(capsys.readouterr().out)["policy"]
    assert policy["maxAnchorLagS"] == (lag.days + 2) * 86400 and policy["requireAnchor"] is True
    assert abs(policy["anchorLagMs"] - lag.total_seconds() * 1000) < 600_000
    assert main([*args, "--require-anchor"]) == 0 and "Policy met" in capsys.readouterr().out

    anchored.notarize(ALICE, b"not yet anchored")
    (tmp_path / "new.bin").write_bytes(b"not yet anchored")
    (tmp_path / "new.proof.json").write_text(anchored.bundle(b"not yet anchored").dumps())
    plain = ["evidence", "verify", str(tmp_path / "new.bin"), "--proof", str(tmp_path / "new.proof.json"),
             "--genesis", str(tmp_path / "genesis.toml")]
    assert main(plain) == 0
    capsys.readouterr()
    for policy_args in (["--require-anchor"], ["--max-anchor-lag", "10m"]):
        assert main([*plain, *policy_args]) == 1
        assert "(no-anchor)" in capsys.readouterr().out
    for bad in ("ten minutes", "10w", "-5m", ""):
        with pytest.raises(SystemExit) as exc:
            main([*args, f"--max-anchor-lag={bad}"])
        assert exc.value.code == 2
        assert "expected a duration such as 90s, 10m, 2h or 1d" in capsys.readouterr().err
