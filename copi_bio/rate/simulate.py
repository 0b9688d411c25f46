"""Run loop of the rate backend: presentations, recording, metrics."""

from __future__ import annotations

import dataclasses
import time as _time
from pathlib import Path

import numpy as np

from ..errors import RUNAWAY, ModelError, SimulationError
from ..initial import seeded_generators
from ..metrics import relative_error, teacher_agreement
from ..progress import ProgressBar
from ..record import ConnectionStats, RunRecord
from ..spec import Model
from ..tasks import TaskData, build_task
from .checkpoint import load_checkpoint, save_checkpoint
from .checkpoint_state import array_state, restore_array_state
from .lateral_estimate import lateral_schedule
from .linalg import blas_threads, matmul
from .network import RateNetwork
from .parameters import State

EVAL_CHUNK = 2048


def evaluate(net: RateNetwork, task: TaskData) -> dict[str, float]:
    """Free-running test-set evaluation (no feedback, no plasticity).

    Each test stimulus is held for one presentation from the zero state and
    the output rate ``f(a_L)`` at its end is the prediction (without
    perturbations the soma equals the forward prediction).

    Returns
    -------
    dict
        ``test_loss`` (mean squared error per output) and, for classification,
        ``test_accuracy``.
    """
    if task.n_out == 0:
        return {}
    steps = net.model.protocol.steps_per_presentation
    outputs = []
    for start in range(0, len(task.test_inputs), EVAL_CHUNK):
        z = task.test_inputs[start:start + EVAL_CHUNK].astype(net.dtype)
        s = net.new_state(len(z))
        for _ in range(steps):
            net.predict(s, z)
        outputs.append(s.r[-1].astype(float))
    y = np.concatenate(outputs)
    out = {"test_loss": float(np.mean((task.test_targets - y) ** 2))}
    if task.classification:
        out["test_accuracy"] = float(np.mean(np.argmax(y, axis=1) == task.test_labels))
    return out


def _check_finite(net: RateNetwork, s: State, t: float) -> None:
    names = [p.name for p in net.model.populations]
    lat_name = "M" if net.model.lateral.rule == "foldiak" else "R"
    for k, lat in enumerate(net.L):
        scale = net.l_scale[k]
        if lat is not None and not (np.all(np.isfinite(lat)) and (scale is None or np.all(np.isfinite(scale)))):
            raise SimulationError(lat_name, names[k], t, "decorrelation diverged; increase lateral.tau "
                                  "(or protocol.anneal), or for foldiak lower dt relative to lateral.tau_x")
    for k, w in enumerate(net.W):
        scale = net.w_scale[k]
        if not (np.all(np.isfinite(w)) and (scale is None or np.all(np.isfinite(scale)))):
            raise SimulationError("W", f"{names[k]}->{names[k + 1]}", t,
                                  "forward plasticity diverged; increase plasticity.tau or lower feedback.gamma")
    for i in range(1, len(names)):
        peak = float(np.max(np.abs(s.u[i]))) if s.u[i].size else 0.0
        if not np.isfinite(peak) or peak > RUNAWAY:
            raise SimulationError("u", names[i], t, (
                f"max |u| = {peak:.3g}; lower the plasticity rates (increase plasticity.tau or "
                "lateral.tau), the perturbation gain feedback.gamma, or protocol.dt, or decorrelate the "
                "inputs (see 'Stability' in docs/equations.md)"))


def _snapshot(net: RateNetwork) -> dict:
    names = [p.name for p in net.model.populations]
    mats = {}
    lat_name = "M" if net.model.lateral.rule == "foldiak" else "R"
    for k in range(net.n_layers):
        pre, post = names[k], names[k + 1]
        mats[f"W_{pre}_{post}"] = ((f"neuron_{post}", f"neuron_{pre}"), net.forward_weights(k))
        if net.L[k] is not None:
            mats[f"{lat_name}_{pre}"] = ((f"neuron_{pre}", f"neuron_{pre}_pre"), net.lateral_weights(k))
        if net.b[k] is not None:
            mats[f"b_{post}"] = ((f"neuron_{post}",), net.b[k])
    return mats


