"""The evidence reference (the report's QR code text): round trip, and typed refusals of anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.report.reference import BadReference, EvidenceReference, mismatches, parse_reference

REF = EvidenceReference("chain0", "group0", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 7, b"\x04" * 32, 1795266883656)


def test_round_trip() -> None:
    text = REF.text()
    assert text.startswith("consortium:evidence?v=1&chain=chain0&group=group0&genesis=0x0101")
    assert parse_reference(text) == REF
    assert parse_reference("  " + text + "\n") == REF


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("consortium:", "other:"), "begins with"),
    (lambda t: t.replace("v=1", "v=2"), "upgrade"),
    (lambda t: t + "&extra=1", "exactly the fields"),
    (lambda t: t + "&block=8", "exactly the fields"),
    (lambda t: t.replace("block=7", "block=-7"), "non-negative integer"),
    (lambda t: t.replace("chain=chain0", "chain=ch ain"), "chain"),
    (lambda t: t.replace("0x0202", "0xzz02"), "file"),
])
def test_refusals(edit, words: str) -> None:
    with pytest.raises(BadReference, match=words):
        parse_reference(edit(REF.text()))


@given(st.text(max_size=300) | st.builds(lambda s, i: REF.text()[:i] + s + REF.text()[i:], st.text(max_size=8),
                                         st.integers(0, 400)))
def test_fuzz_only_typed_refusals(text: str) -> None:
    try:
        ref = parse_reference(text)
    except BadReference:
        return
    assert parse_reference(ref.text()) == ref


def test_unicode_digits_are_refused_as_a_typed_error() -> None:
    """str.isdigit accepts "²", which int() refuses: the reader used to raise a bare ValueError."""
    with pytest.raises(BadReference, match="non-negative integer"):
        parse_reference(REF.text().replace("time=", "time=²"))


def test_mismatches_name_each_differing_field() -> None:
    assert mismatches(REF, REF) == []
    other = EvidenceReference("chain1", "group0", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 8, b"\x04" * 32, 1795266883656)
    assert mismatches(REF, other) == ["chain: the reference says chain0, the proof shows chain1",
                                      "block: the reference says 7, the proof shows 8"]
