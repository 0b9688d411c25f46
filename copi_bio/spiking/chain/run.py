"""Run protocol of a chain model on the spiking backend (both formulations: trace,
:mod:`copi_bio.spiking.chain.trace`, and spike-driven,
:mod:`copi_bio.spiking.chain.spike_driven`).

The whole run is one Brian2 ``run`` call (so that ``cpp_standalone`` works):
stimuli, targets and plasticity gates are :class:`brian2.TimedArray`
schedules, weights are sampled by monitors, and the metrics are computed
afterwards from the weight snapshots and spike trains:

* ``test_accuracy`` / ``test_loss`` (classification tasks, at the end of the run): read from the
  network's own spikes in a **test phase** after the training presentations (:func:`~copi_bio.spiking.chain.schedule.test_plan`,
  :func:`_spike_readout`): every held-out image shown once for ``t_present`` (split among the copies),
  every plasticity off, the output's nudging off and the slow running means frozen at their values
  at the end of training (:data:`~copi_bio.spiking.chain.common.PHASE`,
  :data:`~copi_bio.spiking.chain.common.MEAN_PHASE`); the class is the output cell
  with the most spikes in ``[onset + t_settle, onset + t_present)``, ties broken at random (seeded);
  ``test_loss`` is the mean squared error of the rate-decoded output ``(rate - rate_offset) / rate_scale``
  against the one-hot target;
* ``weights_test_loss`` / ``weights_test_accuracy``: the rate read-out of the learned
  effective weights ``f(W (I+M)^-1 (z - <z>))`` on the test set, layer by
  layer (the input of every connection centred by its test-set mean), at every evaluation point;
* ``inference_error_teacher``: ``||W_eff - W_T|| / ||W_T||`` (one connection);
* ``mean_abs_corr_<pop>`` / ``mean_spike_count_corr_<pop>``: mean |r_sc| / mean
  r_sc of spike counts in ``spiking.count_window`` windows of each evaluation
  interval, for decorrelated populations; ``mean_rate_<pop>`` in Hz.

Where a stimulus is shown at least twice, the run also stores trial-aligned
spike counts of every population (:func:`_store_trial_counts`,
:func:`copi_bio.trials.from_result`).
"""

from __future__ import annotations

import math
import time as _time

import brian2 as b2
import numpy as np
from brian2 import second

from ...errors import RUNAWAY, SimulationError
from ...initial import effective_weights, initial_weights, seeded_generators
from ...metrics import relative_error, teacher_agreement
from ...record import RunRecord
from ...spec import Model, SpikingParams
from ...tasks import TaskData, build_task
from ...transfer import transfer
from ...trials import BIN_WIDTH, stimulus_conditions
from .. import device
from ..measures import count_correlation, spike_counts
from ..trial_record import store_trial_counts
from . import common, schedule, shared_weights, spike_driven, trace

TRIAL_MAX_CONDITIONS = 200
"""Most stimulus conditions for which a run stores trial counts."""
TRIAL_MAX_VALUES = 20_000_000
"""Most values of one population's trial-count array."""


def _weight_source(obj, lateral: bool, n_pre: int, n_post: int):
    """The Brian2 object that holds a connection's weights, how many it holds, and the map from its
    values to a dense ``(n_post, n_pre)`` matrix (shared table of the spike-driven chain, or the
    all-to-all synapses of the trace formulation, ``lateral`` ones without self-connections)."""
    if isinstance(obj, shared_weights.SharedTable):
        return obj.table, len(obj.table), obj.matrix
    count = n_pre * (n_post - 1) if lateral else n_pre * n_post
    return obj, count, lambda values: common.matrix(obj, values, n_pre, n_post)


