"""The explorer's aiohttp application: read-only HTML pages under ``/explorer/`` of the RPC port.

Pages are rendered on the server (Jinja2, autoescaped), so they work without
JavaScript and are cheap to test; one small script (``static/live.js``) adds live
updates on the index page over the node's existing WebSocket subscriptions
(``GET /ws``) and JSON-RPC (``POST /``). No build step, no framework.

The explorer only reads. It serves the node's genesis file and proof bundles for
download because an arbitrator needs both for the offline verifier page; a proof is
assembled by the same builder ``consortium evidence proof`` uses, and the node that
serves it is a courier, not a witness: the verifier checks everything in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.evidence.build import fetch_bundle
from consortium.evidence.errors import EvidenceNotFound, ProofUnavailable
from consortium.explorer.data import SYSTEM_NAMES, ExplorerData
from consortium.rpc.jsonrpc import Dispatcher
from consortium.rpc.methods import NodeApi

log = logging.getLogger(__name__)

PREFIX = "/explorer"
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""Same-origin only: scripts, styles, the JSON-RPC POST and the /ws socket ('self' covers ws: in CSP 3)."""
_CASE_ID = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("consortium.explorer", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["short"] = short_hex
    env.globals["prefix"] = PREFIX
    env.globals["system_names"] = json.dumps({to_hex(a): n for a, n in SYSTEM_NAMES.items()})
    return env


def short_hex(text: Any, keep: int = 6) -> str:
    """0x1234ab…cdef01: enough to tell values apart at a glance; the full value is in the title."""
    s = str(text)
    return s if len(s) <= 2 + 2 * keep + 1 else f"{s[:2 + keep]}…{s[-keep:]}"


class Explorer:
    def __init__(self, api: NodeApi, *, dispatcher: Dispatcher | None = None, genesis_path: Path | None = None) -> None:
        self.data = ExplorerData(api)
        self.dispatcher = dispatcher
        self.genesis_path = genesis_path
        self.env = _environment()

    def app(self) -> web.Application:
        """The sub-application, to mount with ``parent.add_subapp("/explorer/", ...)``."""
        app = web.Application(middlewares=[_headers])
        r = app.router
        r.add_get("/", self.index)
        r.add_get("/blocks", self.blocks)
        r.add_get("/block/{ref}", self.block)
        r.add_get("/tx/{hash}", self.transaction)
        r.add_get("/evidence/{hash}", self.evidence)
        r.add_get("/evidence/{hash}/proof.json", self.proof)
        r.add_get("/case/{case_id}", self.case)
        r.add_get("/governance", self.governance)
        r.add_get("/proposal/{pid}", self.proposal)
        r.add_get("/network", self.network)
        r.add_get("/search", self.search)
        r.add_get("/genesis.toml", self.genesis)
        r.add_static("/static/", STATIC, append_version=False)
        return app

    def _page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(template).render(has_genesis=self.genesis_path is not None,
                                                      **context)
        return web.Response(text=html, content_type="text/html", status=status)

    def _not_found(self, what: str) -> web.Response:
        return self._page("not_found.html", status=404, message=what, title="Not found")

    # -- pages --------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        return self._page("index.html", title="Latest blocks", **self.data.overview())

    async def blocks(self, request: web.Request) -> web.Response:
        text = request.query.get("top")
        if text is not None and (not text.isascii() or not text.isdigit() or len(text) > 18):
            return self._page("not_found.html", status=400, title="Bad request",
                              message=f"top must be a block number, not {text[:20]!r}")
        page = self.data.blocks(None if text is None else int(text))
        return self._page("blocks.html", title=f"Blocks {page['top']} and older", p=page)

    async def block(self, request: web.Request) -> web.Response:
        ref_text = request.match_info["ref"]
        ref: int | bytes
        if ref_text.isdigit() and len(ref_text) < 20:
            ref = int(ref_text)
        else:
            try:
                ref = from_hex(ref_text, size=32, what="block hash")
            except HexError as exc:
                return self._not_found(f"{exc}: give a block number or a 0x block hash")
        view = self.data.block(ref)
        if view is None:
            return self._not_found(f"no block {ref_text} on this chain (the head is block {self.data.ledger.height})")
        return self._page("block.html", title=f"Block {view['number']}", b=view)

    async def transaction(self, request: web.Request) -> web.Response:
        tx_hash = _hash32(request.match_info["hash"])
        view = self.data.transaction(tx_hash) if tx_hash else None
        if view is None:
            return self._not_found(f"no committed transaction {request.match_info['hash'][:80]} "
                                   "(it may still be pending, or be on another chain)")
        return self._page("tx.html", title="Transaction", t=view)

    async def evidence(self, request: web.Request) -> web.Response:
        digest = _hash32(request.match_info["hash"])
        view = await self.data.evidence(digest) if digest else None
        if view is None:
            return self._not_found(f"no evidence with SHA-256 {request.match_info['hash'][:80]} is notarized "
                                   "on this chain")
        return self._page("evidence.html", title="Evidence", e=view, can_prove=self.dispatcher is not None)

    async def proof(self, request: web.Request) -> web.StreamResponse:
        digest = _hash32(request.match_info["hash"])
        if digest is None or self.dispatcher is None:
            return self._not_found("proof bundles are not available here")
        loop = asyncio.get_running_loop()
        dispatcher = self.dispatcher

        def call(method: str, *params: Any) -> Any:
            doc = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
            reply = asyncio.run_coroutine_threadsafe(dispatcher.handle_one(doc), loop).result(timeout=60)
            if reply is None or "error" in reply:
                raise ProofUnavailable(f"{method}: {(reply or {}).get('error', {}).get('message', 'no answer')}")
            return reply["result"]

        try:
            bundle = await asyncio.to_thread(fetch_bundle, call, digest)
        except EvidenceNotFound as exc:
            return self._not_found(str(exc))
        except ProofUnavailable as exc:
            log.warning("explorer: no proof for %s: %s", request.match_info["hash"], exc)
            return self._page("not_found.html", status=503, title="No proof", message=f"this node cannot build "
                              f"the proof now: {exc}")
        name = f"{request.match_info['hash'][2:14].lower()}.proof.json"
        return web.Response(text=bundle.dumps(), content_type="application/json",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def case(self, request: web.Request) -> web.Response:
        case_id = request.match_info["case_id"]
        view = await self.data.case(case_id) if _CASE_ID.match(case_id) else None
        if view is None:
            return self._not_found(f"no case {case_id[:128]!r} on this chain")
        return self._page("case.html", title=f"Case {case_id}", c=view)

    async def governance(self, request: web.Request) -> web.Response:
        start = _int(request.query.get("start"), 1)
        return self._page("governance.html", title="Governance", g=await self.data.governance(max(1, start)))

    async def proposal(self, request: web.Request) -> web.Response:
        pid = _int(request.match_info["pid"], 0)
        view = await self.data.proposal(pid) if 0 < pid < 2**63 else None
        if view is None:
            return self._not_found(f"no governance proposal {request.match_info['pid'][:20]}")
        return self._page("proposal.html", title=f"Proposal {pid}", p=view)

    async def network(self, request: web.Request) -> web.Response:
        return self._page("network.html", title="Network", n=self.data.network())

    async def genesis(self, request: web.Request) -> web.StreamResponse:
        if self.genesis_path is None:
            return self._not_found("this node does not publish its genesis file here")
        return web.Response(body=self.genesis_path.read_bytes(), content_type="application/toml",
                            headers={"Content-Disposition": 'attachment; filename="genesis.toml"'})

    async def search(self, request: web.Request) -> web.StreamResponse:
        """A block number, a 0x hash (transaction, block or evidence), or a case id."""
        q = request.query.get("q", "").strip()
        if q.isdigit() and len(q) < 20:
            raise web.HTTPFound(f"{PREFIX}/block/{q}")
        digest = _hash32(q)
        if digest is not None:
            if self.data.ledger.transaction(digest) is not None:
                raise web.HTTPFound(f"{PREFIX}/tx/{q}")
            if self.data.ledger.blocks.number_of(digest) is not None:
                raise web.HTTPFound(f"{PREFIX}/block/{q}")
            if await self.data.evidence(digest) is not None:
                raise web.HTTPFound(f"{PREFIX}/evidence/{q}")
            return self._not_found(f"{q} is not a transaction, block or notarized evidence hash on this chain")
        if q and _CASE_ID.match(q) and await self.data.case(q) is not None:
            raise web.HTTPFound(f"{PREFIX}/case/{q}")
        return self._not_found(f"nothing matches {q[:128]!r}: search for a block number, a 0x transaction, block "
                               "or evidence hash (SHA-256 of the file), or a case id")


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _hash32(text: str) -> bytes | None:
    try:
        return from_hex(text, size=32, what="hash")
    except HexError:
        return None


def _int(text: str | None, default: int) -> int:
    if text is None or not text.isdigit() or len(text) > 18:
        return default
    return int(text)


def mount(parent: web.Application, api: NodeApi, *, dispatcher: Dispatcher | None = None,
          genesis_path: Path | None = None) -> None:
    """Serve the explorer under /explorer/ of ``parent`` (before the app starts)."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    parent.router.add_get(PREFIX, redirect)  # before the sub-app, whose prefix would claim it
    parent.add_subapp(PREFIX + "/", Explorer(api, dispatcher=dispatcher, genesis_path=genesis_path).app())
