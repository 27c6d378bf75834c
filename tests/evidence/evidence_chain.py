"""A real single-process chain for the evidence proof tests.

Real parts throughout: LevelDB (plyvel) under tmp_path, the Ledger, the contract
executor running contracts/evidence.py from the genesis state, commit seals made
with the sealers' Ed25519 keys, and the node's own JSON-RPC method table
(rpc/methods.py) answering the proof builder. Only the network is left out: the
builder's ``request`` goes straight to the dispatcher.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers.byzantine import unchecked

from consortium.chain.admission import ChainIdentity
from consortium.chain.ledger import Ledger
from consortium.crypto import KeyPair
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.build import fetch_bundle
from consortium.evidence.bundle import ProofBundle
from consortium.evidence.commitment import Opening
from consortium.execution import EVIDENCE_ADDRESS, Executor, genesis_writes, governance
from consortium.execution.keys import storage_prefix
from consortium.ledger import Block, CommitSignature, Receipt, Transaction, commit_seal_payload
from consortium.node.genesis import CommitteeMember, Genesis, Sealer
from consortium.rpc.methods import build_dispatcher
from consortium.storage import LevelDBStore

SEALERS = tuple(KeyPair(bytes([0x40 + i]) * 32) for i in range(4))
OTHER_SEALERS = tuple(KeyPair(bytes([0x60 + i]) * 32) for i in range(4))
ADMIN, ALICE, BOB, ARBITER, MALLORY = (KeyPair(bytes([0x50 + i]) * 32) for i in range(5))
GENESIS_TS = 1_700_000_000_000


def make_genesis(sealers: Sequence[KeyPair] = SEALERS, *, chain_id: str = "chain0", group_id: str = "group0") -> Genesis:
    return Genesis(
        chain_id=chain_id, group_id=group_id, crypto_suite="ed25519-sha256", timestamp_ms=GENESIS_TS,
        sealers=tuple(Sealer(k.public_key, f"127.0.0.1:{30300 + i}") for i, k in enumerate(sealers)),
        administrators=(ADMIN.address,),
        committee=(CommitteeMember(ADMIN.address),), committee_threshold=1,
    )


def file_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class EvidenceChain:
    """A chain whose blocks are sealed by chosen sealers; also the NodeApi the RPC methods read."""

    def __init__(self, path: Path, genesis: Genesis | None = None, sealer_keys: Sequence[KeyPair] = SEALERS,
                 executor: Any = None) -> None:
        self.genesis = genesis or make_genesis(sealer_keys)
        self.sealer_keys = tuple(sealer_keys)
        g = self.genesis
        self.ledger = Ledger(LevelDBStore(path), executor or Executor(suite=g.suite),
                             ChainIdentity(g.chain_id, g.group_id, g.block_limit_window), suite=g.suite)
        # The node's genesis state (node/runtime.py open_ledger): evidence contract plus governance.
        writes = genesis_writes(chain_id=g.chain_id, group_id=g.group_id, timestamp=g.timestamp_ms)
        writes.update(governance.genesis_writes(governance.GovernanceGenesis(
            committee=tuple((m.address, m.weight) for m in g.committee), threshold=g.committee_threshold,
            sealers=g.sealer_ids, deployers=tuple(g.administrators),
            config={"tx_count_limit": g.max_txs_per_block, "consensus_timeout_ms": g.view_timeout_ms},
            organizations=tuple((o.name, o.ca_cert) for o in g.organizations),
            node_orgs=tuple((s.node_id, s.org) for s in g.sealers if s.org))))
        self.ledger.ensure_genesis(timestamp=g.timestamp_ms, sealers=g.sealer_ids, writes=writes)
        self.dispatcher = build_dispatcher(self)  # type: ignore[arg-type]
        self._nonce = itertools.count(1)
        self.sealers = g.sealer_ids

    def close(self) -> None:
        self.ledger.kv.close()

    # -- producing blocks ---------------------------------------------------------------------
    def tx(self, key: KeyPair, method: str, args: Sequence[Value], *, to: bytes = EVIDENCE_ADDRESS) -> Transaction:
        g = self.genesis
        return Transaction(g.chain_id, g.group_id, next(self._nonce), self.ledger.height + 100, b"", to, method,
                           tuple(args)).signed_by(key)

    def produce(self, txs: Sequence[Transaction], *, seal_with: Sequence[int] = (0, 1, 2, 3),
                check_signatures: bool = True) -> Block:
        head = self.ledger.head_header()
        if not check_signatures:  # Byzantine sealers: they include what they did not verify
            txs = [unchecked(tx, self.ledger) for tx in txs]  # type: ignore[misc]
        executed = self.ledger.execute(txs, timestamp=head.timestamp + 1000, proposer=self.sealers[0], view=0,
                                       sealers=self.sealers)

        payload = commit_seal_payload(executed.block.hash, 0)
        seals = [CommitSignature(i, self.sealer_keys[i].sign(payload)) for i in seal_with]
        return self.ledger.commit(executed, seals)

    def transact(self, key: KeyPair, method: str, args: Sequence[Value], **kw: Any) -> tuple[Transaction, Receipt]:
        tx = self.tx(key, method, args)
        self.produce([tx], **kw)
        receipt, _ = self.ledger.receipt(tx.hash)  # type: ignore[misc]
        return tx, receipt

    def notarize(self, key: KeyPair, data: bytes, signers: Sequence[bytes] = (), **kw: Any) -> tuple[Transaction, Receipt]:
        return self.transact(key, "notarize", [file_hash(data), {"file_name": "contract.pdf", "size": len(data)},
                                               list(signers)], **kw)

    # -- the proof builder's view -------------------------------------------------------------
    def request(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        out = asyncio.run(self.dispatcher.handle_one(json.loads(json.dumps(body))))
        assert out is not None
        if "error" in out:
            raise RuntimeError(f"RPC {method} failed: {out['error']}")
        return out["result"]

    def bundle(self, data: bytes, *, block: int | str = "latest", salt: bytes | None = None) -> ProofBundle:
        return fetch_bundle(self.request, Opening(file_hash(data), salt), block=block)

    # -- NodeApi (only what the proof methods use) ---------------------------------------------
    def resolve(self, name: str) -> bytes | None:
        return self.ledger.executor.resolve(self.ledger.state_reader(), name)  # type: ignore[attr-defined]

    def state_key(self, contract: bytes, key: Value) -> bytes:
        return storage_prefix(contract) + canonical.encode(key)

    def anchor(self, number: int) -> dict[str, Any] | None:
        return None  # this chain has no time-stamping authority

    def node_info(self) -> dict[str, Any]:
        g = self.genesis
        return {"chainId": g.chain_id, "groupId": g.group_id, "genesisHash": to_hex(g.hash())}
