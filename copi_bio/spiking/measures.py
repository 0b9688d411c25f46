"""Post-hoc measures of a spiking run: spike counts and their correlations."""

from __future__ import annotations

import numpy as np

from .. import metrics as m


def spike_counts(times: np.ndarray, idx: np.ndarray, n: int, start: float, stop: float,
                 window: float) -> np.ndarray:
    """Spike counts ``(windows, n)`` in consecutive windows of ``[start, stop)``."""
    n_win = int(np.floor((stop - start) / window + 1e-9))
    if n_win < 1:
        return np.zeros((0, n))
    edges = start + np.arange(n_win + 1) * window
    counts, _, _ = np.histogram2d(times, idx, bins=(edges, np.arange(n + 1) - 0.5))
    return counts


def count_correlation(counts: np.ndarray) -> tuple[float, float]:
    """Mean signed and mean absolute spike-count correlation ``r_sc`` over pairs.

    Neurons without count variance are left out.
    """
    if counts.shape[0] < 3:
        return float("nan"), float("nan")
    cov = np.cov(counts, rowvar=False)
    corr = m.correlation_from_covariance(np.atleast_2d(cov))
    vals = m.upper_pairs(corr)
    if not vals.size:
        return float("nan"), float("nan")
    return float(vals.mean()), float(np.abs(vals).mean())


def isi_cv(times: np.ndarray, idx: np.ndarray, min_spikes: int = 5) -> float:
    """Mean coefficient of variation of inter-spike intervals over neurons with ``min_spikes`` or more.

    The CV of a neuron is the population standard deviation of its intervals
    over their mean (neurons whose mean interval is 0 are left out).
    """
    if times.size == 0:
        return float("nan")
    order = np.lexsort((times, idx))
    times, idx = times[order], idx[order]
    same = idx[1:] == idx[:-1]  # interval k lies between spikes k and k + 1 of one neuron
    isi, owner = np.diff(times)[same], idx[1:][same]
    cells, owner = np.unique(owner, return_inverse=True)
    n = np.bincount(owner).astype(float)
    mean = np.bincount(owner, isi) / n
    var = np.bincount(owner, (isi - mean[owner]) ** 2) / n
    keep = (n + 1 >= min_spikes) & (mean > 0)
    return float(np.mean(np.sqrt(var[keep]) / mean[keep])) if keep.any() else float("nan")
