"""Estimates with 95 % intervals from a bootstrap that respects shared cells, and two-sample scores.

Every summary comes as an :class:`Estimate`: the value and a 95 % percentile interval from a
bootstrap over sessions and, within each drawn session, over its units; a pair enters a draw with
weight ``m_a m_b`` (how often each of its two units was drawn), a unit with weight ``m``. Pairs are
never resampled as if they were independent. Two samples (a model's and a recording's rates, CVs or
``r_sc``) are compared by :func:`effect_size` and :func:`ks_distance`, as NetworkUnit scores them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import xarray as xr
from scipy import stats

from ..errors import CopiBioError
from .trial_stats import PairTable, session_codes

N_BOOT = 1000
"""Bootstrap draws of every interval."""


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


def percentile_interval(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def weighted_mean(values: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(values) & (w > 0)
    return float(np.sum(values[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else float("nan")


def pair_estimate(table: PairTable, counts: xr.DataArray, name: str = "r_sc", select: np.ndarray | None = None,
                  n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Mean of a per-pair value (over pairs where it is finite, optionally a selection) with its interval."""
    values = np.asarray(table.values[name], float)
    if select is not None:
        values = np.where(select, values, np.nan)
    codes = session_codes(counts)
    n_units = counts.sizes["unit"]
    boot = [weighted_mean(values, w) for w in Resampler(codes, n_boot, seed).pair_weights(table.a, table.b, n_units)]
    ok = np.isfinite(values)
    units = np.unique(np.concatenate([table.a[ok], table.b[ok]]))
    return Estimate(weighted_mean(values, np.ones(values.size)), *percentile_interval(boot), int(ok.sum()), int(units.size),
                    int(np.unique(codes[units]).size))


def ratio_estimate(num: PairTable, den: PairTable, counts: xr.DataArray, name: str = "r_sc",
                   n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Ratio of the mean of ``num``'s values over the mean of ``den``'s (same pairs), with its interval
    (both means from the same draw)."""
    x, y = np.asarray(num.values[name], float), np.asarray(den.values[name], float)
    codes = session_codes(counts)
    boot = [weighted_mean(x, w) / weighted_mean(y, w)
            for w in Resampler(codes, n_boot, seed).pair_weights(num.a, num.b, counts.sizes["unit"])]
    ok = np.isfinite(x) & np.isfinite(y)
    units = np.unique(np.concatenate([num.a[ok], num.b[ok]]))
    one = np.ones(x.size)
    return Estimate(weighted_mean(x, one) / weighted_mean(y, one), *percentile_interval(boot), int(ok.sum()),
                    int(units.size), int(np.unique(codes[units]).size))


def difference_estimate(table: PairTable, counts: xr.DataArray, first: np.ndarray, second: np.ndarray,
                        name: str = "r_sc", n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Mean of ``name`` over pairs in ``first`` minus its mean over pairs in ``second``, with its interval."""
    v = np.asarray(table.values[name], float)
    x, y = np.where(first, v, np.nan), np.where(second, v, np.nan)
    codes = session_codes(counts)
    boot = [weighted_mean(x, w) - weighted_mean(y, w)
            for w in Resampler(codes, n_boot, seed).pair_weights(table.a, table.b, counts.sizes["unit"])]
    ok = np.isfinite(v) & (first | second)
    units = np.unique(np.concatenate([table.a[ok], table.b[ok]]))
    one = np.ones(v.size)
    return Estimate(weighted_mean(x, one) - weighted_mean(y, one), *percentile_interval(boot), int(ok.sum()),
                    int(units.size), int(np.unique(codes[units]).size))


def rank_correlation(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, sessions: np.ndarray,
                     n_boot: int = N_BOOT, seed: int = 0) -> Estimate:
    """Spearman's rho of two per-pair values (pairs of units ``a``, ``b``; ``sessions`` per unit), with
    an interval from weighted Pearson correlations of the ranks over the bootstrap's pair weights."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    rx, ry = stats.rankdata(x[ok]), stats.rankdata(y[ok])

    def rho(w: np.ndarray) -> float:
        if w.sum() <= 0:
            return float("nan")
        mx, my = np.average(rx, weights=w), np.average(ry, weights=w)
        cov = np.average((rx - mx) * (ry - my), weights=w)
        sd = np.sqrt(np.average((rx - mx) ** 2, weights=w) * np.average((ry - my) ** 2, weights=w))
        return float(cov / sd) if sd > 0 else float("nan")

    sessions = np.asarray(sessions)
    boot = [rho(w) for w in Resampler(sessions, n_boot, seed).pair_weights(a[ok], b[ok], sessions.size)]
    units = np.unique(np.concatenate([a[ok], b[ok]]))
    return Estimate(rho(np.ones(rx.size)), *percentile_interval(boot), int(ok.sum()), int(units.size),
                    int(np.unique(sessions[units]).size))


def unit_estimate(values: np.ndarray, counts: xr.DataArray, n_boot: int = N_BOOT, seed: int = 0,
                  cells: np.ndarray | None = None) -> Estimate:
    """Mean of a per-unit value; with ``cells`` (a per-unit count of the cells a unit's value sums), the
    mean over cells of per-unit sums ``values`` (a flat mean over unit-condition cells)."""
    values = np.asarray(values, float)
    cells = np.ones(values.size) if cells is None else np.asarray(cells, float)
    ok = np.isfinite(values) & (cells > 0)
    codes = session_codes(counts)

    def mean(w: np.ndarray) -> float:
        w = w * ok
        return float(np.sum(np.where(ok, values, 0.0) * w) / np.sum(cells * w)) if np.sum(cells * w) > 0 \
            else float("nan")

    boot = [mean(w) for w in Resampler(codes, n_boot, seed).unit_weights(values.size)]
    return Estimate(mean(np.ones(values.size)), *percentile_interval(boot), int(cells[ok].sum()), int(ok.sum()),
                    int(np.unique(codes[ok]).size))


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
