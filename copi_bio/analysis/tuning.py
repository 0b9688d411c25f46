"""Responses to repeated stimuli: how similar the population patterns of different stimuli are at each
time after onset.

Spiking chain results store the stimulus of every presentation (``stimulus_<input>``, rows in
presentation order, attribute ``t_present``). A stimulus shown several times (a task with a small
training set, e.g. ``task.train_size``) gives repeated trials, from which the **pattern similarity**
of two stimuli at a time after onset is the Pearson correlation, over cells, of the two mean
responses in a short bin, each cell's response taken relative to its mean over all stimuli (the
stimulus-specific part of the pattern). Signal and noise correlations of repeated stimuli are
measured on trial counts (:mod:`copi_bio.analysis.trial_stats`).

Nothing here runs a simulation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import CopiBioError


def stimulus_ids(ds: xr.Dataset, population: str = "input") -> tuple[np.ndarray, float]:
    """Identity of the stimulus of every presentation, and the presentation time (s).

    Parameters
    ----------
    ds : xarray.Dataset
        Result of a spiking chain model (it stores ``stimulus_<population>``).
    population : str
        The stimulus population.

    Returns
    -------
    ids : ndarray of int, ``(presentations,)``
        Equal for presentations of the same stimulus (numbered in order of first appearance).
    t_present : float
    """
    name = f"stimulus_{population}"
    if name not in ds:
        raise CopiBioError(f"the result has no {name!r}: stimuli are stored by spiking chain models "
                           "(population names: " + ", ".join(v[len("stimulus_"):] for v in ds.data_vars
                                                              if v.startswith("stimulus_")) + ")")
    values = ds[name].values
    _, first, inverse = np.unique(values, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.ravel()], float(ds[name].attrs["t_present"])


def _binned_counts(ds: xr.Dataset, population: str, first: int, edges: np.ndarray, ids: np.ndarray,
                   t_present: float) -> tuple[np.ndarray, np.ndarray]:
    """Spike counts of every cell in each window ``[edges[b], edges[b + 1])`` after every onset.

    ``ids`` and ``t_present`` are those of :func:`stimulus_ids`. Returns ``counts`` of shape
    ``(len(edges) - 1, presentations - first, cells)`` and the stimulus ids of the counted
    presentations; a window outside the presentation is refused.
    """
    if not (edges[0] >= 0 and np.all(np.diff(edges) > 0) and edges[-1] <= t_present + 1e-12):
        raise CopiBioError(f"counting window [{edges[0]}, {edges[-1]}) s is not inside a presentation of "
                           f"{t_present} s")
    times = ds[f"spike_time_{population}"].values
    cells = ds[f"spike_index_{population}"].values
    k = np.floor(times / t_present + 1e-9).astype(int)
    window = np.searchsorted(edges, times - k * t_present, side="right") - 1
    keep = (k >= first) & (k < len(ids)) & (window >= 0) & (window < len(edges) - 1)
    counts = np.zeros((len(edges) - 1, len(ids), ds.sizes[f"neuron_{population}"]))
    np.add.at(counts, (window[keep], k[keep], cells[keep]), 1.0)
    return counts[:, first:], ids[first:]


def _stimulus_means(counts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.array([counts[ids == s].mean(axis=0) for s in np.unique(ids)])


def pattern_similarity(ds: xr.Dataset, population: str, first: int, bins: np.ndarray,
                       pairs: np.ndarray) -> np.ndarray:
    """Pattern similarity of given stimulus pairs in successive bins after onset.

    Parameters
    ----------
    ds : xarray.Dataset
        Spiking chain result.
    population : str
        Whose spikes are counted.
    first : int
        First presentation counted (e.g. half the run, after learning).
    bins : ndarray
        Bin edges (s after onset).
    pairs : ndarray of int, ``(k, 2)``
        Stimulus pairs (ids as :func:`stimulus_ids`), each stimulus shown from ``first`` on.

    Returns
    -------
    ndarray, ``(len(bins) - 1, len(pairs))``
        Pearson correlation of the two stimulus-specific patterns of each pair in each bin.
    """
    counts, ids = _binned_counts(ds, population, first, np.asarray(bins, dtype=float), *stimulus_ids(ds))
    shown = np.unique(ids)
    pairs = np.asarray(pairs)
    if not np.all(np.isin(pairs, shown)):
        raise CopiBioError(f"stimuli {sorted(set(pairs.ravel().tolist()) - set(shown.tolist()))} are not "
                           f"shown from presentation {first} on")
    rows = np.searchsorted(shown, pairs)
    out = []
    for binned in counts:
        means = _stimulus_means(binned, ids)
        r = np.corrcoef(means - means.mean(axis=0))
        out.append(r[rows[:, 0], rows[:, 1]])
    return np.asarray(out)


def similar_stimuli(ds: xr.Dataset, fraction: float = 0.25, stimulus: str = "input") -> np.ndarray:
    """The ``fraction`` of stimulus pairs whose stimulus-specific input patterns correlate most.

    Returns
    -------
    ndarray of int, ``(pairs, 2)``
        Stimulus ids (as :func:`stimulus_ids`), most similar first.
    """
    ids, _ = stimulus_ids(ds, stimulus)
    unique = ds[f"stimulus_{stimulus}"].values[np.unique(ids, return_index=True)[1]]  # in id order
    r = np.corrcoef(unique - unique.mean(axis=0))
    i, j = np.triu_indices(len(unique), 1)
    order = np.argsort(-r[i, j])[: max(1, int(round(fraction * i.size)))]
    return np.stack([i[order], j[order]], axis=1)
