"""A fixed workload run in a fresh process by test_exec_determinism.py; prints one JSON line.

It touches everything that could leak hash-seeded ordering or host state into
results: dicts with many str/bytes keys, sorting, formatting, failing and
out-of-gas transactions, events, names, the evidence and points contracts.
"""

from __future__ import annotations

import hashlib
import json
import sys

from consortium.crypto.suite import KeyPair
from consortium.encoding import canonical
from consortium.execution import (
    EVIDENCE_ADDRESS,
    BlockContext,
    DictReader,
    Executor,
    contract_source,
    genesis_writes,
    name_address,
)
from consortium.ledger import ReceiptStatus, Transaction
from consortium.storage.kv import MemoryStore, WriteBatch

try:
    from consortium.state import StateTree
except ImportError:  # pragma: no cover
    StateTree = None  # type: ignore[assignment,misc]

MIXER = '''
class Mixer:
    def mix(self, words):
        d = {}
        for w in words:
            d[w] = len(w)
            d[w.encode()] = w
        counts = {}
        for w in words:
            counts[w[:1]] = counts.get(w[:1], 0) + 1
        storage[["mix", len(words)]] = [list(counts.keys()), sorted(counts.items()), [k for k in d.keys() if typeof(k) == "str"]]
        emit("Mixed", first=list(d.keys())[0] if d else None, n=len(d), text=f"{counts}")
        return [str(d)[:200], repr(sorted(words, reverse=True))]

    def spin(self):
        storage["spun"] = True
        while True:
            pass

    def boom(self, x):
        storage["boom"] = x
        return {"a": 1}[x]
'''


def main() -> None:
    keys = [KeyPair(bytes([i]) * 32) for i in range(1, 6)]
    admin, alice, bob, carol, arb = keys
    state = DictReader(dict(genesis_writes(arbitrators=[arb.address], chain_id="d", group_id="g")))
    executor = Executor(gas_limit_per_tx=200_000)
    nonces: dict[bytes, int] = {}

    def tx(k: KeyPair, to: bytes, method: str, *args: object) -> Transaction:
        n = nonces.get(k.public_key, 0)
        nonces[k.public_key] = n + 1
        return Transaction("d", "g", n, 100, k.public_key, to, method, args)  # type: ignore[arg-type]

    words = [f"w{i}-{chr(97 + i % 26)}{i * 7919 % 1000}" for i in range(300)]
    blocks = [
        [tx(alice, b"", "mixer", MIXER), tx(alice, b"", "points", contract_source("points"), "Points", "PTS", 10**9)],
        [tx(bob, name_address("mixer"), "mix", words), tx(bob, name_address("mixer"), "mix", words[:37]),
         tx(carol, name_address("mixer"), "spin"), tx(carol, name_address("mixer"), "boom", "zz"),
         tx(alice, name_address("points"), "mint", bob.address, 500), tx(bob, name_address("points"), "transfer", carol.address, 77),
         tx(carol, name_address("points"), "transfer", bob.address, 1000)],
        [tx(alice, EVIDENCE_ADDRESS, "notarize", hashlib.sha256(b"%d" % i).digest(),
            {"case_id": "K", "file_name": f"f{i}", "size": i}, [alice.address, bob.address]) for i in range(20)]
        + [tx(bob, EVIDENCE_ADDRESS, "sign", hashlib.sha256(b"%d" % i).digest()) for i in range(0, 20, 3)]
        + [tx(alice, EVIDENCE_ADDRESS, "open_case", "K", [alice.address, bob.address], arb.address),
           tx(bob, EVIDENCE_ADDRESS, "attach", "K", hashlib.sha256(b"3").digest()),
           tx(arb, EVIDENCE_ADDRESS, "rule", "K", hashlib.sha256(b"r").digest(), "done"),
           tx(carol, EVIDENCE_ADDRESS, "sign", hashlib.sha256(b"1").digest())],
    ]
    receipts_hash = hashlib.sha256()
    writes_hash = hashlib.sha256()
    statuses: dict[str, int] = {}
    kv = MemoryStore()
    tree = StateTree(kv) if StateTree is not None else None
    root = b""
    if tree is not None:
        batch = WriteBatch()
        tree.apply(0, state.data, batch)
        kv.write(batch)
    for number, txs in enumerate(blocks, start=1):
        result = executor.execute_block(state, BlockContext("d", "g", number, 1_000 * number), txs)
        for r in result.receipts:
            receipts_hash.update(r.encode())
            name = ReceiptStatus(r.status).name
            statuses[name] = statuses.get(name, 0) + 1
        writes_hash.update(canonical.encode([[k, v] for k, v in result.writes.items()]))
        state.apply(result.writes)
        if tree is not None:
            batch = WriteBatch()
            root = tree.apply(number, result.writes, batch)
            kv.write(batch)
    print(json.dumps({"receipts": receipts_hash.hexdigest(), "writes": writes_hash.hexdigest(), "root": root.hex(),
                      "statuses": dict(sorted(statuses.items())), "hash_of_a": hash("a")}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
