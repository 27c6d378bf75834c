"""Fixtures for the execution tests (the chain helper itself lives in chainkit.py)."""

from tests.execution.chainkit import chain, evidence_chain  # noqa: F401 - pytest fixtures
