"""The Dale circuit of a spike-driven chain (``spiking.dale = "circuit"``): principal cells that
only excite, decorrelated by plastic interneurons, with excitatory forward weights and
feedforward inhibition.

Lateral stage of a decorrelated population (``n`` principal cells, ``n_I``
interneurons per copy, :func:`build_lateral`):

* principal cell ``j`` excites interneuron ``k`` with probability
  ``spiking.interneuron_fan_in`` = ``p`` (the set ``S_k``); the interneuron
  is a Poisson cell at ``r0_int + rs_int h_k`` (the hidden cells' rate
  mapping, whatever code the input uses) with drive
  ``h_k = g sum_{j in S_k} xi_j``, ``xi`` the
  principal cells' normalised rate fluctuations (``A_kj = g [j in S_k]``);
  ``g = 1 / sqrt(p n)`` gives the drive of decorrelated inputs a unit scale;
* interneuron ``k`` inhibits every principal cell ``i`` outside ``S_k``
  through a plastic synapse ``V_ik >= 0`` (a current into ``I_lat``), and
  never a cell it receives from, so no cell inhibits itself through a loop;
* at every interneuron spike ``V_ik += eta / rs * xi_i``
  (:func:`~copi_bio.spiking.plasticity.interneuron_covariance`), clipped at 0.

The principal cells see the lateral input ``sum_k V_ik h_k``: the effective
lateral matrix is ``M = V A`` (non-negative, zero diagonal, rank at most
``n_I``), read out as the rate model's Foldiak ``M``. Drifts and what ``M``
can represent: docs/spiking.md, "A Dale circuit".

Forward connection (:func:`build_forward`): excitatory weights ``w >= 0``,
plus feedforward inhibition through ``n_pre`` interneurons per copy that
pool every presynaptic cell (drive ``sum_j xi_j / sqrt(n_pre)``) and
inhibit every postsynaptic cell with weight ``c / sqrt(n_pre)``, so
that the inhibitory current is ``c sum_j xi_j`` and each input acts through
the signed weight ``w - c`` (``c = spiking.forward_offset``). The
forward rule learns ``w - c`` with the COPI rule
(:func:`~copi_bio.spiking.plasticity.copi_forward_dale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import brian2 as b2
import numpy as np
from brian2 import Hz, second

from ...spec import Model
from .. import neurons, plasticity, synapses
from . import common, shared_weights


@dataclass
class InterneuronStage(shared_weights.SharedTable):
    """The plastic interneuron synapses ``V`` of a lateral stage; :meth:`matrix` gives ``M = V A``.

    Attributes
    ----------
    fan_in : ndarray
        ``A``, shape ``(n_I, n)``: the drive of interneuron ``k`` is ``sum_j A_kj xi_j``.
    """

    fan_in: np.ndarray | None = None
    var: ClassVar[str] = "V"

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """The effective lateral matrix ``M = V A`` (``n x n``) from the table values of ``V``."""
        v = np.asarray(values, dtype=float).reshape(self.n_pre, self.n_post).T  # (n, n_I)
        return v @ self.fan_in


@dataclass
class ExcitatoryForward(shared_weights.SharedTable):
    """Excitatory forward weights ``w >= 0``; :meth:`matrix` gives the signed weights ``w - c``."""

    offset: float = 0.0

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """The signed weights ``w - c`` (``n_post x n_pre``)."""
        return super().matrix(values) - self.offset


def interneuron_count(model: Model, k: int) -> int:
    """Interneurons per copy of the lateral stage of population ``k``."""
    return model.spiking.interneurons or model.populations[k].size


def _connectivity(model: Model, k: int, n_int: int, n: int) -> np.ndarray:
    """``S``, shape ``(n_I, n)``: which principal cells excite which interneuron (each interneuron at
    least one cell and misses at least one, so that it has cells to inhibit)."""
    rng = np.random.default_rng([model.seed, 17, k])
    p = model.spiking.interneuron_fan_in
    while True:
        member = rng.random((n_int, n)) < p
        counts = member.sum(axis=1)
        if np.all((counts > 0) & (counts < n)):
            return member


MAX_RATE_FACTOR = 10.0
"""Interneurons rest at the principal cells' ``rate_offset`` and are clipped at this many times it
(fast-spiking cells), so that the shot noise of their drive seldom reaches the upper clip."""


def _rates(model: Model) -> dict:
    """Rate mapping of every interneuron: ``rate_offset`` and ``rate_scale`` of the hidden and output
    cells (whatever code the input population uses), clipped at :data:`MAX_RATE_FACTOR` times the
    offset."""
    spk = model.spiking
    return {"r0_int": spk.rate_offset * Hz, "rs_int": spk.rate_scale * Hz,
            "rmax_int": MAX_RATE_FACTOR * spk.rate_offset * Hz}


def _cell_namespace(group: b2.NeuronGroup) -> dict:
    """The constants of a principal cell group that its interneurons and their synapses read."""
    return {key: group.namespace[key] for key in ("r0", "rs", "rmax", "tau_syn", "tau_mean", "tau_trace")}


def _interneurons(name: str, count: int, copies: int, gain: float, ns: dict, dt: float) -> b2.NeuronGroup:
    group = b2.NeuronGroup(count * copies, neurons.INTERNEURON, threshold="rand() < rate * dt",
                           method="exact", dt=dt * second, namespace=dict(ns), name=name)
    group.gain_in = gain
    return group


def _excitation(pre: b2.NeuronGroup, post: b2.NeuronGroup, pairs: tuple[np.ndarray, ...], ns: dict,
                dt: float, name: str) -> b2.Synapses:
    """Static excitatory synapses from principal cells to interneurons (current jumps of weight 1);
    the interneurons' currents start at their value for principal cells at the resting rate ``r0``."""
    syn = b2.Synapses(pre, post, on_pre=synapses.current_on_pre("I_e", "1"), dt=dt * second, namespace=ns,
                      name=name)
    syn.connect(i=pairs[0], j=pairs[1])
    inputs = np.bincount(pairs[1], minlength=len(post))
    post.I_e = post.I_e_bar = inputs * float(ns["r0"] / ns["rs"])
    return syn


