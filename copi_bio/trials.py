"""Trial-aligned spike counts: the one structure that model runs and recordings share.

A trial-count array is an :class:`xarray.DataArray` named ``trial_counts`` with dims
``(unit, condition, repeat, time)``:

* ``unit``: one entry per recorded cell, with coordinates ``session`` (str; pairs of cells are formed
  only within a session, since only those were recorded simultaneously), and where known
  ``contamination`` (fraction of spikes from other cells; NaN where unknown) and ``tetrode`` (-1
  where unknown);
* ``condition``: one entry per stimulus condition, with one coordinate per stimulus parameter
  (e.g. ``orientation`` in degrees and ``contrast``);
* ``repeat``: repeats of a condition, in the order shown; sessions and conditions with fewer repeats
  than the longest are padded with NaN, so a missing trial is always NaN and never a zero count;
* ``time``: bin centres in seconds relative to stimulus onset (negative before onset), attribute
  ``bin_width`` (s).

Values are spike counts per bin (float32, NaN where a trial does not exist). Nothing here reads a
file or runs a simulation: :mod:`copi_bio.analysis.trial_io` reads recordings into this structure,
the spiking backends bin their spikes into it with :func:`bin_trials`, and
:mod:`copi_bio.analysis.trial_stats` measures it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from .errors import CopiBioError

DIMS = ("unit", "condition", "repeat", "time")
BIN_WIDTH = 0.01
"""Default bin width of trial counts (s), that of the V1 recordings."""


def make_trial_counts(counts: np.ndarray, times: np.ndarray, bin_width: float,
                      sessions: Sequence[str], conditions: Mapping[str, Sequence],
                      unit_coords: Mapping[str, Sequence] | None = None,
                      attrs: Mapping | None = None) -> xr.DataArray:
    """Build a trial-count array and check it (see the module docstring for the layout).

    Parameters
    ----------
    counts : ndarray, ``(unit, condition, repeat, time)``
        Spike counts per bin; NaN where a trial does not exist.
    times : ndarray
        Bin centres (s) relative to stimulus onset.
    bin_width : float
        Bin width (s).
    sessions : sequence of str
        Session of every unit.
    conditions : mapping of str to sequence
        Stimulus parameters, one sequence of values per parameter, each as long as ``condition``.
    unit_coords : mapping, optional
        Further per-unit coordinates (``contamination``, ``tetrode``, ``population``, ...).
    attrs : mapping, optional
        Attributes (``source`` and the like).
    """
    counts = np.asarray(counts, dtype=np.float32)
    coords: dict = {"unit": np.arange(counts.shape[0]) if counts.ndim == 4 else None,
                    "session": ("unit", np.asarray([str(s) for s in sessions])),
                    "time": np.asarray(times, dtype=float)}
    for name, values in (unit_coords or {}).items():
        coords[name] = ("unit", np.asarray(values))
    for name, values in conditions.items():
        coords[name] = ("condition", np.asarray(values))
    if counts.ndim != 4:
        raise CopiBioError(f"trial counts need 4 dims {DIMS}; got shape {counts.shape}")
    da = xr.DataArray(counts, dims=DIMS, coords=coords, name="trial_counts",
                      attrs={"bin_width": float(bin_width), "bin_width_units": "s",
                             "long_name": "spike count per bin, aligned to stimulus onset", "units": "spikes",
                             **dict(attrs or {})})
    check_trial_counts(da)
    return da


def check_trial_counts(da: xr.DataArray, name: str = "trial counts", values: bool = True) -> None:
    """Raise :class:`CopiBioError` naming what is wrong if ``da`` is not a trial-count array (with
    ``values`` False, its layout only, without a pass over the counts)."""
    if not isinstance(da, xr.DataArray) or tuple(da.dims) != DIMS:
        dims = getattr(da, "dims", None)
        raise CopiBioError(f"{name}: dims must be {DIMS}, got {dims}")
    width = da.attrs.get("bin_width")
    if not isinstance(width, (int, float, np.floating)) or not np.isfinite(width) or width <= 0:
        raise CopiBioError(f"{name}: attribute bin_width must be a positive number of seconds, got {width!r}")
    if "session" not in da.coords or da.coords["session"].dims != ("unit",):
        raise CopiBioError(f"{name}: the unit dimension needs a 'session' coordinate")
    t = da["time"].values
    if t.size == 0 or not np.all(np.diff(t) > 0):
        raise CopiBioError(f"{name}: time must hold increasing bin centres (s), got {t[:5]}...")
    if not np.allclose(np.diff(t), width, rtol=1e-3, atol=1e-9):
        raise CopiBioError(f"{name}: bin centres are not {width} s apart (bin_width)")
    if not values:
        return
    finite = da.values[np.isfinite(da.values)]
    if finite.size and (finite.min() < 0 or not np.all(finite == np.round(finite))):
        raise CopiBioError(f"{name}: counts must be non-negative whole numbers (NaN marks a missing trial)")


def bin_trials(times: np.ndarray, indices: np.ndarray, n_units: int, onsets: np.ndarray,
               condition_of_trial: np.ndarray, n_conditions: int, before: float, after: float,
               bin_width: float = BIN_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Bin spike times around stimulus onsets into ``(unit, condition, repeat, time)`` counts.

    Parameters
    ----------
    times, indices : ndarray
        Spike times (s) and the unit that fired each spike.
    n_units : int
        Number of units (silent ones get zero counts).
    onsets : ndarray
        Onset time (s) of every trial.
    condition_of_trial : ndarray of int
        Condition (``0 .. n_conditions - 1``) of every trial; repeats are numbered in order of onset.
    n_conditions : int
        Number of conditions.
    before, after : float
        The window around each onset, ``[onset - before, onset + after)`` s; both whole multiples of
        ``bin_width``.
    bin_width : float
        Bin width (s).

    Returns
    -------
    counts : ndarray, float32
        NaN for the repeats a condition was not shown.
    centres : ndarray
        Bin centres (s) relative to onset.
    """
    onsets = np.asarray(onsets, dtype=float)
    cond = np.asarray(condition_of_trial, dtype=int)
    n_before, n_after = before / bin_width, after / bin_width
    if min(n_before, n_after) < -1e-9 or abs(n_before - round(n_before)) > 1e-6 or \
            abs(n_after - round(n_after)) > 1e-6 or round(n_before) + round(n_after) < 1:
        raise CopiBioError(f"trial window {before} s before and {after} s after onset must be whole, non-negative "
                           f"multiples of the bin width {bin_width} s")
    if cond.shape != onsets.shape or (cond.size and (cond.min() < 0 or cond.max() >= n_conditions)):
        raise CopiBioError(f"condition_of_trial must give a condition in 0..{n_conditions - 1} for every onset")
    n_bins = int(round(n_before)) + int(round(n_after))
    order = np.argsort(onsets, kind="stable")
    repeat = np.zeros(onsets.size, dtype=int)
    seen = np.zeros(n_conditions, dtype=int)
    for k in order:
        repeat[k] = seen[cond[k]]
        seen[cond[k]] += 1
    counts = np.full((n_units, n_conditions, int(seen.max(initial=0)), n_bins), np.nan, dtype=np.float32)
    counts[:, cond, repeat, :] = 0.0
    times = np.asarray(times, dtype=float)
    indices = np.asarray(indices, dtype=int)
    sorted_onsets = onsets[order]
    # each spike belongs to the latest onset at or before spike + before (trials do not overlap)
    k = np.searchsorted(sorted_onsets, times + before + 1e-12, side="right") - 1
    valid = k >= 0
    trial = order[np.clip(k, 0, None)]
    b = np.floor((times - onsets[trial] + before) / bin_width + 1e-9).astype(int)
    valid &= (b >= 0) & (b < n_bins)
    np.add.at(counts, (indices[valid], cond[trial[valid]], repeat[trial[valid]], b[valid]), 1.0)
    centres = (np.arange(n_bins) + 0.5) * bin_width - int(round(n_before)) * bin_width
    return counts, centres


