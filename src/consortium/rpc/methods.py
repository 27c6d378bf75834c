"""The node's JSON-RPC methods (names as FISCO BCOS users know them), documented in docs/rpc.md.

Methods see the node only through :class:`NodeApi`, so this table is the whole
of what RPC can do, and tests can serve it from a ledger without a network.
"""

from __future__ import annotations

from typing import Any, Protocol

from consortium.chain.admission import TransactionRejected
from consortium.chain.ledger import Ledger
from consortium.encoding.canonical import DecodeError, Value, encode
from consortium.encoding.hexbytes import to_hex
from consortium.execution.governance import KEY_SEALERS, KEY_TSAS, PROPOSAL_PREFIX
from consortium.execution.governance import KEYS as GOVERNANCE_KEYS
from consortium.ledger.transaction import Transaction
from consortium.rpc import params as P
from consortium.rpc.errors import RpcError, application_error
from consortium.rpc.jsonrpc import Dispatcher, Param
from consortium.rpc.views import (
    ValueJsonError,
    block_json,
    header_json,
    receipt_json,
    transaction_json,
    value_from_json,
    value_to_json,
)


class CallFailed(Exception):
    """A read-only call reverted or failed; the message is the contract's reason."""


class NodeApi(Protocol):
    """What RPC needs from a running node."""

    ledger: Ledger

    async def submit(self, tx: Transaction) -> None:
        """Admit to the txpool and gossip; raises TransactionRejected subclasses."""

    def pending_count(self) -> int: ...

    async def call(self, to: bytes, method: str, args: tuple[Value, ...], sender: bytes) -> Value:
        """Run a method read-only on the head state; raises CallFailed or LookupError (unknown contract)."""

    def resolve(self, name: str) -> bytes | None: ...

    def code(self, address: bytes) -> str | None: ...

    def system_config(self, key: str) -> Value: ...

    def consensus_status(self) -> dict[str, Any]: ...

    def sealers(self) -> list[bytes]: ...

    def observers(self) -> list[bytes]: ...

    def peers(self) -> list[dict[str, Any]]: ...

    def sync_status(self) -> dict[str, Any]: ...

    def node_info(self) -> dict[str, Any]: ...

    def anchor(self, number: int) -> dict[str, Any] | None:
        """The time anchor covering block ``number`` with its audit path, if this node anchors and has one."""
        ...

    def anchor_status(self) -> dict[str, Any]: ...

    def state_key(self, contract: bytes, key: Value) -> bytes:
        """The state tree key of a contract's storage entry (for getStateProof)."""


def _number(ledger: Ledger, n: int | str) -> int:
    number = ledger.height if n == "latest" else int(n)
    if number > ledger.height:
        raise application_error("unknown_block", f"block {number} does not exist yet (head is {ledger.height})")
    return number


def _value_param(value: Any) -> Value:
    try:
        return value_from_json(value)
    except ValueJsonError as exc:
        raise ValueError(str(exc)) from None


def _target(node: NodeApi, text: Any) -> bytes:
    """A contract given as a 0x address or as a registered name."""
    if isinstance(text, str) and text.startswith(("0x", "0X")):
        return P.address(text)
    if not isinstance(text, str) or not text:
        raise ValueError("expected a 0x contract address or a registered contract name")
    address = node.resolve(text)
    if address is None:
        raise application_error("unknown_contract", f"no contract is registered under the name {text!r}")
    return address


