"""Draw ``docs/figures/architecture.png``: the data flow and the import layers of copi_bio.

The layers and the import counts are read from the source by
``tests/import_graph.py``, the module the architecture tests use, so the
drawing shows what the tests enforce. Run from the repository root:
``python docs/figures/make_architecture.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import import_graph as ig  # noqa: E402

FLOW = [  # (label, detail) left to right: what a run passes on
    ("model file", "models/*.toml\n--set overrides"),
    ("modelfile", "TOML + --set ->\ntable (the only\nTOML reader)"),
    ("spec", "Model / NetworkModel\nvalidate themselves"),
    ("backend", "rate: numpy/scipy\nspiking: Brian2\n(chain | E/I network)"),
    ("record", "RunRecord\nmetrics, weights,\nspikes"),
    ("results", "xarray.Dataset\nnetCDF + provenance"),
    ("analysis", "statistics, figures\nanalyses/ scripts"),
]


def _box(ax, x, y, w, h, title, detail, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3", lw=0.8))
    ax.text(x + w / 2, y + h * 0.72, title, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(x + w / 2, y + h * 0.32, detail, ha="center", va="center", fontsize=7)


def draw(path: Path) -> Path:
    """Draw the figure and save it to ``path``."""
    graph = ig.import_graph()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8.5), gridspec_kw={"height_ratios": [1, 2.1]})
    # data flow
    w, gap = 1.25, 0.35
    for i, (title, detail) in enumerate(FLOW):
        x = i * (w + gap)
        _box(top, x, 0.0, w, 1.0, title, detail, "#dbe9f6" if title != "model file" else "#eeeeee")
        if i:
            top.annotate("", (x, 0.5), (x - gap, 0.5), arrowprops=dict(arrowstyle="->", lw=1.2))
    sweep_x = 3 * (w + gap)
    _box(top, sweep_x, 1.35, 3 * w + 2 * gap, 0.7, "sweep (dask)",
         "many seeds x values on dask workers: each run\nspec -> backend -> Dataset; then one combined Dataset", "#f6e7d0")
    top.annotate("", (sweep_x + 0.2, 1.0), (sweep_x + 0.2, 1.35), arrowprops=dict(arrowstyle="->", lw=1))
    top.annotate("", (sweep_x + 3 * w + 2 * gap - 0.2, 1.35), (sweep_x + 3 * w + 2 * gap - 0.2, 1.0),
                 arrowprops=dict(arrowstyle="->", lw=1))
    top.set_xlim(-0.1, len(FLOW) * (w + gap))
    top.set_ylim(-0.1, 2.2)
    top.set_title("a  What a run passes on (one way: a backend never reads TOML, an analysis never simulates)",
                  loc="left", fontsize=10)
    top.axis("off")
    # import layers
    members: dict[int, list[str]] = {}
    for name in graph:
        members.setdefault(ig.layer_of(name), []).append(name)
    arrows = Counter((ig.layer_of(a), ig.layer_of(b)) for a, targets in graph.items() for b in targets)
    height = 0.8
    for i, (label, _) in enumerate(ig.LAYERS):
        names = sorted(n or "copi_bio" for n in members.get(i, []))
        groups = Counter(n.split(".")[0] + (".*" if "." in n else "") for n in names)
        text = ", ".join(g if c == 1 or not g.endswith(".*") else f"{g} ({c})" for g, c in sorted(groups.items()))
        y = i * 1.05
        _box(bottom, 0, y, 8.2, height, f"{i + 1}. {label}", text, "#e4f1e1" if i % 2 else "#f3f8f2")
        down = sum(n for (a, b), n in arrows.items() if a == i and b < i)
        same = arrows.get((i, i), 0)
        bottom.text(8.4, y + height / 2, f"{down} imports of lower layers\n{same} within the layer",
                    va="center", fontsize=7)
    bottom.annotate("", (-0.25, 0), (-0.25, (len(ig.LAYERS) - 1) * 1.05 + height),
                    arrowprops=dict(arrowstyle="->", lw=1.5))
    bottom.text(-0.4, len(ig.LAYERS) * 0.5, "imports point down", rotation=90, va="center", ha="right", fontsize=8)
    bottom.set_xlim(-0.8, 10.2)
    bottom.set_ylim(-0.2, len(ig.LAYERS) * 1.05)
    bottom.set_title(f"b  Import layers ({len(graph)} modules, {sum(map(len, graph.values()))} imports, "
                     f"{len(ig.cycles(graph))} cycles, {len(ig.upward_imports(graph))} upward)",
                     loc="left", fontsize=10)
    bottom.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print(draw(Path(__file__).resolve().parent / "architecture.png"))
