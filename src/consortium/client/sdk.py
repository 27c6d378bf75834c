"""Python SDK: build, sign and send transactions over JSON-RPC, and wait for receipts.

:class:`Client` is async (aiohttp); :class:`SyncClient` wraps it for scripts and
the CLI, running its own event loop. Errors from the node arrive as
:class:`RpcCallError` with the node's code and message, which say what to fix.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp

from consortium.crypto.suite import KeyPair
from consortium.encoding.canonical import Value
from consortium.encoding.hexbytes import from_hex, to_hex
from consortium.ledger.transaction import Transaction
from consortium.rpc.views import value_to_json

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
BLOCK_LIMIT_MARGIN = 500
"""A new transaction stays valid for this many blocks, or fewer on a chain whose
``block_limit_window`` is smaller (the default window is 600)."""
BATCH_SIZE = 100
"""Calls per JSON-RPC batch: the node's limit (rpc/jsonrpc.py MAX_BATCH)."""


class ClientError(Exception):
    """The node could not be reached or answered something that is not JSON-RPC."""


class RpcCallError(ClientError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


class ReceiptTimeout(ClientError):
    """No receipt within the timeout; the transaction (``tx_hash``) may still be committed later."""

    def __init__(self, message: str, tx_hash: bytes | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class Client:
    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._chain: tuple[str, str] | None = None
        self._margin: int | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- raw JSON-RPC -------------------------------------------------------------------------
    async def request(self, method: str, *params: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            async with self._session.post(self.url, json=body) as response:
                try:
                    doc = await response.json(content_type=None)
                except (aiohttp.ContentTypeError, ValueError):
                    raise ClientError(f"{self.url} answered HTTP {response.status} without JSON-RPC") from None
        except aiohttp.ClientConnectorError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc.os_error or exc}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ClientError(f"request to {self.url} failed: {exc.__class__.__name__} {exc}") from None
        if not isinstance(doc, dict):
            raise ClientError(f"{self.url} answered something that is not a JSON-RPC response")
        if "error" in doc:
            err = doc["error"] or {}
            raise RpcCallError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return doc.get("result")

    # -- chain --------------------------------------------------------------------------------
    async def block_number(self) -> int:
        return int(await self.request("getBlockNumber"))

    async def chain_ids(self) -> tuple[str, str]:
        if self._chain is None:
            info = await self.request("getNodeInfo")
            self._chain = (info["chainId"], info["groupId"])
        return self._chain

    async def block_limit(self) -> int:
        """A block limit for a new transaction: the head plus :meth:`block_limit_margin`."""
        margin = await self.block_limit_margin()
        return await self.block_number() + margin

    async def block_limit_margin(self) -> int:
        """How far past the head a new transaction's block limit goes: ``BLOCK_LIMIT_MARGIN`` blocks, less
        on a chain whose ``block_limit_window`` is smaller (a limit beyond the window is refused); two
        blocks short of the window, as the head may move before the node checks. Read once per client.
        Callers that keep their own view of the head (the gateway) add it to that."""
        if self._margin is None:
            window = int(await self.request("getSystemConfigByKey", "block_limit_window"))
            self._margin = max(1, min(BLOCK_LIMIT_MARGIN, window - 2))
        return self._margin

    async def resolve(self, to: str | bytes) -> bytes:
        """A contract address from bytes, 0x-hex, or a registered name."""
        if isinstance(to, bytes):
            return to
        if to.startswith(("0x", "0X")):
            return from_hex(to, size=20, what="contract address")
        return from_hex(await self.request("getContractAddress", to), size=20)

    async def build(
        self, key: KeyPair, to: str | bytes, method: str, args: Sequence[Value] = (), *,
        nonce: int | None = None, block_limit: int | None = None,
    ) -> Transaction:
        """A signed transaction; ``to`` = b"" deploys (``args[0]`` the source)."""
        chain_id, group_id = await self.chain_ids()
        address = b"" if to in (b"", "") else await self.resolve(to)
        if block_limit is None:
            block_limit = await self.block_limit()
        if nonce is None:
            nonce = secrets.randbits(63)  # unique per sender within the window, with overwhelming odds
        return Transaction(chain_id, group_id, nonce, block_limit, b"", address, method, tuple(args)).signed_by(key)

    async def send_transaction(self, tx: Transaction) -> bytes:
        return from_hex(await self.request("sendTransaction", to_hex(tx.encode())), size=32)

    async def request_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any | RpcCallError]:
        """Several JSON-RPC calls in batches of at most :data:`BATCH_SIZE` (one HTTP request each):
        each call's result, or the :class:`RpcCallError` that refused it, in order."""
        out: list[Any | RpcCallError] = []
        for start in range(0, len(calls), BATCH_SIZE):
            out.extend(await self._one_batch(calls[start:start + BATCH_SIZE]))
        return out

    async def _one_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any | RpcCallError]:
        if not calls:
            return []
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        ids = [next(self._ids) for _ in calls]
        body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
                for i, (method, params) in zip(ids, calls, strict=True)]
        try:
            async with self._session.post(self.url, json=body) as response:
                replies = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc.os_error or exc}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise ClientError(f"batch request to {self.url} failed: {exc.__class__.__name__} {exc}") from None
        if isinstance(replies, dict) and "error" in replies:  # the whole batch was refused (e.g. too large)
            err = replies["error"] or {}
            raise RpcCallError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        if not isinstance(replies, list):
            raise ClientError(f"{self.url} answered a batch with something that is not a JSON-RPC batch")
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        out: list[Any | RpcCallError] = []
        for i in ids:
            reply = by_id.get(i, {})
            if "result" in reply:
                out.append(reply["result"])
            else:
                err = reply.get("error") or {"code": 0, "message": "no reply for this request"}
                out.append(RpcCallError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data")))
        return out

    async def send_transactions(self, txs: Sequence[Transaction]) -> list[bytes | RpcCallError]:
        """Send many transactions in JSON-RPC batches (far cheaper for the node than one request each).

        Returns, in order, each transaction's hash or the :class:`RpcCallError` that refused it.
        """
        results = await self.request_batch([("sendTransaction", [to_hex(tx.encode())]) for tx in txs])
        return [r if isinstance(r, RpcCallError) else from_hex(r, size=32) for r in results]

    async def receipt(self, tx_hash: bytes) -> dict | None:
        return await self.request("getTransactionReceipt", to_hex(tx_hash))

    async def wait_receipt(self, tx_hash: bytes, *, timeout: float | None = None, poll: float = 0.1) -> dict:
        """Poll until the transaction is committed; raise :class:`ReceiptTimeout` after ``timeout``."""
        return (await self.wait_receipts([tx_hash], timeout=timeout, poll=poll))[0]

    async def wait_receipts(self, tx_hashes: Sequence[bytes], *, timeout: float | None = None,
                            poll: float = 0.1) -> list[dict]:
        """Poll (in JSON-RPC batches) until every transaction is committed; their receipts, in order.
        Raises :class:`ReceiptTimeout` after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + (timeout or self.timeout)
        found: dict[bytes, dict] = {}
        while True:
            waiting = [h for h in dict.fromkeys(tx_hashes) if h not in found]
            if waiting:
                answers = await self.request_batch([("getTransactionReceipt", [to_hex(h)]) for h in waiting])
                for h, answer in zip(waiting, answers, strict=True):
                    if isinstance(answer, RpcCallError):
                        raise answer
                    if answer is not None:
                        found[h] = answer
            if len(found) == len(set(tx_hashes)):
                return [found[h] for h in tx_hashes]
            if asyncio.get_running_loop().time() > deadline:
                missing = [h for h in tx_hashes if h not in found]
                raise ReceiptTimeout(
                    f"{len(missing)} transaction(s) not committed after {timeout or self.timeout:.0f}s, e.g. "
                    f"{to_hex(missing[0])}; they may still be pending (check getPendingTxSize) or their "
                    "block_limit may pass",
                    missing[0],
                )
            await asyncio.sleep(poll)

    async def transact(self, key: KeyPair, to: str | bytes, method: str, args: Sequence[Value] = (), **kw: Any) -> dict:
        """Build, sign, send, and wait for the receipt."""
        tx = await self.build(key, to, method, args, **kw)
        await self.send_transaction(tx)
        return await self.wait_receipt(tx.hash)

    async def transact_many(
        self, key: KeyPair, calls: Sequence[tuple[str | bytes, str, Sequence[Value]]], *, timeout: float | None = None,
    ) -> list[dict | RpcCallError]:
        """Build and sign one transaction per ``(to, method, args)``, send them in JSON-RPC batches and wait
        for their receipts (also fetched in batches). Each result is the receipt, or the
        :class:`RpcCallError` that refused that transaction."""
        block_limit = await self.block_limit()
        targets = {to: b"" if to in (b"", "") else await self.resolve(to) for to, _, _ in calls}  # once per name
        txs = [await self.build(key, targets[to], method, args, block_limit=block_limit) for to, method, args in calls]

        sent = await self.send_transactions(txs)
        accepted = [tx.hash for tx, r in zip(txs, sent, strict=True) if not isinstance(r, RpcCallError)]
        receipts = dict(zip(accepted, await self.wait_receipts(accepted, timeout=timeout), strict=True))
        return [r if isinstance(r, RpcCallError) else receipts[tx.hash] for tx, r in zip(txs, sent, strict=True)]

    async def deploy(self, key: KeyPair, source: str, args: Sequence[Value] = ()) -> dict:
        return await self.transact(key, b"", "", (source, *args))

    async def call(self, to: str | bytes, method: str, args: Sequence[Value] = (), *, sender: bytes = b"") -> Any:
        address = await self.resolve(to)
        params = [to_hex(address), method, value_to_json(list(args))]
        if sender:
            params.append(to_hex(sender))
        return await self.request("call", *params)


class SyncClient:
    """Blocking facade over :class:`Client` with its own event loop. Not for use inside asyncio."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._runner = asyncio.Runner()
        self.client = Client(url, timeout=timeout)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        try:
            self._run(self.client.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(attr(*args, **kwargs))

        return call