def build(model: Model, task: TaskData, init_rng: np.random.Generator,
          data_rng: np.random.Generator) -> common.SpikingNetwork:
    """Create all Brian2 objects of a model (the device must already be active)."""
    proto, spk, rec = model.protocol, model.spiking, model.recording
    pops = model.populations
    n_layers = len(pops) - 1
    stim, target = schedule.stimuli(task, model, data_rng)
    plan = schedule.test_plan(model, task)
    hold = schedule.test_hold(model)
    n_test = plan.shape[0] * hold  # presentations of t_present in the test phase
    train_stim = stim[:, :pops[0].size]
    if n_test:
        shown = np.repeat(task.test_inputs[np.clip(plan, 0, None)].reshape(plan.shape[0], -1), hold, axis=0)
        stim = np.vstack([stim, shown])
        if target is not None:
            target = np.vstack([target, np.zeros((n_test, target.shape[1]))])
    phase = b2.TimedArray(np.concatenate([np.ones(proto.presentations), np.zeros(n_test)]),
                          dt=proto.t_present * second)
    mean_phase = b2.TimedArray(np.concatenate([schedule.mean_rates(model), np.zeros(n_test)]), dt=proto.t_present * second)
    fwd_gate, lat_gate, gate_dt = schedule.gates(model, n_test)
    gate_w = b2.TimedArray(fwd_gate, dt=gate_dt * second)
    gate_l = b2.TimedArray(lat_gate, dt=gate_dt * second)
    chain = spike_driven if spk.neuron == "lif_spike" else trace
    eta_w = spk.eta_forward if spk.eta_forward is not None else 1.0 / model.plasticity.tau
    eta_l = spk.eta_lateral if spk.eta_lateral is not None else 1.0 / model.lateral.tau
    groups = [chain.build_stimulus(model, stim)]
    groups += [chain.build_soma(model, i, target) for i in range(1, len(pops))]
    w0 = initial_weights(model, init_rng)
    forward = [chain.build_forward(model, k, groups[k], groups[k + 1], w0[k], gate_w, eta_w)
               for k in range(n_layers)]
    lateral = []
    for k in range(max(1, n_layers)):
        on = model.lateral.rule != "none" and model.decorrelates(k)
        lateral.append(chain.build_lateral(model, k, groups[k], gate_l, eta_l) if on else None)
    extra = []
    if model.feedback.mode in ("fa", "dfa"):
        for k in range(1, n_layers):
            src = k + 1 if model.feedback.mode == "fa" else n_layers
            n_src = pops[src].size
            g = init_rng.standard_normal((n_src, pops[k].size)) * model.feedback.scale \
                * np.sqrt(2.0 / (n_src + pops[k].size))
            extra.append(chain.build_random_feedback(model, k, groups[src], groups[k], g))
    # spikes of the first copy (all copies are statistically alike); in the test phase, of every copy's output
    spikes = [b2.SpikeMonitor(g[:p.size], name=f"spikes_{p.name}") for g, p in zip(groups, pops)]
    test_spikes = spikes[-1]
    if n_test and proto.trials > 1:
        test_spikes = b2.SpikeMonitor(groups[-1], name=f"test_spikes_{pops[-1].name}")
        spikes.append(test_spikes)
    snap_every = math.gcd(proto.eval_every, rec.weights_every or proto.eval_every)
    snap_dt = snap_every * proto.t_present * second
    weight_mons = {}
    named = [(f"W_{pops[k].name}_{pops[k + 1].name}", "w", obj, pops[k].size, pops[k + 1].size)
             for k, obj in enumerate(forward)]
    named += [(f"M_{pops[k].name}", getattr(obj, "var", "M"), obj, pops[k].size, pops[k].size)
              for k, obj in enumerate(lateral) if obj is not None]
    for name, var, obj, n_pre, n_post in named:
        source, count, to_matrix = _weight_source(obj, var != "w", n_pre, n_post)
        weight_mons[name] = (b2.StateMonitor(source, var, record=np.arange(count), dt=snap_dt),
                             source, var, to_matrix)
    state_mons = {}
    if rec.trials and rec.variables:
        interval = (rec.interval or proto.t_present) * second
        for i, (g, p) in enumerate(zip(groups, pops)):
            for var in rec.variables:
                name = {"r": "rate", "x": "fluct"}.get(var, var)
                if i == 0 and var in ("u", "delta"):
                    continue
                state_mons[(var, p.name)] = (b2.StateMonitor(g, name, record=np.arange(rec.trials * p.size),
                                                             dt=interval), name, p.size)
    connections = [obj for obj in forward + lateral if obj is not None]
    objs = groups + [o for c in connections for o in (c.objects if isinstance(c, shared_weights.SharedTable)
                                                      else [c])] + extra + spikes
    objs += [m[0] for m in weight_mons.values()] + [m[0] for m in state_mons.values()]
    for obj in objs:  # groups, and synapses that read a group's subexpressions
        if isinstance(obj, (b2.NeuronGroup, b2.Synapses)):
            obj.namespace[common.PHASE] = phase
            obj.namespace[common.MEAN_PHASE] = mean_phase
    net = b2.Network(*objs)
    return common.SpikingNetwork(net, groups, forward, lateral, spikes, weight_mons, state_mons,
                                 duration=(proto.presentations + n_test) * proto.t_present, stimulus=train_stim,
                                 train_duration=proto.presentations * proto.t_present,
                                 test_plan=plan if n_test else None, test_spikes=test_spikes if n_test else None)


