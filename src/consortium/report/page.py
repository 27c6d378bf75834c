"""The offline verifier page: one self-contained HTML file (no server, no network, works opened from disk).

The page is ``verifier/verify.html`` with its scripts inlined: ``vendor.js`` (pkijs + asn1js for X.509 and
RFC 3161 CMS, smol-toml for genesis files: pinned, bundled by scripts/verifier_vendor/build.sh, licenses
included), ``verifier.js`` (the second implementation of docs/protocol.md, in JavaScript) and, when given, a chain's genesis file so a person needs only the
evidence file and its proof. ``</`` inside inlined text is escaped so no input can close the script element.
"""

from __future__ import annotations

import json
from importlib.resources import files


def _inline(text: str) -> str:
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def verifier_page(genesis_text: str = "") -> str:
    """The page's HTML; ``genesis_text`` (a genesis.toml the caller has checked) is built in when given."""
    here = files("consortium.report") / "verifier"
    page = (here / "verify.html").read_text(encoding="utf-8")
    script = (here / "verifier.js").read_text(encoding="utf-8")
    vendor = (here / "vendor.js").read_text(encoding="utf-8")
    # The genesis travels as a JSON string with <, > and & escaped: exact text, and nothing in it can end the element.
    embedded = json.dumps(genesis_text or None).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (page.replace("/*GENESIS*/", embedded, 1).replace("/*VENDOR*/", _inline(vendor), 1)
            .replace("/*VERIFIER*/", _inline(script), 1))
