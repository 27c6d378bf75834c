"""Fixtures: a throwaway chain PKI and transports that are always closed at the end of a test."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.network.netkit import Inbox, Pki

from consortium.network import Transport, TransportConfig


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
async def transports() -> AsyncIterator[Callable[..., Transport]]:
    """``make(config, inbox)`` builds a Transport that is closed at the end of the test."""
    made: list[Transport] = []

    def make(config: TransportConfig, inbox: Inbox) -> Transport:
        t = Transport(config, inbox, rng=random.Random(7))
        made.append(t)
        return t

    yield make
    for t in made:
        await t.close()


@pytest.fixture(autouse=True)
def _network_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consortium.network")