def stimulus_conditions(stimuli: np.ndarray) -> np.ndarray:
    """Condition of every presentation: equal rows of ``stimuli`` (``(presentations, inputs)``) are one
    condition, numbered ``0, 1, ...`` in order of first appearance."""
    values = np.asarray(stimuli)
    if values.shape[0] == 0:
        return np.zeros(0, dtype=int)
    _, first, inverse = np.unique(values.reshape(values.shape[0], -1), axis=0, return_index=True,
                                  return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.ravel()].astype(int)


RESULT_PREFIX = "trial_counts_"
"""Name prefix of the trial counts a model run stores, ``trial_counts_<population>``."""


def result_populations_with_trials(ds: xr.Dataset) -> list[str]:
    """Populations whose trial counts a run's result Dataset stores (``trial_counts_<population>``)."""
    return [str(name)[len(RESULT_PREFIX):] for name in ds.data_vars if str(name).startswith(RESULT_PREFIX)]


def from_result(ds: xr.Dataset, population: str) -> xr.DataArray:
    """The trial counts of one population of a model run, as a standard trial-count array.

    A run stores ``trial_counts_<population>`` with dims ``(unit_<population>, condition, repeat,
    trial_time)``, unit coordinates ``session_<population>`` and ``neuron_index_<population>`` and the
    condition coordinate ``stimulus``; here the dims become :data:`DIMS`, the unit coordinates
    ``session`` and ``neuron``, and ``stimulus`` stays the condition coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        Result of a run (:func:`copi_bio.simulate` or :func:`copi_bio.open_result`).
    population : str
        Population name.

    Raises
    ------
    CopiBioError
        If the run stores no trial counts of ``population``; the message names the populations that
        have them, or why the run stored none (the result attribute ``trial_counts``).
    """
    name = f"{RESULT_PREFIX}{population}"
    if name not in ds.data_vars:
        have = result_populations_with_trials(ds)
        why = (f"populations with trial counts: {', '.join(have)}" if have else
               f"the run stored none ({ds.attrs['trial_counts']})" if "trial_counts" in ds.attrs else
               "the run stored none (only spiking chain runs whose stimuli repeat store them)")
        raise CopiBioError(f"the result has no trial counts of population {population!r}; {why}")
    var = ds[name]
    unit = f"unit_{population}"
    if tuple(var.dims) != (unit, "condition", "repeat", "trial_time"):
        raise CopiBioError(f"{name}: dims must be ({unit}, condition, repeat, trial_time), got {var.dims}")
    unit_coords = {"population": np.full(var.sizes[unit], population),
                   "neuron": var[f"neuron_index_{population}"].values}
    conditions = {str(c): var[c].values for c, coord in var.coords.items() if coord.dims == ("condition",)
                  and c != "condition"}
    attrs = {k: v for k, v in var.attrs.items() if k not in ("bin_width", "bin_width_units", "long_name", "units")}
    attrs.update({"population": population, "source": f"model run {ds.attrs.get('model_name', '')}".strip()})
    return make_trial_counts(var.values, var["trial_time"].values, float(var.attrs["bin_width"]),
                             var[f"session_{population}"].values, conditions, unit_coords=unit_coords, attrs=attrs)
