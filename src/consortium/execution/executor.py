"""The executor: a block's transactions in order, against committed state, to receipts and a write set.

Contract of :meth:`Executor.execute_block`: given the same committed state (as
seen through the reader), the same block context and the same transactions,
every node returns byte-identical receipts and write set. Nothing here reads a
clock, randomness, the environment or hash-seeded ordering; gas is counted by
code rewritten at deploy, not by time.

Not done here (done before, by txpool/consensus): signature checks, nonce and
block-limit replay checks. The executor trusts ``tx.sender_address``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

from consortium.crypto.suite import ADDRESS_SIZE, DEFAULT_SUITE, CryptoSuite
from consortium.encoding import canonical
from consortium.encoding.canonical import Value
from consortium.execution.compiler import CONTRACT_FILENAME, CompiledContract, compile_contract
from consortium.execution.context import BlockContext, BlockView, MsgView, TxView
from consortium.execution.errors import BadTransaction, ContractRejected, OutOfGas, PermissionDenied, Revert, TxAbort
from consortium.execution.governance import (
    GOVERNANCE_ADDRESS,
    GOVERNANCE_NAME,
    GovernanceContract,
    GovernanceState,
    arbitrators_key,
)
from consortium.execution.keys import (
    GENESIS_DEPLOYER,
    REGISTRY_ADDRESS,
    ContractRecord,
    check_name,
    code_key,
    contract_address,
    contract_key,
    name_address,
    name_key,
    storage_prefix,
)
from consortium.execution.language import CONSTRUCTOR
from consortium.execution.limits import (
    BYTES_PER_GAS,
    DEFAULT_GAS_LIMIT,
    G_DEPLOY,
    G_DEPLOY_BYTE,
    G_NATIVE,
    G_TX,
    MAX_ERROR_LEN,
    MAX_NESTING,
    MAX_SOURCE_BYTES,
)
from consortium.execution.native_evidence import G_EVIDENCE_CALL, NativeEvidence
from consortium.execution.native_evidence import SOURCE_SHA256 as NATIVE_EVIDENCE_SOURCE
from consortium.execution.overlay import BlockState, DictReader, StateReader, TxState
from consortium.execution.sandbox import Sandbox
from consortium.execution.stack import fixed_recursion_budget
from consortium.ledger.receipt import Event, Receipt, ReceiptStatus
from consortium.ledger.transaction import Transaction

_ADDRESS_IN_TEXT = re.compile(r" at 0x[0-9a-fA-F]+")
_STACK_HEADROOM = 1000
"""Recursion levels available to one block's execution (plus any compilation it triggers)."""
_ZERO_HASH = bytes(32)


@dataclass(frozen=True)
class BlockResult:
    receipts: tuple[Receipt, ...]
    """One per transaction, in block order."""
    writes: dict[bytes, bytes | None]
    """The block's state writes in key order; None deletes the key."""
    gas_used: int


@dataclass(frozen=True)
class CallResult:
    """Outcome of a read-only :meth:`Executor.call` (nothing is written)."""

    status: ReceiptStatus
    output: Value
    gas_used: int
    error: str = ""
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == ReceiptStatus.OK


@dataclass(frozen=True)
class GenesisContract:
    """A contract the genesis block deploys (sender GENESIS_DEPLOYER, nonce = its index)."""

    name: str
    source: str
    args: tuple[Value, ...] = ()


class GenesisError(RuntimeError):
    """A genesis contract failed to deploy (the genesis configuration is wrong)."""


@dataclass
class _Outcome:
    status: ReceiptStatus = ReceiptStatus.OK
    output: Value = None
    error: str = ""
    contract_address: bytes = b""


