"""An evidence workload run by test_native_evidence.py: native or sandboxed (argv[1]), in a fresh
process; prints one JSON line with digests of the receipts (gas left out), write sets and roots.

It exercises every public method of contracts/evidence.py, success and each refusal it makes
(bad arguments of every type, duplicates, wrong senders, closed cases), the argument-count and
unknown-method errors, and storage keys the sandbox refuses (too long).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from typing import Any

from consortium.crypto.suite import KeyPair
from consortium.encoding import canonical
from consortium.execution import EVIDENCE_ADDRESS, BlockContext, DictReader, Executor, genesis_writes
from consortium.ledger import Receipt, ReceiptStatus, Transaction
from consortium.state import StateTree
from consortium.storage.kv import MemoryStore, WriteBatch

E = EVIDENCE_ADDRESS


def h(label: str | int) -> bytes:
    return hashlib.sha256(str(label).encode()).digest()


def blocks(alice: KeyPair, bob: KeyPair, carol: KeyPair, arb: KeyPair) -> list[list[tuple[KeyPair, str, tuple[Any, ...]]]]:
    a, b, c, r = alice.address, bob.address, carol.address, arb.address
    meta = {"case_id": "K1", "file_name": "contract.pdf", "media_type": "application/pdf", "note": "n", "size": 12}
    return [
        [  # block 1: notarizations, good and refused
            *[(alice, "notarize", (h(i), {**meta, "size": i}, [b] if i % 2 else [])) for i in range(12)],
            (alice, "notarize", (h(0), meta, [])),  # already notarized
            (alice, "notarize", (b"short", meta, [])),
            (alice, "notarize", ("not bytes", meta, [])),
            (alice, "notarize", (h("m1"), {"size": -1}, [])),
            (alice, "notarize", (h("m2"), {"size": True}, [])),
            (alice, "notarize", (h("m3"), {"colour": "red"}, [])),
            (alice, "notarize", (h("m4"), {"file_name": "x" * 256}, [])),
            (alice, "notarize", (h("m5"), [], [])),
            (alice, "notarize", (h("m6"), {}, [b, b])),
            (alice, "notarize", (h("m7"), {}, [b"\x01" * 19])),
            (alice, "notarize", (h("m8"), {}, [a] * 17)),
            (alice, "notarize", (h("m9"), {}, "nobody")),
            (alice, "notarize", (h("m10"), {"case_id": "c" * 65}, [])),
            (alice, "notarize", (h("m11"), {})),  # too few arguments
            (alice, "notarize_batch", (h("root"), 1000)),
            (alice, "notarize_batch", (h("root"), 1000)),
            (alice, "notarize_batch", (h("root2"), 0)),
            (alice, "notarize_batch", (h("root3"), True)),
            (bob, "sign", (h(1),)),  # same block as the notarization: refused
            (alice, "no_such_method", ()),
            (alice, "_check_hash", (h(1), "x")),
        ],
        [  # block 2: co-signatures, reads, cases
            *[(bob, "sign", (h(i),)) for i in range(1, 12, 2)],
            (bob, "sign", (h(1),)),  # twice
            (carol, "sign", (h(3),)),  # not listed
            (bob, "sign", (h("never"),)),
            (bob, "sign", (42,)),
            (carol, "get", (h(1),)),
            (carol, "get", (h("never"),)),
            (carol, "get", ({"odd": [1, 2]},)),
            (carol, "get", (b"k" * 5000,)),  # a storage key over the sandbox's limit
            (carol, "arbitrators", ()),
            (carol, "is_arbitrator", (r,)),
            (carol, "is_arbitrator", ({"x": 1},)),
            (alice, "open_case", ("K1", [a, b], r)),
            (alice, "open_case", ("K1", [a, b], r)),
            (alice, "open_case", ("K2", [a], r)),
            (alice, "open_case", ("K3", [a, b], c)),
            (alice, "open_case", ("K4", [a, r], r)),
            (carol, "open_case", ("K5", [a, b], r)),
            (alice, "open_case", ("", [a, b], r)),
            (alice, "open_case", ("K6", [a, a], r)),
            (alice, "attach", ("K1", h(0))),
            (alice, "attach", ("K1", h(0))),
            (bob, "attach", ("K1", h(2))),
            (carol, "attach", ("K1", h(4))),
            (alice, "attach", ("K1", h("never"))),
            (alice, "attach", ("nope", h(0))),
            (alice, "get_case", ("K1",)),
            (alice, "get_case", (7,)),
            (alice, "case_evidence", ("K1",)),
            (alice, "case_evidence", ("K1", 1, 1)),
            (alice, "case_evidence", ("K1", -1)),
            (alice, "case_evidence", ("K1", 0, 101)),
            (alice, "case_evidence", ("K1", 0, 1, 2)),  # too many arguments
        ],
        [  # block 3: rulings
            (alice, "rule", ("K1", h("ruling"), "done")),
            (arb, "rule", ("K1", h("ruling"), 5)),
            (arb, "rule", ("K1", b"x", "done")),
            (arb, "rule", ("K1", h("ruling"), "s" * 2049)),
            (arb, "rule", ("K1", h("ruling"), "Claim upheld.")),
            (arb, "rule", ("K1", h("ruling"), "again")),
            (alice, "attach", ("K1", h(6))),
            (alice, "get_case", ("K1",)),
        ],
    ]


def without_gas(r: Receipt) -> bytes:
    return dataclasses.replace(r, gas_used=0).encode()


def main() -> None:
    mode = sys.argv[1]
    alice, bob, carol, arb = (KeyPair(bytes([i]) * 32) for i in range(11, 15))
    state = DictReader(dict(genesis_writes(arbitrators=[arb.address], chain_id="d", group_id="g")))
    executor = Executor(native_evidence=(mode == "native"))
    kv = MemoryStore()
    tree = StateTree(kv)
    batch = WriteBatch()
    tree.apply(0, state.data, batch)
    kv.write(batch)
    receipts, writes, roots, statuses, gas = [], [], [], {}, 0
    nonce = 0
    for number, calls in enumerate(blocks(alice, bob, carol, arb), start=1):
        txs = []
        for key, method, args in calls:
            txs.append(Transaction("d", "g", nonce, 100, key.public_key, E, method, args))
            nonce += 1
        result = executor.execute_block(state, BlockContext("d", "g", number, 1_000_000 + number), txs)
        for r in result.receipts:
            receipts.append(without_gas(r).hex())
            name = ReceiptStatus(r.status).name
            statuses[name] = statuses.get(name, 0) + 1
            gas += r.gas_used
        writes.append(canonical.encode([[k, v] for k, v in result.writes.items()]).hex())
        state.apply(result.writes)
        batch = WriteBatch()
        roots.append(tree.apply(number, result.writes, batch).hex())
        kv.write(batch)
    print(json.dumps({"receipts": receipts, "writes": writes, "roots": roots, "statuses": dict(sorted(statuses.items())),
                      "gas": gas, "hash_of_a": hash("a")}))


if __name__ == "__main__":
    main()
