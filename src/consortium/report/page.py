"""The offline verifier page: one self-contained HTML file (no server, no network, works opened from disk).

The page is ``verifier/verify.html`` with its scripts inlined: ``verifier.js`` (the second implementation
of docs/protocol.md, in JavaScript) and, when given, a chain's genesis file so a person needs only the
evidence file and its proof. ``</`` inside inlined text is escaped so no input can close the script element.
"""

from __future__ import annotations

from importlib.resources import files


def _inline(text: str) -> str:
    return text.replace("</", "<\\/")


def verifier_page(genesis_text: str = "") -> str:
    """The page's HTML; ``genesis_text`` (a genesis.toml the caller has checked) is built in when given."""
    here = files("consortium.report") / "verifier"
    page = (here / "verify.html").read_text(encoding="utf-8")
    script = (here / "verifier.js").read_text(encoding="utf-8")
    return page.replace("/*GENESIS*/", _inline(genesis_text), 1).replace("/*VERIFIER*/", _inline(script), 1)