class Executor:
    """Runs transactions in the contract sandbox. Thread-safe (one execution at a time)."""

    def __init__(self, *, gas_limit_per_tx: int = DEFAULT_GAS_LIMIT, suite: CryptoSuite = DEFAULT_SUITE,
                 native_evidence: bool = True) -> None:
        if gas_limit_per_tx < G_TX:
            raise ValueError(f"gas_limit_per_tx must be at least {G_TX}")
        self.gas_limit = gas_limit_per_tx
        self.suite = suite
        self.native_evidence = native_evidence
        """Run the genesis evidence contract's exact code natively (execution/native_evidence.py).
        Gas differs from the sandbox's, so every node of a chain must agree on this (they do: it is
        on unless a test turns it off to compare the two)."""
        self._sandbox = Sandbox()
        self._lock = threading.Lock()
        self._compiled: OrderedDict[bytes, CompiledContract] = OrderedDict()
        self._records: dict[bytes, ContractRecord] = {}
        self._governance_alias = name_address(GOVERNANCE_NAME, suite)
        self._recent_proposers: Callable[[int], tuple[bytes, ...] | None] | None = None
        self._arbitrators_key = arbitrators_key(contract_address(GENESIS_DEPLOYER, 0, suite))

    # -- public API ----------------------------------------------------------------------------
    def execute_block(
        self, state: StateReader, ctx: BlockContext, txs: Sequence[Transaction], *, block_gas_limit: int | None = None,
    ) -> BlockResult:
        """Execute ``txs`` in order on top of ``state`` (the parent block's committed state).

        With ``block_gas_limit``, execution stops after the transaction that
        reaches the limit, and only that prefix has receipts: the proposer then
        builds its block from the prefix. (Without a block limit, 1,000 hostile
        transactions at the per-transaction limit could keep every node busy
        for minutes.) See :func:`within_block_gas` for the replicas' check.
        """
        block = BlockState(state)
        view = BlockView(ctx)
        receipts = []
        total = 0
        with self._lock, _stack_headroom():
            self._recent_proposers = ctx.recent_proposers
            for tx in txs:
                receipt = self._execute_tx(block, view, tx)
                receipts.append(receipt)
                total += receipt.gas_used
                if block_gas_limit is not None and total >= block_gas_limit:
                    break
        return BlockResult(tuple(receipts), block.write_set(), total)

    def call(
        self, state: StateReader, ctx: BlockContext, to: bytes, method: str, args: Sequence[Value],
        sender: bytes = b"",
    ) -> CallResult:
        """Run a method without writing anything (a query). ``to`` may be an address or a name alias.

        ``sender`` is the address the contract sees as ``msg.sender`` (empty: 20 zero bytes).
        """
        tx_state = TxState(BlockState(state))
        sender = sender or bytes(ADDRESS_SIZE)
        with self._lock, _stack_headroom():
            self._recent_proposers = ctx.recent_proposers
            self._start_gas()
            outcome = self._guarded(
                lambda: self._dispatch(tx_state, BlockView(ctx), sender, to, method, tuple(args), _ZERO_HASH, 0))
        sb = self._sandbox
        events = tuple(sb.events) if outcome.status == ReceiptStatus.OK else ()
        return CallResult(outcome.status, outcome.output, self._gas_used(), outcome.error, events)

    def resolve(self, state: StateReader, name: str) -> bytes | None:
        """Address a name is registered to, or None (what the registry's ``resolve`` returns)."""
        if check_name(name) is not None:
            return None
        raw = state.get(name_key(name_address(name, self.suite)))
        return None if raw is None else _name_entry(raw)[1]

    def deploy_genesis(self, ctx: BlockContext, contracts: Sequence[GenesisContract], state: StateReader | None = None) -> BlockResult:
        """Deploy ``contracts`` as the genesis block does; raises :class:`GenesisError` if any fails."""
        block = BlockState(state if state is not None else DictReader())
        view = BlockView(ctx)
        receipts = []
        with self._lock, _stack_headroom():
            for nonce, c in enumerate(contracts):
                tx_state = TxState(block)
                self._start_gas()
                outcome = self._guarded(partial(
                    self._deploy, tx_state, view, GENESIS_DEPLOYER, nonce, _ZERO_HASH, c.name, (c.source, *c.args)))
                if outcome.status != ReceiptStatus.OK:
                    raise GenesisError(f"genesis contract {c.name!r} failed: {ReceiptStatus(outcome.status).name}: {outcome.error}")
                tx_state.commit()
                receipts.append(Receipt(_ZERO_HASH, outcome.status, outcome.output, self._gas_used(), tuple(self._sandbox.events),
                                        "", outcome.contract_address))
        return BlockResult(tuple(receipts), block.write_set(), sum(r.gas_used for r in receipts))

    # -- one transaction -----------------------------------------------------------------------
    def _execute_tx(self, block: BlockState, view: BlockView, tx: Transaction) -> Receipt:
        tx_state = TxState(block)
        tx_hash = tx.hash if self.suite is DEFAULT_SUITE else tx.hash_with(self.suite)
        # The transaction caches its sender's address under its own suite; the same suite (by name,
        # as hash_with decides) gives the same address.
        sender = tx.sender_address if tx.suite.name == self.suite.name else self.suite.address(tx.sender)
        self._start_gas()
        if tx.chain_id != view.chain_id or tx.group_id != view.group_id:
            outcome = _Outcome(ReceiptStatus.BAD_TRANSACTION, error=(
                f"transaction is for chain {tx.chain_id!r} group {tx.group_id!r}, "
                f"not {view.chain_id!r} {view.group_id!r}"))
        elif tx.to == b"":
            outcome = self._guarded(lambda: self._deploy(
                tx_state, view, sender, tx.nonce, tx_hash, tx.method, tx.args))
        else:
            outcome = self._guarded(lambda: self._dispatch(
                tx_state, view, sender, tx.to, tx.method, tx.args, tx_hash, tx.nonce))
        ok = outcome.status == ReceiptStatus.OK
        if ok:
            tx_state.commit()
        return Receipt.fields_of(
            tx_hash, outcome.status, outcome.output, self._gas_used(), tuple(self._sandbox.events) if ok else (),
            outcome.error, outcome.contract_address,
        )

    def _start_gas(self) -> None:
        sb = self._sandbox
        sb.events = []
        sb.meter.remaining = self.gas_limit
        sb.meter.depth = 0
        sb.charge(G_TX)

    def _gas_used(self) -> int:
        return min(self.gas_limit, self.gas_limit - self._sandbox.meter.remaining)

    def _guarded(self, run: Any) -> _Outcome:
        """Run one transaction body; turn every way it can end into an outcome."""
        try:
            outcome: _Outcome = run()
            return outcome
        except OutOfGas:
            self._sandbox.meter.remaining = 0
            return _Outcome(ReceiptStatus.OUT_OF_GAS, error=f"out of gas (limit {self.gas_limit})")
        except (Revert, PermissionDenied, BadTransaction) as exc:
            return _Outcome(exc.status, error=_clip(str(exc)))
        except TxAbort as exc:
            return _Outcome(exc.status, error=_clip(_with_line(str(exc), exc.__traceback__)))
        except MemoryError:
            raise  # a node fault, not an outcome: never record a receipt that may differ elsewhere
        except RecursionError as exc:
            return _Outcome(ReceiptStatus.CONTRACT_ERROR, error=_clip(_with_line("recursion too deep", exc.__traceback__)))
        except Exception as exc:  # any other error raised inside contract code reverts the transaction
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return _Outcome(ReceiptStatus.REVERTED, error=_clip(_with_line(text, exc.__traceback__)))

    def _dispatch(
        self, state: TxState, view: BlockView, sender: bytes, to: bytes, method: str, args: tuple[Value, ...],
        tx_hash: bytes, nonce: int,
    ) -> _Outcome:
        if to == REGISTRY_ADDRESS:
            return self._registry(state, sender, method, args)
        if to == GOVERNANCE_ADDRESS or to == self._governance_alias:
            return self._governance(state, view, sender, method, args)
        address, record = self._contract_at(state, to)
        compiled = self._code(state, record.code_hash)
        spec = compiled.spec.methods.get(method)
        if spec is None or not spec.public:
            public = ", ".join(sorted(m for m, s in compiled.spec.methods.items() if s.public))
            raise BadTransaction(f"contract 0x{address.hex()} has no public method {method!r} (it has: {public or 'none'})")
        if self.native_evidence and record.code_hash == NATIVE_EVIDENCE_SOURCE:
            return _Outcome(output=self._invoke_native(state, view, sender, address, compiled, method, args, tx_hash, nonce))
        return _Outcome(output=self._invoke(state, view, sender, address, compiled, method, args, tx_hash, nonce))

    def _invoke(
        self, state: TxState, view: BlockView, sender: bytes, address: bytes, compiled: CompiledContract,
        method: str, args: Sequence[Value], tx_hash: bytes, nonce: int,
    ) -> Value:
        spec = compiled.spec.methods[method]
        if not spec.required <= len(args) <= len(spec.params):
            want = str(spec.required) if spec.required == len(spec.params) else f"{spec.required} to {len(spec.params)}"
            raise BadTransaction(f"{spec.signature()} takes {want} argument(s), got {len(args)}")
        sb = self._sandbox
        fn = sb.functions(compiled)[method]
        sb.begin(state, address, MsgView(sender, address), view, TxView(tx_hash, nonce))
        weight = [0]
        values = _thaw_args(args, weight)
        sb.charge(weight[0])
        result = fn(*values)
        return sb.output(result)

    def _invoke_native(
        self, state: TxState, view: BlockView, sender: bytes, address: bytes, compiled: CompiledContract,
        method: str, args: Sequence[Value], tx_hash: bytes, nonce: int,
    ) -> Value:
        """:meth:`_invoke` for the genesis evidence code, run as native code: the same argument checks,
        storage, events and output through the sandbox's helpers; a flat charge instead of metering."""
        spec = compiled.spec.methods[method]
        if not spec.required <= len(args) <= len(spec.params):
            want = str(spec.required) if spec.required == len(spec.params) else f"{spec.required} to {len(spec.params)}"
            raise BadTransaction(f"{spec.signature()} takes {want} argument(s), got {len(args)}")
        if method not in NativeEvidence.METHODS:  # pragma: no cover - a port out of step with its source
            raise RuntimeError(f"native evidence contract lacks method {method!r}")
        sb = self._sandbox
        sb.begin(state, address, MsgView(sender, address), view, TxView(tx_hash, nonce))
        weight = [0]
        values = _thaw_args(args, weight)
        sb.charge(weight[0] + G_EVIDENCE_CALL)
        native = NativeEvidence(state, storage_prefix(address), address, sb.charge, sb.events, sb.builtins["__s_get"],
                                sender, view.number, view.timestamp, tx_hash)
        # Return values are records, lists of at most 100 hashes and scalars: far inside the output limit.
        return canonical.freeze(getattr(native, method)(*values))

    def _contract_at(self, state: TxState, to: bytes) -> tuple[bytes, ContractRecord]:
        raw = state.get(contract_key(to))
        if raw is not None:
            return to, self._record(raw)
        entry = state.get(name_key(to))
        if entry is not None:
            _name, address = _name_entry(entry)
            raw = state.get(contract_key(address))
            if raw is not None:
                return address, self._record(raw)
        raise BadTransaction(f"no contract at 0x{to.hex()} (neither a contract address nor a registered name's alias)")

    def _record(self, raw: bytes) -> ContractRecord:
        """Decode a contract record, memoized by its bytes (records are read by every call)."""
        record = self._records.get(raw)
        if record is None:
            record = ContractRecord.decode(raw)
            if len(self._records) >= 1024:
                self._records.clear()
            self._records[raw] = record
        return record

    def _code(self, state: TxState, h: bytes) -> CompiledContract:
        compiled = self._compiled.get(h)
        if compiled is not None:
            self._compiled.move_to_end(h)
            return compiled
        raw = state.get(code_key(h))
        if raw is None:
            raise BadTransaction(f"code 0x{h.hex()} is missing from state")
        compiled = compile_contract(canonical.decode(raw))  # type: ignore[arg-type]
        self._compiled[h] = compiled
        while len(self._compiled) > 256:
            self._compiled.popitem(last=False)
        return compiled

    # -- deploy --------------------------------------------------------------------------------
    def _deploy(
        self, state: TxState, view: BlockView, sender: bytes, nonce: int, tx_hash: bytes, name: str,
        args: Sequence[Value],
    ) -> _Outcome:
        if not args or not isinstance(args[0], str):
            raise BadTransaction("a deploy transaction carries the contract source (str) as args[0]")
        source = args[0]
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES:
            rejected = ContractRejected(0, "source", f"contract source is {size} bytes; the limit is {MAX_SOURCE_BYTES}")
            raise BadTransaction(f"contract rejected: {rejected}")
        self._sandbox.charge(G_DEPLOY + G_DEPLOY_BYTE * size)
        if sender != GENESIS_DEPLOYER and not GovernanceState(state.get).may_deploy(sender):
            raise PermissionDenied(f"0x{sender.hex()} may not deploy contracts (the committee grants grant_deploy)")
        if name and (why := check_name(name)) is not None:
            raise BadTransaction(why)
        try:
            compiled = compile_contract(source)
        except ContractRejected as exc:
            raise BadTransaction(f"contract rejected: {exc}") from None
        address = contract_address(sender, nonce, self.suite)
        if state.get(contract_key(address)) is not None or state.get(name_key(address)) is not None:
            raise BadTransaction(f"a contract already exists at 0x{address.hex()}")
        if name:
            self._claim_name(state, name, address)
        ctor = compiled.spec.constructor
        if ctor is None and len(args) > 1:
            raise BadTransaction("the contract has no constructor; a deploy takes only the source")
        if state.get(code_key(compiled.code_hash)) is None:
            state.put(code_key(compiled.code_hash), canonical.encode(source))
        record = ContractRecord(compiled.code_hash, name, sender, view.number, tx_hash)
        state.put(contract_key(address), record.encode())
        self._compiled[compiled.code_hash] = compiled
        if ctor is not None:
            self._invoke(state, view, sender, address, compiled, CONSTRUCTOR, args[1:], tx_hash, nonce)
        return _Outcome(contract_address=address)

    def _claim_name(self, state: TxState, name: str, address: bytes) -> None:
        key = name_key(name_address(name, self.suite))
        existing = state.get(key)
        if existing is not None:
            owner = _name_entry(existing)[1]
            raise Revert(f"name {name!r} is already registered to 0x{owner.hex()}")
        state.put(key, canonical.encode([name, address]))

    # -- the governance system contract -----------------------------------------------------------
    def _governance(self, state: TxState, view: BlockView, sender: bytes, method: str, args: tuple[Value, ...]) -> _Outcome:
        self._sandbox.charge(G_NATIVE)
        events = self._sandbox.events

        def emit(name: str, fields: dict) -> None:
            events.append(Event.make(GOVERNANCE_ADDRESS, name, fields))

        gov = GovernanceContract(state, sender, view.number, emit, self._arbitrators_key, suite=self.suite,
                                 recent_proposers=self._recent_proposers)
        return _Outcome(output=gov.call(method, args))

    # -- the built-in name registry --------------------------------------------------------------
    def _registry(self, state: TxState, sender: bytes, method: str, args: tuple[Value, ...]) -> _Outcome:
        self._sandbox.charge(G_NATIVE)
        if method == "resolve" and len(args) == 1 and isinstance(args[0], str):
            if check_name(args[0]) is not None:
                return _Outcome(output=None)
            raw = state.get(name_key(name_address(args[0], self.suite)))
            return _Outcome(output=None if raw is None else _name_entry(raw)[1])
        if method in ("info", "code") and len(args) == 1 and isinstance(args[0], bytes):
            try:
                address, record = self._contract_at(state, args[0])
            except BadTransaction:
                return _Outcome(output=None)
            if method == "info":
                return _Outcome(output=canonical.freeze(record.to_value(address)))  # type: ignore[arg-type]
            source = self._code(state, record.code_hash).source
            self._sandbox.charge(len(source) // 32)
            return _Outcome(output=source)
        if method == "register" and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], bytes):
            name, target = args[0], args[1]
            if (why := check_name(name)) is not None:
                raise BadTransaction(why)
            raw = state.get(contract_key(target))
            if raw is None:
                raise BadTransaction(f"no contract at 0x{target.hex()}")
            record = ContractRecord.decode(raw)
            if record.creator != sender:
                return _Outcome(ReceiptStatus.PERMISSION_DENIED,
                                error=f"only the creator 0x{record.creator.hex()} may name contract 0x{target.hex()}")
            if record.name:
                raise Revert(f"contract 0x{target.hex()} is already named {record.name!r}")
            self._claim_name(state, name, target)
            state.put(contract_key(target), ContractRecord(
                record.code_hash, name, record.creator, record.block_number, record.tx_hash).encode())
            return _Outcome(output=name_address(name, self.suite))
        raise BadTransaction(
            f"registry method {method!r} with {len(args)} argument(s) does not exist; it has "
            "resolve(name), info(address), code(address), register(name, address)")


