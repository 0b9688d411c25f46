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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import brian2 as b2
import numpy as np
from brian2 import Hz, second

from ..spec import Model, Population
from . import plasticity
from .neurons import SPIKE_TRACE, TRACE_RESET

_TRANSFER = {
    "linear": ("u", "1.0"),
    "relu": ("u * int(u > 0)", "1.0 * int(u > 0)"),
    "leaky_relu": ("u * int(u > 0) + slope * u * int(u <= 0)", "1.0 * int(u > 0) + slope * int(u <= 0)"),
    "tanh": ("tanh(u)", "1 - tanh(u)**2"),
    "sigmoid": ("1 / (1 + exp(-u))", "exp(-u) / (1 + exp(-u))**2"),
}

_TRACE = SPIKE_TRACE + "I_lat : 1\n"


@dataclass
class SpikingNetwork:
    """The Brian2 objects of a model and how they map to the spec.

    Attributes
    ----------
    net : brian2.Network
    groups : list of brian2.NeuronGroup
        One per population.
    forward : list of brian2.Synapses or SharedTable
        Forward connection ``k`` (population ``k`` to ``k + 1``): synapses
        (trace formulation) or a shared weight table (spike-driven formulation).
    lateral : list of brian2.Synapses, SharedTable or None
        Lateral inhibition inside population ``k``.
    spikes : list of brian2.SpikeMonitor
        Spikes of each population (of the first copy).
    weight_monitors : dict
        ``name -> (StateMonitor, source, variable, to_matrix)`` weight snapshots.
    state_monitors : dict
        ``(variable, population) -> (StateMonitor, brian2 variable, population size)``.
    duration : float
        Simulated time (s).
    """

    net: b2.Network
    groups: list
    forward: list
    lateral: list
    spikes: list
    weight_monitors: dict = field(default_factory=dict)
    state_monitors: dict = field(default_factory=dict)
    duration: float = 0.0


def structure_key(model: Model) -> str:
    """Text identifying the generated code of a model (standalone build folder)."""
    pops = ",".join(f"{p.name}:{p.size}:{p.transfer}" for p in model.populations)
    fb, spk = model.feedback, model.spiking
    return (f"{pops}|{model.lateral.rule}|{model.lateral.layers}|{fb.mode}|{fb.perturbation}|{spk.neuron}"
            f"|{spk.dale}|{spk.forward_update}|{model.protocol.trials}")


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


def transfer_expressions(pop: Population, var: str = "u") -> tuple[str, str]:
    """Brian2 expressions of ``f(var)`` and ``f'(var)`` for the population's transfer function."""
    exprs = (re.sub(r"\bu\b", var, e).replace("slope", repr(float(pop.slope))) for e in _TRANSFER[pop.transfer])
    return tuple(exprs)


def delta_equations(model: Model, index: int, target: np.ndarray | None, namespace: dict,
                    adjoint: bool = False) -> str:
    """Equation lines of the top-down current ``delta`` of population ``index``.

    ``f`` and ``f'`` (``f_rate``, ``fprime``) are taken at the compartment
    that sets the rate: the soma ``u`` (nudging) or the forward prediction
    ``a`` (``perturbation = "prediction"``, spike-driven formulation).
    Output with a ``target`` (``(presentations, n_out)``, added to
    ``namespace``): ``delta = gamma (target - f(u)) f'(u)``, switched by the
    shared variable ``nudge``; hidden populations with feedback:
    ``delta = f'(u) I_fb`` (``I_fb`` summed by the feedback synapses); with
    ``adjoint`` (``bp`` into a population with lateral inhibition ``M``),
    ``delta = f'(u) y`` with the adjoint of the lateral stage,
    ``lateral.tau_x dy/dt = -y + I_fb - M^T y`` (``I_adj = M^T y`` summed by
    the lateral synapses), as the rate backend does. With
    ``feedback.tau``, ``delta`` follows these drives as a low-pass filter,
    ``tau dδ/dt = -δ + drive``.
    """
    proto, fb = model.protocol, model.feedback
    is_output = index == len(model.populations) - 1
    if is_output and target is not None and fb.gamma > 0:
        namespace["target"] = b2.TimedArray(target, dt=proto.t_present * second)
        drive, extra = "gamma * (target(t, i) - f_rate) * fprime * nudge", "\nnudge : 1 (shared)"
    elif not is_output and fb.mode != "none" and adjoint:
        namespace["tau_adj"] = model.lateral.tau_x * second
        drive, extra = "fprime * y", "\nI_fb : 1\nI_adj : 1\ndy/dt = (I_fb - I_adj - y) / tau_adj : 1"
    elif not is_output and fb.mode != "none":
        drive, extra = "fprime * I_fb", "\nI_fb : 1"
    else:
        return "delta = 0 * u : 1"
    if fb.tau is None:
        return f"delta = {drive} : 1{extra}"
    namespace["tau_fb"] = fb.tau * second
    return f"ddelta/dt = ({drive} - delta) / tau_fb : 1{extra}"