def _snapshots(model: Model, snet: common.SpikingNetwork) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """Weight matrices at every monitored time plus the end of the run."""
    times, mats = None, {}
    for name, (mon, source, var, to_matrix) in snet.weight_monitors.items():
        values = np.asarray(getattr(mon, var))  # (synapses, samples)
        final = np.asarray(getattr(source, var)[:])  # the test phase leaves the weights as training did
        sampled = np.asarray(mon.t / second)
        keep = np.flatnonzero(sampled < snet.train_duration - 1e-9)
        times = np.append(sampled[keep], snet.train_duration)
        mats[name] = [to_matrix(values[:, s]) for s in keep] + [to_matrix(final)]
    if times is None:
        n = int(round(snet.train_duration / (model.protocol.eval_every * model.protocol.t_present)))
        times = np.arange(n + 1) * model.protocol.eval_every * model.protocol.t_present
    return times, mats


def _readout(model: Model, task: TaskData, ws: list[np.ndarray], ms: list[np.ndarray | None]) -> dict:
    if task.n_out == 0 or not ws:
        return {}
    # the rules learn on fluctuations around running means: centre the inputs of every connection
    h = task.test_inputs
    for k, w in enumerate(ws):
        pop = model.populations[k + 1]
        f = transfer(pop.transfer, pop.slope)[0]
        h = f((h - h.mean(axis=0)) @ effective_weights(w, ms[k] if k < len(ms) else None, foldiak=True).T)
    out = {"weights_test_loss": float(np.mean((task.test_targets - h) ** 2))}
    if task.classification:
        out["weights_test_accuracy"] = float(np.mean(np.argmax(h, axis=1) == task.test_labels))
    return out


def _spike_readout(model: Model, task: TaskData, snet: common.SpikingNetwork, record: RunRecord) -> dict:
    """``test_accuracy`` and ``test_loss`` from the output spikes of the test phase (see the module
    docstring); stores ``test_spike_counts`` ``(test_image, neuron_<out>)``, ``test_label`` and
    ``test_prediction``."""
    proto, out = model.protocol, model.populations[-1]
    plan, n_out = snet.test_plan, out.size
    shown = schedule.test_hold(model) * proto.t_present
    times = np.asarray(snet.test_spikes.t / second)
    cells = np.asarray(snet.test_spikes.i[:], dtype=np.int64)
    start = snet.train_duration
    k = np.floor((times - start) / shown + 1e-9).astype(np.int64)
    within = times - start - k * shown
    keep = (k >= 0) & (k < plan.shape[0]) & (within >= proto.t_settle - 1e-9)
    copy, cell = np.divmod(cells[keep], n_out)
    image = plan[k[keep], copy]
    n_images = int(plan.max()) + 1
    counts = np.zeros((n_images, n_out))
    np.add.at(counts, (image[image >= 0], cell[image >= 0]), 1.0)
    window = shown - proto.t_settle
    noise = np.random.default_rng((model.seed, 31)).random(counts.shape)  # breaks ties only
    prediction = np.argmax(counts + 0.5 * noise, axis=1)
    labels = task.test_labels[:n_images]
    r0, rs = model.spiking.rates(len(model.populations) - 1)
    decoded = (counts / window - r0) / rs
    record.variables["test_spike_counts"] = (("test_image", f"neuron_{out.name}"), counts, {
        "long_name": f"spikes of each {out.name} cell in [onset + t_settle, onset + test_present) of each "
                     "held-out image (test phase, plasticity off)", "units": "spikes", "window_s": window})
    record.variables["test_label"] = (("test_image",), labels, {"long_name": "class of each held-out image"})
    record.variables["test_prediction"] = (("test_image",), prediction, {
        "long_name": "class read from the spikes: the output cell with the most spikes (ties at random)"})
    return {"test_accuracy": float(np.mean(prediction == labels)),
            "test_loss": float(np.mean((task.test_targets[:n_images] - decoded) ** 2))}


