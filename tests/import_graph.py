"""The import graph of the ``copi_bio`` package, read from its source (no import is executed).

Used by ``test_architecture.py`` and by ``docs/figures/make_architecture.py``
(the drawing on the architecture page), so that the layers the docs draw are
the layers the tests enforce.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "copi_bio"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("errors", "units", "version", "progress", "metrics", "transfer", "atomic", "outdir",
                    "bounded", "trials", "library", "conventions")),
    ("spec", ("spec",)),
    ("model files, task data", ("modelfile", "tasks", "initial")),
    ("backends", ("rate", "spiking", "record")),
    ("simulation, results", ("simulation", "results", "export")),
    ("studies", ("sweep",)),
    ("analysis", ("analysis",)),
    ("interface", ("cli", "validate", "")),
)
"""Layers, bottom first, each with the modules and subpackages (relative to ``copi_bio``) it holds;
``""`` is the package itself. A module may import only modules of its own layer or of lower ones."""


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted names (relative to the package, ``""`` for the package) -> source files."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _package_of(name: str, path: Path) -> list[str]:
    parts = name.split(".") if name else []
    return parts if path.name == "__init__.py" else parts[:-1]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at any depth of its code (function-level imports
    and ``if TYPE_CHECKING:`` blocks included). ``from . import x`` counts as importing the
    submodule ``x`` when there is one, else the package."""
    mods = modules(package)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = _package_of(name, path)
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == "copi_bio":
                    target = node.module[len("copi_bio") + 1:]
                else:
                    continue
                subs = [f"{target}.{a.name}".lstrip(".") for a in node.names]
                found = [s for s in subs if s in mods]
                graph[name].update(found if len(found) == len(subs) else found + [target])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "copi_bio":
                        graph[name].add(alias.name[len("copi_bio") + 1:])
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(name: str) -> int:
    """Index in :data:`LAYERS` of a module (the longest matching prefix decides)."""
    best, level = -1, None
    for i, (_, members) in enumerate(LAYERS):
        for member in members:
            if name == member or (member and name.startswith(member + ".")):
                if len(member) > best:
                    best, level = len(member), i
    if level is None:
        raise KeyError(f"copi_bio.{name} belongs to no layer of tests/import_graph.py")
    return level


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """``(importer, imported)`` pairs where a module imports a module of a higher layer, or the
    package that contains it (which imports everything)."""
    bad = []
    for name, targets in graph.items():
        for target in targets:
            parent = name.startswith(target + ".") or (target == "" and name != "")
            if parent or layer_of(target) > layer_of(name):
                bad.append((name, target))
    return sorted(bad)
