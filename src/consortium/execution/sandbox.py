"""The sandbox: the restricted builtins a contract runs with, its storage and events.

A contract's functions are created by executing its compiled module in a
globals dict whose ``__builtins__`` is a dict built here — never the real
builtins module. That dict holds exactly the checked helpers of
:mod:`consortium.execution.checked`, the storage and event helpers below, and
the ``msg``/``block``/``tx`` views of the running transaction. Nothing else is
reachable by name, and no attribute is reachable at all except the context
fields (the validator guarantees it).

One :class:`Sandbox` per executor; it is not thread-safe (the executor holds a
lock around every use).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from types import FunctionType
from typing import Any, cast

from consortium.encoding import canonical
from consortium.encoding.canonical import INT_MAX, INT_MIN, EncodingError, Value
from consortium.execution.checked import Meter, make_helpers, type_name
from consortium.execution.compiler import CompiledContract
from consortium.execution.context import BlockView, MsgView, TxView
from consortium.execution.errors import SandboxViolation
from consortium.execution.keys import storage_prefix
from consortium.execution.limits import (
    BYTES_PER_GAS,
    G_EVENT,
    G_EVENT_BYTE,
    G_OUTPUT_BYTE,
    G_STORAGE_READ,
    G_STORAGE_READ_BYTE,
    G_STORAGE_WRITE,
    G_STORAGE_WRITE_BYTE,
    MAX_EVENT_BYTES,
    MAX_EVENT_NAME_LEN,
    MAX_EVENTS_PER_TX,
    MAX_KEY_BYTES,
    MAX_OUTPUT_BYTES,
    MAX_VALUE_BYTES,
)
from consortium.execution.overlay import TxState
from consortium.execution.rewrite import HELPER_NAMES, METHOD_PREFIX
from consortium.ledger.receipt import Event

_MODULE_CACHE = 128


class Sandbox:
    def __init__(self) -> None:
        self.meter = Meter()
        self.state: TxState | None = None
        self.address = b""
        self._prefix = b""
        self.events: list[Event] = []
        helpers, self.weigh, self.charge = make_helpers(self.meter)
        helpers.update(self._storage_helpers())
        helpers["emit"] = self._emit
        missing = (HELPER_NAMES | {"emit"}) - set(helpers)
        if missing:  # pragma: no cover - a rewriter/runtime mismatch is a programming error
            raise RuntimeError(f"runtime lacks helpers {sorted(missing)}")
        self.builtins: dict[str, Any] = cast(dict[str, Any], helpers)
        self.builtins.update(msg=None, block=None, tx=None)

        self._modules: OrderedDict[bytes, dict[str, FunctionType]] = OrderedDict()

    # -- contract loading ----------------------------------------------------------------------
    def functions(self, compiled: CompiledContract) -> dict[str, FunctionType]:
        """The contract's methods as functions bound to this sandbox (built once per code hash)."""
        fns = self._modules.get(compiled.code_hash)
        if fns is not None:
            self._modules.move_to_end(compiled.code_hash)
            return fns
        module_globals: dict[str, Any] = {"__builtins__": self.builtins, "__name__": "contract"}
        exec(compiled.code, module_globals)  # defines functions and constants only
        fns = {m: module_globals[METHOD_PREFIX + m] for m in compiled.spec.methods}
        self._modules[compiled.code_hash] = fns
        while len(self._modules) > _MODULE_CACHE:
            self._modules.popitem(last=False)
        return fns

    def begin(self, state: TxState, address: bytes, msg: MsgView, block: BlockView, tx: TxView) -> None:
        """Point the helpers at one contract invocation (gas is set by the caller)."""
        self.state = state
        self.address = address
        self._prefix = storage_prefix(address)
        self.events = []
        self.meter.depth = 0
        b = self.builtins
        b["msg"] = msg
        b["block"] = block
        b["tx"] = tx

    def output(self, value: Any) -> Value:
        """Check a method's return value: canonical data of bounded size, nothing else."""
        size = self.data(value, MAX_OUTPUT_BYTES, "return value")
        self.charge(G_OUTPUT_BYTE * size)
        return canonical.freeze(value)

    def data(self, value: Any, limit: int, what: str) -> int:
        """Charge for and check ``value`` as canonical data whose encoding fits in ``limit`` bytes.

        Returns an upper bound of the encoded size. The bound is loose only by item headers, so a
        value whose bound is over the limit (but within a few times it) is encoded to decide; the
        walk that produced the bound has already been paid for, so that encoding is bounded too.
        """
        t = type(value)
        if value is None or t is bool:
            return 1
        if t is str or t is bytes:
            size = 5 + (len(value) if t is bytes or value.isascii() else len(value.encode("utf-8", "surrogatepass")))
            if size > limit:
                raise SandboxViolation(f"{what} is {size} bytes encoded; the limit is {limit}")
            self.charge(len(value) // BYTES_PER_GAS)
            return size
        if t is int:
            if not INT_MIN <= value <= INT_MAX:
                raise SandboxViolation(f"{what}: integer {value} outside the storable range [-2**63, 2**64-1]")
            return 9
        if t is list or t is dict:
            size = self.weigh(value, 5 * limit, what, True)[1]
            if size > limit:
                size = len(self._encoded(value, limit, what))
            return size
        raise SandboxViolation(f"{what}: {type_name(value)} values are not storable data")

    @staticmethod
    def _encoded(value: Any, limit: int, what: str) -> bytes:
        try:
            raw = canonical.encode(value)
        except EncodingError as exc:
            raise SandboxViolation(f"{what} is not storable data: {exc}") from None
        if len(raw) > limit:
            raise SandboxViolation(f"{what} is {len(raw)} bytes encoded; the limit is {limit}")
        return raw

    # -- storage -------------------------------------------------------------------------------
    def _storage_helpers(self) -> dict[str, Callable[..., Any]]:
        encoded = self._encoded

        def key_bytes(key: Any) -> bytes:
            t = type(key)
            if t is list:
                # Typical keys are short flat lists of scalars; only anything else needs the walk.
                if len(key) > 8 or any(type(x) is list or type(x) is dict for x in key):
                    self.weigh(key, MAX_KEY_BYTES, "storage key")
            elif t is not str and t is not bytes and t is not int and t is not bool:
                raise SandboxViolation(f"storage keys must be str, bytes, int or lists of them, not {type_name(key)}")
            raw = encoded(key, MAX_KEY_BYTES, "storage key")
            return self._prefix + raw

        def read(key: Any) -> bytes | None:
            k = key_bytes(key)
            raw = self.state.get(k)  # type: ignore[union-attr]
            self.charge(G_STORAGE_READ + G_STORAGE_READ_BYTE * (len(k) + (len(raw) if raw is not None else 0)))
            return raw

        def s_load(key: Any) -> Any:
            raw = read(key)
            if raw is None:
                raise KeyError(key)
            return canonical.decode(raw)

        def s_get(key: Any, default: Any = None) -> Any:
            raw = read(key)
            return default if raw is None else canonical.decode(raw)

        def s_has(key: Any) -> bool:
            return read(key) is not None

        def s_store(key: Any, value: Any) -> None:
            k = key_bytes(key)
            if value is None:
                self.charge(G_STORAGE_WRITE + G_STORAGE_WRITE_BYTE * len(k))
                self.state.put(k, None)  # type: ignore[union-attr]
                return
            if type(value) in (list, dict):
                self.weigh(value, None, "storage value", True)
            raw = encoded(value, MAX_VALUE_BYTES, "storage value")
            self.charge(G_STORAGE_WRITE + G_STORAGE_WRITE_BYTE * (len(k) + len(raw)))
            self.state.put(k, raw)  # type: ignore[union-attr]

        def s_delete(key: Any) -> None:
            s_store(key, None)

        def s_aug(key: Any, op: Callable[[Any, Any], Any], value: Any) -> None:
            s_store(key, op(s_load(key), value))

        return {
            "__s_load": s_load, "__s_get": s_get, "__s_has": s_has, "__s_store": s_store,
            "__s_delete": s_delete, "__s_aug": s_aug,
        }

    # -- events --------------------------------------------------------------------------------
    def _emit(self, name: Any, **fields: Any) -> None:
        if type(name) is not str or not 0 < len(name) <= MAX_EVENT_NAME_LEN or not name.isascii() or not name.isidentifier():
            raise SandboxViolation(f"event names are identifiers of at most {MAX_EVENT_NAME_LEN} ASCII characters")
        if len(self.events) >= MAX_EVENTS_PER_TX:
            raise SandboxViolation(f"more than {MAX_EVENTS_PER_TX} events in one transaction")
        size = self.data(fields, MAX_EVENT_BYTES, f"event {name}")
        self.charge(G_EVENT + G_EVENT_BYTE * (size + len(name)))
        self.events.append(Event.make(self.address, name, fields))


_emit_name = Sandbox._emit
_emit_name.__qualname__ = "emit"