def run_rate(model: Model, progress: bool = False, checkpoint: str | Path | None = None,
             checkpoint_every: int | None = None) -> RunRecord:
    """Simulate a model with the rate backend.

    Parameters
    ----------
    model : Model
        Validated model with ``backend = "rate"``.
    progress : bool
        Show a progress bar with live metrics.
    checkpoint : path, optional
        Checkpoint file. If it exists the run resumes from it (and the result
        is bit-identical to an uninterrupted run); see :mod:`copi_bio.rate.checkpoint`.
    checkpoint_every : int, optional
        Write ``checkpoint`` every this many presentations (needs ``checkpoint``).
        The file is left in place at the end; callers delete it.

    Returns
    -------
    RunRecord
        Everything recorded. On divergence a :class:`SimulationError` is
        raised whose ``record`` attribute holds the record up to that point.
    """
    proto, rec_spec = model.protocol, model.recording
    names = [p.name for p in model.populations]
    task_rng, init_rng, data_rng = seeded_generators(model.seed)
    task = build_task(model.task, model.populations[0].size, model.populations[-1].size, task_rng)
    net = RateNetwork(model, init_rng)
    state = net.new_state(proto.trials)
    record = RunRecord(model=model, teacher=task.teacher)
    record.attrs["n_test"] = len(task.test_inputs)
    record.attrs["trials"] = proto.trials
    for k, g in enumerate(net.G):
        if g is not None:  # fixed random top-down weights (fa / dfa), G[k]: delta of src -> hidden k
            src = names[k + 1] if model.feedback.mode == "fa" else names[-1]
            record.variables[f"B_{names[k]}"] = ((f"neuron_{src}", f"neuron_{names[k]}"), g.astype(float), {
                "long_name": f"fixed random top-down weights carrying delta of {src} to {names[k]}"})
    if task.n_train:
        record.attrs["n_train"] = task.n_train
    stats = [ConnectionStats(net.sizes[k], net.sizes[k + 1]) for k in range(net.n_layers)]
    steps, settle, dt = proto.steps_per_presentation, proto.settle_steps, proto.dt
    rec_every = int(round((rec_spec.interval or proto.t_present) / dt))
    weights_every = rec_spec.weights_every or proto.eval_every
    n_rec = rec_spec.trials
    has_target = task.n_out > 0
    loss_sum, loss_n, eval_time = 0.0, 0, 0.0
    if checkpoint_every is not None:
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, np.integer)) \
                or checkpoint_every < 1:
            raise ModelError("checkpoint_every", checkpoint_every, "a positive number of presentations")
        if checkpoint is None:
            raise ModelError("checkpoint", None, "a checkpoint file path when checkpoint_every is given")
    p_start, step_count = 0, 0
    resumed = load_checkpoint(checkpoint, model) if checkpoint is not None and Path(checkpoint).exists() \
        else None
    if resumed is not None:
        restore_array_state(net, resumed["network"])  # W, L, b, G, Adam moments, ...
        state = resumed["state"]
        data_rng.bit_generator.state = resumed["data_rng"]
        task.sampler_state = resumed["sampler_state"]
        record, stats = resumed["record"], resumed["stats"]
        record.model = model
        loss_sum, loss_n = resumed["loss_sum"], resumed["loss_n"]
        p_start, step_count = resumed["presentation"], resumed["step_count"]
        record.attrs["resumed_at_presentation"] = p_start

    def write_checkpoint(p_done: int) -> None:
        save_checkpoint(checkpoint, model, {
            "network": array_state(net),  # every network attribute that holds arrays
            "state": dataclasses.replace(state, work={}),  # scratch arrays are rewritten before use
            "data_rng": data_rng.bit_generator.state, "sampler_state": task.sampler_state,
            "record": record, "stats": stats, "loss_sum": loss_sum, "loss_n": loss_n,
            "presentation": p_done, "step_count": step_count,
        })

    def metrics_row(t: float, p: int) -> None:
        nonlocal loss_sum, loss_n, eval_time
        start = _time.perf_counter()
        row = evaluate(net, task)
        eval_time += _time.perf_counter() - start
        if loss_n:
            row["train_loss"] = loss_sum / loss_n
        loss_sum, loss_n = 0.0, 0
        for k, st in enumerate(stats):
            for key, value in st.summary(net.forward_weights(k)).items():
                if key in ("mean_abs_corr", "decorrelation_index"):
                    row[f"{key}_{names[k]}"] = value
                else:
                    row[f"{key}_{names[k]}_{names[k + 1]}"] = value
            st.reset()
        if task.teacher is not None and net.n_layers == 1:
            w_eff = net.effective_weights(0)
            row["inference_error_teacher"] = relative_error(w_eff, task.teacher)
            row.update(teacher_agreement(w_eff, task.teacher))
        record.add_metrics(t, p, row)
        bar.update_metrics(row)

    def record_states(t: float) -> None:
        record.time.append(t)
        for var in rec_spec.variables:
            if var == "x":
                for k in range(net.n_layers):
                    record.states.setdefault(("x", names[k]), []).append(state.x[k][:n_rec].astype(float))
                continue
            arrays = getattr(state, var)
            for i in range(1, len(names)) if var != "r" else range(len(names)):
                record.states.setdefault((var, names[i]), []).append(arrays[i][:n_rec].astype(float))

    bar = ProgressBar(proto.presentations, enabled=progress, desc=model.name)
    if p_start:
        bar.advance(p_start)
    wall = _time.perf_counter()
    tau_w, tau_l = model.plasticity.tau, model.lateral.tau
    learn_w = model.plasticity.rule != "none"
    learn_l = model.lateral.rule != "none"
    try:
        # divergence is reported by _check_finite, not by numpy warnings
        with blas_threads(net.sizes, proto.trials), np.errstate(over="ignore", invalid="ignore"):
            if resumed is None:
                record.add_weights(0.0, _snapshot(net))
                metrics_row(0.0, 0)
            for p in range(p_start, proto.presentations):
                z, target = task.batch(data_rng, proto.trials)
                z = z.astype(net.dtype)
                target = target.astype(net.dtype) if has_target else None
                scale = 1.0 / (1.0 + p / proto.anneal) if proto.anneal else 1.0
                eta_w = scale * dt / tau_w if learn_w and p >= proto.forward_onset else 0.0
                eta_l = scale * dt / tau_l if learn_l else 0.0
                for i in range(steps):
                    on = i >= settle
                    factor, rows = 1.0, None
                    if on and eta_l and model.lateral.cheaper:
                        factor, rows = lateral_schedule(model.lateral, model.seed, p * (steps - settle) + i - settle,
                                                        proto.trials)
                    net.step(state, z, target, True, eta_w if on else 0.0, factor * eta_l if on else 0.0, rows)
                    step_count += 1
                    if n_rec and rec_spec.variables and step_count % rec_every == 0:
                        record_states(step_count * dt)
                t_now = (p + 1) * steps * dt
                _check_finite(net, state, t_now)
                for k, st in enumerate(stats if (p + 1) % rec_spec.statistics_every == 0 else ()):
                    x = state.x[k] - state.xbar[k] if net.centered else state.x[k]
                    u = state.u[k + 1] - state.ubar[k + 1] if net.centered else state.u[k + 1]
                    st.add(x, u, state.delta[k + 1], matmul)
                if has_target:
                    y = net.f[-1](state.a[-1])
                    loss_sum += float(np.mean((target - y) ** 2))
                    loss_n += 1
                if (p + 1) % proto.eval_every == 0 or p + 1 == proto.presentations:
                    metrics_row(t_now, p + 1)
                if (p + 1) % weights_every == 0 or p + 1 == proto.presentations:
                    record.add_weights(t_now, _snapshot(net))
                bar.advance()
                if checkpoint_every and (p + 1) % checkpoint_every == 0 and p + 1 < proto.presentations:
                    write_checkpoint(p + 1)
    except SimulationError as err:
        record.attrs["status"] = f"failed: {err}"
        err.record = record
        raise
    finally:
        bar.close()
        record.attrs["wall_time_s"] = _time.perf_counter() - wall
        record.attrs["eval_time_s"] = eval_time  # part of wall_time_s spent on test evaluations
    record.attrs["status"] = "complete"
    record.attrs["steps"] = step_count
    return record
