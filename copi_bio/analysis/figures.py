"""Standard figures of one result (``copi-bio analyze``), saved as PNG and SVG: metrics over time,
the teacher scatter, rate correlations, and for spiking results the raster and spike statistics
(:mod:`copi_bio.analysis.spike_figures`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from ..initial import effective_weights  # noqa: E402
from .correlations import rate_correlations  # noqa: E402
from .figure_io import save_figure  # noqa: E402
from .spike_figures import plot_raster, plot_spike_statistics  # noqa: E402


def _metric_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    names = [n for n, v in ds.data_vars.items() if v.dims == ("t_eval",)]
    groups = {
        "task performance": [n for n in names if n.startswith(("test_", "train_"))],
        "decorrelation (mean |r| of x)": [n for n in names if n.startswith("mean_abs_corr_")],
        "inference error": [n for n in names if n.startswith("inference_error")],
        "cosine(COPI update, <delta x^T>)": [n for n in names if n.startswith("copi_bp_cosine")],
        "mean firing rate (Hz)": [n for n in names if n.startswith("mean_rate_")],
        "mean r_sc of recorded pairs": [n for n in names if n.startswith("mean_spike_count_corr_")],
        "CV of inter-spike intervals": [n for n in names if n.startswith("cv_isi_")],
        "mean plastic weight (nS)": [n for n in names if n.startswith("mean_w_")],
    }
    return {k: v for k, v in groups.items() if v}


def plot_metrics(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Metrics over simulated time, one panel per group (log scale for errors)."""
    groups = _metric_groups(ds)
    if not groups:
        return []
    fig, axes = plt.subplots(len(groups), 1, figsize=(6, 2.4 * len(groups)), sharex=True, squeeze=False)
    t = ds["t_eval"].values
    for ax, (title, names) in zip(axes[:, 0], groups.items()):
        for name in names:
            ax.plot(t, ds[name].values, marker=".", label=name)
        if title.startswith(("inference", "decorrelation")) or "loss" in "".join(names):
            vals = np.concatenate([ds[n].values for n in names])
            if np.nanmin(vals) > 0:
                ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("simulated time (s)")
    fig.suptitle(f"{ds.attrs.get('model_name')} (seed {ds.attrs.get('seed')})", fontsize=10)
    return save_figure(fig, out_dir, "metrics")


def plot_teacher_scatter(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Learned effective weights against the teacher's (single-connection models)."""
    if "teacher_weights" not in ds:
        return []
    w_names = [n for n in ds.data_vars if n.startswith("W_")]
    if len(w_names) != 1:
        return []
    w = ds[w_names[0]].isel(t_weights=-1).values
    pre = w_names[0].split("_")[1]
    if f"R_{pre}" in ds:
        w = effective_weights(w, ds[f"R_{pre}"].isel(t_weights=-1).values, foldiak=False)
    elif f"M_{pre}" in ds:
        w = effective_weights(w, ds[f"M_{pre}"].isel(t_weights=-1).values, foldiak=True)
    teacher = ds["teacher_weights"].values
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.scatter(teacher.ravel(), w.ravel(), s=8)
    lim = np.abs(np.concatenate([teacher.ravel(), w.ravel()])).max() * 1.05
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax.set_xlabel("teacher weight")
    ax.set_ylabel("learned effective weight (W R or W (I + M)^-1)")
    if "teacher_r" in ds:  # the run's own metrics, at its last evaluation (the final weights)
        ax.set_title(f"r = {float(ds.teacher_r[-1]):.4f}, slope = {float(ds.teacher_slope[-1]):.3f}", fontsize=9)
    else:  # results of earlier versions
        ax.set_title(f"r = {np.corrcoef(teacher.ravel(), w.ravel())[0, 1]:.4f}", fontsize=9)
    return save_figure(fig, out_dir, "teacher_scatter")


def plot_rate_correlations(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Distribution of pairwise correlations of recorded ``x`` early vs late in the run."""
    names = [n for n in ds.data_vars if n.startswith("x_") and ds[n].dims[:1] == ("time",)]
    if not names or ds.sizes.get("time", 0) < 40:
        return []
    t = ds["time"].values
    cut_early, cut_late = t[len(t) // 10], t[-len(t) // 10]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        early = rate_correlations(ds, name, None, cut_early)
        late = rate_correlations(ds, name, cut_late, None)
        bins = np.linspace(-1, 1, 41)
        ax.hist(early, bins=bins, alpha=0.6, label=f"first 10 %: mean |r| {np.mean(np.abs(early)):.3f}")
        ax.hist(late, bins=bins, alpha=0.6, label=f"last 10 %: mean |r| {np.mean(np.abs(late)):.3f}")
        ax.set_xlabel(f"pairwise correlation of {name}")
        ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "rate_correlations")


def standard_figures(ds: xr.Dataset, out_dir: str | Path) -> list[Path]:
    """All standard figures that apply to this result; returns the files written."""
    out_dir = Path(out_dir)
    paths = []
    for plot in (plot_metrics, plot_teacher_scatter, plot_rate_correlations, plot_raster, plot_spike_statistics):
        paths += plot(ds, out_dir)
    return paths
