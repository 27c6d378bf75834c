"""The node's event loop choice (consortium.node.event_loop)."""

from __future__ import annotations

import asyncio

import pytest

from consortium.node.event_loop import ENV, loop_factory, loop_name

uvloop = pytest.importorskip("uvloop")


def _loop_type(environ: dict[str, str]) -> type:
    with asyncio.Runner(loop_factory=loop_factory(environ)) as runner:
        return runner.run(_running_loop_type())


async def _running_loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_asyncio_by_default() -> None:
    assert loop_name({}) == "asyncio"
    loop_type = _loop_type({})
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_uvloop_on_request() -> None:
    assert loop_name({ENV: " UVLoop "}) == "uvloop"
    assert issubclass(_loop_type({ENV: "uvloop"}), uvloop.Loop)
    assert loop_name({ENV: "asyncio"}) == "asyncio"


def test_unknown_loop_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CONSORTIUM_EVENT_LOOP='trio'"):
        loop_name({ENV: "trio"})
