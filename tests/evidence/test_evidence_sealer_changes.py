"""The verifier's walk of certified sealer-set changes from genesis, on a chain whose committee
really changes its sealers through the governance contract.

Block 1: the committee adds a fifth sealer (in force from block 2, quorum 4 of 5).
Block 2: the committee removes genesis sealer 0 (in force from block 3).
Block 3: Alice notarizes DOC (sealed by the new set).   Block 4: Bob co-signs.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from tests.evidence.evidence_chain import (
    ADMIN,
    ALICE,
    BOB,
    OTHER_SEALERS,
    SEALERS,
    EvidenceChain,
    file_hash,
    make_genesis,
)

from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.evidence import NotVerified, load_bundle, verify_bundle
from consortium.evidence import errors as E
from consortium.execution.governance import GOVERNANCE_ADDRESS, KEY_SEALERS
from consortium.ledger.block import BlockHeader

DOC = b"minutes of the hearing"
GENESIS = make_genesis()
NEW = OTHER_SEALERS[0]


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    chain = EvidenceChain(tmp_path_factory.mktemp("rotated") / "db")

    def govern(kind: str, node: bytes) -> None:
        tx = chain.tx(ADMIN, "propose", [kind, [node], 100], to=GOVERNANCE_ADDRESS)
        chain.produce([tx])
        receipt, _ = chain.ledger.receipt(tx.hash)
        assert receipt.ok and [e.name for e in receipt.events][-1] == "Executed", receipt.error

    govern("add_sealer", NEW.public_key)
    chain.sealer_keys = (*SEALERS, NEW)
    chain.sealers = tuple(k.public_key for k in chain.sealer_keys)
    govern("remove_node", SEALERS[0].public_key)
    chain.sealer_keys = (*SEALERS[1:], NEW)
    chain.sealers = tuple(k.public_key for k in chain.sealer_keys)
    chain.notarize(ALICE, DOC, [BOB.address])
    chain.transact(BOB, "sign", [file_hash(DOC)])
    assert chain.ledger.head_header().sealers == chain.sealers
    doc = chain.bundle(DOC).to_json()
    yield chain, doc
    chain.close()


def verify(doc, **kw):
    return verify_bundle(GENESIS, load_bundle(json.dumps(doc).encode()), file_hash(DOC), **kw)


def refusal(doc, **kw) -> NotVerified:
    with pytest.raises(NotVerified) as info:
        verify(doc, **kw)
    return info.value


def test_builder_finds_both_changes_and_the_proof_verifies(rotated) -> None:
    _, doc = rotated
    changes = [BlockHeader.decode(from_hex(c["header"])).number for c in doc["sealerChanges"]]
    assert changes == [1, 2]
    result = verify(doc)
    assert result.block_number == 3 and [c.signer for c in result.cosignatures] == [BOB.address]
    assert (result.sealers, result.quorum) == (4, 3)


def test_without_the_changes_the_new_sealers_are_strangers(rotated) -> None:
    _, doc = rotated
    refused = refusal({**doc, "sealerChanges": []})
    assert refused.code == E.SEALER_SET and "block 3" in refused.message


def test_a_missing_intermediate_change_breaks_the_chain_of_trust(rotated) -> None:
    _, doc = rotated
    refused = refusal({**doc, "sealerChanges": doc["sealerChanges"][1:]})
    assert refused.code == E.SEALER_SET and "change at block 2" in refused.message


def test_a_verifier_without_a_rule_refuses_changes(rotated) -> None:
    _, doc = rotated
    assert refusal(doc, sealer_rule=None).code == E.SEALER_SET


def test_an_uncertified_change_is_refused(rotated) -> None:
    _, doc = rotated
    first = doc["sealerChanges"][0]
    header = BlockHeader.decode(from_hex(first["header"]))
    bare = {**first, "header": to_hex(dataclasses.replace(header, signatures=header.signatures[:1]).encode())}
    refused = refusal({**doc, "sealerChanges": [bare, doc["sealerChanges"][1]]})
    assert refused.code == E.TOO_FEW_SIGNATURES and "block 1" in refused.message


def test_a_change_to_a_set_of_ones_choosing_is_refused(rotated) -> None:
    _, doc = rotated
    mine = canonical.encode([k.public_key for k in OTHER_SEALERS])
    first = {**doc["sealerChanges"][0], "value": to_hex(mine)}
    refused = refusal({**doc, "sealerChanges": [first, doc["sealerChanges"][1]]})
    assert refused.code == E.PROOF_ALTERED and "state proof" in refused.message


def test_changes_must_be_in_ascending_order(rotated) -> None:
    _, doc = rotated
    refused = refusal({**doc, "sealerChanges": list(reversed(doc["sealerChanges"]))})
    assert refused.code == E.SEALER_SET  # block 2's change is not sealed by the genesis set


def test_a_repeated_change_is_refused(rotated) -> None:
    _, doc = rotated
    first = doc["sealerChanges"][0]
    refused = refusal({**doc, "sealerChanges": [first, first, doc["sealerChanges"][1]]})
    assert refused.code == E.PROOF_ALTERED and "ascending" in refused.message


def test_the_rule_reads_what_governance_writes(rotated) -> None:
    chain, _ = rotated
    header, value, _ = chain.ledger.state_proof(KEY_SEALERS, chain.ledger.height)
    assert tuple(canonical.decode(value)) == header.sealers
