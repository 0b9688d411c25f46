"""Brian2 network of a chain model in the trace formulation (``neuron =
"poisson_rate"`` or ``"lif_rate"``): a rate model with spike noise, built
from the spec objects only.

Every population keeps a spike trace ``x`` (Hz, ``tau_trace``), its slow
running mean ``xbar`` (``tau_mean``) and the dimensionless fluctuation
``fluct = (x - xbar) / rate_scale``. Population 0 is the stimulus; the others
have a somatic potential ``u`` (the local learning signal)::

    tau_u du/dt = -u + I_ff + delta
    rate = clip(rate_offset + rate_scale * (f(u) - I_lat), 0, max_rate)

(for the stimulus ``f(u)`` is replaced by the task's input value). Lateral
synapses subtract ``I_lat = sum_j M_ij fluct_j`` and learn
``dM_ij/dt = eta_l fluct_i fluct_j`` (``M >= 0`` with Dale's law); forward
synapses drive ``I_ff = sum_j W_ij fluct_j`` and learn the COPI rule
``dW_ij/dt = eta_w ((u_i - ubar_i) fluct_j - W_ij fluct_j^2)``, either at
every step on the traces or at presynaptic spikes (see
:mod:`copi_bio.spiking.plasticity`).

The builders of this formulation (:func:`build_stimulus`, :func:`build_soma`,
:func:`build_forward`, :func:`build_lateral`, :func:`build_random_feedback`)
have the same interface as those of the spike-driven formulation
(:mod:`copi_bio.spiking.chain.spike_driven`); the pieces both share are in
:mod:`copi_bio.spiking.chain.common`.
"""

from __future__ import annotations

import brian2 as b2
import numpy as np
from brian2 import Hz, second

from ...spec import Model
from .. import plasticity
from ..neurons import SPIKE_TRACE, TRACE_RESET
from .common import build_random_feedback, delta_equations, neuron_group, shared_namespace, transfer_expressions

__all__ = ["build_forward", "build_lateral", "build_random_feedback", "build_soma", "build_stimulus"]

_TRACE = SPIKE_TRACE + "I_lat : 1\n"


def _namespace(model: Model, index: int) -> dict:
    spk, pop = model.spiking, model.populations[index]
    r0, rs = spk.rates(index)
    return {"tau_trace": spk.tau_trace * second, "tau_mean": spk.tau_mean * second,
            "r0": r0 * Hz, "rs": rs * Hz, "rmax": spk.max_rate * Hz,
            "tau_u": pop.tau * second, "gamma": model.feedback.gamma,
            "tau_lif": spk.tau_lif * second, "lif_noise": spk.lif_noise}


def _spiking_args(model: Model) -> dict:
    """Threshold/reset arguments of the chosen neuron model."""
    if model.spiking.neuron == "lif_rate":
        return dict(threshold="v > 1", reset="v = 0\n" + TRACE_RESET,
                    refractory=model.spiking.refractory * second)
    return dict(threshold="rand() < rate * dt", reset=TRACE_RESET)


_LIF = """
dv/dt = (mu - v) / tau_lif : 1 (unless refractory)
mu = 1 / (1 - exp(-1 / (clip(rate, 0.01 * Hz, rmax) * tau_lif))) : 1
"""


def build_stimulus(model: Model, stim: np.ndarray) -> b2.NeuronGroup:
    """Input population firing at ``rate_offset + rate_scale * (z - I_lat)``.

    ``stim`` holds the task's input values, shape ``(presentations, n_in)``.
    """
    pop, proto = model.populations[0], model.protocol
    ns = _namespace(model, 0)
    ns["stim"] = b2.TimedArray(stim, dt=proto.t_present * second)
    eqs = "rate = clip(r0 + rs * (stim(t, i) - I_lat), 0 * Hz, rmax) : Hz" + _TRACE
    group = b2.NeuronGroup(pop.size, eqs, threshold="rand() < rate * dt", reset=TRACE_RESET,
                           method="exact", dt=proto.dt * second, namespace=ns, name=f"pop_{pop.name}")
    group.x = ns["r0"]
    group.xbar = ns["r0"]
    return group


