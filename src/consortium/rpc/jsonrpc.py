"""JSON-RPC 2.0 request handling, exactly to the specification, independent of HTTP.

:class:`Dispatcher` turns a request body (bytes) into a response body (bytes, or
``None`` when the request was only notifications). It never raises: malformed
JSON, invalid requests, unknown methods, bad params and failing handlers all
become error objects, because the body comes from anyone who can reach the port.

Methods are registered with their parameters declared (:class:`Param`), so
positional and named params are checked the same way and every bad param gets
an error naming it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consortium.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    InvalidParams,
    RpcError,
)

log = logging.getLogger(__name__)

MAX_BATCH = 100
_MISSING = object()

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Param:
    """A declared parameter: ``parse`` checks and converts the JSON value or raises ValueError."""

    name: str
    parse: Callable[[Any], Any]
    default: Any = _MISSING

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    params: tuple[Param, ...]
    doc: str = ""

    def bind(self, params: Any) -> list[Any]:
        """Map JSON params (array, object or absent) onto the declared parameters."""
        if params is _MISSING:
            params = []
        if isinstance(params, list):
            if len(params) > len(self.params):
                raise InvalidParams(f"{self.name} takes at most {len(self.params)} params, got {len(params)}")
            values = {p.name: v for p, v in zip(self.params, params, strict=False)}  # trailing params take defaults
        elif isinstance(params, dict):
            unknown = sorted(set(params) - {p.name for p in self.params})
            if unknown:
                raise InvalidParams(f"{self.name} has no param named {', '.join(map(repr, unknown))}")
            values = params
        else:
            raise InvalidParams("params must be an array or an object")
        out = []
        for p in self.params:
            if p.name not in values:
                if p.required:
                    raise InvalidParams(f"{self.name}: missing required param {p.name!r}")
                out.append(p.default)
                continue
            try:
                out.append(p.parse(values[p.name]))
            except InvalidParams:
                raise
            except (ValueError, TypeError) as exc:
                raise InvalidParams(f"{self.name}: param {p.name!r}: {exc}") from None
        return out


class Dispatcher:
    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self.methods: dict[str, Method] = {}
        self.max_batch = max_batch
        self.observer: Callable[[str, int], None] | None = None
        """Called with (method, error code or 0) for every request: the RPC metrics (ops/metrics.py).
        A method name that is not registered is reported as "unknown", keeping label values bounded."""

    def add(self, name: str, handler: Handler, params: Sequence[Param] = (), doc: str = "") -> None:
        if name in self.methods:
            raise ValueError(f"RPC method {name} registered twice")
        self.methods[name] = Method(name, handler, tuple(params), doc)

    async def handle_body(self, body: bytes) -> bytes | None:
        """The response body for a request body; ``None`` means "send nothing" (notifications)."""
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError):
            return _dumps(_error(None, RpcError(PARSE_ERROR, "parse error: the body is not valid JSON")))
        if isinstance(request, list):
            if not request:
                return _dumps(_error(None, RpcError(INVALID_REQUEST, "invalid request: empty batch")))
            if len(request) > self.max_batch:
                return _dumps(_error(None, RpcError(
                    INVALID_REQUEST, f"invalid request: batch of {len(request)} exceeds the limit of {self.max_batch}")))
            responses = await asyncio.gather(*(self.handle_one(r) for r in request))
            out = [r for r in responses if r is not None]
            return _dumps(out) if out else None
        response = await self.handle_one(request)
        return None if response is None else _dumps(response)

    async def handle_one(self, request: Any) -> dict[str, Any] | None:
        response = await self._handle_one(request)
        if self.observer is not None:
            name = request.get("method") if isinstance(request, dict) else None
            error = response.get("error") if response is not None else None
            self.observer(name if isinstance(name, str) and name in self.methods else "unknown",
                          int(error["code"]) if error else 0)
        return response

    async def _handle_one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request: expected a JSON object"))
        req_id = request.get("id", _MISSING)
        is_notification = req_id is _MISSING
        if not is_notification and (isinstance(req_id, bool) or not isinstance(req_id, (str, int, float, type(None)))):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request: id must be a string, number or null"))
        reply_id = None if is_notification else req_id
        if request.get("jsonrpc") != "2.0":
            return _error(reply_id, RpcError(INVALID_REQUEST, 'invalid request: "jsonrpc" must be exactly "2.0"'))
        method_name = request.get("method")
        if not isinstance(method_name, str):
            return _error(reply_id, RpcError(INVALID_REQUEST, 'invalid request: "method" must be a string'))
        params = request.get("params", _MISSING)
        if params is not _MISSING and not isinstance(params, (list, dict)):
            return _error(reply_id, RpcError(INVALID_REQUEST, 'invalid request: "params" must be an array or object'))
        try:
            method = self.methods.get(method_name)
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"method not found: {method_name[:64]!r}")
            args = method.bind(params)
            result = await method.handler(*args)
        except asyncio.CancelledError:
            raise
        except RpcError as exc:
            return None if is_notification else _error(reply_id, exc)
        except Exception:
            log.exception("RPC method %s failed", method_name)
            err = RpcError(INTERNAL_ERROR, "internal error (see the node's log)")
            return None if is_notification else _error(reply_id, err)
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": reply_id, "result": result}


def _error(req_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": err.to_json()}


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
