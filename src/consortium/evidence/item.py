"""An evidence item: one 32-byte commitment plus optional small metadata, notarized in a gateway batch.

A gateway (consortium.gateway) aggregates many items into one RFC 6962 Merkle tree
and anchors only the root on chain (``notarize_batch``). Each item's canonical
encoding is a leaf of that tree::

    item = canonical([48, commitment: bytes(32), metadata: map])

The type tag 48 puts item leaves in their own domain: an item's bytes can never be
read as a transaction (tag 1) or receipt (tag 3), whose trees use the same leaf and
node prefixes (0x00 / 0x01). The metadata goes into the leaf, so a proof binds it to
the commitment; it never goes on chain (only the root does).

This module also holds the compact binary intake form (many items in one HTTP body,
docs/protocol.md §12.2) so the gateway, the SDK and the CLI share one codec. Every
decoder here refuses bad input with :class:`InvalidItem`, which names the item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consortium.encoding import canonical
from consortium.encoding.canonical import DecodeError, EncodingError, Value
from consortium.encoding.hexbytes import HexError, from_hex, to_hex
from consortium.ledger.tags import TAG_EVIDENCE_ITEM

COMMITMENT_SIZE = 32
MAX_METADATA_FIELDS = 16
MAX_FIELD_NAME = 32
MAX_TEXT_VALUE = 256
MAX_INT_VALUE = 2**63 - 1
MAX_METADATA_BYTES = 1024
"""Encoded metadata map; keeps every item under :data:`MAX_ITEM_BYTES`."""
MAX_ITEM_BYTES = 4 + COMMITMENT_SIZE + MAX_METADATA_BYTES
BINARY_MAGIC = b"CEI1"
"""First 4 bytes of a binary intake body (consortium evidence items, format 1)."""
BINARY_CONTENT_TYPE = "application/vnd.consortium.items"
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
_EMPTY_ITEM_PREFIX = bytes((0x93, TAG_EVIDENCE_ITEM, 0xC4, COMMITMENT_SIZE))
"""canonical([48, <32 bytes>, …]) starts with these four bytes: fixarray(3), 48, bin8 length 32."""


class InvalidItem(ValueError):
    """An item (or an intake body) is not well-formed; ``index`` is its position in the request, if known."""

    def __init__(self, message: str, index: int | None = None, commitment: bytes | None = None) -> None:
        where = ""
        if index is not None:
            where = f"item {index}"
            if commitment is not None:
                where += f" ({to_hex(commitment)})"
            where += ": "
        super().__init__(where + message)
        self.index = index
        self.commitment = commitment
        self.reason = message


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """A well-formed item and its canonical encoding (the Merkle leaf data)."""

    commitment: bytes
    metadata: Mapping[str, Value]
    encoded: bytes

    @classmethod
    def create(cls, commitment: bytes, metadata: Mapping[str, Any] | None = None) -> EvidenceItem:
        """Check and encode; raises :class:`InvalidItem`."""
        if not isinstance(commitment, bytes) or len(commitment) != COMMITMENT_SIZE:
            raise InvalidItem(f"a commitment is {COMMITMENT_SIZE} bytes")
        if not metadata:
            return cls(commitment, {}, _EMPTY_ITEM_PREFIX + commitment + b"\x80")
        meta = check_metadata(metadata)
        try:
            encoded_meta = canonical.encode(meta)
        except EncodingError as exc:
            raise InvalidItem(f"metadata cannot be encoded: {exc}") from None
        if len(encoded_meta) > MAX_METADATA_BYTES:
            raise InvalidItem(f"metadata is {len(encoded_meta)} bytes encoded; at most {MAX_METADATA_BYTES}")
        return cls(commitment, meta, _EMPTY_ITEM_PREFIX + commitment + encoded_meta)

    @classmethod
    def decode(cls, data: bytes) -> EvidenceItem:
        """Parse an item's canonical bytes (from a proof); raises :class:`InvalidItem`."""
        if len(data) > MAX_ITEM_BYTES:
            raise InvalidItem(f"an encoded item is at most {MAX_ITEM_BYTES} bytes, got {len(data)}")
        try:
            value = canonical.decode(data, max_size=MAX_ITEM_BYTES)
            tag, commitment, metadata = canonical.expect_array(value, TAG_EVIDENCE_ITEM, 3, "evidence item")
            commitment = canonical.field_bytes(commitment, "evidence item commitment", size=COMMITMENT_SIZE)
        except DecodeError as exc:
            raise InvalidItem(str(exc)) from None
        if not isinstance(metadata, dict):
            raise InvalidItem("evidence item metadata: expected a map")
        item = cls.create(commitment, metadata)
        if item.encoded != bytes(data):  # pragma: no cover - canonical.decode already insists on this
            raise InvalidItem("evidence item is not in canonical encoding")
        return item

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"commitment": to_hex(self.commitment)}
        if self.metadata:
            doc["metadata"] = dict(self.metadata)
        return doc


