"""Test TSAs made once per session: two independent authorities."""

from __future__ import annotations

import pytest
from tests.helpers.tsa import TsaFiles, TsaServer, make_tsa


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> TsaFiles:
    return make_tsa(tmp_path_factory.mktemp("tsa-a"), "Test TSA A")


@pytest.fixture(scope="session")
def other_tsa(tmp_path_factory: pytest.TempPathFactory) -> TsaFiles:
    return make_tsa(tmp_path_factory.mktemp("tsa-b"), "Test TSA B")


@pytest.fixture
def tsa_server(tsa: TsaFiles):
    with TsaServer(tsa) as server:
        yield server