def build_soma(model: Model, index: int, target: np.ndarray | None) -> b2.NeuronGroup:
    """Hidden or output population ``index`` with somatic potential ``u``.

    ``target`` (``(presentations, n_out)``) is given for the output, whose
    soma is nudged by ``delta = gamma (target - f(u)) f'(u)``.
    """
    pop, proto = model.populations[index], model.protocol
    ns = _namespace(model, index)
    f_expr, fp_expr = transfer_expressions(pop)
    delta = delta_equations(model, index, target, ns)
    eqs = f"""
du/dt = (-u + I_ff + delta) / tau_u : 1
I_ff : 1
{delta}
dubar/dt = adapt_mean(t) * (u - ubar) / tau_mean : 1
f_rate = {f_expr} : 1
fprime = {fp_expr} : 1
rate = clip(r0 + rs * (f_rate - I_lat), 0 * Hz, rmax) : Hz
""" + _TRACE
    if model.spiking.neuron == "lif_rate":
        eqs += _LIF
    methods = ("exponential_euler", "euler") if pop.transfer == "linear" else ("euler",)
    group = neuron_group(pop, eqs, methods, dt=proto.dt * second, namespace=ns, name=f"pop_{pop.name}",
                         **_spiking_args(model))
    group.x = ns["r0"]
    group.xbar = ns["r0"]
    if model.spiking.neuron == "lif_rate":
        group.run_regularly("v += lif_noise * sqrt(dt / tau_lif) * randn()", dt=proto.dt * second)
    return group


def build_forward(model: Model, k: int, pre: b2.NeuronGroup, post: b2.NeuronGroup, w0: np.ndarray,
                  gate: b2.TimedArray, eta: float) -> b2.Synapses:
    """All-to-all plastic forward synapses ``W_k`` (COPI rule).

    ``spiking.forward_update = "spike"`` applies the rule at presynaptic
    spikes (:data:`~copi_bio.spiking.plasticity.COPI_FORWARD_ON_PRE`);
    ``"clock"`` integrates it every step on the traces.
    """
    bp = model.feedback.mode == "bp" and k >= 1
    if model.spiking.forward_update == "spike":
        eqs, on_pre = "w : 1\n", plasticity.COPI_FORWARD_ON_PRE
    else:
        eqs, on_pre = plasticity.COPI_FORWARD_CLOCK, None
    eqs += "I_ff_post = w * fluct_pre : 1 (summed)\n"
    if bp:
        eqs += "I_fb_pre = w * delta_post : 1 (summed)\n"
    syn = b2.Synapses(pre, post, eqs, on_pre=on_pre, method="euler", dt=model.protocol.dt * second,
                      namespace={**shared_namespace(pre, post), "eta_w": eta * Hz, "gate_w": gate}, name=f"W_{k}")
    syn.connect()
    syn.w = w0.T.ravel()  # all-to-all connect() orders synapses pre-major
    return syn


def build_lateral(model: Model, k: int, group: b2.NeuronGroup, gate: b2.TimedArray, eta: float) -> b2.Synapses:
    """Plastic lateral inhibition ``M`` inside population ``k`` (anti-Hebbian on fluctuations)."""
    eqs = """
dM/dt = eta_l * gate_l(t) * fluct_pre * fluct_post : 1 (clock-driven)
I_lat_post = M * fluct_pre : 1 (summed)
"""
    syn = b2.Synapses(group, group, eqs, method="euler", dt=model.protocol.dt * second,
                      namespace={**shared_namespace(group, group), "eta_l": eta * Hz, "gate_l": gate}, name=f"M_{k}")
    syn.connect(condition="i != j")
    if model.spiking.dale == "inhibitory":
        syn.run_regularly("M = clip(M, 0, inf)", dt=model.protocol.dt * second, when="after_groups")
    return syn
