"""The package's shape: no import cycle between dakd's modules, small modules, short functions.

Read from the source with ``ast`` (nothing is imported), so a cycle hidden behind a lazy
import inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dakd"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """The dakd modules ``name`` imports, each with the packages Python runs on the way
    (importing ``dakd.a.b`` runs ``dakd.a``'s ``__init__`` first)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target not in MODULES:
                continue
            parts = target.split(".")
            found.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    found.discard(name)
    return {module for module in found if not name.startswith(module + ".")}  # a module's own packages ran first


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_modules_and_their_packages():
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert "dakd.errors" in graph["dakd.config.messages"]  # from ..errors import DakdError
    assert "dakd.config.base" in graph["dakd.config.root"]  # from .base import ...
    assert "dakd.config" not in graph["dakd.config.root"]  # its own package, already imported
    assert {"dakd.video", "dakd.video.pool"} <= graph["dakd.extract"]  # from .video.pool import ...: the package too


def test_no_import_cycle_between_dakd_modules():
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert import_cycles(graph) == []


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` runs (its imports, theirs, and so on)."""
    seen, todo = set(), [start]
    while todo:
        for other in graph[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    return seen


def test_training_does_not_import_deployment():
    """The stages a training job runs reach no module of ``dakd.scoring`` (``dakd score``)."""
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    for stage in ("dakd.stages", "dakd.training", "dakd.pseudo_labels"):
        assert not {m for m in reachable(graph, stage) if m.startswith("dakd.scoring")}, stage


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{MODULES[name]} has {lines} lines (at most {MAX_MODULE_LINES})"


def test_functions_stay_short():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
