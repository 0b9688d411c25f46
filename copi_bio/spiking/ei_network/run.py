"""Run protocol of an E/I network model (:class:`~copi_bio.spec.NetworkModel`).

One Brian2 ``run`` of ``protocol.duration``. Afterwards, for every interval
of ``protocol.eval_every``, the metrics are

* ``mean_rate_<pop>`` (Hz): all neurons of the population (every spike is
  monitored; ``recording`` only selects which spikes are stored);
* ``mean_spike_count_corr_<pop>``: mean Pearson correlation of spike counts in
  ``spiking.count_window`` windows over pairs of recorded neurons;
* ``cv_isi_<pop>``: mean coefficient of variation of the inter-spike
  intervals of recorded neurons with at least 5 spikes in the interval;
* ``mean_w_<pre>_<post>`` (nS): mean weight of a plastic projection, at the
  interval's end.

With a stimulus protocol (``[network.stimulus]``), the run also stores trial-aligned spike counts
of every recorded population over ``[onset - spontaneous, onset + duration)`` of every trial
(:func:`_store_trials`; :func:`copi_bio.trials.from_result`). Stored variables besides spikes and metrics: ``w_<pre>_<post>`` (nS, weight of
every synapse of a plastic projection at every evaluation time, dims
``(t_weights, synapse_<pre>_<post>)``) and ``synapse_pre_<pre>_<post>`` /
``synapse_post_<pre>_<post>`` (the neuron indices of each synapse).
"""

from __future__ import annotations

import time as _time

import brian2 as b2
import numpy as np
from brian2 import ms, second

from ...errors import SimulationError
from ...record import RunRecord
from ...spec import NetworkModel
from .. import device
from ..measures import count_correlation, isi_cv, spike_counts
from ..trial_record import store_trial_counts
from .build import EINetwork, Trials, build_network


def structure_key(model: NetworkModel) -> str:
    """Text identifying the generated code of a network model (standalone build folder)."""
    pops = ",".join(f"{p.name}:{p.size}:{p.type}" for p in model.network.populations)
    projs = ",".join(f"{p.label}:{p.plasticity.rule if p.plasticity else 'static'}" for p in model.network.projections)
    stim = model.network.stimulus
    receivers = ",".join(stim.receivers({p.name: p.type for p in model.network.populations})) if stim else ""
    return f"network|{pops}|{projs}|{model.protocol.method}|stimulus:{receivers}"


def _collect(model: NetworkModel, enet: EINetwork, record: RunRecord) -> None:
    proto, spk = model.protocol, model.spiking
    duration = proto.duration
    every = {name: (np.asarray(mon.t / second), np.asarray(mon.i[:], dtype=np.int64))
             for name, mon in enet.spikes.items()}
    stored = {}
    for pop in model.network.populations:
        if not spk.record_spikes or pop.name not in model.recorded:
            continue
        idx = np.asarray(model.recording.indices(pop.size), dtype=np.int64)
        t, i = every[pop.name]
        keep = np.isin(i, idx)
        stored[pop.name] = (t[keep], i[keep], idx)
        if len(idx) < pop.size:
            record.spike_neurons[pop.name] = idx
    record.spikes = {name: (t, i) for name, (t, i, _) in stored.items()}
    record.spike_duration = duration
    record.rate_bin = spk.rate_bin
    weight_traces = {name: np.asarray(mon.w) * 1e9 for name, mon in enet.weights.items()}  # (synapses, samples), nS
    n_eval = max(1, int(np.floor(duration / proto.eval_every + 1e-9)))
    for k in range(n_eval):
        start, stop = k * proto.eval_every, min((k + 1) * proto.eval_every, duration)
        row = {}
        for pop in model.network.populations:
            t = every[pop.name][0]
            row[f"mean_rate_{pop.name}"] = float(np.count_nonzero((t >= start) & (t < stop)) / (pop.size * (stop - start)))
        for name, (t, i, idx) in stored.items():
            sel = (t >= start) & (t < stop)
            counts = spike_counts(t[sel], np.searchsorted(idx, i[sel]), len(idx), start, stop, spk.count_window)
            row[f"mean_spike_count_corr_{name}"] = count_correlation(counts)[0]
            row[f"cv_isi_{name}"] = isi_cv(t[sel], i[sel])
        for name, w in weight_traces.items():
            sample = min(k + 1, w.shape[1] - 1)
            row[f"mean_w_{name}"] = float(w[:, sample].mean()) if w.size else float("nan")
        record.add_metrics(stop, k + 1, row)
    for name, w in weight_traces.items():
        syn = enet.projections[name]
        if not np.all(np.isfinite(w)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(w), axis=0))[0])
            raise SimulationError("w", name, bad * proto.eval_every,
                                  "the plastic weights became non-finite; lower plasticity.eta or protocol.dt")
        final = np.asarray(syn.w[:]) * 1e9
        snapshots = np.column_stack([w, final])
        times = np.append(np.arange(w.shape[1]) * proto.eval_every, duration)
        dim = f"synapse_{name}"
        record.variables[f"w_{name}"] = (("t_weights", dim), snapshots.T, {"units": "nS", "long_name":
                                         f"conductance of every {name.replace('_', '->', 1)} synapse"})
        record.variables[f"synapse_pre_{name}"] = ((dim,), np.asarray(syn.i[:], dtype=np.int64),
                                                   {"long_name": "presynaptic neuron index"})
        record.variables[f"synapse_post_{name}"] = ((dim,), np.asarray(syn.j[:], dtype=np.int64),
                                                    {"long_name": "postsynaptic neuron index"})
        record.weight_time = list(times)
    if enet.trials is not None:
        _store_trials(model, enet.trials, stored, record)


