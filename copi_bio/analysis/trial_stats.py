"""The papers' measures on trial-aligned spike counts, the same code for a model run and a recording.

Every function takes a trial-count array (:mod:`copi_bio.trials`: dims ``unit, condition, repeat,
time``) and counts spikes in a window ``[start, stop)`` s relative to stimulus onset (the bins whose
centres fall in it). The measures:

* **noise correlation** ``r_sc`` of a pair (:func:`noise_correlations`): each unit's counts z-scored
  within each condition over its repeats, then pooled over conditions; Pearson's r of the pooled
  z-scores. A condition in which either unit's count has zero variance (or that has fewer than two
  repeats) is left out of that pair. Pairs are formed only within a session;
* its dependence on the **counting window** (:func:`rsc_by_window`: non-overlapping windows of width
  ``W`` tiling the epoch, ``r_sc`` per window position averaged over positions), on the pair's
  geometric-mean **rate**, and on **signal correlation** (the Pearson correlation, over conditions, of
  the two units' mean counts), the latter also with signal correlations from one half of the repeats
  and noise correlations from the other (:func:`split_half_signal_noise`);
* the **ISI CV** of every unit (:func:`isi_cv`).

Summaries with intervals that respect shared cells are in :mod:`copi_bio.analysis.resampling`, the
statistics of a recording in :mod:`copi_bio.analysis.recording_statistics`. Nothing here runs a
simulation or reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import xarray as xr

from ..errors import CopiBioError
from ..trials import check_trial_counts

SIMILAR, DISSIMILAR = 0.5, 0.0
"""Signal-correlation bounds of similarly (above) and dissimilarly (below) tuned pairs."""
EVOKED = (0.0, 0.5)
"""The evoked epoch of ``rsc_mean`` and the windows (s after onset): the 500 ms of the V1 gratings."""


def single_units(counts: xr.DataArray, max_contamination: float = 0.05) -> xr.DataArray:
    """Units whose ``contamination`` is below ``max_contamination`` (all units when it is not known)."""
    if "contamination" not in counts.coords:
        return counts
    keep = np.asarray(counts["contamination"].values, float) < max_contamination
    return counts.isel(unit=np.flatnonzero(keep))


_CUMULATIVE: list = []
"""The running sum over time of the last array counted (its values array and the sum), so that many
windows of one array cost one pass over it."""


def _cumulative(counts: xr.DataArray) -> np.ndarray:
    values = counts.values
    if not (_CUMULATIVE and _CUMULATIVE[0] is values):
        running = np.zeros(values.shape[:-1] + (values.shape[-1] + 1,), dtype=np.float64)
        np.cumsum(values, axis=-1, dtype=np.float64, out=running[..., 1:])
        _CUMULATIVE[:] = [values, running]
    return _CUMULATIVE[1]


def window_counts(counts: xr.DataArray, start: float, stop: float) -> np.ndarray:
    """Spike counts in ``[start, stop)`` s after onset, ``(unit, condition, repeat)``; NaN for missing trials.

    The window must fall on the bin edges of the array.
    """
    check_trial_counts(counts, values=False)
    t = counts["time"].values
    width = float(counts.attrs["bin_width"])
    lo = t[0] - width / 2
    first, last = (start - lo) / width, (stop - lo) / width
    if start < lo - 1e-9 or last > t.size + 1e-6 or last - first < 1 - 1e-6:
        raise CopiBioError(f"counting window [{start:g}, {stop:g}) s is outside the counts' "
                           f"[{lo:g}, {t[-1] + width / 2:g}) s around onset")
    if abs(first - round(first)) > 1e-6 or abs(last - round(last)) > 1e-6:
        raise CopiBioError(f"counting window [{start:g}, {stop:g}) s does not fall on the {width:g} s bin edges")
    running = _cumulative(counts)
    return running[..., int(round(last))] - running[..., int(round(first))]


def session_codes(counts: xr.DataArray) -> np.ndarray:
    _, codes = np.unique(counts["session"].values.astype(str), return_inverse=True)
    return codes.ravel()


@dataclass
class PairTable:
    """Per-pair values of one measure: unit indices ``a``, ``b`` (into ``unit``), ``session`` codes and a
    dict ``values`` of equal-length arrays (``r_sc``, ``rate``, ``signal``, ...)."""

    a: np.ndarray
    b: np.ndarray
    session: np.ndarray
    values: dict[str, np.ndarray]

    def to_dataset(self, counts: xr.DataArray) -> xr.Dataset:
        """The table as a Dataset along ``pair`` (unit labels and session names as coordinates)."""
        units = counts["unit"].values
        return xr.Dataset({k: ("pair", v) for k, v in self.values.items()},
                          coords={"unit_a": ("pair", units[self.a]), "unit_b": ("pair", units[self.b]),
                                  "session": ("pair", counts["session"].values[self.a])})


def _sessions(counts: xr.DataArray) -> Iterator[tuple[int, np.ndarray]]:
    codes = session_codes(counts)
    for s in np.unique(codes):
        yield int(s), np.flatnonzero(codes == s)


def _noise_matrix(x: np.ndarray) -> np.ndarray:
    """Noise correlations of all units of one session from counts ``(unit, condition, repeat)``."""
    finite = np.isfinite(x)
    n = finite.sum(axis=2)
    mean = np.nansum(x, axis=2) / np.maximum(n, 1)
    dev = np.where(finite, x - mean[..., None], 0.0)
    sd = np.sqrt((dev ** 2).sum(axis=2) / np.maximum(n, 1))
    valid = (sd > 1e-12) & (n >= 2)
    z = np.where(valid[..., None], dev / np.where(valid, sd, 1.0)[..., None], 0.0)
    num = np.einsum("icr,jcr->ij", z, z)
    both = finite.astype(float)
    den = np.einsum("icr,jcr->ij", both * valid[..., None], both * valid[..., None])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _pairs_of(counts: xr.DataArray, per_session: Callable[[np.ndarray], dict[str, np.ndarray]]) -> PairTable:
    """Apply ``per_session(unit_indices) -> {name: (units, units) matrix}`` and collect the upper triangles."""
    a, b, sess, values = [], [], [], {}
    for s, idx in _sessions(counts):
        if idx.size < 2:
            continue
        mats = per_session(idx)
        i, j = np.triu_indices(idx.size, 1)
        a.append(idx[i])
        b.append(idx[j])
        sess.append(np.full(i.size, s))
        for name, m in mats.items():
            values.setdefault(name, []).append(m[i, j])
    if not a:
        raise CopiBioError("no session holds two or more units: noise correlations need simultaneously "
                           "recorded pairs")
    return PairTable(np.concatenate(a), np.concatenate(b), np.concatenate(sess),
                     {k: np.concatenate(v) for k, v in values.items()})


def unit_rates(counts: xr.DataArray, start: float = EVOKED[0], stop: float = EVOKED[1]) -> np.ndarray:
    """Mean rate (Hz) of every unit in ``[start, stop)``, over all its trials."""
    x = window_counts(counts, start, stop)
    with np.errstate(invalid="ignore"):
        return np.nanmean(x.reshape(x.shape[0], -1), axis=1) / (stop - start)


def _signal_matrix(means: np.ndarray) -> np.ndarray:
    """Pearson correlation over conditions of units' mean counts ``(unit, condition)``; conditions not
    shown (NaN) are left out; NaN for a unit whose means do not vary."""
    shown = np.all(np.isfinite(means), axis=0)
    m = means[:, shown]
    m = m - m.mean(axis=1, keepdims=True)
    norm = np.sqrt((m ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (m @ m.T) / np.outer(norm, norm)


def noise_correlations(counts: xr.DataArray, start: float = EVOKED[0], stop: float = EVOKED[1]) -> PairTable:
    """Noise correlation, geometric-mean rate (Hz) and signal correlation of every pair within a session.

    Parameters
    ----------
    counts : xarray.DataArray
        Trial counts.
    start, stop : float
        Counting window (s after onset).

    Returns
    -------
    PairTable
        ``values``: ``r_sc`` (NaN where no condition is valid for both units), ``rate`` (Hz, geometric
        mean of the two units' rates in the window), ``signal`` (correlation of condition means of the
        same counts, all repeats).
    """
    key = (round(start, 9), round(stop, 9))
    if not (_TABLES and _TABLES[0] is counts.values):
        _TABLES[:] = [counts.values, {}]
    if key in _TABLES[1]:
        return _TABLES[1][key]
    x = window_counts(counts, start, stop)
    with np.errstate(invalid="ignore"), quiet():
        rates = np.nanmean(x.reshape(x.shape[0], -1), axis=1) / (stop - start)
        means = np.nanmean(x, axis=2)

    def per_session(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"r_sc": _noise_matrix(x[idx]), "rate": np.sqrt(np.outer(rates[idx], rates[idx])),
                "signal": _signal_matrix(means[idx])}

    table = _TABLES[1][key] = _pairs_of(counts, per_session)
    return table


_TABLES: list = []
"""The pair tables of :func:`noise_correlations` of the last array measured (its values array and a dict
window -> table), so that the statistics and scores of one array count each window once. A returned
table is shared: callers never change it in place."""


def rsc_by_window(counts: xr.DataArray, widths: Sequence[float], start: float = EVOKED[0],
                  stop: float = EVOKED[1]) -> dict[float, PairTable]:
    """Noise correlations in non-overlapping windows of each width tiling ``[start, stop)``.

    For each width ``W`` the ``floor((stop - start) / W)`` windows from ``start`` give one ``r_sc`` per pair
    each; the pair's value is their mean over window positions.
    """
    out = {}
    for w in widths:
        n = int(np.floor((stop - start) / w + 1e-9))
        if n < 1:
            raise CopiBioError(f"window {w:g} s is longer than the epoch [{start:g}, {stop:g}) s")
        tables = [noise_correlations(counts, start + k * w, start + (k + 1) * w) for k in range(n)]
        with np.errstate(invalid="ignore"), quiet():
            r = np.nanmean(np.stack([t.values["r_sc"] for t in tables]), axis=0)
        first = tables[0]
        out[float(w)] = PairTable(first.a, first.b, first.session, {"r_sc": r, "rate": first.values["rate"]})
    return out


def split_half_signal_noise(counts: xr.DataArray, start: float = EVOKED[0], stop: float = EVOKED[1]
                            ) -> PairTable:
    """Signal correlations from the even repeats of every condition, noise correlations from the odd ones
    (so the two are estimated from separate trials)."""
    x = window_counts(counts, start, stop)
    rank = np.cumsum(np.isfinite(x), axis=2) - 1  # the index of each trial among a condition's trials
    even = np.where(np.isfinite(x) & (rank % 2 == 0), x, np.nan)
    odd = np.where(np.isfinite(x) & (rank % 2 == 1), x, np.nan)
    with np.errstate(invalid="ignore"), quiet():
        means = np.nanmean(even, axis=2)

    def per_session(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"r_sc": _noise_matrix(odd[idx]), "signal": _signal_matrix(means[idx])}

    return _pairs_of(counts, per_session)


class quiet:
    """Silence numpy's 'mean of empty slice' warnings (an all-NaN pair stays NaN)."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)




def isi_cv(counts: xr.DataArray, start: float = EVOKED[0], stop: float = EVOKED[1], min_intervals: int = 10
           ) -> np.ndarray:
    """Coefficient of variation of every unit's inter-spike intervals within trials, spikes taken at their
    bin centres (so intervals below a bin are 0: a bin-resolution estimate, the same for model and
    recording). NaN for units with fewer than ``min_intervals`` intervals."""
    check_trial_counts(counts)
    t = counts["time"].values
    sel = (t >= start - 1e-9) & (t < stop - 1e-9)
    x = counts.values[..., sel]
    out = np.full(x.shape[0], np.nan)
    for u in range(x.shape[0]):
        trials = x[u].reshape(-1, sel.sum())
        trials = trials[np.all(np.isfinite(trials), axis=1)].astype(int)
        isis = [np.diff(np.repeat(t[sel], row)) for row in trials if row.sum() >= 2]
        isis = np.concatenate(isis) if isis else np.zeros(0)
        if isis.size >= min_intervals and isis.mean() > 0:
            out[u] = isis.std() / isis.mean()
    return out


