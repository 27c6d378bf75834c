"""The cluster fixture: one real 4-node chain per test module, always stopped by pid at the end.

The chain folder (configs, node logs) is deleted afterwards unless a test of
the module failed or CONSORTIUM_KEEP_CLUSTER=1 is set; its path is printed then.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster.harness import Cluster


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="consortium-cluster-"))
    c = Cluster(root / "chain", size=4)
    try:
        c.build()
        c.start()
        yield c
    finally:
        try:
            c.stop()  # raises if any process survived stop_all.sh (after killing it by pid)
        finally:
            failed = getattr(request.node, "_cluster_failed", False)
            if failed or os.environ.get("CONSORTIUM_KEEP_CLUSTER"):
                print(f"cluster logs kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    report = yield
    if report.failed:  # keep the node logs of a module with a failure for the post-mortem
        item.getparent(pytest.Module)._cluster_failed = True  # type: ignore[union-attr]
    return report
