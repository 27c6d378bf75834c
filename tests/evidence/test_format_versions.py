"""Both proof formats judge their "version" alike (bundle._format_version): a newer format than this
verifier reads is UnsupportedBundle (upgrade, do not conclude: exit 2, never NOT VERIFIED); any other
unknown or mistyped version is malformed."""

from __future__ import annotations

from typing import Any

import pytest

from consortium.evidence.bundle import BUNDLE_TYPE, BUNDLE_VERSION, parse_bundle
from consortium.evidence.case_bundle import CASE_BUNDLE_TYPE, CASE_BUNDLE_VERSION, parse_case_bundle
from consortium.evidence.errors import MalformedBundle, UnsupportedBundle

FORMATS = [(parse_bundle, BUNDLE_TYPE, BUNDLE_VERSION, "proof"),
           (parse_case_bundle, CASE_BUNDLE_TYPE, CASE_BUNDLE_VERSION, "case proof")]
IDS = ["proof", "case-proof"]


@pytest.mark.parametrize(("parse", "kind", "newest", "what"), FORMATS, ids=IDS)
def test_a_newer_format_asks_for_an_upgrade(parse: Any, kind: str, newest: int, what: str) -> None:
    with pytest.raises(UnsupportedBundle) as err:
        parse({"type": kind, "version": newest + 1})
    assert str(err.value) == (f"the {what} uses format version {newest + 1}; this verifier reads versions 1 to "
                              f"{newest}: upgrade consortium to verify it")


@pytest.mark.parametrize(("parse", "kind", "newest", "what"), FORMATS, ids=IDS)
@pytest.mark.parametrize(("version", "message"), [
    (0, "unknown {what} format version 0"), (-1, "unknown {what} format version -1"),
    (True, '"version" must be an integer'), ("2", '"version" must be an integer'), (None, '"version" must be an integer'),
])
def test_an_unknown_or_mistyped_version_is_malformed(parse: Any, kind: str, newest: int, what: str, version: Any,
                                                     message: str) -> None:
    doc = {"type": kind}
    if version is not None:
        doc["version"] = version
    with pytest.raises(MalformedBundle) as err:
        parse(doc)
    assert not isinstance(err.value, UnsupportedBundle)
    assert str(err.value) == message.format(what=what)
