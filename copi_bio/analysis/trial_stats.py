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
* the **Fano factor** (:func:`fano_factor`): variance (ddof 1) over mean of a unit's counts in one
  condition, averaged over units and conditions, zero means left out;
* distributions of rates, ISI CV and ``r_sc`` with two-sample scores (:func:`effect_size`,
  :func:`ks_distance`), as NetworkUnit scores them.

Every summary comes as an :class:`Estimate`: the value and a 95 % percentile interval from a
bootstrap that respects shared cells: sessions are resampled with replacement and, within each drawn
session, its units; a pair enters a draw with weight ``m_a m_b`` (how often each of its two units was
drawn), a unit with weight ``m``. Pairs are never resampled as if they were independent.

Nothing here runs a simulation or reads a file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import xarray as xr
from scipy import stats

from ..errors import CopiBioError
from ..trials import check_trial_counts

N_BOOT = 1000
"""Bootstrap draws of every interval."""
SIMILAR, DISSIMILAR = 0.5, 0.0
"""Signal-correlation bounds of similarly (above) and dissimilarly (below) tuned pairs."""
EVOKED = (0.0, 0.5)
"""The evoked epoch of ``rsc_mean`` and the windows (s after onset): the 500 ms of the V1 gratings."""


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % bootstrap interval.

    Attributes
    ----------
    value : float
        The statistic on all the data.
    ci_low, ci_high : float
        2.5 and 97.5 percentiles over bootstrap draws (units within sessions, and sessions).
    n : int
        Pairs or units (or unit-condition cells) the value averages.
    n_units, n_sessions : int
        Units and sessions behind it.
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    n_units: int
    n_sessions: int

    def as_dict(self) -> dict:
        """The fields as a dict."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}]"


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


def _session_codes(counts: xr.DataArray) -> np.ndarray:
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
    codes = _session_codes(counts)
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
    x = window_counts(counts, start, stop)
    with np.errstate(invalid="ignore"), _quiet():
        rates = np.nanmean(x.reshape(x.shape[0], -1), axis=1) / (stop - start)
        means = np.nanmean(x, axis=2)

    def per_session(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"r_sc": _noise_matrix(x[idx]), "rate": np.sqrt(np.outer(rates[idx], rates[idx])),
                "signal": _signal_matrix(means[idx])}

    return _pairs_of(counts, per_session)


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
        with np.errstate(invalid="ignore"), _quiet():
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
    with np.errstate(invalid="ignore"), _quiet():
        means = np.nanmean(even, axis=2)

    def per_session(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"r_sc": _noise_matrix(odd[idx]), "signal": _signal_matrix(means[idx])}

    return _pairs_of(counts, per_session)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings (an all-NaN pair stays NaN)."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


# --- the bootstrap --------------------------------------------------------------------------------


class Resampler:
    """Bootstrap draws over sessions and, within each drawn session, over its units.

    Parameters
    ----------
    sessions : ndarray of int
        Session code of every unit.
    n_boot : int
        Draws.
    seed : int
        Seed of the draws (the same seed gives the same intervals).
    """

    def __init__(self, sessions: np.ndarray, n_boot: int = N_BOOT, seed: int = 0):
        self.sessions = np.asarray(sessions)
        self.n_boot = n_boot
        self.seed = seed
        self.members = [np.flatnonzero(self.sessions == s) for s in np.unique(self.sessions)]

    def draws(self) -> Iterator[list[tuple[np.ndarray, np.ndarray]]]:
        """Each draw: a list of (units of a drawn session, how often each was drawn) per drawn session."""
        rng = np.random.default_rng(self.seed)
        k = len(self.members)
        for _ in range(self.n_boot):
            chosen = rng.integers(0, k, k) if k > 1 else np.zeros(1, int)
            draw = []
            for s in chosen:
                idx = self.members[s]
                draw.append((idx, np.bincount(rng.integers(0, idx.size, idx.size), minlength=idx.size)))
            yield draw

    def unit_weights(self, n_units: int) -> Iterator[np.ndarray]:
        """Weight of every unit in each draw."""
        for draw in self.draws():
            w = np.zeros(n_units)
            for idx, m in draw:
                w[idx] += m
            yield w

    def pair_weights(self, a: np.ndarray, b: np.ndarray, n_units: int) -> Iterator[np.ndarray]:
        """Weight ``sum over drawn copies of m_a m_b`` of every pair ``(a, b)`` in each draw."""
        session_of_pair = self.sessions[a]
        by_session = {int(self.sessions[idx[0]]): np.flatnonzero(session_of_pair == self.sessions[idx[0]])
                      for idx in self.members}
        for draw in self.draws():
            w = np.zeros(a.size)
            m_all = np.zeros(n_units)
            for idx, m in draw:
                pairs = by_session[int(self.sessions[idx[0]])]
                m_all[idx] = m
                w[pairs] += m_all[a[pairs]] * m_all[b[pairs]]
            yield w


def _interval(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(values) & (w > 0)
    return float(np.sum(values[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else float("nan")


def pair_estimate(table: PairTable, counts: xr.DataArray, name: str = "r_sc", select: np.ndarray | None = None,
                  n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Mean of a per-pair value (over pairs where it is finite, optionally a selection) with its interval."""
    values = np.asarray(table.values[name], float)
    if select is not None:
        values = np.where(select, values, np.nan)
    codes = _session_codes(counts)
    n_units = counts.sizes["unit"]
    boot = [_weighted_mean(values, w) for w in Resampler(codes, n_boot, seed).pair_weights(table.a, table.b, n_units)]
    ok = np.isfinite(values)
    units = np.unique(np.concatenate([table.a[ok], table.b[ok]]))
    return Estimate(_weighted_mean(values, np.ones(values.size)), *_interval(boot), int(ok.sum()), int(units.size),
                    int(np.unique(codes[units]).size))


