"""Pieces both formulations of a chain model share (the trace formulation,
:mod:`copi_bio.spiking.chain.trace`, and the spike-driven one,
:mod:`copi_bio.spiking.chain.spike_driven`).

* :class:`SpikingNetwork`: the Brian2 objects of a built chain model and how
  they map to the spec;
* :func:`structure_key`: the text naming a chain model's generated code (its
  ``cpp_standalone`` build folder);
* equation pieces: :func:`transfer_expressions` (``f`` and ``f'``),
  :func:`delta_equations` (the top-down current ``delta``);
* Brian2 helpers: :func:`neuron_group`, :func:`shared_namespace`,
  :func:`matrix`;
* :func:`build_random_feedback`: the fixed random top-down synapses of
  ``fa``/``dfa`` feedback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import brian2 as b2
import numpy as np
from brian2 import second

from ...spec import Model, Population

_TRANSFER = {
    "linear": ("u", "1.0"),
    "relu": ("u * int(u > 0)", "1.0 * int(u > 0)"),
    "leaky_relu": ("u * int(u > 0) + slope * u * int(u <= 0)", "1.0 * int(u > 0) + slope * int(u <= 0)"),
    "tanh": ("tanh(u)", "1 - tanh(u)**2"),
    "sigmoid": ("1 / (1 + exp(-u))", "exp(-u) / (1 + exp(-u))**2"),
}


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
        Simulated time (s): the training presentations and the test phase.
    stimulus : ndarray or None
        Stimulus values of the first copy in the training presentations, ``(presentations, n_input)``.
    train_duration : float
        End (s) of the training presentations, where the test phase starts.
    test_plan : ndarray or None
        The held-out image each copy is shown in each test presentation, ``(presentations, copies)``
        (-1: none); None without a test phase.
    test_spikes : brian2.SpikeMonitor or None
        Output spikes of every copy (the first copy's monitor when there is one copy).
    """

    net: b2.Network
    groups: list
    forward: list
    lateral: list
    spikes: list
    weight_monitors: dict = field(default_factory=dict)
    state_monitors: dict = field(default_factory=dict)
    duration: float = 0.0
    stimulus: np.ndarray | None = None
    train_duration: float = 0.0
    test_plan: np.ndarray | None = None
    test_spikes: b2.SpikeMonitor | None = None


PHASE = "adapt"
"""Name of the :class:`brian2.TimedArray` that every neuron group of a chain reads: 1 while the network
learns, 0 in its test phase, where it switches the output's nudging off.
:func:`copi_bio.spiking.chain.run.build` adds it to every group's namespace."""

MEAN_PHASE = "adapt_mean"
"""Name of the :class:`brian2.TimedArray` at whose rate the slow running means (``xbar``, ``ubar``,
``*_bar``) integrate: 1 while the network learns (``1 / (1 + p / protocol.anneal)`` after ``p``
presentations with ``spiking.mean_anneal``), 0 in its test phase, where it freezes them (the
statistics of the training stream stay those the network saw)."""


def structure_key(model: Model) -> str:
    """Text identifying the generated code of a model (standalone build folder)."""
    pops = ",".join(f"{p.name}:{p.size}:{p.transfer}" for p in model.populations)
    fb, spk = model.feedback, model.spiking
    circuit = f"|{spk.interneurons}|{spk.interneuron_fan_in}" if spk.dale == "circuit" else ""
    return (f"{pops}|{model.lateral.rule}|{model.lateral.layers}|{fb.mode}|{fb.perturbation}|{spk.neuron}"
            f"|{spk.dale}|{spk.forward_update}|{spk.forward_centring}|{model.protocol.trials}{circuit}")


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
    ``namespace``): ``delta = gamma (target - f(u)) f'(u)``, switched off in the
    test phase by ``adapt(t)`` (:data:`PHASE`); hidden populations with feedback:
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
        drive, extra = "gamma * (target(t, i) - f_rate) * fprime * adapt(t)", ""
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


def shared_namespace(pre: b2.NeuronGroup, post: b2.NeuronGroup) -> dict:
    """Namespace of a synapse: constants used by the subexpressions of its groups.

    Where both groups define a constant (the rate mapping ``r0``, ``rs``),
    the presynaptic one is kept: synapses normalise presynaptic activity.
    """
    out = dict(post.namespace)
    out.update(pre.namespace)
    return out


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
