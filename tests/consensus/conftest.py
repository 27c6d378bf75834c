"""Consensus test options: the ``long`` marker and single-seed replay.

* ``CONSORTIUM_LONG=1`` runs tests marked ``long`` (many more simulation seeds);
  without it they are skipped, so the normal suite stays fast.
* ``CONSORTIUM_SEED=123`` narrows every seeded simulation test to that one seed
  (``pytest tests/consensus -k seed_123`` also works, by test id).
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CONSORTIUM_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long simulation mode: set CONSORTIUM_LONG=1 to run")
    for item in items:
        if "long" in item.keywords and item.path.is_relative_to(os.path.dirname(__file__)):
            item.add_marker(skip)
