"""A recursion budget that does not depend on how deep the caller's stack already is.

CPython's recursion checks (Python calls, ``ast.parse``'s tree construction,
``compile``'s symbol table, ``==`` and ``repr`` on nested values) fail at
``sys.getrecursionlimit()`` minus *the current depth*. A node calling the
executor from a deeper stack than another node would refuse a borderline
contract the other accepts — a consensus split. Inside
:func:`fixed_recursion_budget` the limit is set to current depth + a constant,
so the same work fails or succeeds identically on every node.

The limit is process-wide; it is restored on exit. It is only ever raised
above CPython's default of 1000 while inside, never lowered below what the
caller had at its own depth plus the budget.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_DEPTH_IN_MESSAGE = re.compile(r"at the recursion depth (\d+)")


def current_recursion_depth() -> int:
    """The interpreter's own recursion depth counter (Python frames plus C-level recursion).

    CPython reports it only in the error of an impossible ``setrecursionlimit(1)``; the
    fallback (frame count) is exact for pure Python stacks.
    """
    old = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(1)
    except RecursionError as exc:
        match = _DEPTH_IN_MESSAGE.search(str(exc))
        if match:
            return int(match.group(1))
    finally:
        sys.setrecursionlimit(old)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


@contextmanager
def fixed_recursion_budget(frames: int) -> Iterator[None]:
    """Run the body with exactly ``frames`` levels of recursion available from here."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(current_recursion_depth() + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
