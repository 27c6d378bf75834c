"""SDK for an evidence gateway (docs/gateway.md): submit items, follow them, fetch their proofs.

:class:`GatewayClient` is async (aiohttp); :class:`SyncGatewayClient` runs it on its
own event loop for scripts and the CLI. Items travel in the compact binary form
(protocol.md §12.5); a 503 is retried after the gateway's ``Retry-After`` (bounded
by ``overload_wait``), every other refusal raises :class:`GatewayRefused` with the
gateway's code and message, which name the offending item.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from consortium.client.sdk import SyncClient
from consortium.encoding.hexbytes import to_hex
from consortium.evidence.item import BINARY_CONTENT_TYPE, EvidenceItem, encode_items_binary
from consortium.evidence.item_bundle import ItemBundle, parse_item_bundle

DEFAULT_TIMEOUT_S = 60.0


class GatewayError(Exception):
    """The gateway could not be reached or answered something unexpected."""


class GatewayRefused(GatewayError):
    """The gateway answered with a 4xx/5xx refusal: ``status``, ``code`` and the JSON ``body`` say why."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @property
    def duplicates(self) -> list[dict[str, Any]]:
        """For a 409: ``[{"item": index, "commitment": "0x…", "seq": earlier seq (absent if repeated)}, …]``."""
        dups = self.body.get("duplicates")
        return dups if isinstance(dups, list) else []


@dataclass(frozen=True)
class Accepted:
    """Items ``first .. last`` of the gateway's log: durable (fsynced) before this answer was sent."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


class GatewayClient:
    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S, overload_wait: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.overload_wait = overload_wait
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _request(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any], Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.request(method, self.url + path, **kw) as response:
                text = await response.text()
                headers = dict(response.headers)
                status = response.status
        except aiohttp.ClientConnectorError as exc:
            raise GatewayError(f"cannot reach the gateway at {self.url}: {exc.os_error or exc}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise GatewayError(f"request to {self.url}{path} failed: {exc.__class__.__name__} {exc}") from None
        try:
            doc = json.loads(text)
        except ValueError:
            raise GatewayError(f"{self.url}{path} answered HTTP {status} without JSON: {text[:200]!r}") from None
        return status, headers, doc

    @staticmethod
    def _refused(status: int, doc: Any) -> GatewayRefused:
        body = doc if isinstance(doc, dict) else {}
        return GatewayRefused(status, str(body.get("code", "error")), str(body.get("error", doc))[:2000], body)

    async def submit(self, items: Sequence[EvidenceItem]) -> Accepted:
        """Submit items in one request; returns once they are durable. Retries 503s (Retry-After)."""
        body = encode_items_binary(items)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.overload_wait
        while True:
            status, headers, doc = await self._request("POST", "/items", data=body,
                                                       headers={"Content-Type": BINARY_CONTENT_TYPE})
            if status == 200:
                return Accepted(int(doc["first"]), int(doc["last"]))
            if status == 503 and loop.time() < deadline:
                await asyncio.sleep(_retry_after(headers))
                continue
            raise self._refused(status, doc)

    async def item(self, commitment: bytes) -> dict[str, Any] | None:
        """Where the item is (``status``: queued, sealed, committed, failed), or None if never accepted."""
        status, _, doc = await self._request("GET", f"/items/{to_hex(commitment)}")
        if status == 404:
            return None
        if status != 200:
            raise self._refused(status, doc)
        return doc

    async def proof_json(self, commitment: bytes, *, wait: float = 0.0) -> dict[str, Any] | None:
        """The per-item proof bundle as JSON once its batch is committed; None while pending.

        ``wait`` long-polls (the gateway holds the request up to 30 s per call).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            remaining = max(0.0, deadline - loop.time())
            status, _, doc = await self._request("GET", f"/items/{to_hex(commitment)}/proof",
                                                 params={"wait": f"{min(remaining, 30.0):.3f}"})
            if status == 200:
                return doc
            if status == 202:
                if loop.time() >= deadline:
                    return None
                continue
            raise self._refused(status, doc)

    async def proof(self, commitment: bytes, *, wait: float = 0.0) -> ItemBundle | None:
        """:meth:`proof_json`, parsed (shape only; verify it with evidence.item_bundle.verify_item_bundle)."""
        doc = await self.proof_json(commitment, wait=wait)
        return None if doc is None else parse_item_bundle(doc)

    async def status(self) -> dict[str, Any]:
        status, _, doc = await self._request("GET", "/status")
        if status != 200:
            raise self._refused(status, doc)
        return doc


def _retry_after(headers: dict[str, str]) -> float:
    try:
        return min(max(float(headers.get("Retry-After", "1")), 0.05), 30.0)
    except ValueError:
        return 1.0


class SyncGatewayClient(SyncClient):
    """Blocking facade over :class:`GatewayClient` (the same runner as :class:`SyncClient`). Not for use
    inside asyncio: ``submit``, ``item``, ``proof_json``, ``proof`` and ``status`` block until answered."""

    def __init__(self, url: str, **kw: Any) -> None:
        self._runner = asyncio.Runner()
        self.client = GatewayClient(url, **kw)  # type: ignore[assignment]

    def __enter__(self) -> SyncGatewayClient:
        return self
