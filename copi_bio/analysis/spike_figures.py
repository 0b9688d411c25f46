"""Standard figures of a spiking result (``copi-bio analyze``): raster, firing rates, ISI
irregularity and spike-count correlations of every population with stored spikes.

Every statistic is taken over the *analysed window*, the second half of the run (after the
plasticity of most models has settled; the figure titles give the window), from the stored spikes
of the recorded neurons:

* firing rate of each neuron, spikes / window (Hz);
* ``CV_ISI`` of each neuron with at least 5 spikes, the standard deviation of its inter-spike
  intervals over their mean (1 for a Poisson process);
* ``r_sc`` of every pair, the Pearson correlation of spike counts in 100 ms windows
  (:data:`COUNT_WINDOW`), pairs with a silent neuron left out;
* the mean ``r_sc`` (and its standard error over pairs) against the counting window, 10 ms to a
  fifth of the analysed window.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from .correlations import rsc_by_window, spike_count_correlations, to_neo
from .figure_io import save_figure

RASTER_NEURONS = 100
"""Neurons per population drawn in the raster (the first recorded ones)."""
RASTER_SECONDS = 2.0
"""Length of the raster, at the end of the run."""
COUNT_WINDOW = 0.1
"""Counting window (s) of the r_sc distribution."""
WINDOWS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""Counting windows (s) of the r_sc-against-window panel."""


def spiking_populations(ds: xr.Dataset) -> list[str]:
    """Populations with stored spikes (``spike_time_<pop>``), in the result's order."""
    return [n[len("spike_time_"):] for n in ds.data_vars if n.startswith("spike_time_")]


def _duration(ds: xr.Dataset) -> float:
    times = [float(ds[f"spike_time_{p}"].max()) for p in spiking_populations(ds) if ds[f"spike_time_{p}"].size]
    return float(ds.attrs.get("spike_duration", max(times, default=0.0)))


def plot_raster(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Spike raster of the last :data:`RASTER_SECONDS` of the run, one panel per population."""
    pops = spiking_populations(ds)
    if not pops:
        return []
    stop = _duration(ds)
    start = max(0.0, stop - RASTER_SECONDS)
    fig, axes = plt.subplots(len(pops), 1, figsize=(7, 1.2 + 1.3 * len(pops)), sharex=True, squeeze=False)
    for ax, pop in zip(axes[:, 0], pops):
        trains = to_neo(ds, pop, start, stop)[:RASTER_NEURONS]
        for k, train in enumerate(trains):
            ax.plot(train.magnitude, np.full(len(train), k), "|", ms=2, color="k")
        ax.set_ylabel(f"{pop}\nneuron")
        ax.set_ylim(-1, len(trains))
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].set_title(f"{ds.attrs.get('model_name')}: spikes of up to {RASTER_NEURONS} recorded neurons "
                         f"per population, {start:g}-{stop:g} s", fontsize=9)
    return save_figure(fig, out_dir, "raster")


def population_statistics(ds: xr.Dataset, pop: str) -> dict[str, np.ndarray]:
    """Rates (Hz), ``CV_ISI`` and ``r_sc`` per neuron or pair over the analysed window, and the
    mean ``r_sc`` against the counting window (see the module docstring)."""
    stop = _duration(ds)
    start = stop / 2
    trains = to_neo(ds, pop, start, stop)
    rates = np.array([len(t) for t in trains]) / (stop - start)
    cvs = []
    for t in trains:
        if len(t) >= 5:
            isi = np.diff(np.sort(t.magnitude))
            cvs.append(isi.std() / isi.mean())
    window = COUNT_WINDOW
    active = [t for t in trains if len(t)]
    out = {"rate": rates, "cv_isi": np.asarray(cvs), "rsc": np.zeros(0), "window": np.zeros(0),
           "rsc_mean": np.zeros(0), "rsc_sem": np.zeros(0), "count_window": window, "start": start, "stop": stop}
    if len(active) >= 2 and (stop - start) / window >= 3:
        rsc = spike_count_correlations(active, window)
        out["rsc"] = rsc[np.isfinite(rsc)]
        by_window = rsc_by_window(active, [w for w in WINDOWS if w <= (stop - start) / 5])
        out.update(window=by_window["window"].values, rsc_mean=by_window["mean"].values,
                   rsc_sem=by_window["sem"].values)
    return out


def plot_spike_statistics(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Rate and ``CV_ISI`` histograms, the ``r_sc`` distribution and ``r_sc`` against the counting
    window, a row per population."""
    pops = spiking_populations(ds)
    if not pops:
        return []
    fig, axes = plt.subplots(len(pops), 4, figsize=(13, 2.6 * len(pops)), squeeze=False)
    for row, pop in zip(axes, pops):
        s = population_statistics(ds, pop)
        row[0].hist(s["rate"], bins=30, color="C0")
        row[0].set_xlabel(f"{pop}: firing rate (Hz)")
        row[0].set_ylabel("neurons")
        row[0].set_title(f"mean {s['rate'].mean():.2f} Hz", fontsize=9)
        if s["cv_isi"].size:
            row[1].hist(s["cv_isi"], bins=30, color="C1")
            row[1].set_title(f"mean {s['cv_isi'].mean():.2f} ({s['cv_isi'].size} neurons, >= 5 spikes)", fontsize=9)
        row[1].set_xlabel("CV of inter-spike intervals")
        if s["rsc"].size:
            row[2].hist(s["rsc"], bins=np.linspace(-1.0, 1.0, 81), color="C2")
            row[2].axvline(s["rsc"].mean(), color="k", lw=0.8)
            row[2].set_title(f"mean {s['rsc'].mean():.3f} ({s['rsc'].size} pairs)", fontsize=9)
        row[2].set_xlabel(f"r_sc, {s['count_window'] * 1e3:g} ms windows")
        row[2].set_ylabel("pairs")
        if s["window"].size:
            row[3].errorbar(s["window"] * 1e3, s["rsc_mean"], yerr=s["rsc_sem"], marker="o", ms=3)
            row[3].set_xscale("log")
        row[3].set_xlabel("counting window (ms)")
        row[3].set_ylabel("mean r_sc")
    fig.suptitle(f"{ds.attrs.get('model_name')} (seed {ds.attrs.get('seed')}): recorded neurons, analysed window "
                 f"{s['start']:g}-{s['stop']:g} s (second half of the run)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir, "spike_statistics")
