"""Plasticity rules of the spiking backend, as small rule objects.

Each rule object knows the synaptic equations it adds, the statements run at
a presynaptic and at a postsynaptic spike, what it needs from the
postsynaptic neurons and its constants. Every rule is event-driven: its work
is done at spikes (traces are updated lazily by Brian2's ``event-driven``
integration), never per synapse per time step.

Forward rule of chain models (``spiking.forward_update``):

* :data:`COPI_FORWARD_ON_PRE`: at each presynaptic spike
  ``w += eta / rate_scale * ((u - ubar) - w xi_pre(t-))``, with the trace
  fluctuation ``xi_pre`` read *before* the spike is added to it. Expected
  drift ``eta [cov(S_pre / rate_scale, u) - w cov(S_pre(t) / rate_scale, xi_pre(t-))]``:
  a spike is never paired with itself, so both terms are rate covariances
  and the fixed point is the rate model's ``<u xi> / <xi^2>``;
* :data:`COPI_FORWARD_CLOCK`: ``dw/dt = eta ((u - ubar) xi_pre - w xi_pre^2)``
  every step. ``<xi^2>`` then includes the traces' shot noise
  ``nu / (2 tau_trace rate_scale^2)``, which shrinks the learned weights.

Rules of the spike-driven chain models (``neuron = "lif_spike"``), where
synapses pass spikes (:func:`copi_forward`, :func:`lateral_covariance`):

* forward synapses apply :data:`COPI_FORWARD_SPIKE_DRIVEN` at presynaptic
  spikes, reading the postsynaptic somatic potential ``u`` (not reset by
  spikes) and the presynaptic cell's filtered firing intensity ``a_pre``;
  expected drift: the COPI rule ``eta [<(u - ubar) a_pre> - w <a_pre^2>]``
  plus an own-spike term that vanishes for Poisson presynaptic cells
  (``docs/spiking.md``);
* lateral inhibitory synapses ``M`` add ``eta / (2 rate_scale)`` times the
  other cell's trace fluctuation at every pre- and postsynaptic spike
  (clipped at ``M >= 0`` with Dale's law); expected drift
  ``eta <xi_pre xi_post>``, the Foldiak/COPI decorrelation rule.

Rules of inhibitory synapses (conductance ``w`` in siemens, kept in
``[0, w_max]`` so a synapse never changes sign):

* :class:`CovarianceSTDP`: symmetric window minus the product of slow rate
  estimates; expected drift ``eta * int exp(-|s|/tau) cov_{post,pre}(s) ds``,
  the covariance (COPI decorrelation) rule of the rate model.
* :class:`VogelsSprekelerSTDP`: the same window minus a constant ``alpha``
  per presynaptic spike (Vogels, Sprekeler et al. 2011); expected drift
  ``eta [2 tau nu_pre (nu_post - rho_0) + int exp(-|s|/tau) cov(s) ds]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brian2 import second, siemens

from ..spec_spiking import CovarianceRule, PlasticityRule, VogelsSprekelerRule
from .neurons import slow_rate, slow_rate_reset
from .synapses import balance_current, current_on_pre

COPI_FORWARD_ON_PRE = "w += eta_w * gate_w(t) / rs * ((u_post - ubar_post) - w * fluct_pre)"
"""Event-driven COPI forward rule (``fluct_pre`` is read before the spike's own trace jump:
Brian2 runs ``on_pre`` before the presynaptic reset that adds it)."""

COPI_FORWARD_SPIKE_DRIVEN = "w += eta_w * gate_w(t) / rs * ((u_post - ubar_post) - w * activity_pre)"
"""Event-driven COPI forward rule of the spike-driven formulation: the decay reads the fluctuation
``activity_pre`` of the presynaptic firing intensity filtered like a spike trace, which (unlike the
trace itself) the regularity of LIF spike trains does not bias."""

COPI_FORWARD_CLOCK = "dw/dt = eta_w * gate_w(t) * ((u_post - ubar_post) * fluct_pre - w * fluct_pre**2) : 1 (clock-driven)\n"
"""Clock-driven COPI forward rule on spike traces."""

_TRACES = """
w : siemens
dapre/dt = -apre / tau_stdp : 1 (event-driven)
dapost/dt = -apost / tau_stdp : 1 (event-driven)
"""


@dataclass
class SpikeTimingRule:
    """Brian2 pieces of a spike-timing rule of a conductance synapse.

    Attributes
    ----------
    model : str
        Synaptic equations (weight ``w`` and the two traces).
    on_pre, on_post : str
        Learning statements at a presynaptic / postsynaptic spike.
    namespace : dict
        Constants of the statements.
    post_equations, post_reset : str
        Equations and reset statements the postsynaptic group must have
        (a slow rate estimate for the covariance rule; empty otherwise).
    """

    model: str
    on_pre: str
    on_post: str
    namespace: dict
    post_equations: str = ""
    post_reset: str = ""
    post_namespace: dict = field(default_factory=dict)


def _common(rule: PlasticityRule) -> dict:
    return {"tau_stdp": rule.tau * second, "eta_w": rule.eta * 1e-9 * siemens, "w_max": rule.w_max * siemens,
            "onset": rule.onset * second}


_UPDATE = "w = clip(w + int(t >= onset) * eta_w * ({drive}), 0 * siemens, w_max)"


def vogels_sprekeler(rule: VogelsSprekelerRule) -> SpikeTimingRule:
    """Vogels-Sprekeler inhibitory STDP: pre ``w += eta (apost - alpha)``, post ``w += eta apre``."""
    return SpikeTimingRule(
        model=_TRACES,
        on_pre="apre += 1\n" + _UPDATE.format(drive="apost - alpha"),
        on_post="apost += 1\n" + _UPDATE.format(drive="apre"),
        namespace={**_common(rule), "alpha": rule.alpha})


def covariance(rule: CovarianceRule, name: str) -> SpikeTimingRule:
    """Covariance STDP: pre ``w += eta (apost - 2 tau nu_post)``, post ``w += eta apre``.

    ``name`` is the postsynaptic slow-rate variable (one per projection).
    """
    return SpikeTimingRule(
        model=_TRACES,
        on_pre="apre += 1\n" + _UPDATE.format(drive=f"apost - 2 * tau_stdp * {name}_post"),
        on_post="apost += 1\n" + _UPDATE.format(drive="apre"),
        namespace=_common(rule),
        post_equations=slow_rate(name), post_reset=slow_rate_reset(name),
        post_namespace={f"tau_{name}": rule.tau_rate * second})


def spike_timing_rule(rule: PlasticityRule, name: str) -> SpikeTimingRule:
    """The rule object of a projection's plasticity spec (``name`` labels its per-neuron variables)."""
    if isinstance(rule, VogelsSprekelerRule):
        return vogels_sprekeler(rule)
    if isinstance(rule, CovarianceRule):
        return covariance(rule, name)
    raise TypeError(f"no spiking implementation of plasticity rule {rule.rule!r}")


