"""Brian2 network of a chain model in the spike-driven formulation (``neuron = "lif_spike"``).

Built from the spec objects only, with the same interface as the trace
formulation's :mod:`copi_bio.spiking.chain.trace` (the pieces both share are in
:mod:`copi_bio.spiking.chain.common`):

* the stimulus population is a set of Poisson spike sources firing at
  ``rate_offset + rate_scale * (z(t) - I_lat)``
  (:data:`~copi_bio.spiking.neurons.POISSON_INPUT`);
* hidden and output populations are two-compartment LIF neurons
  (:func:`~copi_bio.spiking.neurons.two_compartment_lif`): a somatic
  potential ``u`` that is not reset (the learning signal) and a
  threshold-reset spike-initiation zone with refractoriness;
* forward synapses pass spikes as current jumps (``tau_syn``) and learn the
  COPI rule at presynaptic spikes; lateral synapses ``M`` (``M >= 0`` with
  Dale's law) pass spikes as inhibitory current jumps and learn a symmetric
  spike-triggered covariance rule (:mod:`copi_bio.spiking.plasticity`);
* top-down feedback is a current into the somata: ``delta = gamma (target -
  f(u)) f'(u)`` at the output, ``delta = f'(u) sum_k B_ki delta_k`` in hidden
  populations (self-consistent nudging; with ``feedback.perturbation =
  "prediction"`` a forward-prediction compartment ``a``, driven by the
  feedforward synaptic current only, sets the rate and replaces ``u`` in
  ``f`` and ``f'``: the output perturbation is ``gamma`` times the error of
  the prediction) (``bp``: ``B = W`` of the next layer, passed back through the
  adjoint of the population's own lateral stage as in the rate backend, the
  non-local weight-transport reference; ``fa``/``dfa``: fixed random, shared
  with the trace formulation's
  :func:`~copi_bio.spiking.chain.common.build_random_feedback`).
"""

from __future__ import annotations

import brian2 as b2
import numpy as np
from brian2 import Hz, second

from ...spec import Model
from .. import neurons, plasticity
from . import common, dale, shared_weights

build_random_feedback = common.build_random_feedback

MIN_RATE = 0.01
"""Lowest rate (Hz) the LIF drive ``J`` is computed for (``J -> 1`` below it: the neuron falls silent)."""


def _namespace(model: Model, index: int) -> dict:
    spk = model.spiking
    r0, rs = spk.rates(index)
    return {"tau_trace": spk.tau_trace * second, "tau_mean": spk.tau_mean * second,
            "r0": r0 * Hz, "rs": rs * Hz, "rmax": spk.max_rate * Hz, "rmin": MIN_RATE * Hz,
            "tau_u": model.populations[index].tau * second, "gamma": model.feedback.gamma,
            "tau_lif": spk.tau_lif * second, "t_ref": spk.refractory * second, "tau_syn": spk.tau_syn * second,
            "lif_noise": spk.lif_noise}


def _summation_dt(model: Model) -> float:
    """Interval (s) of the summed currents: ``spiking.summation_dt``, or every step."""
    spk = model.spiking
    return spk.summation_dt if spk.summation_dt is not None else model.protocol.dt


def _adjoint(model: Model, index: int) -> bool:
    """Whether backprop-aligned feedback into population ``index`` passes the adjoint of its lateral stage
    (not in the Dale circuit, whose lateral stage is an interneuron loop)."""
    return model.feedback.mode == "bp" and model.decorrelates(index) and model.spiking.dale != "circuit"


def build_stimulus(model: Model, stim: np.ndarray) -> b2.NeuronGroup:
    """Poisson input population of every copy; ``stim`` holds the task's input values, shape
    ``(presentations, trials * n_in)`` (copy ``c`` in columns ``c * n_in ...``)."""
    pop, proto = model.populations[0], model.protocol
    ns = _namespace(model, 0)
    ns["stim"] = b2.TimedArray(stim, dt=proto.t_present * second)
    group = common.neuron_group(pop, neurons.POISSON_INPUT, ("exponential_euler", "euler"), copies=proto.trials,
                                threshold="rand() < rate * dt", reset=neurons.TRACE_RESET, dt=proto.dt * second,
                                namespace=ns, name=f"pop_{pop.name}")
    group.x = group.xbar = group.rate_f = group.rate_bar = ns["r0"]
    return group