def neuron_group(pop: Population, eqs: str, methods: tuple[str, ...], copies: int = 1,
                 **kwargs) -> b2.NeuronGroup:
    """A :class:`brian2.NeuronGroup` of ``copies`` copies of ``pop``, integrated by the first of
    ``methods`` that Brian2 accepts."""
    last_err = None
    for method in methods:
        try:
            return b2.NeuronGroup(pop.size * copies, eqs, method=method, **kwargs)
        except Exception as err:  # noqa: BLE001 - brian2 raises several types for unsupported methods
            last_err = err
    raise last_err  # pragma: no cover


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
dubar/dt = (u - ubar) / tau_mean : 1
f_rate = {f_expr} : 1
fprime = {fp_expr} : 1
rate = clip(r0 + rs * (f_rate - I_lat), 0 * Hz, rmax) : Hz
""" + _TRACE
    if model.spiking.neuron == "lif_rate":
        eqs += _LIF
    methods = ("exponential_euler", "euler") if pop.transfer == "linear" else ("euler",)
    group = neuron_group(pop, eqs, methods, dt=proto.dt * second, namespace=ns, name=f"pop_{pop.name}",
                         **_spiking_args(model))
    if "nudge" in eqs:
        group.nudge = 1.0
    group.x = ns["r0"]
    group.xbar = ns["r0"]
    if model.spiking.neuron == "lif_rate":
        group.run_regularly("v += lif_noise * sqrt(dt / tau_lif) * randn()", dt=proto.dt * second)
    return group


def shared_namespace(pre: b2.NeuronGroup, post: b2.NeuronGroup) -> dict:
    """Namespace of a synapse: constants used by the subexpressions of its groups.

    Where both groups define a constant (the rate mapping ``r0``, ``rs``),
    the presynaptic one is kept: synapses normalise presynaptic activity.
    """
    out = dict(post.namespace)
    out.update(pre.namespace)
    return out


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


def build_random_feedback(model: Model, k: int, src: b2.NeuronGroup, dst: b2.NeuronGroup,
                          g: np.ndarray) -> b2.Synapses:
    """Fixed random top-down synapses (fa/dfa) carrying ``delta`` of ``src`` into ``I_fb`` of ``dst``."""
    syn = b2.Synapses(src, dst, "B : 1 (constant)\nI_fb_post = B * delta_pre : 1 (summed)",
                      dt=model.protocol.dt * second, namespace=shared_namespace(src, dst), name=f"B_{k}")
    syn.connect()
    syn.B = g.ravel()  # g has shape (n_src, n_dst), pre-major like the synapses
    return syn


def matrix(syn: b2.Synapses, values: np.ndarray, n_pre: int, n_post: int, diagonal: bool = True) -> np.ndarray:
    """Dense ``(n_post, n_pre)`` matrix from synaptic values (missing synapses are 0)."""
    out = np.zeros((n_post, n_pre))
    out[np.asarray(syn.j[:]), np.asarray(syn.i[:])] = values
    return out
