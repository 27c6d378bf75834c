"""WebSocket subscriptions to new blocks and contract events (GET /ws on the RPC port).

The socket speaks JSON-RPC 2.0 both ways. Requests:

    {"jsonrpc":"2.0","id":1,"method":"subscribe","params":["newBlocks"]}
    {"jsonrpc":"2.0","id":2,"method":"subscribe","params":["events", {"address":"evidence","name":"Notarized"}]}
    {"jsonrpc":"2.0","id":3,"method":"unsubscribe","params":["0x1"]}

``subscribe`` answers a subscription id; the node then pushes notifications:

    {"jsonrpc":"2.0","method":"subscription","params":{"subscription":"0x1","result":{...}}}

Each connection has a bounded queue. A subscriber that falls that far behind is
disconnected (close code 1008) rather than letting the node buffer without
bound; it can reconnect and catch up with getBlockByNumber.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from consortium.encoding.hexbytes import to_hex
from consortium.ledger.block import Block
from consortium.ledger.receipt import Receipt
from consortium.rpc import params as P
from consortium.rpc.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, RpcError
from consortium.rpc.views import event_json, header_json

log = logging.getLogger(__name__)

MAX_QUEUE = 1000
MAX_SUBSCRIPTIONS = 32
MAX_MESSAGE = 64 * 1024


@dataclass(frozen=True)
class EventFilter:
    address: bytes | None
    name: str | None

    def matches(self, address: bytes, name: str) -> bool:
        return (self.address is None or self.address == address) and (self.name is None or self.name == name)


class _Subscriber:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=MAX_QUEUE)
        self.blocks: set[str] = set()
        self.events: dict[str, EventFilter] = {}
        self.overflowed = False

    def push(self, sub_id: str, result: Any) -> None:
        if self.overflowed:
            return
        note = {"jsonrpc": "2.0", "method": "subscription", "params": {"subscription": sub_id, "result": result}}
        try:
            self.queue.put_nowait(json.dumps(note, separators=(",", ":")))
        except asyncio.QueueFull:
            self.overflowed = True
            self._close_soon()

    def _close_soon(self) -> None:
        # Wake the writer: drop one queued item to make room for the close marker.
        try:
            self.queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        self.queue.put_nowait(None)


class SubscriptionHub:
    """Fans committed blocks out to WebSocket subscribers."""

    def __init__(self, receipts_of: Callable[[int], tuple[Receipt, ...]], resolve: Callable[[str], bytes | None]) -> None:
        self._receipts_of = receipts_of
        self._resolve = resolve
        self._subscribers: set[_Subscriber] = set()
        self._ids = itertools.count(1)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def on_commit(self, block: Block) -> None:
        """Called by the node after each commit (on the event loop)."""
        if not self._subscribers:
            return
        header = None
        events: list[tuple[bytes, int, Any]] | None = None
        for sub in list(self._subscribers):
            if sub.blocks:
                header = header or header_json(block.header)
                for sub_id in sub.blocks:
                    sub.push(sub_id, {**header, "transactionCount": len(block.transactions)})
            if sub.events:
                if events is None:
                    events = []
                    for tx, receipt in zip(block.transactions, self._receipts_of(block.number), strict=True):
                        for e in receipt.events:
                            events.append((tx.hash, 0, e))
                for sub_id, flt in sub.events.items():
                    for tx_hash, _, e in events:
                        if flt.matches(e.address, e.name):
                            sub.push(sub_id, {**event_json(e), "blockNumber": block.number,
                                              "transactionHash": to_hex(tx_hash)})

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=30)
        await ws.prepare(request)
        sub = _Subscriber(ws)
        self._subscribers.add(sub)
        try:
            # The writer lives in a TaskGroup with this handler: when the client leaves, it is
            # cancelled and awaited; when the handler itself is cancelled (server shutdown), the
            # group cancels the writer and the cancellation still propagates to our caller.
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._writer(sub))
                await self._reader(sub)
                writer.cancel()
        finally:
            self._subscribers.discard(sub)
            await ws.close()
        return ws

    async def _reader(self, sub: _Subscriber) -> None:
        async for msg in sub.ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.ERROR:
                    break
                continue
            reply = self._handle_request(sub, msg.data)
            if reply is not None and not sub.overflowed:
                await sub.ws.send_str(json.dumps(reply, separators=(",", ":")))

    async def _writer(self, sub: _Subscriber) -> None:
        try:
            while True:
                text = await sub.queue.get()
                if text is None:
                    await sub.ws.close(code=1008, message=b"subscriber too slow: queue full; reconnect and catch up")
                    return
                await sub.ws.send_str(text)
        except ConnectionError:
            return  # the client went away mid-send; the reader sees the socket close and ends too

    def _handle_request(self, sub: _Subscriber, text: str) -> dict[str, Any] | None:
        try:
            req = json.loads(text)
        except ValueError:
            return _error(None, RpcError(PARSE_ERROR, "parse error: not valid JSON"))
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 request object"))
        req_id = req.get("id")
        params = req.get("params", [])
        try:
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "invalid params: params must be an array")
            if req["method"] == "subscribe":
                result: Any = self._subscribe(sub, params)
            elif req["method"] == "unsubscribe":
                if len(params) != 1 or not isinstance(params[0], str):
                    raise RpcError(INVALID_PARAMS, "invalid params: unsubscribe takes [subscriptionId]")
                sub_id = params[0]
                result = sub_id in sub.blocks or sub_id in sub.events
                sub.blocks.discard(sub_id)
                sub.events.pop(sub_id, None)
            else:
                raise RpcError(METHOD_NOT_FOUND, f"method not found on /ws: {req['method'][:64]!r} "
                                                 "(use subscribe or unsubscribe; other methods are on POST /)")
        except RpcError as exc:
            return _error(req_id, exc)
        return None if "id" not in req else {"jsonrpc": "2.0", "id": req_id, "result": result}

    def _subscribe(self, sub: _Subscriber, params: list) -> str:
        if len(sub.blocks) + len(sub.events) >= MAX_SUBSCRIPTIONS:
            raise RpcError(INVALID_PARAMS, f"invalid params: at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        if not params or params[0] not in ("newBlocks", "events"):
            raise RpcError(INVALID_PARAMS, 'invalid params: subscribe to "newBlocks" or "events"')
        sub_id = hex(next(self._ids))
        if params[0] == "newBlocks":
            sub.blocks.add(sub_id)
            return sub_id
        flt = params[1] if len(params) > 1 else {}
        if not isinstance(flt, dict) or set(flt) - {"address", "name"}:
            raise RpcError(INVALID_PARAMS, 'invalid params: an events filter is {"address": ..., "name": ...}')
        address = None
        if flt.get("address") is not None:
            text = flt["address"]
            if isinstance(text, str) and text.startswith(("0x", "0X")):
                try:
                    address = P.address(text)
                except ValueError as exc:
                    raise RpcError(INVALID_PARAMS, f"invalid params: address: {exc}") from None
            else:
                address = self._resolve(str(text))
                if address is None:
                    raise RpcError(INVALID_PARAMS, f"invalid params: no contract is registered as {text!r}")
        name = flt.get("name")
        if name is not None and not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "invalid params: name must be a string")
        sub.events[sub_id] = EventFilter(address, name)
        return sub_id


def _error(req_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": err.to_json()}
