"""Imports point one way: each package of paris_node imports only packages below it (README, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["content", "data", "model", "learning", "market", "net", "roles", "runtime"]  # lowest first
RANK = {package: rank for rank, package in enumerate(LAYERS)}
ABOVE_NODE = ("paris_validator", "paris_sdk")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_package_imports_only_what_lies_below_it() -> None:
    wrong = []
    for path in sorted((ROOT / "node" / "paris_node").rglob("*.py")):
        parts = path.relative_to(ROOT / "node" / "paris_node").parts
        if len(parts) < 2:
            continue  # paris_node/__init__.py imports nothing
        own = RANK[parts[0]]
        for name in _imports(path):
            if name.startswith(ABOVE_NODE):
                wrong.append(f"{path.name} imports {name}")
            target = name.split(".")[1] if name.startswith("paris_node.") else None
            if target in RANK and RANK[target] > own:
                wrong.append(f"{'/'.join(parts)} ({parts[0]}) imports {name}")
    assert not wrong, wrong
    assert {p.name for p in (ROOT / "node" / "paris_node").iterdir() if p.is_dir() and p.name != "__pycache__"} \
        >= set(RANK), "a package of the layout is missing"


def test_every_package_says_what_lives_there() -> None:
    for package in RANK:
        doc = ast.get_docstring(ast.parse((ROOT / "node" / "paris_node" / package / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"paris_node.{package} has no describing __init__ docstring"
