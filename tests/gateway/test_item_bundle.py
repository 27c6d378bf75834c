"""Per-item proofs against a real single-process chain (LevelDB, the evidence contract, sealer keys):
every item of a batch verifies from genesis alone; a tampered path, a path for another item, a batch
root not on chain, another file or a mismatched batch size is NOT VERIFIED with its reason; and
hypothesis finds no edit of a proof file that crashes the verifier or makes it accept a lie."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.evidence.evidence_chain import ALICE, BOB, EvidenceChain, file_hash
from tests.evidence.test_evidence_fuzz import get, json_values, paths, replaced

from consortium.encoding import canonical
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.evidence import NotVerified, UnsupportedBundle, verify_bundle
from consortium.evidence.build import fetch_bundle
from consortium.evidence.commitment import Opening, commit
from consortium.evidence.errors import FILE_CHANGED, MALFORMED_PROOF, NOT_A_NOTARIZATION, PROOF_ALTERED
from consortium.evidence.item import EvidenceItem
from consortium.evidence.item_bundle import ItemBundle, load_item_bundle, verify_item_bundle
from consortium.gateway.tree import BatchTree
from consortium.ledger.merkle import ListProof

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
FILES = [b"transfer %d: 100.00 CNY from 6222-0001 to 6222-%04d\n" % (i, i) for i in range(11)]


@dataclasses.dataclass
class Batch:
    chain: EvidenceChain
    items: list[EvidenceItem]
    tree: BatchTree
    bundle: Any  # the batch's ordinary ProofBundle

    def item_bundle(self, i: int) -> ItemBundle:
        return ItemBundle(self.items[i], self.tree.path(i), self.bundle)


SALT = bytes(range(32, 64))
SALTED = b"ID card 110101199003077777, account 6222-0202\n"
"""Low-entropy evidence: its item carries the salted commitment, never its bare hash."""


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    chain = EvidenceChain(tmp_path_factory.mktemp("item-chain") / "db")
    items = [EvidenceItem.create(file_hash(f), {"ref": f"T{i}"} if i % 3 else None) for i, f in enumerate(FILES)]
    items.append(EvidenceItem.create(commit(file_hash(SALTED), SALT)))
    tree = BatchTree([i.encoded for i in items])
    filler = chain.tx(BOB, "notarize", [file_hash(b"filler"), {}, []])
    tx = chain.tx(ALICE, "notarize_batch", [tree.root, len(items)])
    chain.produce([filler, tx])
    receipt, _ = chain.ledger.receipt(tx.hash)
    assert receipt.ok, receipt.error
    bundle = fetch_bundle(chain.request, tree.root, block=chain.ledger.height)
    yield Batch(chain, items, tree, bundle)
    chain.close()


def reason(genesis: Any, bundle: ItemBundle, digest: bytes) -> tuple[str, str]:
    with pytest.raises(NotVerified) as info:
        verify_item_bundle(genesis, bundle, digest)
    return info.value.code, info.value.message


def test_every_item_verifies_from_genesis(batch: Batch) -> None:
    g = batch.chain.genesis
    for i, data in enumerate(FILES):
        result = verify_item_bundle(g, load_item_bundle(batch.item_bundle(i).dumps().encode()), file_hash(data))
        assert (result.index, result.batch_size, result.root) == (i, len(batch.items), batch.tree.root)
        assert result.item == batch.items[i]
        assert result.batch.submitter == ALICE.address
        assert result.batch.metadata == {"batch_size": len(batch.items)}
        assert result.batch.block_number == batch.chain.ledger.height


def test_salted_item_verifies_with_its_opening_only(batch: Batch) -> None:
    g, i = batch.chain.genesis, len(FILES)
    plain = batch.item_bundle(i)
    with_opening = load_item_bundle(plain.with_opening(Opening(file_hash(SALTED), SALT)).dumps().encode())
    assert verify_item_bundle(g, with_opening, file_hash(SALTED)).item.commitment == commit(file_hash(SALTED), SALT)
    code, _ = reason(g, plain, file_hash(SALTED))  # without the salt the file does not give the commitment
    assert code == FILE_CHANGED
    code, message = reason(g, plain.with_opening(Opening(file_hash(SALTED), bytes(32))), file_hash(SALTED))
    assert code == PROOF_ALTERED and "salt" in message
    code, _ = reason(g, with_opening, file_hash(b"another file"))
    assert code == FILE_CHANGED


def test_another_file_is_file_changed(batch: Batch) -> None:
    code, message = reason(batch.chain.genesis, batch.item_bundle(0), file_hash(b"edited"))
    assert code == FILE_CHANGED and "item proof is for" in message


def test_tampered_path_is_proof_altered(batch: Batch) -> None:
    b = batch.item_bundle(4)
    siblings = list(b.path.path)
    siblings[1] = bytes([siblings[1][0] ^ 1]) + siblings[1][1:]
    bad = dataclasses.replace(b, path=ListProof(b.path.index, b.path.size, tuple(siblings)))
    code, message = reason(batch.chain.genesis, bad, file_hash(FILES[4]))
    assert code == PROOF_ALTERED and "path does not lead to the batch root" in message


def test_path_of_another_item_is_proof_altered(batch: Batch) -> None:
    bad = dataclasses.replace(batch.item_bundle(2), path=batch.tree.path(3))
    code, message = reason(batch.chain.genesis, bad, file_hash(FILES[2]))
    assert code == PROOF_ALTERED and "another item" in message


def test_edited_metadata_is_proof_altered(batch: Batch) -> None:
    b = batch.item_bundle(1)
    bad = dataclasses.replace(b, item=EvidenceItem.create(b.item.commitment, {"ref": "T999"}))
    assert reason(batch.chain.genesis, bad, file_hash(FILES[1]))[0] == PROOF_ALTERED


def test_batch_root_not_on_chain_is_refused(batch: Batch) -> None:
    """A forger puts their item in a tree of their own and borrows a genuine batch bundle for its root."""
    forged = EvidenceItem.create(file_hash(b"backdated contract"))
    tree = BatchTree([forged.encoded, batch.items[0].encoded])
    bad = ItemBundle(forged, tree.path(0), dataclasses.replace(batch.bundle, opening=Opening.public(tree.root)))
    code, message = reason(batch.chain.genesis, bad, file_hash(b"backdated contract"))
    assert code == NOT_A_NOTARIZATION and "not on chain" in message and to_hex(tree.root) in message


def test_batch_size_must_match_the_transaction(batch: Batch) -> None:
    """A smaller tree whose root was notarized under another count is not this batch."""
    items = [EvidenceItem.create(hashlib.sha256(b"x%d" % i).digest()) for i in range(2)]
    tree = BatchTree([i.encoded for i in items])
    chain = batch.chain
    _, receipt = chain.transact(ALICE, "notarize_batch", [tree.root, 3])
    assert receipt.ok
    bundle = fetch_bundle(chain.request, tree.root)
    code, message = reason(chain.genesis, ItemBundle(items[0], tree.path(0), bundle), items[0].commitment)
    assert code == NOT_A_NOTARIZATION and "batch of 2 items" in message


def test_ordinary_and_batch_notarizations_are_not_interchangeable(batch: Batch) -> None:
    g = batch.chain.genesis
    with pytest.raises(NotVerified) as info:  # a batch root presented as a file's notarization
        verify_bundle(g, batch.bundle, batch.tree.root)
    assert info.value.code == NOT_A_NOTARIZATION
    item = EvidenceItem.create(file_hash(b"single"))  # a one-item tree whose root went on chain by notarize
    tree = BatchTree([item.encoded])
    _, receipt = batch.chain.transact(BOB, "notarize", [tree.root, {}, []])
    assert receipt.ok
    ordinary = fetch_bundle(batch.chain.request, tree.root)
    code, message = reason(g, ItemBundle(item, tree.path(0), ordinary), item.commitment)
    assert code == NOT_A_NOTARIZATION and "not notarize_batch" in message


def test_a_root_is_notarized_once(batch: Batch) -> None:
    _, receipt = batch.chain.transact(BOB, "notarize_batch", [batch.tree.root, len(batch.items)])
    assert not receipt.ok and "already notarized at block" in receipt.error
    for args in ([b"\x01" * 31, 1], [b"\x01" * 32, 0], [b"\x01" * 32, True], [b"\x01" * 32, 2**24 + 1]):
        _, receipt = batch.chain.transact(BOB, "notarize_batch", args)
        assert not receipt.ok


def test_newer_format_says_upgrade(batch: Batch) -> None:
    doc = batch.item_bundle(0).to_json()
    doc["version"] = 2
    with pytest.raises(UnsupportedBundle, match="upgrade"):
        load_item_bundle(json.dumps(doc).encode())


# --- hypothesis: edits of a real item proof ---------------------------------------------------------------

def outcome(genesis: Any, data: bytes, digest: bytes) -> str:
    try:
        verify_item_bundle(genesis, load_item_bundle(data), digest)
    except NotVerified as exc:
        return exc.code
    except UnsupportedBundle:
        return "unsupported"
    return "verified"


@FUZZ
@given(data=st.data())
def test_any_subtree_replaced_is_refused_cleanly(batch: Batch, data: st.DataObject) -> None:
    doc = batch.item_bundle(5).to_json()
    path = data.draw(st.sampled_from(paths(doc)))
    value = data.draw(json_values)
    assume(get(doc, path) != value)
    assert outcome(batch.chain.genesis, json.dumps(replaced(doc, path, value)).encode(), file_hash(FILES[5])) != "verified"


@FUZZ
@given(data=st.data())
def test_any_changed_hex_digit_is_not_verified(batch: Batch, data: st.DataObject) -> None:
    doc = batch.item_bundle(6).to_json()
    hex_paths = [p for p in paths(doc) if isinstance(get(doc, p), str) and get(doc, p).startswith("0x")]
    path = data.draw(st.sampled_from(hex_paths))
    text = get(doc, path)
    i = data.draw(st.integers(2, len(text) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789abcdef" if d != text[i].lower()]))
    edited = text[:i] + digit + text[i + 1:]
    if outcome(batch.chain.genesis, json.dumps(replaced(doc, path, edited)).encode(), file_hash(FILES[6])) == "verified":
        # RFC 6962 paths authenticate the leaf, not its (index, size): only those may change unnoticed,
        # and a batch size other than the notarized one is refused, so only the index can.
        assert path[-1] in ("path", "transactionProof", "receiptProof"), path
        assert canonical.decode(from_hex(edited))[2] == canonical.decode(from_hex(text))[2]
        if path == ("path",):
            assert canonical.decode(from_hex(edited))[1] == len(batch.items)


@FUZZ
@given(data=st.data())
def test_arbitrary_bytes_and_truncations_are_malformed(batch: Batch, data: st.DataObject) -> None:
    text = batch.item_bundle(0).dumps().encode()
    cut = data.draw(st.integers(0, len(text) - 2))
    assert outcome(batch.chain.genesis, text[:cut], file_hash(FILES[0])) == MALFORMED_PROOF
    raw = data.draw(st.binary(max_size=200))
    assert outcome(batch.chain.genesis, raw, file_hash(FILES[0])) != "verified"