def _collect(model: Model, task: TaskData, snet: common.SpikingNetwork, record: RunRecord) -> None:
    proto, spk = model.protocol, model.spiking
    pops = model.populations
    n_layers = len(pops) - 1
    times, mats = _snapshots(model, snet)
    spikes = {p.name: (np.asarray(mon.t / second), np.asarray(mon.i[:], dtype=np.int64))
              for p, mon in zip(pops, snet.spikes)}  # the first copy's (a test monitor, if any, comes last)
    if spk.record_spikes:
        record.spikes = spikes
    record.spike_duration = snet.duration
    record.rate_bin = spk.rate_bin
    t_present = proto.t_present
    weights_every = model.recording.weights_every or proto.eval_every
    prev = 0.0
    for s, t in enumerate(times):
        p = int(round(t / t_present))
        ws = [mats[f"W_{pops[k].name}_{pops[k + 1].name}"][s] for k in range(n_layers)]
        ms = [mats[f"M_{pops[k].name}"][s] if f"M_{pops[k].name}" in mats else None
              for k in range(max(1, n_layers))]
        for k, w in enumerate(ws):
            if not np.all(np.isfinite(w)) or np.max(np.abs(w), initial=0.0) > RUNAWAY:
                raise SimulationError("W", f"{pops[k].name}->{pops[k + 1].name}", t,
                                      "forward plasticity diverged; lower spiking.eta_forward (or increase "
                                      "plasticity.tau), feedback.gamma or protocol.dt" + _centring_hint(spk))
        for k, mat in enumerate(ms):
            if mat is not None and (not np.all(np.isfinite(mat)) or np.max(np.abs(mat), initial=0.0) > RUNAWAY):
                raise SimulationError("M", pops[k].name, t,
                                      "lateral plasticity diverged; lower spiking.eta_lateral (or increase "
                                      "lateral.tau) or protocol.dt")
        if p % weights_every == 0 or s == len(times) - 1:
            snap = {}
            for k in range(n_layers):
                pre, post = pops[k].name, pops[k + 1].name
                snap[f"W_{pre}_{post}"] = ((f"neuron_{post}", f"neuron_{pre}"), ws[k])
            for k, mat in enumerate(ms):
                if mat is not None:
                    snap[f"M_{pops[k].name}"] = ((f"neuron_{pops[k].name}", f"neuron_{pops[k].name}_pre"), mat)
            record.add_weights(float(t), snap)
        if p % proto.eval_every and s != len(times) - 1:
            continue
        row = _readout(model, task, ws, ms)
        if s == len(times) - 1 and snet.test_plan is not None:
            row.update(_spike_readout(model, task, snet, record))
        if task.teacher is not None and n_layers == 1:
            w_eff = effective_weights(ws[0], ms[0], foldiak=True)
            row["inference_error_teacher"] = relative_error(w_eff, task.teacher)
            row.update(teacher_agreement(w_eff, task.teacher))
        if t > prev:
            for k, pop in enumerate(pops):
                st, si = spikes[pop.name]
                sel = (st >= prev) & (st < t)
                row[f"mean_rate_{pop.name}"] = float(sel.sum() / (pop.size * (t - prev)))
                if k < len(ms) and ms[k] is not None:
                    counts = spike_counts(st[sel], si[sel], pop.size, prev, t, spk.count_window)
                    signed, absolute = count_correlation(counts)
                    row[f"mean_abs_corr_{pop.name}"] = absolute
                    row[f"mean_spike_count_corr_{pop.name}"] = signed
        record.add_metrics(float(t), p, row)
        prev = float(t)
    for (var, pop), (mon, name, size) in snet.state_monitors.items():
        values = np.asarray(getattr(mon, name))  # (trials * neurons, samples)
        record.states[(var, pop)] = [values[:, s].reshape(-1, size) for s in range(values.shape[1])]
        if not record.time:
            record.time = list(np.asarray(mon.t / second))
    _store_trial_counts(model, snet.stimulus, spikes, record)


def _store_trial_counts(model: Model, stimulus: np.ndarray, spikes: dict[str, tuple[np.ndarray, np.ndarray]],
                        record: RunRecord) -> None:
    """Store trial-aligned spike counts of every population if a stimulus is shown at least twice.

    Presentation ``k`` (row ``k`` of ``stimulus``, the first copy's stimuli) is a trial with onset
    ``k * t_present``; equal stimuli are one condition, numbered in order of first appearance. Spikes
    are counted in :data:`copi_bio.trials.BIN_WIDTH` bins over ``[onset, onset + t_present)``
    (the whole bins that fit). With copies (``protocol.trials > 1``) each copy sees its own stimuli,
    and spikes and stimuli are those of the first copy. Stores ``trial_onset`` and ``trial_condition``
    along ``presentations`` and ``trial_counts_<pop>`` ``(unit_<pop>, condition, repeat, trial_time)``
    (float32, NaN for the repeats a condition was not shown); when none are stored, the result
    attribute ``trial_counts`` says why.
    """
    conditions = stimulus_conditions(stimulus)
    shown = np.bincount(conditions)
    if shown.size == 0 or shown.max() < 2:
        record.attrs["trial_counts"] = "not stored: no stimulus is shown twice"
        return
    t_present = model.protocol.t_present
    n_bins = int(math.floor(t_present / BIN_WIDTH + 1e-9))
    if shown.size > TRIAL_MAX_CONDITIONS:
        record.attrs["trial_counts"] = f"not stored: {shown.size} conditions > {TRIAL_MAX_CONDITIONS}"
        return
    if n_bins < 1:
        record.attrs["trial_counts"] = (f"not stored: protocol.t_present = {t_present * 1e3:g} ms is shorter "
                                        f"than one {BIN_WIDTH * 1e3:g} ms bin")
        return
    size = max(p.size for p in model.populations) * shown.size * int(shown.max()) * n_bins
    if size > TRIAL_MAX_VALUES:
        record.attrs["trial_counts"] = f"not stored: {size} values > {TRIAL_MAX_VALUES}"
        return
    onsets = np.arange(len(conditions)) * t_present
    ids = np.arange(shown.size)
    copies = model.protocol.trials
    store_trial_counts(record, {p.name: (*spikes[p.name], np.arange(p.size)) for p in model.populations},
                       onsets, conditions, {"stimulus": (ids, {"long_name": "stimulus id of the condition"})},
                       before=0.0, after=n_bins * BIN_WIDTH, trial_dim="presentations",
                       note=f" (first of {copies} copies)" if copies > 1 else "")
    for p in model.populations:
        record.variables[f"trial_counts_{p.name}"][2]["copies"] = copies


