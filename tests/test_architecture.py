"""The package's architecture, read from its source: imports go one way, modules stay small.

The layers are listed in ``tests/import_graph.py`` and drawn on the docs'
architecture page (``docs/architecture.md``).
"""

from __future__ import annotations

import import_graph as ig

MAX_LINES = 450
"""Longest module (lines) the issue tracker agreed on: a reader sees one concern per module."""


def test_the_graph_reader_sees_a_cycle_and_an_upward_import(tmp_path):
    """The reader itself: a planted cycle through a function-level import, and an import of a
    higher layer, are both found (so the assertions below can fail)."""
    pkg = tmp_path / "copi_bio"
    (pkg / "spec").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .spec import Model\n")
    (pkg / "spec" / "__init__.py").write_text("from .model import Model\n")
    (pkg / "spec" / "model.py").write_text("def parse():\n    from ..modelfile import read\n")
    (pkg / "modelfile.py").write_text("from .spec.model import parse\n")
    graph = ig.import_graph(pkg)
    assert graph["spec.model"] == {"modelfile"}
    assert ig.cycles(graph) == [["modelfile", "spec.model"]]
    assert ("spec.model", "modelfile") in ig.upward_imports(graph)


def test_no_import_cycles():
    assert ig.cycles(ig.import_graph()) == []


def test_imports_point_down_the_layers():
    """No module imports a module of a higher layer, nor a package that contains it."""
    graph = ig.import_graph()
    assert len(graph) > 40 and sum(map(len, graph.values())) > 100  # the reader saw the package
    assert ig.upward_imports(graph) == []


def test_the_spec_layer_knows_no_reader_and_analyses_run_nothing():
    """Spec objects validate themselves without the TOML reader; analyses never simulate."""
    graph = ig.import_graph()
    for name, targets in graph.items():
        if name.startswith("spec"):
            assert not {t for t in targets if not t.startswith("spec")} - {"errors", "units"}, name
        if name.startswith("analysis"):
            assert not {t for t in targets if t.split(".")[0] in ("rate", "spiking", "simulation", "sweep")}, name
    users = sorted(name for name, targets in graph.items() if "modelfile" in targets)
    assert "spec" not in {u.split(".")[0] for u in users}


def test_no_module_is_too_long():
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines())
               for name, path in ig.modules().items()}
    assert max(lengths.values()) > 100  # the files were read
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
