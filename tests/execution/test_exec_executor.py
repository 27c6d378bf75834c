"""The executor: deploys, addresses, names, receipts, rollback, gas accounting, read-only calls."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.execution.chainkit import ALICE, BOB, COUNTER, Chain, contract, statuses

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.execution import (
    REGISTRY_ADDRESS,
    BlockContext,
    ContractRecord,
    DictReader,
    Executor,
    GenesisContract,
    GenesisError,
    contract_address,
    name_address,
)
from consortium.execution.keys import code_key, contract_key, name_key, storage_prefix
from consortium.execution.limits import G_TX
from consortium.ledger import ReceiptStatus, Transaction

S = ReceiptStatus


def test_deploy_derives_the_address_from_sender_and_nonce(chain: Chain) -> None:
    chain.deploy(ALICE, COUNTER)  # nonce 0
    receipt = chain.deploy(ALICE, COUNTER, 7)  # nonce 1
    expected = hashlib.sha256(ALICE.address + (1).to_bytes(8, "big")).digest()[:20]
    assert receipt.ok and receipt.contract_address == expected == contract_address(ALICE.address, 1)
    assert chain.view(expected, "get") == 7


def test_deploy_writes_code_once_and_a_record_per_contract(chain: Chain) -> None:
    a = chain.deployed(ALICE, COUNTER)
    b = chain.deployed(BOB, COUNTER)
    code_hash = hashlib.sha256(COUNTER.encode()).digest()
    assert canonical.decode(chain.state.data[code_key(code_hash)]) == COUNTER
    for address, creator in ((a, ALICE), (b, BOB)):
        record = ContractRecord.decode(chain.state.data[contract_key(address)])
        assert record.code_hash == code_hash and record.creator == creator.address and record.name == ""
    assert sum(1 for k in chain.state.data if k.startswith(b"cd/")) == 1


def test_storage_keys_are_namespaced_by_contract(chain: Chain) -> None:
    a = chain.deployed(ALICE, COUNTER, 1)
    b = chain.deployed(ALICE, COUNTER, 2)
    key = storage_prefix(a) + canonical.encode("n")
    assert canonical.decode(chain.state.data[key]) == 1
    assert canonical.decode(chain.state.data[storage_prefix(b) + canonical.encode("n")]) == 2


def test_redeploying_at_an_occupied_address_is_refused(chain: Chain) -> None:
    first = chain.tx(ALICE, b"", "", COUNTER)
    again = Transaction(first.chain_id, first.group_id, first.nonce, first.block_limit, first.sender, b"", "", (COUNTER, 5))
    r1, r2 = chain.block(first, again).receipts
    assert r1.ok and r2.status == S.BAD_TRANSACTION and "already exists" in r2.error


def test_deploy_argument_errors(chain: Chain) -> None:
    no_source = chain.block(chain.tx(ALICE, b"", "", 42)).receipts[0]
    assert no_source.status == S.BAD_TRANSACTION and "args[0]" in no_source.error
    no_ctor = chain.deploy(ALICE, contract("def f(self):\n    return 1"), 5)
    assert no_ctor.status == S.BAD_TRANSACTION and "no constructor" in no_ctor.error
    ctor_arity = chain.deploy(ALICE, COUNTER, 1, 2)
    assert ctor_arity.status == S.BAD_TRANSACTION and "constructor(start) takes 0 to 1 argument(s), got 2" in ctor_arity.error
    assert chain.state.data == {}


def test_failing_constructor_leaves_no_contract(chain: Chain) -> None:
    source = contract("def constructor(self, x):\n    storage['x'] = x\n    require(x > 0, 'x must be positive')")
    receipt = chain.deploy(ALICE, source, 0, name="positive")
    assert receipt.status == S.REVERTED and receipt.error == "x must be positive"
    assert receipt.contract_address == b"" and chain.state.data == {}


def test_name_registration_at_deploy_and_addressing_by_name(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER, 10, name="counter")
    alias = name_address("counter")
    assert alias == hashlib.sha256(b"consortium/contract-name\x00counter").digest()[:20]
    receipt = chain.send(BOB, alias, "inc", 5)
    assert receipt.ok and receipt.output == 15
    assert receipt.events[0].address == address, "events carry the real address, not the alias"
    assert chain.view(REGISTRY_ADDRESS, "resolve", "counter") == address
    assert chain.executor.resolve(chain.state, "counter") == address
    assert chain.view(REGISTRY_ADDRESS, "resolve", "nobody") is None
    info = chain.view(REGISTRY_ADDRESS, "info", alias)
    assert info["address"] == address and info["name"] == "counter" and info["creator"] == ALICE.address
    assert chain.view(REGISTRY_ADDRESS, "code", address) == COUNTER


def test_names_are_first_come_and_validated(chain: Chain) -> None:
    first = chain.deployed(ALICE, COUNTER, name="counter")
    taken = chain.deploy(BOB, COUNTER, name="counter")
    assert taken.status == S.REVERTED and f"already registered to 0x{first.hex()}" in taken.error
    for bad in ("Counter", "1abc", "a b", "x" * 33, "évidence"):
        receipt = chain.deploy(BOB, COUNTER, name=bad)
        assert receipt.status == S.BAD_TRANSACTION, bad
    assert chain.view(REGISTRY_ADDRESS, "resolve", "counter") == first


def test_registry_register_is_for_the_creator_only(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER)
    denied = chain.send(BOB, REGISTRY_ADDRESS, "register", "mine", address)
    assert denied.status == S.PERMISSION_DENIED and "only the creator" in denied.error
    ok = chain.send(ALICE, REGISTRY_ADDRESS, "register", "mine", address)
    assert ok.ok and ok.output == name_address("mine")
    assert chain.send(BOB, name_address("mine"), "inc").output == 1
    renamed = chain.send(ALICE, REGISTRY_ADDRESS, "register", "other", address)
    assert renamed.status == S.REVERTED and "already named 'mine'" in renamed.error
    bogus = chain.send(ALICE, REGISTRY_ADDRESS, "frobnicate")
    assert bogus.status == S.BAD_TRANSACTION and "resolve(name)" in bogus.error


def test_unknown_contract_method_and_arity(chain: Chain) -> None:
    address = chain.deployed(ALICE, contract("def f(self, a, b=2):\n    return a + b\n\ndef _secret(self):\n    return 1"))
    nowhere = chain.send(ALICE, bytes(20), "f", 1)
    assert nowhere.status == S.BAD_TRANSACTION and "no contract at 0x" in nowhere.error
    for method in ("g", "_secret", "constructor"):
        receipt = chain.send(ALICE, address, method)
        assert receipt.status == S.BAD_TRANSACTION and "has no public method" in receipt.error and "(it has: f)" in receipt.error
    assert chain.send(ALICE, address, "f", 1).output == 3
    assert chain.send(ALICE, address, "f", 1, 5).output == 6
    arity = chain.send(ALICE, address, "f")
    assert arity.status == S.BAD_TRANSACTION and "f(a, b) takes 1 to 2 argument(s), got 0" in arity.error


def test_a_failed_transaction_is_rolled_back_alone(chain: Chain) -> None:
    source = contract("""
        def set(self, k, v, fail):
            storage[k] = v
            emit("Set", k=k)
            require(not fail, "asked to fail")
            return v
    """)
    address = chain.deployed(ALICE, source)
    result = chain.block(
        chain.tx(ALICE, address, "set", "a", 1, False),
        chain.tx(ALICE, address, "set", "b", 2, True),
        chain.tx(ALICE, address, "set", "c", 3, False),
    )
    assert statuses(result.receipts) == ["OK", "REVERTED", "OK"]
    assert result.receipts[1].events == () and result.receipts[1].error == "asked to fail"
    assert [len(r.events) for r in result.receipts] == [1, 0, 1]
    prefix = storage_prefix(address)
    assert set(result.writes) == {prefix + canonical.encode("a"), prefix + canonical.encode("c")}
    assert list(result.writes) == sorted(result.writes), "write set is in key order"


def test_later_transactions_see_earlier_writes_of_the_block(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER)
    result = chain.block(*(chain.tx(ALICE, address, "inc") for _ in range(5)))
    assert [r.output for r in result.receipts] == [1, 2, 3, 4, 5]
    assert len(result.writes) == 1


def test_python_errors_revert_with_the_contract_line(chain: Chain) -> None:
    address = chain.deployed(ALICE, contract("""
        def div(self, a, b):
            x = a // b
            return x

        def key(self):
            d = {"a": 1}
            return d["zz"]

        def typo(self):
            return 1 + "a"
    """))
    div = chain.send(ALICE, address, "div", 1, 0)
    assert div.status == S.REVERTED and div.error == "ZeroDivisionError: integer division or modulo by zero (line 4)"
    key = chain.send(ALICE, address, "key")
    assert key.status == S.REVERTED and key.error == "KeyError: 'zz' (line 9)"
    typo = chain.send(ALICE, address, "typo")
    assert typo.status == S.REVERTED and typo.error.startswith("TypeError: unsupported operand") and "(line 12)" in typo.error


def test_storage_api(chain: Chain) -> None:
    address = chain.deployed(ALICE, contract("""
        def run(self):
            storage[b"k"] = 1
            storage[["pair", 7]] = {"x": [1, 2]}
            out = [storage[b"k"], storage.get("missing"), storage.get("missing", 5), b"k" in storage,
                   "missing" not in storage, storage[["pair", 7]]]
            storage["n"] = 10
            storage["n"] -= 3
            out.append(storage["n"])
            del storage[b"k"]
            del storage["never-set"]
            out.append(b"k" in storage)
            storage["gone"] = 1
            storage["gone"] = None
            out.append("gone" in storage)
            return out

        def missing(self):
            return storage["nope"]
    """))
    receipt = chain.send(ALICE, address, "run")
    assert receipt.ok, receipt.error
    assert receipt.output == (1, None, 5, True, True, {"x": (1, 2)}, 7, False, False)
    prefix = storage_prefix(address)
    assert prefix + canonical.encode(b"k") not in chain.state.data
    assert prefix + canonical.encode(["pair", 7]) in chain.state.data
    assert chain.send(ALICE, address, "missing").error == "KeyError: 'nope' (line 20)"


def test_storage_values_are_copies(chain: Chain) -> None:
    address = chain.deployed(ALICE, contract("""
        def run(self):
            storage["l"] = [1]
            l = storage["l"]
            l.append(2)
            before = storage["l"]
            storage["l"] = l
            return [before, storage["l"]]
    """))
    assert chain.send(ALICE, address, "run").output == ((1,), (1, 2))


def test_call_is_read_only_and_reports_events(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER, 3)
    before = dict(chain.state.data)
    result = chain.call(address, "inc", 4)
    assert result.ok and result.output == 7 and [e.name for e in result.events] == ["Incremented"]
    assert chain.state.data == before and chain.view(address, "get") == 3
    failing = chain.call(address, "inc", "x")
    assert failing.status == S.REVERTED and failing.events == ()


def test_context_values(chain: Chain) -> None:
    address = chain.deployed(ALICE, contract("""
        def ctx(self):
            return [msg.sender, msg.contract, block.number, block.timestamp, block.chain_id, block.group_id,
                    tx.hash, tx.nonce]
    """))
    tx = chain.tx(BOB, address, "ctx")
    ctx = chain.ctx
    receipt = chain.block(tx).receipts[0]
    assert receipt.output == (BOB.address, address, ctx.number, ctx.timestamp, ctx.chain_id, ctx.group_id, tx.hash, tx.nonce)
    assert chain.view(address, "ctx", sender=ALICE.address)[0] == ALICE.address
    assert chain.view(address, "ctx")[0] == bytes(20)


def test_gas_is_deterministic_and_grows_with_work() -> None:
    source = contract("""
        def loop(self, n):
            x = 0
            for i in range(n):
                x = x + i
            return x

        def store(self, v):
            storage["v"] = v
    """)
    runs = []
    for _ in range(2):
        chain = Chain()
        address = chain.deployed(ALICE, source)
        result = chain.block(*(chain.tx(ALICE, address, "loop", n) for n in (0, 10, 20)),
                             chain.tx(ALICE, address, "store", "a"), chain.tx(ALICE, address, "store", "a" * 1000))
        runs.append([r.gas_used for r in result.receipts])
    first, second = runs
    assert first == second
    g0, g10, g20, small, big = first
    assert g10 - g0 == g20 - g10 > 0, "each loop iteration costs the same"
    assert big - small >= 5 * 999, "storage writes are priced per byte"


def test_gas_limit_boundary() -> None:
    probe = Chain()
    address = probe.deployed(ALICE, COUNTER)
    used = probe.send(ALICE, address, "inc").gas_used
    for limit, status in ((used, S.OK), (used - 1, S.OUT_OF_GAS)):
        chain = Chain(gas_limit=limit)
        chain.state = DictReader(dict(probe.state.data))
        chain.state.data[storage_prefix(address) + canonical.encode("n")] = canonical.encode(0)
        receipt = chain.send(ALICE, address, "inc")
        assert receipt.status == status
        assert receipt.gas_used == (used if status == S.OK else limit)


def test_executor_rejects_tiny_gas_limit() -> None:
    with pytest.raises(ValueError):
        Executor(gas_limit_per_tx=G_TX - 1)


def test_deploy_genesis_raises_on_failure() -> None:
    ctx = BlockContext("c", "g", 0, 0)
    with pytest.raises(GenesisError, match="bad"):
        Executor().deploy_genesis(ctx, [GenesisContract("bad", "import os")])
    result = Executor().deploy_genesis(ctx, [GenesisContract("counter", COUNTER, (3,))])
    assert result.receipts[0].contract_address == contract_address(bytes(20), 0)


def test_block_and_call_do_not_write_through_the_reader(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER)

    class Recording(DictReader):
        def __setitem__(self, key: bytes, value: bytes) -> None:  # pragma: no cover - must never happen
            raise AssertionError("executor wrote to the reader")

    reader = Recording(dict(chain.state.data))
    snapshot = dict(reader.data)
    chain.executor.execute_block(reader, chain.ctx, [chain.tx(ALICE, address, "inc")])
    assert reader.data == snapshot


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_contract_record_decoder_refuses_garbage(data: bytes) -> None:
    try:
        record = ContractRecord.decode(data)
    except DecodeError:
        return
    assert record.encode() == data


def test_contract_record_round_trip() -> None:
    record = ContractRecord(bytes(range(32)), "evidence", bytes(20), 5, bytes(32))
    assert ContractRecord.decode(record.encode()) == record
    with pytest.raises(DecodeError):
        ContractRecord.decode(canonical.encode([2, bytes(32), "", bytes(20), 0, bytes(32)]))


def test_name_key_layout() -> None:
    assert name_key(name_address("x")) == b"cn/" + name_address("x")


def test_transactions_of_another_chain_or_group_are_refused(chain: Chain) -> None:
    address = chain.deployed(ALICE, COUNTER)
    good = chain.tx(ALICE, address, "inc")
    other_chain = Transaction("other", good.group_id, 99, 1000, ALICE.public_key, address, "inc", ())
    other_group = Transaction(good.chain_id, "g2", 98, 1000, ALICE.public_key, address, "inc", ())
    result = chain.block(other_chain, other_group, good)
    assert statuses(result.receipts) == ["BAD_TRANSACTION", "BAD_TRANSACTION", "OK"]
    assert "is for chain 'other'" in result.receipts[0].error
    assert result.receipts[2].output == 1