def _name_entry(raw: bytes) -> tuple[str, bytes]:
    """A name registry entry, ``encode([name, address])``, as this executor wrote it."""
    value = canonical.decode(raw)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], bytes)):
        raise RuntimeError("corrupt name registry entry in state (expected [name, address])")
    return value[0], value[1]


def within_block_gas(receipts: Sequence[Receipt], block_gas_limit: int) -> bool:
    """Whether a block respects the limit: every transaction but the last started below it."""
    return sum(r.gas_used for r in receipts[:-1]) < block_gas_limit if receipts else True


def _thaw(value: Value, weight: list[int], depth: int) -> Any:
    """Transaction arguments arrive frozen (tuples); contracts see fresh lists and dicts.

    Adds the arguments' gas weight (1 per element, 1 per BYTES_PER_GAS bytes) to ``weight[0]``
    on the way, and refuses nesting deeper than MAX_NESTING (decoded transactions cannot be
    deeper; transactions built in-process could). Items of exact scalar types are handled in
    line (most are): the same values, weights and errors as a call each.
    """
    if isinstance(value, (list, tuple)):
        if depth >= MAX_NESTING:
            raise BadTransaction(f"arguments are nested deeper than {MAX_NESTING} levels")
        weight[0] += 1 + len(value)
        return _thaw_items(value, weight, depth + 1)
    if isinstance(value, dict):
        if depth >= MAX_NESTING:
            raise BadTransaction(f"arguments are nested deeper than {MAX_NESTING} levels")
        weight[0] += 1 + len(value)
        thawed = {}
        entries: dict[str, Any] = value
        for k, v in entries.items():
            t = type(v)
            if t is str or t is bytes:
                weight[0] += len(v) // BYTES_PER_GAS
                thawed[k] = v
            elif t is int or t is bool or v is None:
                thawed[k] = v
            else:
                thawed[k] = _thaw(v, weight, depth + 1)
        return thawed
    if isinstance(value, (str, bytes)):
        weight[0] += len(value) // BYTES_PER_GAS
    return value


