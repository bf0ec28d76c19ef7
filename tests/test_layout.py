"""The package layout: no import cycle between ttcs modules, and no private ttcs_verifiers module imported.

Every import counts, those inside functions too: a function-level import that dodges a cycle
at import time still ties the two modules together. The graph is read from the source with
`ast`, so nothing is imported. `TTCS_LAYOUT_ROOT` points the checks at another tree's
``ttcs/`` (e.g. an older commit's, to see them fail).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = "ttcs"
ROOT = Path(os.environ.get("TTCS_LAYOUT_ROOT", REPO_ROOT / PACKAGE))


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def imported_names(name: str, path: Path) -> list[str]:
    """Every module name an import statement of the module names (absolute, relative resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]  # `from ttcs import dist` names ttcs.dist
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (itself excluded)."""
    files = module_files(root)
    graph = {}
    for name, path in files.items():
        targets = {t for t in imported_names(name, path) if t in files and t != name}
        # Importing ttcs.a.b runs ttcs/__init__ and ttcs/a/__init__ first; those edges matter only if the
        # package inits import something, and then they are in the graph from the inits themselves.
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert f"{PACKAGE}.loop" in graph and len(graph) > 20
    assert f"{PACKAGE}.config" in graph[f"{PACKAGE}.loop"]


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_ttcs_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_private_ttcs_verifiers_module_is_imported():
    private = sorted(
        f"{name}: {target}"
        for name, path in module_files().items()
        for target in imported_names(name, path)
        if target.startswith("ttcs_verifiers.") and any(p.startswith("_") for p in target.split(".")[1:2])
    )
    assert not private, "imports of private ttcs_verifiers modules (import from ttcs_verifiers instead): " + (
        "; ".join(private)
    )
