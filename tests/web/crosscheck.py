"""Two verifiers, one answer: tampered variants of real proof bundles and genesis files, judged by the Python
verifier (the library path `consortium evidence verify` runs) and by the offline page's JavaScript in Chromium.

:func:`bundle_variants` derives variants from a real bundle's JSON document — every JSON member replaced,
removed, retyped or extended; every hex field's bytes flipped, cut and lengthened; every element of every
binary object (decoded from its canonical encoding, changed, re-encoded canonically so the edit survives
parsing) changed; list members dropped, duplicated and reordered. :func:`genesis_variants` does the same to a
genesis file's lines. :func:`python_verdict` and :data:`JS_VERDICTS` give the two answers in one shape,
:class:`Verdict`.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError
from consortium.encoding.hexbytes import from_hex, to_hex

Doc = Any
DELETE = object()


@dataclass(frozen=True)
class Verdict:
    verified: bool | None
    """True VERIFIED, False NOT VERIFIED, None CANNOT VERIFY (bad genesis, newer format: exit 2 in the CLI)."""
    code: str = ""
    text: str = ""

    @property
    def key(self) -> tuple[bool | None, str]:
        return self.verified, self.code


def python_verdict(genesis_text: str, proof: bytes, file_hash: bytes) -> Verdict:
    """What `consortium evidence verify FILE --proof P --genesis G --json` answers (cli/evidence_cmd.py _verify),
    through the same library calls, in this process. Any other exception propagates: a crash is a bug."""
    from consortium.cli.batch_cmd import is_item_proof
    from consortium.evidence import NotVerified, UnsupportedBundle, load_bundle, verify_bundle
    from consortium.evidence.item_bundle import load_item_bundle, verify_item_bundle
    from consortium.node.genesis import Genesis
    from consortium.node.toml_io import ConfigError

    try:
        genesis = Genesis.from_toml(genesis_text)
    except ConfigError as exc:
        return Verdict(None, "", f"bad genesis file: {exc}")
    try:
        if is_item_proof(proof):
            verify_item_bundle(genesis, load_item_bundle(proof), file_hash)
        else:
            verify_bundle(genesis, load_bundle(proof), file_hash)
    except UnsupportedBundle as exc:
        return Verdict(None, "", str(exc))
    except NotVerified as exc:
        return Verdict(False, exc.code, exc.message)
    return Verdict(True)


JS_VERDICTS = """async (cases) => {
  const V = window.ConsortiumVerifier, b = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
  const out = [];
  for (const c of cases) {
    let r;
    try { r = await V.run(c.genesis, c.proof, b(c.hash)); }
    catch (e) { r = {verified: "threw", error: String(e && e.stack || e)}; }
    out.push({verified: r.verified, code: r.code || "", text: r.reason || r.error || "", internal: r.internal || ""});
  }
  return out;
}"""
"""Runs the page's verifier over many cases in one call; ``internal`` is set when the page caught an exception
of its own (a JavaScript bug, even if the verdict happens to match)."""


def js_verdicts(page: Any, cases: list[tuple[str, str, bytes]], chunk: int = 40) -> list[tuple[Verdict, str]]:
    out: list[tuple[Verdict, str]] = []
    for i in range(0, len(cases), chunk):
        batch = [{"genesis": g, "proof": p, "hash": h.hex()} for g, p, h in cases[i:i + chunk]]
        for r in page.evaluate(JS_VERDICTS, batch):
            out.append((Verdict(r["verified"], r["code"], r["text"]), r["internal"]))
    return out


# --- bundle variants --------------------------------------------------------------------------------------------

def _paths(node: Doc, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(doc: Doc, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def replaced(doc: Doc, path: tuple, value: Any) -> Doc:
    """A copy of ``doc`` with the member at ``path`` replaced (or removed, for :data:`DELETE`)."""
    if not path:
        return value
    doc = copy.deepcopy(doc)
    parent = _get(doc, path[:-1])
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _is_hex(v: Any) -> bool:
    if not isinstance(v, str) or not v.startswith("0x"):
        return False
    try:
        from_hex(v)
    except ValueError:
        return False
    return True


def _flip(raw: bytes, i: int, bit: int = 0) -> bytes:
    b = bytearray(raw)
    b[i] ^= 1 << bit
    return bytes(b)


def _json_leaf_variants(v: Any) -> Iterator[tuple[str, Any]]:
    if _is_hex(v):
        raw = from_hex(v)
        if raw:
            for name, i in (("first", 0), ("middle", len(raw) // 2), ("last", len(raw) - 1)):
                yield f"flip {name} byte", to_hex(_flip(raw, i, 7 if name == "middle" else 0))
            yield "cut last byte", to_hex(raw[:-1])
        yield "extra byte", to_hex(raw + b"\x00")
        yield "upper-case hex", "0x" + v[2:].upper()
        yield "no 0x", v[2:]
        yield "odd length", v + "0"
        yield "not hex", "0x" + "zz" + v[4:]
        yield "empty", "0x"
    elif isinstance(v, bool):
        yield "negated", not v
    elif isinstance(v, int):
        for name, n in (("+1", v + 1), ("-1", v - 1), ("2^53", 2**53), ("2^64", 2**64), ("float", v + 0.5),
                        ("text", str(v)), ("true", True)):
            yield name, n
    elif isinstance(v, str):
        yield "other text", v + "x"
        yield "empty text", ""
        yield "65 characters", "a" * 65
        yield "number", 7
    elif v is None:
        yield "zero", 0
        yield "hex", "0x" + "11" * 32
    if not isinstance(v, (dict, list)):
        yield "null", None
        yield "array", [v]
        yield "object", {"v": v}


def json_variants(doc: Doc) -> Iterator[tuple[str, Doc]]:
    """Every member of the JSON document replaced, retyped, removed or joined by an unknown one."""
    for path in _paths(doc):
        where = "/".join(map(str, path)) or "(document)"
        v = _get(doc, path)
        if path:
            yield f"{where}: removed", replaced(doc, path, DELETE)
        if isinstance(v, dict):
            yield f"{where}: unknown member", replaced(doc, path, {**v, "unknownMember": 1})
            yield f"{where}: array instead", replaced(doc, path, list(v.values()))
        elif isinstance(v, list):
            if v:
                yield f"{where}: first dropped", replaced(doc, path, v[1:])
                yield f"{where}: last dropped", replaced(doc, path, v[:-1])
                yield f"{where}: first duplicated", replaced(doc, path, [v[0], *v])
                yield f"{where}: last duplicated", replaced(doc, path, [*v, v[-1]])
                if len(v) > 1:
                    yield f"{where}: reversed", replaced(doc, path, v[::-1])
            yield f"{where}: emptied", replaced(doc, path, [])
            yield f"{where}: object instead", replaced(doc, path, dict(enumerate(v)))
        else:
            for name, new in _json_leaf_variants(v):
                yield f"{where}: {name}", replaced(doc, path, new)


def _value_variants(v: Any) -> Iterator[tuple[str, Any]]:
    """Changes to one element of a decoded canonical value (the result is re-encoded canonically)."""
    if isinstance(v, bool):
        yield "negated", not v
    elif isinstance(v, int):
        yield "+1", v + 1
        if v > 0:
            yield "-1", v - 1
        yield "max", 2**64 - 1
        yield "negative", -1
        yield "as boolean", v == 1
        yield "as bytes", v.to_bytes(8, "big") if 0 <= v < 2**64 else b"\x00"
    elif isinstance(v, bytes):
        if v:
            yield "first bit flipped", _flip(v, 0)
            yield "last byte flipped", _flip(v, len(v) - 1, 3)
            yield "cut", v[:-1]
        yield "longer", v + b"\x01"
        yield "as text", v.hex()
    elif isinstance(v, str):
        yield "changed", v + "x"
        yield "empty", ""
        yield "as bytes", v.encode()
    elif isinstance(v, list):
        if v:
            yield "first dropped", v[1:]
            yield "first duplicated", [v[0], *v]
            if len(v) > 1:
                yield "reversed", v[::-1]
        yield "emptied", []
        yield "null appended", [*v, None]
    elif isinstance(v, dict):
        for k in list(v)[:12]:
            yield f"without {k}", {kk: vv for kk, vv in v.items() if kk != k}
        yield "extra key", {**v, "zzz": 1}
    elif v is None:
        yield "zero", 0
        yield "empty bytes", b""
    yield "nil", None


def _inner_paths(v: Any, prefix: tuple = (), depth: int = 0) -> Iterator[tuple]:
    yield prefix
    if depth >= 4:
        return
    if isinstance(v, list):
        for i, x in enumerate(v[:16]):
            yield from _inner_paths(x, (*prefix, i), depth + 1)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from _inner_paths(x, (*prefix, k), depth + 1)


def _canonical(text: Any) -> Any:
    if not _is_hex(text):
        return None
    try:
        return canonical.decode(from_hex(text))
    except (DecodeError, ValueError, RecursionError):
        return None


def deep_variants(doc: Doc) -> Iterator[tuple[str, Doc]]:
    """Every element of every binary object changed, re-encoded canonically (so parsing passes where the
    shape allows, and verification must catch it)."""
    for path in _paths(doc):
        value = _canonical(_get(doc, path))
        if value is None or not isinstance(value, (list, dict)):
            continue
        where = "/".join(map(str, path))
        for inner in _inner_paths(value):
            if not inner:
                continue
            for name, new in _value_variants(_get(value, inner)):
                try:
                    encoded = canonical.encode(replaced(value, inner, new))
                except (ValueError, TypeError):
                    continue
                yield f"{where} [{'.'.join(map(str, inner))}]: {name}", replaced(doc, path, to_hex(encoded))


def text_variants(text: str, rng: random.Random, count: int) -> Iterator[tuple[str, str]]:
    """The proof file's characters themselves changed: cut, a character replaced, a span deleted or repeated."""
    for n in (0, 1, 2, len(text) // 3, len(text) // 2, len(text) - 2):
        yield f"text cut at {n}", text[:n]
    for _ in range(count):
        i = rng.randrange(len(text))
        kind = rng.randrange(4)
        if kind == 0:
            yield f"text char {i} replaced", text[:i] + rng.choice('0aF{}[]",: \\\x00é') + text[i + 1:]
        elif kind == 1:
            j = min(len(text), i + rng.randrange(1, 40))
            yield f"text {i}-{j} deleted", text[:i] + text[j:]
        elif kind == 2:
            j = min(len(text), i + rng.randrange(1, 40))
            yield f"text {i}-{j} repeated", text[:j] + text[i:j] + text[j:]
        else:
            yield f"text char {i} swapped case", text[:i] + text[i].swapcase() + text[i + 1:]


def sample(items: list, limit: int, seed: int) -> list:
    """A deterministic spread: every item when few, else a seeded sample that keeps the order."""
    if len(items) <= limit:
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def dumps(doc: Doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


# --- genesis variants --------------------------------------------------------------------------------------------

_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


def genesis_variants(text: str) -> Iterator[tuple[str, str]]:
    """Edits a person (or an attacker) could make to a genesis file: each line removed or its value changed,
    tables duplicated or reordered, comments and whitespace, junk; each base64 line of a PEM certificate also
    swapped with the next and followed by a blank line, and one character of an organization CA's changed."""
    lines = text.splitlines(keepends=True)
    string_key = ""
    for i, line in enumerate(lines):
        s = line.strip()
        if '"""' in s and "=" in s:
            string_key = s.partition("=")[0].strip()
        if not s or s.startswith("#"):
            continue
        yield f"line {i + 1} removed", "".join(lines[:i] + lines[i + 1:])
        if "=" in s and not s.startswith("["):
            key, _, value = line.partition("=")
            value = value.strip()
            for name, new in _toml_value_variants(value):
                yield f"line {i + 1} ({key.strip()}) {name}", "".join(lines[:i] + [f"{key}= {new}\n"] + lines[i + 1:])
        yield f"line {i + 1} duplicated", "".join(lines[:i + 1] + [line] + lines[i + 1:])
        if _BASE64_LINE.fullmatch(s):  # a line of a PEM certificate's base64 (organization CAs, TSA roots)
            yield f"line {i + 1} swapped with the next", "".join(lines[:i] + [lines[i + 1], line] + lines[i + 2:])
            yield f"blank line after line {i + 1}", "".join(lines[:i + 1] + ["\n"] + lines[i + 1:])
            # not in a [[tsa]] certificate: cryptography takes any tag for a name attribute's value, and asn1js
            # cannot read universal tag 0 with contents, which one changed character can make (closing note of
            # issue 15); the page reads everything else of it as cryptography does (GENESIS_REGRESSIONS)
            j = len(s) // 2
            if string_key == "ca_cert":
                yield f"line {i + 1} character {j} changed", "".join(lines[:i] + [line.replace(s, s[:j] + ("A" if s[j] != "A" else "B") + s[j + 1:])] + lines[i + 1:])
    yield "comments and blank lines added", "# a comment\n\n" + text.replace("\n[", "\n\n# next table\n[")
    yield "unknown table", text + "\n[extra]\nx = 1\n"
    yield "unknown key in [chain]", text.replace("[chain]\n", "[chain]\nextra = 1\n", 1)
    yield "empty file", ""
    yield "not TOML", "{\"chain\": 1}"
    yield "binary junk", "\x00\x01\x02" + text[:100]
    yield "CRLF line ends", text.replace("\n", "\r\n")
    yield "cut in half", text[:len(text) // 2]
    sealers = text.split("[[sealer]]")
    if len(sealers) > 2:
        yield "sealers reordered", sealers[0] + "[[sealer]]" + "[[sealer]]".join(sealers[2:] + [sealers[1]])


def _toml_value_variants(value: str) -> Iterator[tuple[str, str]]:
    if value.startswith('"0x'):
        raw = value.strip('"')
        yield "hex flipped", '"' + raw[:-1] + ("0" if raw[-1] != "0" else "1") + '"'
        yield "hex cut", '"' + raw[:-2] + '"'
    elif value.startswith('"'):
        yield "text changed", value[:-1] + 'x"'
        yield "text empty", '""'
        yield "literal string", "'" + value.strip('"') + "'"
    elif value.lstrip("-").isdigit():
        yield "+1", str(int(value) + 1)
        yield "0", "0"
        yield "negative", "-" + value
        yield "with underscores", f"{int(value):_}"
        yield "float", value + ".0"
        yield "text", f'"{value}"'
    elif value in ("true", "false"):
        yield "flipped", "false" if value == "true" else "true"
    yield "missing value", ""


def run_all(cases: list[tuple[str, str, str, bytes]], page: Any,
            py: Callable[[str, bytes, bytes], Verdict] = python_verdict) -> list[tuple[str, Verdict, Verdict, str]]:
    """Both verifiers over ``(name, genesis, proof, file hash)`` cases; returns every (name, python, page, internal)."""
    js = js_verdicts(page, [(g, p, h) for _, g, p, h in cases])
    return [(name, py(g, p.encode("utf-8", "surrogatepass"), h), j, internal)
            for (name, g, p, h), (j, internal) in zip(cases, js, strict=True)]
