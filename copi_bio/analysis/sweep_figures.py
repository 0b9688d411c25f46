"""Figures of a sweep's combined file (``sweep.nc``, ``copi-bio analyze``): every metric at the last
evaluation against each swept key.

A panel per (metric, swept key): the mean over seeds and over the other swept keys' values at each
value of the key, with the standard deviation over seeds as error bars (over the other keys'
values too where several were swept) and every run as a dot. Runs that failed or are missing are
NaN and left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from .figure_io import save_figure

MAX_METRICS = 12
"""Metrics drawn (in the file's order); the rest are left out of the figure."""
COLUMNS = 4
"""Panels per row."""


def swept_keys(ds: xr.Dataset) -> list[str]:
    """The swept keys of a sweep's combined file, in grid order."""
    return list(json.loads(ds.attrs.get("swept_keys", "[]")))


def plot_sweep(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Each final metric against each swept key (see the module docstring); ``sweep_metrics``."""
    keys = swept_keys(ds) or ["seed"]
    finals = [n for n in ds.data_vars if n.endswith("_final") and np.isfinite(ds[n].values).any()][:MAX_METRICS]
    if not finals:
        return []
    panels = [(name, key) for name in finals for key in keys]
    columns = min(COLUMNS, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.5 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, (name, key) in zip(axes.ravel(), panels):
        labels = [str(v) for v in ds[key].values]
        x = np.arange(len(labels))
        values = ds[name].transpose(key, ...).values.reshape(len(labels), -1)
        finite = [v[np.isfinite(v)] for v in values]
        mean = np.array([v.mean() if v.size else np.nan for v in finite])
        sd = np.array([v.std() if v.size else np.nan for v in finite])
        for k, v in enumerate(finite):
            ax.plot(np.full(v.size, x[k]) + 0.08, v, ".", color="0.5", ms=4)
        ax.errorbar(x, mean, yerr=sd, marker="o", ms=4, capsize=3)
        ax.set_xticks(x, labels, rotation=30, fontsize=7)
        ax.set_xlabel(key, fontsize=8)
        ax.set_title(name[: -len("_final")], fontsize=8)
    fig.suptitle(f"{ds.attrs.get('title', 'sweep')}: metrics at the last evaluation, mean +- sd over seeds "
                 "(grey: runs)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir, "sweep_metrics")