def build_soma(model: Model, index: int, target: np.ndarray | None) -> b2.NeuronGroup:
    """Hidden or output population ``index`` of two-compartment LIF neurons (every copy).

    ``target`` (``(presentations, trials * n_out)``) is given for the output, whose
    soma receives ``delta = gamma (target - f(u)) f'(u)`` (nudging) or, with
    ``feedback.perturbation = "prediction"``, ``gamma (target - f(a)) f'(a)``
    from the forward prediction ``a`` that also sets the rate.
    """
    pop, proto = model.populations[index], model.protocol
    ns = _namespace(model, index)
    prediction = model.feedback.perturbation == "prediction"
    f_expr, fp_expr = common.transfer_expressions(pop, "a" if prediction else "u")
    delta = common.delta_equations(model, index, target, ns, adjoint=_adjoint(model, index))
    eqs, spiking = neurons.two_compartment_lif(f_expr, fp_expr, delta, prediction=prediction,
                                               feedforward_inhibition=model.spiking.dale == "circuit")
    methods = ("exponential_euler", "euler") if pop.transfer == "linear" else ("euler",)
    group = common.neuron_group(pop, eqs, methods, copies=proto.trials, dt=proto.dt * second, namespace=ns,
                                name=f"pop_{pop.name}", **spiking)
    group.x = group.xbar = group.rate_f = group.rate_bar = ns["r0"]
    group.v = "rand()"
    if model.spiking.lif_noise > 0:
        group.run_regularly("v += lif_noise * sqrt(dt / tau_lif) * randn()", dt=proto.dt * second)
    return group


def build_forward(model: Model, k: int, pre: b2.NeuronGroup, post: b2.NeuronGroup, w0: np.ndarray,
                  gate: b2.TimedArray, eta: float) -> shared_weights.SharedTable:
    """All-to-all plastic forward weights ``W_k``, shared by every copy: current jumps and the COPI rule
    at presynaptic spikes.

    The postsynaptic current starts at its mean for presynaptic neurons
    firing at ``rate_offset``.
    """
    if model.spiking.dale == "circuit":
        return dale.build_forward(model, k, pre, post, w0, gate, eta, _summation_dt(model))
    copies = model.protocol.trials
    ns = {**common.shared_namespace(pre, post), "eta_w": eta * Hz, "gate_w": gate, "copies": copies}
    bp = "w" if model.feedback.mode == "bp" and k >= 1 else None
    centred = model.spiking.forward_centring == "mean_rate"
    table = shared_weights.forward_table(k, pre, post, w0, plasticity.copi_forward(centred), ns, copies,
                                         model.protocol.dt, _summation_dt(model), feedback_weight=bp)
    r0, rs = model.spiking.rates(k)
    post.I_ff = np.tile(w0.sum(axis=1) * r0 / rs, copies)  # = I_bal at t = 0
    return table


def build_lateral(model: Model, k: int, group: b2.NeuronGroup, gate: b2.TimedArray,
                  eta: float) -> shared_weights.SharedTable:
    """Plastic lateral inhibition ``M`` inside population ``k``, shared by every copy: spike-driven
    currents, covariance rule."""
    if model.spiking.dale == "circuit":
        return dale.build_lateral(model, k, group, gate, eta)
    rule = plasticity.lateral_covariance(dale=model.spiking.dale == "inhibitory")
    copies, dt = model.protocol.trials, model.protocol.dt
    n = model.populations[k].size
    ns = {**common.shared_namespace(group, group), "eta_l": eta * Hz, "gate_l": gate, "copies": copies}
    table = shared_weights.table_group(f"M_{k}", rule.var, np.zeros(n * n), dt)
    pre, post, element = shared_weights.copy_pairs(copies, n, n, exclude_self=True)
    summed = "I_adj_pre = M * y_post : 1 (summed)\n" if k > 0 and _adjoint(model, k) else ""
    transmit = shared_weights.transmission(group, group, table, rule.var, rule.transmit, (pre, post, element),
                                           ns, dt, f"M_{k}_transmission")
    objects = [table, transmit]
    if summed:
        objects.append(shared_weights.summation(group, group, table, rule.var, summed, (pre, post, element), ns,
                                                _summation_dt(model), f"M_{k}_summation"))
    # a spike of cell a updates M[a -> i] (a presynaptic) and M[i -> a] (a postsynaptic), reading cell i
    mirrored = (element % n) * n + element // n
    reads = {f"{v}_q": (group, v, unit) for v, unit in rule.reads.items()}
    learn = shared_weights.learning(group, table, reads, np.concatenate([pre, pre]), np.concatenate([element, mirrored]),
                                    np.concatenate([post, post]), rule.learn, ns, dt, f"M_{k}_learning")
    return shared_weights.SharedTable(table, n, n, objects + [learn])
