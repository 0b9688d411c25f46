"""Writing figures: every figure as PNG and SVG, each file written atomically inside the output folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import atomic_write  # noqa: E402
from ..outdir import output_path  # noqa: E402


def save_figure(fig: plt.Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.svg`` into ``out_dir`` and close the figure."""
    paths = [atomic_write(output_path(out_dir, f"{name}.{ext}"),
                          lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight"))
             for ext in ("png", "svg")]
    plt.close(fig)
    return paths
