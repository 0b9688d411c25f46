"""The statistics of a recording (or a model run's trial counts) as the original studies count them.

:func:`statistics` gives every statistic of :data:`STATISTICS` with its interval; :func:`epochs` says
in which epochs around onset it counts; :func:`fano_factor` is the Fano factor of one epoch.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import CopiBioError
from ..trials import check_trial_counts
from .resampling import N_BOOT, Estimate, pair_estimate, unit_estimate
from .trial_stats import (DISSIMILAR, EVOKED, SIMILAR, noise_correlations, quiet, rsc_by_window, unit_rates,
                          window_counts)


def fano_cells(counts: xr.DataArray, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the sum of its Fano factors in ``[start, stop)`` over conditions and how many conditions
    entered (those with a non-zero mean and at least two repeats)."""
    x = window_counts(counts, start, stop)
    n = np.isfinite(x).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"), quiet():
        mean = np.nanmean(x, axis=2)
        ff = np.nanvar(x, axis=2, ddof=1) / mean
    ok = (n >= 2) & (mean > 0) & np.isfinite(ff)
    return np.where(ok, ff, 0.0).sum(axis=1), ok.sum(axis=1).astype(float)


def fano_factor(counts: xr.DataArray, start: float, stop: float, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Fano factor in ``[start, stop)``: the mean over units and conditions of the variance (ddof 1) over
    the mean of a unit's counts across repeats; conditions with zero mean or fewer than two repeats left out."""
    sums, cells = fano_cells(counts, start, stop)
    return unit_estimate(sums, counts, n_boot, seed, cells=cells)


WINDOWS_MS = (10, 20, 50, 100, 250, 500)
"""Counting windows (ms) of ``rsc_window_W``: non-overlapping windows tiling the evoked epoch."""
SPONTANEOUS = (-0.2, 0.0)
"""The spontaneous epoch (s): the 200 ms before onset."""
EVOKED_LATE = (0.3, 0.5)
"""The evoked epoch of ``rsc_evoked`` (s): 300-500 ms after onset, past the onset transient."""
FANO_BEFORE, FANO_AFTER = (-0.1, 0.0), (0.2, 0.3)
"""Epochs (s) of the Fano factors before and after onset (100 ms each)."""
STATISTICS = ("rsc_mean", *(f"rsc_window_{w}" for w in WINDOWS_MS), "rsc_spontaneous", "rsc_evoked",
              "rsc_similar", "rsc_dissimilar", "fano_before_onset", "fano_after_onset", "rate_mean")
"""The statistics of :func:`statistics`, in the order of ``recording_statistics.csv``."""


def _covers(counts: xr.DataArray, start: float, stop: float) -> bool:
    t, w = counts["time"].values, float(counts.attrs["bin_width"])
    return t[0] - w / 2 <= start + 1e-9 and stop - 1e-9 <= t[-1] + w / 2


def epochs(counts: xr.DataArray) -> dict[str, tuple[float, float]]:
    """The epochs (s around onset) the statistics count in, for these counts.

    With a stimulus of at least 500 ms after onset (the V1 recordings): ``evoked`` 0-500 ms,
    ``evoked_late`` 300-500 ms, ``fano_after`` 200-300 ms. A shorter presentation (a model shown
    stimuli of ``T`` < 500 ms) scales them to ``0-T``, ``0.6T-T`` and ``0.4T-0.6T`` (rounded to bins).
    ``spontaneous`` (-200-0 ms) and ``fano_before`` (-100-0 ms) are present only where the counts
    start that early.
    """
    t, w = counts["time"].values, float(counts.attrs["bin_width"])
    end = min(EVOKED[1], float(t[-1] + w / 2))
    if end <= EVOKED[0] + w / 2:
        raise CopiBioError(f"the counts end at {end:g} s after onset; the statistics need an evoked epoch")

    def at(fraction: float) -> float:
        return round(fraction * end / w) * w

    out = {"evoked": (EVOKED[0], end),
           "evoked_late": (at(EVOKED_LATE[0] / EVOKED[1]), end),
           "fano_after": (at(FANO_AFTER[0] / EVOKED[1]), at(FANO_AFTER[1] / EVOKED[1]))}
    if _covers(counts, *SPONTANEOUS):
        out["spontaneous"] = SPONTANEOUS
    if _covers(counts, *FANO_BEFORE):
        out["fano_before"] = FANO_BEFORE
    return out


def statistics(counts: xr.DataArray, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Estimate]:
    """The statistics of :data:`STATISTICS` with their intervals, each as the original studies count it.

    * ``rsc_mean``: noise correlation of counts 0-500 ms after onset, mean over pairs within sessions;
    * ``rsc_window_W``: the same from non-overlapping ``W`` ms windows tiling 0-500 ms (:func:`rsc_by_window`);
    * ``rsc_spontaneous``: from the 200 ms before onset; ``rsc_evoked``: from 300-500 ms after onset;
    * ``rsc_similar``, ``rsc_dissimilar``: ``rsc_mean`` of pairs whose signal correlation (of condition
      means of the 0-500 ms counts, all repeats) is above :data:`SIMILAR` or below :data:`DISSIMILAR`;
    * ``fano_before_onset``, ``fano_after_onset``: :func:`fano_factor` over -100-0 ms and 200-300 ms;
    * ``rate_mean``: mean over units of the 0-500 ms rate (Hz).

    The epochs are those of :func:`epochs` (scaled for presentations shorter than 500 ms); statistics
    whose epoch the counts do not cover (no spontaneous epoch, a window longer than the presentation)
    are left out. Select single units first (:func:`single_units`) where the data have contamination.
    """
    check_trial_counts(counts)
    ep = epochs(counts)
    out: dict[str, Estimate] = {}
    main = noise_correlations(counts, *ep["evoked"])
    out["rsc_mean"] = pair_estimate(main, counts, n_boot=n_boot, seed=seed)
    length = ep["evoked"][1] - ep["evoked"][0]
    widths = [w / 1e3 for w in WINDOWS_MS if w / 1e3 <= length + 1e-9]
    for w, table in rsc_by_window(counts, widths, *ep["evoked"]).items():
        out[f"rsc_window_{int(round(w * 1e3))}"] = pair_estimate(table, counts, n_boot=n_boot, seed=seed)
    if "spontaneous" in ep:
        out["rsc_spontaneous"] = pair_estimate(noise_correlations(counts, *ep["spontaneous"]), counts,
                                               n_boot=n_boot, seed=seed)
    out["rsc_evoked"] = pair_estimate(noise_correlations(counts, *ep["evoked_late"]), counts, n_boot=n_boot,
                                      seed=seed)
    signal = main.values["signal"]
    out["rsc_similar"] = pair_estimate(main, counts, select=signal > SIMILAR, n_boot=n_boot, seed=seed)
    out["rsc_dissimilar"] = pair_estimate(main, counts, select=signal < DISSIMILAR, n_boot=n_boot, seed=seed)
    if "fano_before" in ep:
        out["fano_before_onset"] = fano_factor(counts, *ep["fano_before"], n_boot=n_boot, seed=seed)
    out["fano_after_onset"] = fano_factor(counts, *ep["fano_after"], n_boot=n_boot, seed=seed)
    out["rate_mean"] = unit_estimate(unit_rates(counts, *ep["evoked"]), counts, n_boot=n_boot, seed=seed)
    return {k: out[k] for k in STATISTICS if k in out}
