"""One line that tells an operator why a node stopped (or could not start) and what to do.

A node that stops because its port is taken, its disk is full or its data directory is
locked by another process must say so in one line — on stderr and in its log — not in a
60-line traceback whose cause is somewhere in the middle. :func:`explain` turns the
exception (or exception group, from the node's TaskGroup) into that line; an exception it
does not recognise is named with its type so the log's traceback can be found.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from consortium.network.errors import NetworkError
from consortium.node.config import NodeConfig
from consortium.node.driver import NodeHalted
from consortium.ops import procinfo
from consortium.storage.kv import StorageError


class PortInUse(OSError):
    """A listening port of the node is taken by another process."""

    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"{what} port {host}:{port} is already in use")
        self.what, self.host, self.port = what, host, port


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups, in order; ``exc`` itself if it is not a group."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "Disk quota exceeded" in text


def _known(exc: BaseException, config: NodeConfig) -> str | None:
    if isinstance(exc, NodeHalted):
        return f"node {config.name} halted to stay safe: {exc}"
    if _disk_full(exc):
        return (f"node {config.name} stopped: the disk holding {config.data_dir} is full (No space left on device); "
                f"free space there, then start the node again (nothing committed is lost)")
    if isinstance(exc, PortInUse):
        key = "p2p.port" if exc.what == "p2p" else "rpc.port" if exc.what == "rpc" else "ops.port"
        return (f"cannot start node {config.name}: {exc.what} port {exc.host}:{exc.port} is already in use by "
                f"{procinfo.describe(procinfo.port_owner(exc.host, exc.port))}; stop that process or change "
                f"{key} in {config.path}")
    if isinstance(exc, NetworkError) and "cannot listen for peers" in str(exc):
        host, port = config.p2p.host, config.p2p.port
        if procinfo.port_in_use(host, port):
            return _known(PortInUse("p2p", host, port), config)
    if isinstance(exc, StorageError) and "lock" in str(exc).lower():
        lock = config.data_dir / "ledger" / "LOCK"
        return (f"cannot start node {config.name}: its data directory {config.data_dir} is in use by "
                f"{procinfo.describe(procinfo.lock_holder(lock))}; a data directory serves one node process "
                f"at a time (stop the other one first)")
    return None


def known(exc: BaseException, config: NodeConfig) -> str | None:
    """The one-line reason if the cause is one an operator can act on (first such leaf of a group)."""
    for leaf in leaves(exc):
        message = _known(leaf, config)
        if message is not None:
            return message
    return None


def explain(exc: BaseException, config: NodeConfig) -> str:
    """The one-line reason; an unrecognised error is named by its type."""
    message = known(exc, config)
    if message is not None:
        return message
    found = list(leaves(exc))
    first = found[0] if found else exc
    return f"node {config.name} stopped on an unexpected error: {type(first).__name__}: {first}"