def check_metadata(metadata: Any) -> dict[str, Value]:
    """Up to 16 fields named ``[a-z][a-z0-9_]*`` (at most 32 characters), each a string of at most
    256 characters or an integer in [0, 2**63 - 1]. Raises :class:`InvalidItem` saying which field is wrong."""
    if not isinstance(metadata, Mapping):
        raise InvalidItem("metadata must be a map of field names to strings or integers")
    if len(metadata) > MAX_METADATA_FIELDS:
        raise InvalidItem(f"metadata has {len(metadata)} fields; at most {MAX_METADATA_FIELDS}")
    out: dict[str, Value] = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise InvalidItem(f"metadata field name {str(name)[:40]!r} must be 1-{MAX_FIELD_NAME} characters "
                              "a-z, 0-9, _ starting with a letter")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidItem(f"metadata.{name} must be a string or a non-negative integer")
        if isinstance(value, int) and not 0 <= value <= MAX_INT_VALUE:
            raise InvalidItem(f"metadata.{name} must be an integer in [0, 2**63 - 1]")
        if isinstance(value, str) and len(value) > MAX_TEXT_VALUE:
            raise InvalidItem(f"metadata.{name} is {len(value)} characters; at most {MAX_TEXT_VALUE}")
        out[name] = value
    return out


# --- intake forms ---------------------------------------------------------------------------------


def item_from_json(obj: Any, index: int) -> EvidenceItem:
    """One entry of a JSON intake request: ``{"commitment": "0x…", "metadata": {…}}`` (metadata optional)."""
    if not isinstance(obj, dict):
        raise InvalidItem("must be a JSON object {\"commitment\": \"0x…\", \"metadata\": {…}}", index)
    extra = set(obj) - {"commitment", "metadata"}
    if extra:
        raise InvalidItem(f"unknown fields {', '.join(sorted(map(str, extra)))[:100]} (allowed: commitment, metadata)",
                          index)
    try:
        commitment = from_hex(obj.get("commitment"), size=COMMITMENT_SIZE, what="commitment")
    except HexError as exc:
        raise InvalidItem(str(exc), index) from None
    try:
        return EvidenceItem.create(commitment, obj.get("metadata"))
    except InvalidItem as exc:
        raise InvalidItem(exc.reason, index, commitment) from None


def items_from_json(doc: Any, *, max_items: int) -> list[EvidenceItem]:
    """A JSON intake body ``{"items": [...]}``; raises :class:`InvalidItem` naming the first bad item."""
    if not isinstance(doc, dict) or set(doc) != {"items"} or not isinstance(doc["items"], list):
        raise InvalidItem("the body must be a JSON object {\"items\": [{\"commitment\": \"0x…\"}, …]}")
    entries = doc["items"]
    if not entries:
        raise InvalidItem("the request holds no items")
    if len(entries) > max_items:
        raise InvalidItem(f"the request holds {len(entries)} items; at most {max_items} per request")
    return [item_from_json(e, i) for i, e in enumerate(entries)]


def encode_items_binary(items: Iterable[EvidenceItem]) -> bytes:
    """The compact binary body: ``"CEI1" || (commitment(32) || meta_len(u16 BE) || meta)*``."""
    parts = [BINARY_MAGIC]
    for item in items:
        meta = item.encoded[4 + COMMITMENT_SIZE:]
        if meta == b"\x80":
            parts.append(item.commitment + b"\x00\x00")
        else:
            parts.append(item.commitment + len(meta).to_bytes(2, "big") + meta)
    return b"".join(parts)


def items_from_binary(body: bytes, *, max_items: int) -> list[EvidenceItem]:
    """Parse a binary intake body; raises :class:`InvalidItem` naming the first bad item.

    ``meta_len`` 0 means no metadata; otherwise the bytes are a canonical, non-empty map.
    """
    if body[:4] != BINARY_MAGIC:
        raise InvalidItem(f"a binary item body starts with {BINARY_MAGIC!r} (format 1)")
    items: list[EvidenceItem] = []
    view = memoryview(body)
    pos, end = 4, len(body)
    if pos == end:
        raise InvalidItem("the request holds no items")
    prefix, empty = _EMPTY_ITEM_PREFIX, b"\x80"
    while pos < end:
        index = len(items)
        if index >= max_items:
            raise InvalidItem(f"the request holds more than {max_items} items; at most {max_items} per request")
        if end - pos < COMMITMENT_SIZE + 2:
            raise InvalidItem(f"truncated: {end - pos} bytes left, an item needs at least {COMMITMENT_SIZE + 2}", index)
        commitment = bytes(view[pos:pos + COMMITMENT_SIZE])
        meta_len = int.from_bytes(view[pos + COMMITMENT_SIZE:pos + COMMITMENT_SIZE + 2], "big")
        pos += COMMITMENT_SIZE + 2
        if meta_len == 0:
            items.append(EvidenceItem(commitment, {}, prefix + commitment + empty))
            continue
        if meta_len > MAX_METADATA_BYTES:
            raise InvalidItem(f"metadata is {meta_len} bytes; at most {MAX_METADATA_BYTES}", index, commitment)
        if end - pos < meta_len:
            raise InvalidItem(f"truncated: metadata length {meta_len} but {end - pos} bytes left", index, commitment)
        raw = bytes(view[pos:pos + meta_len])
        pos += meta_len
        try:
            meta = canonical.decode(raw, max_size=MAX_METADATA_BYTES)
        except DecodeError as exc:
            raise InvalidItem(f"metadata is not a canonical map: {exc}", index, commitment) from None
        if not isinstance(meta, dict) or not meta:
            raise InvalidItem("metadata must be a non-empty map (send length 0 for none)", index, commitment)
        try:
            items.append(EvidenceItem.create(commitment, meta))
        except InvalidItem as exc:
            raise InvalidItem(exc.reason, index, commitment) from None
    return items