def _centring_hint(spk: SpikingParams) -> str:
    """The centring remedy for a forward runaway, where the spike-driven rule runs without it."""
    if spk.neuron == "lif_spike" and spk.forward_centring == "none":
        return ", or centre the rule (spiking.forward_centring = 'mean_rate')"
    return ""


def _check_potentials(model: Model, snet: common.SpikingNetwork) -> None:
    """Raise :class:`SimulationError` if a somatic potential is non-finite or ran away at the end."""
    for pop, group in zip(model.populations[1:], snet.groups[1:]):
        u = np.asarray(group.u[:])
        peak = float(np.max(np.abs(u))) if u.size else 0.0
        if not np.isfinite(peak) or peak > RUNAWAY:
            t = snet.duration
            mon = snet.state_monitors.get(("u", pop.name))
            if mon is not None:  # first recorded sample that is bad
                vals = np.abs(np.asarray(mon[0].u))
                bad = np.flatnonzero(~np.all(np.isfinite(vals) & (vals <= RUNAWAY), axis=0))
                if bad.size:
                    t = float(np.asarray(mon[0].t / second)[bad[0]])
            raise SimulationError("u", pop.name, t, (
                f"max |u| = {peak:.3g} at the end of the run; lower the learning rates "
                "(spiking.eta_forward, spiking.eta_lateral), the nudging gain feedback.gamma, or protocol.dt"))


def run_chain(model: Model, progress: bool = False) -> RunRecord:
    """Simulate a chain model with the Brian2 spiking backend (called by
    :func:`~copi_bio.spiking.run.run_spiking`, which documents the parameters and the result)."""
    task_rng, init_rng, data_rng = seeded_generators(model.seed)
    pops = model.populations
    task = build_task(model.task, pops[0].size, pops[-1].size, task_rng)
    record = RunRecord(model=model, teacher=task.teacher)
    record.attrs["n_test"] = len(task.test_inputs)
    record.attrs["trials"] = model.protocol.trials
    if task.n_train:
        record.attrs["n_train"] = task.n_train
    spk = model.spiking
    wall = _time.perf_counter()
    directory = device.activate(spk, common.structure_key(model), model.seed)
    try:
        snet = build(model, task, init_rng, data_rng)
        t_build = _time.perf_counter() - wall
        standalone = device.simulate(snet.net, snet.duration, spk, model.seed, directory, progress=progress)
        t_run = _time.perf_counter() - wall - t_build
        _collect(model, task, snet, record)
        first = pops[0].name
        record.variables[f"stimulus_{first}"] = (
            ("presentations", f"neuron_{first}"), snet.stimulus,
            {"long_name": "stimulus value z of each presentation (row k from k * t_present), first copy",
             "t_present": model.protocol.t_present, "t_present_units": "s"})
        _check_potentials(model, snet)
    except SimulationError as err:
        record.attrs["status"] = f"failed: {err}"
        err.record = record
        raise
    finally:
        device.release(spk)
        record.attrs["wall_time_s"] = _time.perf_counter() - wall
    record.attrs.update({"status": "complete", "brian2_device": spk.device,
                         "brian2_codegen": spk.codegen if spk.device == "runtime" else "cpp",
                         "build_time_s": t_build, "run_time_s": t_run,
                         "steps": int(round(snet.duration / model.protocol.dt))})
    record.attrs.update(standalone)
    return record
