"""Learning curves across runs: alignment on epochs, seed statistics, speed."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr


def epochs(ds: xr.Dataset) -> np.ndarray:
    """Training epochs at each ``t_eval`` (presentations x trials / training-set size).

    Needs ``attrs['n_train']``; otherwise the presentation count is returned.
    """
    pres = ds["presentation"].values.astype(float)
    if "n_train" in ds.attrs and "trials" in ds.attrs:
        return pres * float(ds.attrs["trials"]) / float(ds.attrs["n_train"])
    return pres


def stack_runs(results: Sequence[xr.Dataset], metric: str, dim: str = "seed") -> xr.DataArray:
    """One metric of several runs (same schedule) stacked along ``dim``."""
    if not results:
        raise ValueError("no results to stack")
    arrays = [ds[metric].assign_coords(t_eval=ds["t_eval"].values) for ds in results]
    return xr.concat(arrays, dim=dim)


def mean_and_spread(curves: xr.DataArray, dim: str = "seed") -> xr.Dataset:
    """Mean, standard deviation and standard error over ``dim``."""
    n = curves.sizes[dim]
    sd = curves.std(dim, ddof=1) if n > 1 else xr.zeros_like(curves.isel({dim: 0}))
    return xr.Dataset({"mean": curves.mean(dim), "sd": sd, "sem": sd / np.sqrt(n)})


def time_to_fraction_of_peak(curve: np.ndarray, x: np.ndarray, fraction: float = 0.99) -> float:
    """First ``x`` at which ``curve`` reaches ``fraction`` of its own peak.

    Parameters
    ----------
    curve : ndarray
        E.g. test accuracy per evaluation.
    x : ndarray
        Matching epochs (or presentations, seconds).
    fraction : float
        0.99 gives "epochs to 99 % of peak".
    """
    curve = np.asarray(curve, float)
    ok = np.isfinite(curve)
    if not ok.any():
        return float("nan")
    level = fraction * np.nanmax(curve)
    hit = np.flatnonzero(ok & (curve >= level))
    return float(np.asarray(x)[hit[0]])


def time_to_level(curve: np.ndarray, x: np.ndarray, level: float) -> float:
    """First ``x`` at which ``curve`` reaches ``level`` (NaN if it never does).

    Parameters
    ----------
    curve : ndarray
        E.g. test accuracy per evaluation.
    x : ndarray
        Matching epochs, presentations or seconds.
    level : float
        Absolute level, e.g. 0.97 for 97 % accuracy.
    """
    hit = np.flatnonzero(np.asarray(curve, float) >= level)
    return float(np.asarray(x)[hit[0]]) if hit.size else float("nan")


def training_seconds(ds: xr.Dataset) -> np.ndarray:
    """Wall time (s) spent training up to each ``t_eval``, test evaluations excluded.

    A rate run's training time (``wall_time_s - eval_time_s``) spread evenly
    over its presentations: every presentation costs the same. A
    ``cpp_standalone`` spiking run's set-up (code generation, compilation,
    reading the results: ``wall_time_s - standalone_binary_time_s``) counts
    before the first presentation, its simulation time spread evenly.
    """
    pres = ds["presentation"].values.astype(float)
    wall = float(ds.attrs["wall_time_s"])
    if "standalone_binary_time_s" in ds.attrs:
        binary = float(ds.attrs["standalone_binary_time_s"])
        return (wall - binary) + pres * binary / max(pres[-1], 1.0)
    train = wall - float(ds.attrs.get("eval_time_s", 0.0))
    return pres * train / max(pres[-1], 1.0)