def ratio_estimate(num: PairTable, den: PairTable, counts: xr.DataArray, name: str = "r_sc",
                   n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Ratio of the mean of ``num``'s values over the mean of ``den``'s (same pairs), with its interval
    (both means from the same draw)."""
    x, y = np.asarray(num.values[name], float), np.asarray(den.values[name], float)
    codes = _session_codes(counts)
    boot = [_weighted_mean(x, w) / _weighted_mean(y, w)
            for w in Resampler(codes, n_boot, seed).pair_weights(num.a, num.b, counts.sizes["unit"])]
    ok = np.isfinite(x) & np.isfinite(y)
    units = np.unique(np.concatenate([num.a[ok], num.b[ok]]))
    one = np.ones(x.size)
    return Estimate(_weighted_mean(x, one) / _weighted_mean(y, one), *_interval(boot), int(ok.sum()),
                    int(units.size), int(np.unique(codes[units]).size))


def difference_estimate(table: PairTable, counts: xr.DataArray, first: np.ndarray, second: np.ndarray,
                        name: str = "r_sc", n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Mean of ``name`` over pairs in ``first`` minus its mean over pairs in ``second``, with its interval."""
    v = np.asarray(table.values[name], float)
    x, y = np.where(first, v, np.nan), np.where(second, v, np.nan)
    codes = _session_codes(counts)
    boot = [_weighted_mean(x, w) - _weighted_mean(y, w)
            for w in Resampler(codes, n_boot, seed).pair_weights(table.a, table.b, counts.sizes["unit"])]
    ok = np.isfinite(v) & (first | second)
    units = np.unique(np.concatenate([table.a[ok], table.b[ok]]))
    one = np.ones(v.size)
    return Estimate(_weighted_mean(x, one) - _weighted_mean(y, one), *_interval(boot), int(ok.sum()),
                    int(units.size), int(np.unique(codes[units]).size))


def unit_estimate(values: np.ndarray, counts: xr.DataArray, n_boot: int = N_BOOT, seed: int = 0,
                  cells: np.ndarray | None = None) -> Estimate:
    """Mean of a per-unit value; with ``cells`` (a per-unit count of the cells a unit's value sums), the
    mean over cells of per-unit sums ``values`` (a flat mean over unit-condition cells)."""
    values = np.asarray(values, float)
    cells = np.ones(values.size) if cells is None else np.asarray(cells, float)
    ok = np.isfinite(values) & (cells > 0)
    codes = _session_codes(counts)

    def mean(w: np.ndarray) -> float:
        w = w * ok
        return float(np.sum(np.where(ok, values, 0.0) * w) / np.sum(cells * w)) if np.sum(cells * w) > 0 \
            else float("nan")

    boot = [mean(w) for w in Resampler(codes, n_boot, seed).unit_weights(values.size)]
    return Estimate(mean(np.ones(values.size)), *_interval(boot), int(cells[ok].sum()), int(ok.sum()),
                    int(np.unique(codes[ok]).size))


def fano_factor(counts: xr.DataArray, start: float, stop: float, n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Fano factor in ``[start, stop)``: the mean over units and conditions of the variance (ddof 1) over
    the mean of a unit's counts across repeats; conditions with zero mean or fewer than two repeats left out."""
    x = window_counts(counts, start, stop)
    n = np.isfinite(x).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        mean = np.nanmean(x, axis=2)
        ff = np.nanvar(x, axis=2, ddof=1) / mean
    ok = (n >= 2) & (mean > 0) & np.isfinite(ff)
    return unit_estimate(np.where(ok, ff, 0.0).sum(axis=1), counts, n_boot, seed, cells=ok.sum(axis=1))


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


# --- two-sample scores ----------------------------------------------------------------------------


def effect_size(x: np.ndarray, y: np.ndarray) -> Estimate:
    """Cohen's d of two samples (``x`` minus ``y`` over the pooled SD) with its 95 % interval from the
    normal approximation of its standard error, ``sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2)))``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n1, n2 = x.size, y.size
    if min(n1, n2) < 2:
        raise CopiBioError(f"effect size needs two samples of at least 2 values; got {n1} and {n2}")
    pooled = np.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    d = float((x.mean() - y.mean()) / pooled) if pooled > 0 else float("nan")
    se = np.sqrt((n1 + n2) / (n1 * n2) + d ** 2 / (2 * (n1 + n2)))
    return Estimate(d, d - 1.96 * se, d + 1.96 * se, n1 + n2, n1 + n2, 0)


def ks_distance(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kolmogorov-Smirnov distance of two samples and its p-value (two-sided)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    res = stats.ks_2samp(x[np.isfinite(x)], y[np.isfinite(y)])
    return float(res.statistic), float(res.pvalue)


# --- the statistics of a recording ----------------------------------------------------------------

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