def copi_forward() -> SpikeTimingRule:
    """Forward synapse of a spike-driven chain: current jump and the COPI rule at presynaptic spikes.

    Namespace needed: ``eta_w`` (Hz), ``gate_w`` (a :class:`brian2.TimedArray`),
    ``rs``, ``tau_syn``.
    """
    return SpikeTimingRule(model="w : 1\n" + balance_current("w"),
                           on_pre=current_on_pre("I_ff", "w") + "\n" + COPI_FORWARD_SPIKE_DRIVEN, on_post="",
                           namespace={})


def lateral_covariance(dale: bool) -> SpikeTimingRule:
    """Lateral synapse of a spike-driven chain: inhibitory current and a symmetric covariance rule.

    Pre spike: ``M += eta_l / (2 rs) * fluct_post``; post spike:
    ``M += eta_l / (2 rs) * fluct_pre``; ``M >= 0`` when ``dale``. A spike is
    never paired with its own trace (pre and post are different cells), so
    the expected drift is ``eta_l`` times the covariance of the two cells'
    normalised rate fluctuations (``docs/spiking.md``). Namespace needed:
    ``eta_l`` (Hz), ``gate_l``, ``rs``, ``tau_syn``.
    """
    step = "M + eta_l * gate_l(t) / (2 * rs) * fluct_{other}"
    update = ("M = clip(" + step + ", 0, inf)") if dale else ("M = " + step)
    return SpikeTimingRule(model="M : 1\n",
                           on_pre=current_on_pre("I_lat", "M") + "\n" + update.format(other="post"),
                           on_post=update.format(other="pre"), namespace={})
