"""The verifier's walk of certified sealer-set changes from genesis.

No on-chain governance exists yet, so these tests stand in a test rule (a state
key and a decoder) and an executor that writes that key when told to, on the
real ledger. What is under test is the verifier's chain of trust: genesis set ->
certified change -> the blocks the proof relies on.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from consortium.encoding import canonical
from consortium.encoding.canonical import field_bytes
from consortium.encoding.hexbytes import to_hex
from consortium.evidence import NotVerified, load_bundle, verify_bundle
from consortium.evidence import errors as E
from consortium.evidence.sealer_sets import SealerSetRule
from consortium.execution import Executor
from consortium.execution.executor import BlockResult
from consortium.ledger.block import BlockHeader
from tests.evidence.evidence_chain import ALICE, BOB, OTHER_SEALERS, SEALERS, EvidenceChain, file_hash, make_genesis

SET_KEY = b"gv/sealers"
RULE = SealerSetRule(SET_KEY, lambda v: tuple(field_bytes(x, "sealer", size=32) for x in canonical.decode(v)))
DOC = b"minutes of the hearing"
GENESIS = make_genesis()


class SealerSetWriter:
    """The real executor, plus one state write of a new sealer set in the next block when asked."""

    def __init__(self) -> None:
        self.inner = Executor()
        self.next_set: tuple[bytes, ...] | None = None

    def execute_block(self, state, ctx, txs) -> BlockResult:
        result = self.inner.execute_block(state, ctx, txs)
        if self.next_set is None:
            return result
        writes = dict(result.writes)
        writes[SET_KEY] = canonical.encode(list(self.next_set))
        self.next_set = None
        return BlockResult(result.receipts, dict(sorted(writes.items())), result.gas_used)

    def resolve(self, state, name):
        return self.inner.resolve(state, name)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """Block 1 (genesis sealers) installs OTHER_SEALERS; block 2 notarizes DOC; block 3 Bob co-signs."""
    writer = SealerSetWriter()
    chain = EvidenceChain(tmp_path_factory.mktemp("rotated") / "db", executor=writer)
    new_ids = tuple(k.public_key for k in OTHER_SEALERS)
    writer.next_set = new_ids
    chain.produce([])
    chain.sealer_keys, chain.sealers = OTHER_SEALERS, new_ids
    chain.notarize(ALICE, DOC, [BOB.address])
    chain.transact(BOB, "sign", [file_hash(DOC)])

    def change_at(number: int) -> dict:
        header, value, proof = chain.ledger.state_proof(SET_KEY, number)
        return {"header": to_hex(header.encode()), "value": to_hex(value), "proof": to_hex(proof.encode())}

    doc = chain.bundle(DOC).to_json()
    yield doc, change_at(1), change_at(2)
    chain.close()


def verify(doc, rule=RULE):
    return verify_bundle(GENESIS, load_bundle(json.dumps(doc).encode()), file_hash(DOC), sealer_rule=rule)


def refusal(doc, rule=RULE) -> NotVerified:
    with pytest.raises(NotVerified) as info:
        verify(doc, rule)
    return info.value


def test_blocks_after_a_certified_change_verify(rotated) -> None:
    doc, change, _ = rotated
    result = verify({**doc, "sealerChanges": [change]})
    assert result.block_number == 2 and [c.signer for c in result.cosignatures] == [BOB.address]


def test_without_the_change_the_new_sealers_are_strangers(rotated) -> None:
    doc, _, _ = rotated
    refused = refusal(doc)
    assert refused.code == E.SEALER_SET and "block 2" in refused.message


def test_a_verifier_without_governance_refuses_changes(rotated) -> None:
    doc, change, _ = rotated
    assert refusal({**doc, "sealerChanges": [change]}, rule=None).code == E.SEALER_SET


def test_an_uncertified_change_is_refused(rotated) -> None:
    doc, change, _ = rotated
    header = BlockHeader.decode(bytes.fromhex(change["header"][2:]))
    bare = {**change, "header": to_hex(dataclasses.replace(header, signatures=header.signatures[:1]).encode())}
    refused = refusal({**doc, "sealerChanges": [bare]})
    assert refused.code == E.TOO_FEW_SIGNATURES and "block 1" in refused.message


def test_a_change_to_a_set_of_ones_choosing_is_refused(rotated) -> None:
    doc, change, _ = rotated
    mine = canonical.encode([k.public_key for k in SEALERS[:3]] + [OTHER_SEALERS[0].public_key])
    refused = refusal({**doc, "sealerChanges": [{**change, "value": to_hex(mine)}]})
    assert refused.code == E.PROOF_ALTERED and "state proof" in refused.message


def test_changes_must_be_in_ascending_order(rotated) -> None:
    doc, change, _ = rotated
    refused = refusal({**doc, "sealerChanges": [change, change]})
    assert refused.code == E.PROOF_ALTERED and "ascending" in refused.message


def test_a_change_sealed_by_a_set_not_yet_in_force_is_refused(rotated) -> None:
    """Block 2's state also holds the new set, but block 2 was sealed by that set: no trust from genesis."""
    doc, _, later = rotated
    refused = refusal({**doc, "sealerChanges": [later]})
    assert refused.code == E.SEALER_SET and "change at block 2" in refused.message