def _store_trials(model: NetworkModel, trials: Trials, stored: dict, record: RunRecord) -> None:
    """``trial_counts_<pop>`` of the recorded populations (the recorded neurons are the units), with the
    conditions' ``orientation`` (deg) and ``contrast``; ``trial_onset``, ``trial_condition`` and
    ``trial_gain`` along ``trial``."""
    stim = model.network.stimulus
    orientation, contrast = stim.condition_values()
    spikes = {name: (t, np.searchsorted(idx, i), idx) for name, (t, i, idx) in stored.items()}
    test = trials.test
    store_trial_counts(record, spikes, trials.onsets[test], trials.conditions[test],
                       {"orientation": (orientation, {"units": "deg"}), "contrast": (contrast, {})},
                       before=stim.spontaneous, after=stim.duration, trial_dim="trial",
                       note=" (the test phase's trials)" if stim.learning_repeats else "")
    record.variables["trial_gain"] = (("trial",), trials.gains[test], {
        "long_name": "gain of the trial's stimulus shared by every receiving neuron (mean 1)"})


def run_network(model: NetworkModel, progress: bool = False) -> RunRecord:
    """Simulate an E/I network model with Brian2.

    Parameters
    ----------
    model : NetworkModel
    progress : bool
        Report Brian2's progress on stderr.

    Returns
    -------
    RunRecord
        Spikes of the recorded neurons, metrics per evaluation interval and
        the plastic weights.
    """
    record = RunRecord(model=model)
    spk = model.spiking
    wall = _time.perf_counter()
    directory = device.activate(spk, structure_key(model), model.seed)
    try:
        enet = build_network(model, np.random.default_rng(model.seed))
        t_build = _time.perf_counter() - wall
        standalone = device.simulate(enet.net, model.protocol.duration, spk, model.seed, directory,
                                 enet.parameters, progress)
        t_run = _time.perf_counter() - wall - t_build
        _collect(model, enet, record)
        record.attrs["synapses"] = int(sum(len(s.i[:]) for s in enet.projections.values()))
    except SimulationError as err:
        record.attrs["status"] = f"failed: {err}"
        err.record = record
        raise
    finally:
        b2.defaultclock.dt = 0.1 * ms  # Brian2's default again (the network set its dt)
        device.release(spk)
        record.attrs["wall_time_s"] = _time.perf_counter() - wall
    record.attrs.update({"status": "complete", "brian2_device": spk.device,
                         "brian2_codegen": spk.codegen if spk.device == "runtime" else "cpp",
                         "integration_method": model.protocol.method,
                         "build_time_s": t_build, "run_time_s": t_run,
                         "steps": int(round(model.protocol.duration / model.protocol.dt))})
    record.attrs.update(standalone)
    return record