def build_dispatcher(node: NodeApi) -> Dispatcher:
    d = Dispatcher()
    ledger = node.ledger

    async def get_block_number() -> int:
        return ledger.height

    async def get_block_by_number(number: int | str, include: bool) -> dict:
        n = _number(ledger, number)
        if not include:  # header and hash list only: nothing to decode per transaction
            header = ledger.blocks.header(n)
            assert header is not None
            return {**header_json(header), "transactions": [to_hex(h) for h in ledger.blocks.tx_hashes(n)]}
        block = ledger.block(n)
        assert block is not None
        return block_json(block, include_transactions=include)

    async def get_block_by_hash(block_hash: bytes, include: bool) -> dict:
        block = ledger.block_by_hash(block_hash)
        if block is None:
            raise application_error("unknown_block", f"no block with hash {to_hex(block_hash)}")
        return block_json(block, include_transactions=include)

    async def get_block_header(number: int | str) -> dict:
        header = ledger.blocks.header(_number(ledger, number))
        assert header is not None
        return header_json(header)

    async def get_transaction(tx_hash: bytes) -> dict:
        found = ledger.transaction(tx_hash)
        if found is None:
            raise application_error("unknown_transaction", f"no committed transaction {to_hex(tx_hash)}")
        tx, loc = found
        return transaction_json(tx, number=loc.number, index=loc.index)

    async def get_transaction_receipt(tx_hash: bytes) -> dict | None:
        found = ledger.receipt(tx_hash)
        if found is None:
            return None  # pending or unknown: clients poll, as with Ethereum/FISCO
        receipt, loc = found
        return receipt_json(receipt, number=loc.number, index=loc.index)

    async def send_transaction(raw: bytes) -> str:
        try:
            tx = Transaction.decode(raw, ledger.suite)

        except DecodeError as exc:
            raise application_error(
                "invalid_transaction",
                f"these {len(raw)} bytes are not a signed transaction (sendTransaction takes the 0x-hex of "
                f"Transaction.encode(), as the SDK and CLI send it; see docs/rpc.md): {exc}") from None
        try:
            await node.submit(tx)
        except TransactionRejected as exc:
            raise application_error(exc.code, str(exc), {"transactionHash": to_hex(tx.hash)}) from None
        return to_hex(tx.hash)

    async def call(to: Any, method: str, args: list, sender: bytes) -> Any:
        address = _target(node, to)
        try:
            out = await node.call(address, method, tuple(_value_param(a) for a in args), sender)
        except LookupError as exc:
            raise application_error("unknown_contract", str(exc)) from None
        except CallFailed as exc:
            raise application_error("call_failed", f"call reverted: {exc}") from None
        return value_to_json(out)

    async def get_code(address: bytes) -> str:
        source = node.code(address)
        if source is None:
            raise application_error("unknown_contract", f"no contract at {to_hex(address)}")
        return source

    async def get_contract_address(name: str) -> str:
        address = node.resolve(name)
        if address is None:
            raise application_error("unknown_contract", f"no contract is registered under the name {name!r}")
        return to_hex(address)

    async def get_system_config(key: str) -> Any:
        try:
            return value_to_json(node.system_config(key))
        except KeyError:
            raise application_error("not_found", f"unknown system config key {key!r}") from None

    async def get_total_transaction_count() -> dict:
        return {"transactionCount": ledger.blocks.total_transactions(), "blockNumber": ledger.height}

    async def get_pending_tx_size() -> int:
        return node.pending_count()

    def list_proof(found: tuple | None, tx_hash: bytes, item: str) -> dict:
        """A transaction's or receipt's inclusion proof against its block header, as JSON."""
        if found is None:
            raise application_error("unknown_transaction", f"no committed transaction {to_hex(tx_hash)}")
        header, obj, proof = found
        return {"blockHeader": to_hex(header.encode()), item: to_hex(obj.encode()),
                "proof": to_hex(encode(proof.to_value())), "blockNumber": header.number}

    async def get_transaction_proof(tx_hash: bytes) -> dict:
        return list_proof(ledger.transaction_proof(tx_hash), tx_hash, "transaction")

    async def get_receipt_proof(tx_hash: bytes) -> dict:
        return list_proof(ledger.receipt_proof(tx_hash), tx_hash, "receipt")

    async def get_state_proof(contract: Any, key: Any, number: int | str) -> dict:
        address = _target(node, contract)
        n = _number(ledger, number)
        state_key = node.state_key(address, _value_param(key))
        header, value, proof = ledger.state_proof(state_key, n)
        return {"blockHeader": to_hex(header.encode()), "key": to_hex(state_key),
                "value": None if value is None else to_hex(value), "proof": to_hex(proof.encode()),
                "blockNumber": header.number}

    def governance_proof(key: bytes, number: int | str) -> dict:
        n = _number(ledger, number)
        header, value, proof = ledger.state_proof(key, n)
        return {"blockHeader": to_hex(header.encode()), "key": to_hex(key),
                "value": None if value is None else to_hex(value), "proof": to_hex(proof.encode()),
                "blockNumber": header.number}

    async def get_sealer_set_proof(number: int | str) -> dict:
        """The governance sealer set after block ``number``, proven against that block's state root.

        The set in force at block n+1 is this value at block n (see node.runtime.sealers_at);
        offline evidence proofs carry it for each block where the set changed.
        """
        return governance_proof(KEY_SEALERS, number)

    async def get_governance_proof(item: Any, number: int | str) -> dict:
        """A governance state entry after block ``number``, proven: a key name of gv/ (``committee``,
        ``threshold``, ...) or a proposal id. Offline case proofs carry these to show how an arbitrator
        was registered by the committee."""
        if isinstance(item, int) and not isinstance(item, bool) and 0 < item < 2**63:
            return governance_proof(PROPOSAL_PREFIX + item.to_bytes(8, "big"), number)
        if isinstance(item, str) and item in GOVERNANCE_KEYS:
            return governance_proof(GOVERNANCE_KEYS[item], number)
        raise ValueError(f"item must be a proposal id or one of {', '.join(sorted(GOVERNANCE_KEYS))}")

    async def get_tsa_list_proof(number: int | str) -> dict:
        """The governance list of trusted time-stamping authorities after block ``number`` (gv/tsas), proven."""
        return governance_proof(KEY_TSAS, number)

    async def status(method):  # small adapters for the parameterless node views
        return method()

    H = P.hash32
    d.add("getBlockNumber", get_block_number)
    d.add("getBlockByNumber", get_block_by_number, [Param("number", P.block_number), Param("includeTransactions", P.boolean, False)])
    d.add("getBlockByHash", get_block_by_hash, [Param("hash", H), Param("includeTransactions", P.boolean, False)])
    d.add("getBlockHeaderByNumber", get_block_header, [Param("number", P.block_number)])
    d.add("getTransaction", get_transaction, [Param("hash", H)])
    d.add("getTransactionReceipt", get_transaction_receipt, [Param("hash", H)])
    d.add("sendTransaction", send_transaction, [Param("signedTransaction", P.hex_bytes(max_size=1024 * 1024))])
    d.add("call", call, [Param("to", lambda v: v), Param("method", P.text(64)), Param("args", P.json_array(64), []),
                         Param("from", P.address, b"")])
    d.add("getCode", get_code, [Param("address", P.address)])
    d.add("getContractAddress", get_contract_address, [Param("name", P.text(64))])
    d.add("getSystemConfigByKey", get_system_config, [Param("key", P.text(64))])
    d.add("getTotalTransactionCount", get_total_transaction_count)
    d.add("getPendingTxSize", get_pending_tx_size)
    d.add("getTransactionProof", get_transaction_proof, [Param("hash", H)])
    d.add("getReceiptProof", get_receipt_proof, [Param("hash", H)])
    d.add("getStateProof", get_state_proof, [Param("contract", lambda v: v), Param("key", lambda v: v),
                                             Param("blockNumber", P.block_number, "latest")])
    d.add("getSealerSetProof", get_sealer_set_proof, [Param("blockNumber", P.block_number, "latest")])
    d.add("getTsaListProof", get_tsa_list_proof, [Param("blockNumber", P.block_number, "latest")])
    d.add("getGovernanceProof", get_governance_proof, [Param("item", lambda v: v),
                                                       Param("blockNumber", P.block_number, "latest")])
    d.add("getPbftView", lambda: status(lambda: node.consensus_status()["view"]))
    d.add("getConsensusStatus", lambda: status(node.consensus_status))
    d.add("getSealerList", lambda: status(lambda: [to_hex(s) for s in node.sealers()]))
    d.add("getObserverList", lambda: status(lambda: [to_hex(s) for s in node.observers()]))
    d.add("getPeers", lambda: status(node.peers))
    d.add("getSyncStatus", lambda: status(node.sync_status))
    d.add("getNodeInfo", lambda: status(node.node_info))

    async def get_anchor(number: int | str) -> dict | None:
        return node.anchor(_number(ledger, number))

    d.add("getAnchor", get_anchor, [Param("blockNumber", P.block_number)])
    d.add("getAnchorStatus", lambda: status(node.anchor_status))
    return d


__all__ = ["CallFailed", "NodeApi", "RpcError", "build_dispatcher"]
