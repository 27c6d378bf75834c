"""Which event loop a node process runs on: asyncio's own, or uvloop on request.

``CONSORTIUM_EVENT_LOOP=uvloop`` runs the node on uvloop (libuv, the loop under Node.js), which
must then be installed (``pip install uvloop``; the test extra installs it). Both loops are
correct for the node — the P2P listener wraps accepted sockets in TLS at creation
(network/listener.py), and tests run the transport on both — but uvloop is not the default:
measured on the 4-node cluster it did not lower node CPU per committed transaction
(0.87 against 0.87 ms, docs/performance.md, issue 14 third round), so it would be a dependency
that buys nothing measurable here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

ENV = "CONSORTIUM_EVENT_LOOP"

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_name(environ: dict[str, str] | None = None) -> str:
    """``"asyncio"`` (default) or ``"uvloop"``: what :func:`loop_factory` will run."""
    env = os.environ if environ is None else environ
    wanted = env.get(ENV, "").strip().lower()
    if wanted not in ("", "uvloop", "asyncio"):
        raise ValueError(f"{ENV}={env.get(ENV)!r}: use 'asyncio' or 'uvloop'")
    if wanted != "uvloop":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        raise ValueError(f"{ENV}=uvloop but uvloop is not installed (pip install uvloop)") from None
    return "uvloop"


def loop_factory(environ: dict[str, str] | None = None) -> LoopFactory:
    """A factory for ``asyncio.Runner(loop_factory=...)``."""
    if loop_name(environ) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop
