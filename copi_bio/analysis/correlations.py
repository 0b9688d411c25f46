"""Pairwise correlation statistics of rates and spike trains.

Spike-train statistics go through Neo and Elephant (binned Pearson
correlation of spike counts, spike time tiling coefficient); rate
correlations are plain Pearson correlations over time. Nothing here runs a
simulation: inputs are result Datasets, Neo spike trains or arrays.
"""

from __future__ import annotations

from typing import Sequence

import neo
import numpy as np
import quantities as pq
import xarray as xr
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import correlation_coefficient, spike_time_tiling_coefficient

from ..errors import CopiBioError
from ..metrics import upper_pairs

DEFAULT_WINDOWS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def spiketrains_from_arrays(times: np.ndarray, indices: np.ndarray, n_neurons: int,
                            t_start: float, t_stop: float) -> list:
    """Neo spike trains from flat arrays of spike times (s) and neuron indices.

    Parameters
    ----------
    times, indices : ndarray
        Spike times in seconds and the index of the neuron that fired.
    n_neurons : int
        Number of neurons (silent ones get empty trains).
    t_start, t_stop : float
        Observation window in seconds; spikes outside it are dropped.
    """
    times, indices = np.asarray(times, float), np.asarray(indices, int)
    keep = (times >= t_start) & (times < t_stop)
    times, indices = times[keep], indices[keep]
    order = np.argsort(indices, kind="stable")
    times, indices = times[order], indices[order]
    bounds = np.searchsorted(indices, np.arange(n_neurons + 1))
    return [neo.SpikeTrain(np.sort(times[bounds[i]:bounds[i + 1]]) * pq.s, t_start=t_start * pq.s,
                           t_stop=t_stop * pq.s) for i in range(n_neurons)]


def to_neo(ds: xr.Dataset, population: str, t_start: float | None = None,
           t_stop: float | None = None) -> list:
    """Neo spike trains of one population of a spiking result, for Elephant.

    Parameters
    ----------
    ds : xarray.Dataset
        Result of a spiking run (with ``spike_time_<population>``).
    population : str
        Population name.
    t_start, t_stop : float, optional
        Window in seconds (default: the whole run).

    Returns
    -------
    list of neo.SpikeTrain
        One train per neuron, in index order (per recorded neuron, in the
        order of the coordinate ``neuron_<population>``, when only a subset was recorded).

    Examples
    --------
    >>> from elephant.statistics import mean_firing_rate  # doctest: +SKIP
    >>> [mean_firing_rate(st) for st in to_neo(ds, "input")]  # doctest: +SKIP
    """
    key = f"spike_time_{population}"
    if key not in ds:
        have = sorted(v[len("spike_time_"):] for v in ds.data_vars if v.startswith("spike_time_"))
        raise CopiBioError(f"no spikes of population {population!r} in this result; spikes stored for: {have}")
    times = ds[key].values
    indices = ds[f"spike_index_{population}"].values
    t0 = 0.0 if t_start is None else t_start
    t1 = float(ds.attrs.get("spike_duration", times.max(initial=0.0) + 1e-9)) if t_stop is None else t_stop
    for coord in (f"neuron_{population}", f"recorded_{population}"):  # recorded_: files of version 0.1 runs
        if coord in ds.coords:  # the recorded neurons' indices: one train per recorded neuron
            neurons = np.asarray(ds[coord].values, dtype=np.int64)
            position = np.searchsorted(neurons, indices)
            return spiketrains_from_arrays(times, position, len(neurons), t0, t1)
    return spiketrains_from_arrays(times, indices, ds.sizes[f"neuron_{population}"], t0, t1)


def spike_count_correlations(spiketrains: Sequence, window: float) -> np.ndarray:
    """Spike-count correlations ``r_sc`` of all pairs for one counting window.

    Parameters
    ----------
    spiketrains : sequence of neo.SpikeTrain
        Same ``t_start``/``t_stop``.
    window : float
        Counting window in seconds (Elephant bin size).

    Returns
    -------
    ndarray
        One ``r_sc`` per pair (pairs with a silent neuron are dropped).
    """
    binned = BinnedSpikeTrain(list(spiketrains), bin_size=window * pq.s, tolerance=None)
    if binned.n_bins < 3:
        raise CopiBioError(f"counting window {window} s leaves {binned.n_bins} bins; need a longer recording")
    with np.errstate(invalid="ignore", divide="ignore"):
        return upper_pairs(np.asarray(correlation_coefficient(binned)))


def rsc_by_window(spiketrains: Sequence, windows: Sequence[float] = DEFAULT_WINDOWS) -> xr.Dataset:
    """Mean, spread and distribution of ``r_sc`` for several counting windows.

    Returns
    -------
    xarray.Dataset
        ``mean``, ``sd``, ``sem``, ``median`` along ``window`` (s) and the
        per-pair values ``r_sc`` with dims ``(window, pair)``.
    """
    duration = float((spiketrains[0].t_stop - spiketrains[0].t_start).rescale("s"))
    windows = [w for w in windows if duration / w >= 3]
    values = [spike_count_correlations(spiketrains, w) for w in windows]
    n_pairs = max(len(v) for v in values)
    table = np.full((len(windows), n_pairs), np.nan)
    for i, v in enumerate(values):
        table[i, : len(v)] = v
    return xr.Dataset(
        {"r_sc": (("window", "pair"), table),
         "mean": ("window", [v.mean() if len(v) else np.nan for v in values]),
         "median": ("window", [np.median(v) if len(v) else np.nan for v in values]),
         "sd": ("window", [v.std(ddof=1) if len(v) > 1 else np.nan for v in values]),
         "sem": ("window", [v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan for v in values])},
        coords={"window": ("window", np.asarray(windows), {"units": "s"})},
    )


def rsc_by_rate(spiketrains: Sequence, window: float, n_bins: int = 5) -> xr.Dataset:
    """Mean ``r_sc`` as a function of the pair's geometric-mean firing rate.

    Pairs are split into ``n_bins`` rate quantiles.

    Returns
    -------
    xarray.Dataset
        ``mean`` and ``n_pairs`` along ``rate_bin`` (coordinate ``rate``, the
        bin's mean rate in Hz), and the per-pair values they come from along
        ``pair``: ``r_sc``, ``pair_rate`` (Hz) and the pair's neurons ``pair_a`` and ``pair_b``
        (indices into ``spiketrains``; pairs with a silent neuron or an undefined ``r_sc`` left out).
    """
    rates = np.array([len(st) / float((st.t_stop - st.t_start).rescale("s")) for st in spiketrains])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.asarray(correlation_coefficient(BinnedSpikeTrain(list(spiketrains), bin_size=window * pq.s, tolerance=None)))
    iu = np.triu_indices(len(rates), 1)
    geo = np.sqrt(rates[iu[0]] * rates[iu[1]])
    r = corr[iu]
    ok = np.isfinite(r) & (geo > 0)
    geo, r, a, b = geo[ok], r[ok], iu[0][ok], iu[1][ok]
    edges = np.quantile(geo, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, geo, side="right") - 1, 0, n_bins - 1)
    return xr.Dataset(
        {"mean": ("rate_bin", [r[which == b].mean() if np.any(which == b) else np.nan for b in range(n_bins)]),
         "n_pairs": ("rate_bin", [int(np.sum(which == b)) for b in range(n_bins)]),
         "r_sc": ("pair", r), "pair_rate": ("pair", geo, {"units": "Hz"}), "pair_a": ("pair", a),
         "pair_b": ("pair", b)},
        coords={"rate": ("rate_bin", [geo[which == b].mean() if np.any(which == b) else np.nan
                                      for b in range(n_bins)], {"units": "Hz"})},
        attrs={"window_s": window},
    )


def sttc_pairs(spiketrains: Sequence, dt: float = 0.005, max_pairs: int | None = 2000,
               seed: int = 0) -> np.ndarray:
    """Spike time tiling coefficients (Elephant) of neuron pairs.

    Parameters
    ----------
    dt : float
        Synchrony window in seconds.
    max_pairs : int or None
        Random subset of pairs to evaluate (STTC is pairwise and slow).
    """
    iu = np.array(np.triu_indices(len(spiketrains), 1)).T
    if max_pairs is not None and len(iu) > max_pairs:
        iu = iu[np.random.default_rng(seed).choice(len(iu), max_pairs, replace=False)]
    out = np.array([spike_time_tiling_coefficient(spiketrains[i], spiketrains[j], dt=dt * pq.s) for i, j in iu])
    return out[np.isfinite(out)]


def rate_correlations(ds: xr.Dataset, variable: str, t_start: float | None = None,
                      t_stop: float | None = None) -> np.ndarray:
    """Pairwise Pearson correlations over time of a recorded rate variable.

    Parameters
    ----------
    ds : xarray.Dataset
        Result with ``variable`` of dims ``(time, trial, neuron_*)``.
    variable : str
        E.g. ``"x_input"`` (decorrelated input) or ``"r_hidden"``.
    t_start, t_stop : float, optional
        Time window (s), e.g. before vs after learning.

    Returns
    -------
    ndarray
        One correlation per pair and recorded trial.
    """
    if variable not in ds:
        raise CopiBioError(f"variable {variable!r} not recorded; recorded: "
                           f"{sorted(v for v in ds.data_vars if ds[v].dims[:1] == ('time',))}")
    da = ds[variable].sel(time=slice(t_start, t_stop))
    out = []
    for trial in range(da.sizes["trial"]):
        samples = da.isel(trial=trial).values
        if len(samples) < 3:
            raise CopiBioError(f"only {len(samples)} samples of {variable} in the window; need 3 or more")
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(upper_pairs(np.corrcoef(samples.T)))
    return np.concatenate(out)