def _thaw_args(args: Sequence[Any], weight: list[int]) -> list[Any]:
    """``[_thaw(a, weight, 0) for a in args]``."""
    return _thaw_items(args, weight, 0)


def _thaw_items(items: Sequence[Any], weight: list[int], depth: int) -> list[Any]:
    """``[_thaw(v, weight, depth) for v in items]``, scalars in line."""
    out = []
    for v in items:
        t = type(v)
        if t is str or t is bytes:
            weight[0] += len(v) // BYTES_PER_GAS
            out.append(v)
        elif t is int or t is bool or v is None:
            out.append(v)
        else:
            out.append(_thaw(v, weight, depth))
    return out


def _contract_line(tb: TracebackType | None) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CONTRACT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _with_line(text: str, tb: TracebackType | None) -> str:
    text = _ADDRESS_IN_TEXT.sub("", text)
    line = _contract_line(tb)
    return f"{text} (line {line})" if line else text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LEN else text[: MAX_ERROR_LEN - 3] + "..."


def _stack_headroom() -> AbstractContextManager[None]:
    """Contract execution runs with a fixed recursion budget (see execution.stack). The contract's
    own bounds (call depth, value nesting) keep it far below; the fixed budget makes even a host
    called from an unusually deep stack behave the same as every other node."""
    return fixed_recursion_budget(_STACK_HEADROOM)
