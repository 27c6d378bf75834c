"""Web tests: real headless Chromium (Debian's, installed when missing) driven by Playwright, and one
real 4-node chain shared by the explorer, verifier-page and report tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import debian
from tests.web.live_chain import LiveChain, start

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""As root Chromium needs --no-sandbox; the rest keep it from calling home (this machine has no internet)."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (which must not download a browser of its own), each test in fresh
    contexts of it. One per module, not per session: Playwright's sync API keeps an event loop running while
    it is open, and the explorer's aiohttp tests (pytest-asyncio) need none running; a launch costs ~0.5 s."""
    why = debian.ensure({CHROMIUM: "chromium"})
    if why:
        pytest.skip(f"headless Chromium is needed: {why}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is missing: install the test extra (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watched:
    """A page with what it asked the network for and what went wrong in it."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser) -> Iterator[Any]:
    """``open_page(offline=False)``: a fresh context and page; with offline=True every request that is not
    for a file:, data: or blob: URL is refused (and still recorded)."""
    contexts = []

    def make(*, offline: bool = False) -> Watched:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        contexts.append(ctx)
        w = Watched(ctx.new_page())
        if offline:
            ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                ("file:", "data:", "blob:")) else route.abort())
        w.page.on("request", lambda r: w.requests.append(r.url))
        w.page.on("console", lambda m: w.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        w.page.on("pageerror", lambda e: w.errors.append(f"uncaught: {e}"))
        return w

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def verifier_page_file(tmp_path_factory) -> Path:
    """The offline verifier page without a built-in genesis, written once per session."""
    from consortium.report.page import verifier_page

    out = tmp_path_factory.mktemp("verifier-page") / "verify.html"
    out.write_text(verifier_page(), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def verifier_js(browser, verifier_page_file) -> Iterator[Any]:
    """One offline page of the verifier kept open for the module, for tests that call its functions
    directly (``page.evaluate``); its console errors and uncaught exceptions are in ``.errors``."""
    ctx = browser.new_context()
    ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("file:", "data:", "blob:")) else route.abort())
    w = Watched(ctx.new_page())
    w.page.on("request", lambda r: w.requests.append(r.url))
    w.page.on("console", lambda m: w.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    w.page.on("pageerror", lambda e: w.errors.append(f"uncaught: {e}"))
    w.page.goto(verifier_page_file.as_uri())
    try:
        yield w
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def live_chain(tmp_path_factory) -> Iterator[LiveChain]:
    chain = start(tmp_path_factory.mktemp("web-chain"))
    try:
        yield chain
    finally:
        chain.stop()
