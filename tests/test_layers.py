"""The layering of docs/design.md §1, enforced: a lower layer never imports a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "consortium"

# Rank of each package; a module may import packages of its own rank or lower.
RANK = {
    "encoding": 0, "crypto": 1, "ledger": 2, "storage": 3, "state": 3, "execution": 4, "chain": 5,
    "txpool": 6, "consensus": 6, "network": 7, "node": 8, "evidence": 9, "rpc": 9, "ops": 9, "client": 10, "gateway": 10,
    "explorer": 10, "report": 10, "cli": 11,
}
# Imports allowed on purpose: consensus is pure and may not see storage, chain or txpool at all.
FORBIDDEN = {"consensus": {"storage", "state", "execution", "chain", "txpool", "network", "node"},
             "client": {"gateway"}}  # the gateway is a service beside the node; only the CLI starts it


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "consortium" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_has_a_rank() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK), f"give these packages a layer rank: {packages - set(RANK)}"


def test_no_upward_imports() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2:
            continue  # consortium/__init__.py, __main__.py: the top
        layer = rel.parts[0]
        for imported in imported_packages(path):
            if imported not in RANK:
                continue
            if RANK[imported] > RANK[layer] or imported in FORBIDDEN.get(layer, set()):
                violations.append(f"{rel} imports consortium.{imported}")
    assert not violations, "layering violations:\n" + "\n".join(sorted(violations))
