"""The evidence reference a report's QR code carries: enough to find the notarization and to check that
a verification is about the same thing, in one short line of text.

    consortium:evidence?v=1&chain=chain0&group=group0&genesis=0x…&file=0x…&key=0x…&block=7&tx=0x…&time=1795266883656

``genesis`` is the genesis hash the verifier must be given the file of; ``file`` the evidence file's
SHA-256; ``key`` what is on chain (the salted commitment, or the file hash again in public-hash mode);
``block``, ``tx`` and ``time`` (milliseconds, UTC) the notarization. The reference proves nothing by
itself — it is printed on paper — but the verifier page, given it, says whether what it verified is the
notarization the report describes (docs/protocol.md §14).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from consortium.encoding.hexbytes import HexError, from_hex, to_hex

SCHEME = "consortium:evidence?"
VERSION = 1
MAX_LENGTH = 1024
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DECIMAL = re.compile(r"^[0-9]{1,19}$")
_FIELDS = ("v", "chain", "group", "genesis", "file", "key", "block", "tx", "time")


class BadReference(ValueError):
    """The text is not an evidence reference this program can read."""


@dataclass(frozen=True)
class EvidenceReference:
    chain_id: str
    group_id: str
    genesis_hash: bytes
    file_hash: bytes
    key: bytes
    block: int
    tx: bytes
    time_ms: int

    def text(self) -> str:
        return (f"{SCHEME}v={VERSION}&chain={self.chain_id}&group={self.group_id}&genesis={to_hex(self.genesis_hash)}"
                f"&file={to_hex(self.file_hash)}&key={to_hex(self.key)}&block={self.block}&tx={to_hex(self.tx)}"
                f"&time={self.time_ms}")


def parse_reference(text: str) -> EvidenceReference:
    text = text.strip()
    if len(text) > MAX_LENGTH or not text.startswith(SCHEME):
        raise BadReference(f"an evidence reference begins with {SCHEME!r} (it is printed under the report's QR code)")
    pairs = parse_qsl(text[len(SCHEME):], keep_blank_values=True, strict_parsing=False)
    fields = dict(pairs)
    if len(fields) != len(pairs) or set(fields) != set(_FIELDS):
        raise BadReference(f"an evidence reference has exactly the fields {', '.join(_FIELDS)}")
    if fields["v"] != str(VERSION):
        raise BadReference(f"evidence reference version {fields['v'][:8]!r} is not known here (upgrade)")
    for name in ("chain", "group"):
        if not _ID.match(fields[name]):
            raise BadReference(f"{name}: 1-64 of A-Z a-z 0-9 _ . -")
    for name in ("block", "time"):
        if not _DECIMAL.match(fields[name]):  # not str.isdigit: it accepts "²", which int() refuses
            raise BadReference(f"{name}: a non-negative integer")
    try:
        hashes = {n: from_hex(fields[n], size=32, what=n) for n in ("genesis", "file", "key", "tx")}
    except HexError as exc:
        raise BadReference(str(exc)) from None
    return EvidenceReference(fields["chain"], fields["group"], hashes["genesis"], hashes["file"], hashes["key"],
                             int(fields["block"]), hashes["tx"], int(fields["time"]))


_SHOWN = (("genesis", "genesis_hash"), ("chain", "chain_id"), ("group", "group_id"), ("file", "file_hash"),
          ("key", "key"), ("block", "block"), ("tx", "tx"), ("time", "time_ms"))


def mismatches(reference: EvidenceReference, verified: EvidenceReference) -> list[str]:
    """How a verified notarization (``verified``, built from the verifier's result as the report builds it)
    differs from a report's reference: one "field: the reference says X, the proof shows Y" per differing field,
    in the order of :data:`_SHOWN`; empty when the report describes this notarization. The offline page says
    the same in the same words (protocol.md §14)."""
    out = []
    for name, attr in _SHOWN:
        want, got = getattr(reference, attr), getattr(verified, attr)
        if want != got:
            show = to_hex if isinstance(want, bytes) else str
            out.append(f"{name}: the reference says {show(want)}, the proof shows {show(got)}")
    return out