def build_lateral(model: Model, k: int, group: b2.NeuronGroup, gate: b2.TimedArray, eta: float) -> InterneuronStage:
    """Interneuron lateral stage of population ``k``: E -> I static, I -> E plastic (``V >= 0``)."""
    copies, dt = model.protocol.trials, model.protocol.dt
    n, n_int = model.populations[k].size, interneuron_count(model, k)
    member = _connectivity(model, k, n_int, n)
    gain = 1.0 / np.sqrt(model.spiking.interneuron_fan_in * n)
    ns = _cell_namespace(group)
    rates = _rates(model)
    inter = _interneurons(f"int_{k}", n_int, copies, gain, {**ns, **rates}, dt)
    to_int = shared_weights.copy_pairs(copies, n, n_int)  # every principal cell -> every interneuron
    excite = member[to_int[2] % n_int, to_int[2] // n_int]  # kept where the interneuron receives from the cell
    e_to_i = _excitation(group, inter, (to_int[0][excite], to_int[1][excite]), ns, dt, f"int_{k}_excitation")
    rule = plasticity.interneuron_covariance()
    table = shared_weights.table_group(f"V_{k}", rule.var, np.zeros(n_int * n), dt)
    pre, post, element = shared_weights.copy_pairs(copies, n_int, n)
    keep = ~member[element // n, element % n]  # interneuron k inhibits only cells outside S_k
    pairs = (pre[keep], post[keep], element[keep])
    syn_ns = {**ns, "rs_int": rates["rs_int"], "eta_l": eta * Hz, "gate_l": gate, "copies": copies}
    transmit = shared_weights.transmission(inter, group, table, rule.var, rule.transmit, pairs, syn_ns, dt,
                                           f"V_{k}_transmission")
    reads = {f"{v}_q": (group, v, unit) for v, unit in rule.reads.items()}
    learn = shared_weights.learning(inter, table, reads, pairs[0], pairs[2], pairs[1], rule.learn, syn_ns, dt,
                                    f"V_{k}_learning")
    return InterneuronStage(table, n_int, n, [inter, e_to_i, table, transmit, learn],
                            fan_in=gain * member.astype(float))


def build_forward(model: Model, k: int, pre: b2.NeuronGroup, post: b2.NeuronGroup, w0: np.ndarray,
                  gate: b2.TimedArray, eta: float, summation_dt: float) -> ExcitatoryForward:
    """Excitatory forward weights ``w = c + W_0`` (clipped at 0) with the COPI rule of ``w - c``, and
    feedforward inhibition ``c sum_j xi_j`` through interneurons that pool the presynaptic cells."""
    copies, dt, c = model.protocol.trials, model.protocol.dt, model.spiking.forward_offset
    n_pre, n_post = w0.shape[1], w0.shape[0]
    ns = {**common.shared_namespace(pre, post), "eta_w": eta * Hz, "gate_w": gate, "copies": copies,
          "w_offset": c}
    w_init = np.clip(w0 + c, 0.0, None)
    bp = "(w - w_offset)" if model.feedback.mode == "bp" and k >= 1 else None
    rule = plasticity.copi_forward_dale(centred=model.spiking.forward_centring == "mean_rate")
    forward = shared_weights.forward_table(k, pre, post, w_init, rule, ns, copies, dt, summation_dt,
                                           feedback_weight=bp)
    r0, rs = model.spiking.rates(k)
    post.I_ff = np.tile(w_init.sum(axis=1) * r0 / rs, copies)  # = I_bal at t = 0
    # feedforward inhibition: n_pre pooling interneurons per copy
    pre_ns = _cell_namespace(pre)
    rates = _rates(model)
    pool = _interneurons(f"ffi_{k}", n_pre, copies, 1.0 / np.sqrt(n_pre), {**pre_ns, **rates}, dt)
    all_pairs = shared_weights.copy_pairs(copies, n_pre, n_pre)
    e_to_i = _excitation(pre, pool, all_pairs[:2], pre_ns, dt, f"ffi_{k}_excitation")
    inhibit = b2.Synapses(pool, post, on_pre="I_ffi_post += b_ffi / (rs_int * tau_syn)", dt=dt * second,
                          namespace={**pre_ns, **rates, "b_ffi": c / np.sqrt(n_pre)}, name=f"ffi_{k}_inhibition")
    out = shared_weights.copy_pairs(copies, n_pre, n_post)
    inhibit.connect(i=out[0], j=out[1])
    post.I_ffi = post.I_ffi_bar = c * np.sqrt(n_pre) * float(rates["r0_int"] / rates["rs_int"])  # pool at rest
    return ExcitatoryForward(forward.table, n_pre, n_post, forward.objects + [pool, e_to_i, inhibit], offset=c)
