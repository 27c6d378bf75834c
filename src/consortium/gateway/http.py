"""The gateway's HTTP API (docs/gateway.md): intake, item status, per-item proofs, gateway status.

    POST /items                       JSON {"items": [...]} or binary (protocol.md §12.5)
    GET  /items/{commitment}          where the item is: queued, sealed, committed, failed
    GET  /items/{commitment}/proof    the per-item proof bundle; ?wait=S long-polls up to 30 s
    GET  /status                      counters, open batches, the last error
    GET  /metrics                     Prometheus metrics (gateway/metrics.py)

Every refusal is JSON ``{"error": text, "code": kebab-case, ...}`` with a 4xx status that
says whose move it is; a bad item is named by its index and commitment, and nothing of a
refused request is kept. 503 with ``Retry-After`` means "too much is waiting for the
chain": back off and send the same request again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.item import BINARY_CONTENT_TYPE, InvalidItem, items_from_binary, items_from_json
from consortium.gateway.proofs import COMMITTED, FAILED
from consortium.gateway.service import Gateway, Overloaded
from consortium.gateway.store import Appended
from consortium.storage import StorageError

log = logging.getLogger("consortium.gateway.http")

MAX_WAIT_S = 30.0
GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)


def make_app(gateway: Gateway) -> web.Application:
    app = web.Application(client_max_size=gateway.config.max_request_bytes)
    app[GATEWAY_KEY] = gateway
    app.router.add_post("/items", post_items)
    app.router.add_get("/items/{commitment}", get_item)
    app.router.add_get("/items/{commitment}/proof", get_proof)
    app.router.add_get("/status", get_status)
    app.router.add_get("/metrics", get_metrics)
    return app


def error(http_status: int, code: str, message: str, /, **extra: Any) -> web.Response:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    response = web.json_response({"error": message, "code": code, **extra}, status=http_status, headers=headers)
    response["code"] = code
    return response


async def post_items(request: web.Request) -> web.Response:
    """Intake; every refusal is counted by its code for the metrics."""
    response = await _post_items(request)
    if response.status >= 400:
        request.app[GATEWAY_KEY].metrics.refused(response.get("code", str(response.status)), response.get("items"))
    return response


async def _post_items(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    limit = gateway.config.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        return error(413, "request-too-large", f"the request body is {request.content_length} bytes; at most {limit} "
                                               "per request (send fewer items per request)")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "request-too-large", f"the request body is over {limit} bytes; send fewer items per request")
    content_type = request.content_type
    max_items = gateway.config.max_request_items
    try:
        if content_type == BINARY_CONTENT_TYPE or content_type == "application/octet-stream":
            items = items_from_binary(body, max_items=max_items)
        elif content_type == "application/json":
            try:
                doc = json.loads(body)
            except (ValueError, RecursionError) as exc:
                return error(400, "bad-json", f"the body is not valid JSON: {exc}"[:300])
            items = items_from_json(doc, max_items=max_items)
        else:
            return error(415, "unsupported-media-type", f"send Content-Type application/json or {BINARY_CONTENT_TYPE}, "
                                                        f"not {content_type or 'nothing'}")
    except InvalidItem as exc:
        extra: dict[str, Any] = {}
        if exc.index is not None:
            extra["item"] = exc.index
        if exc.commitment is not None:
            extra["commitment"] = to_hex(exc.commitment)
        return error(400, "bad-item", str(exc), **extra)
    refusal: web.Response | None = None
    try:
        result = await gateway.submit(items)
    except Overloaded as exc:
        refusal = error(503, "overloaded", f"{exc}; retry in {exc.retry_after} s", retry_after=exc.retry_after)
    except StorageError as exc:
        log.error("intake failed: %s", exc)
        refusal = error(500, "storage-failed", "the gateway could not store the items; nothing was accepted")
    if refusal is not None:
        refusal["items"] = len(items)
        return refusal
    if isinstance(result, Appended):
        return web.json_response({"accepted": result.count, "first": result.first,
                                  "last": result.first + result.count - 1})
    dups = [{"item": d.index, "commitment": to_hex(d.commitment), **({"seq": d.seq} if d.seq is not None else {})}
            for d in result]
    first = result[0]
    where = f"already accepted as item {first.seq}" if first.seq is not None else "repeated in this request"
    refusal = error(409, "duplicate", f"item {first.index} ({to_hex(first.commitment)}) is {where}"
                                      + (f", and {len(result) - 1} more duplicate(s)" if len(result) > 1 else "")
                                      + "; nothing of this request was accepted", duplicates=dups[:1000])
    refusal["items"] = len(items)
    return refusal


def _commitment(request: web.Request) -> bytes:
    text = request.match_info["commitment"]
    try:
        return from_hex(text, size=32, what="commitment")
    except HexError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"{exc} (a commitment is 0x + 64 hex digits)",
                                                  "code": "bad-commitment"}),
                                 content_type="application/json") from None


async def get_item(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    commitment = _commitment(request)
    status = await gateway.proofs.status(commitment)
    if status is None:
        return error(404, "unknown-item", f"{to_hex(commitment)} was never accepted by this gateway")
    doc = status.to_json()
    doc["item"] = (await gateway.proofs.item(status.seq)).to_json()
    return web.json_response(doc)


async def get_proof(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    commitment = _commitment(request)
    wait = request.query.get("wait", "0")
    try:
        wait_s = min(max(float(wait), 0.0), MAX_WAIT_S)
    except ValueError:
        return error(400, "bad-wait", f"wait must be a number of seconds (at most {MAX_WAIT_S:.0f}), got {wait[:40]!r}")
    status = await gateway.proofs.wait_final(commitment, wait_s)
    if status is None:
        return error(404, "unknown-item", f"{to_hex(commitment)} was never accepted by this gateway")
    if status.status == FAILED:
        return error(502, "batch-failed", f"{to_hex(commitment)} is in batch {status.batch.first if status.batch else '?'}, "
                                          f"which the chain refused for good: submit the item again",
                     **status.to_json())
    if status.status != COMMITTED:
        return error(202, "not-yet", f"{to_hex(commitment)} is {status.status}; its proof is available once its "
                                     "batch is committed", retry_after=1, **status.to_json())
    text = await gateway.proofs.bundle_text(status)
    return web.Response(text=text, content_type="application/json")


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[GATEWAY_KEY].status())


async def get_metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY_KEY].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
