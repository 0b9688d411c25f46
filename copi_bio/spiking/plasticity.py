"""Plasticity rules of the spiking backend, as small rule objects.

Each rule object knows the synaptic equations it adds, the statements run at
a presynaptic and at a postsynaptic spike, what it needs from the
postsynaptic neurons and its constants. Every rule is event-driven: its work
is done at spikes (traces are updated lazily by Brian2's ``event-driven``
integration), never per synapse per time step. The one exception is the
optional centring term of the spike-driven forward rule
(``spiking.forward_centring``), a continuous term summed every
``spiking.summation_dt``.

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

Rules of the Dale circuit (``spiking.dale = "circuit"``, :mod:`copi_bio.spiking.chain.dale`):

* excitatory forward synapses (:func:`copi_forward_dale`) apply the COPI
  rule with the decay toward the offset ``c`` of the feedforward
  inhibition, ``w += eta / rate_scale ((u - ubar) - (w - c) a_pre)``,
  clipped at ``w >= 0``: the signed weight ``w - c`` learns the COPI rule;
* inhibitory synapses from interneuron ``k`` onto principal cell ``i``
  (:func:`interneuron_covariance`) add ``eta / rate_scale`` times the
  principal cell's trace fluctuation ``xi_i`` at every interneuron spike,
  clipped at ``V >= 0``; expected drift ``eta <h_k xi_i>``, the covariance
  of the interneuron's drive ``h_k`` with the cell it inhibits.

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

from ..spec import CopiLateralRule, CovarianceRule, PlasticityRule, VogelsSprekelerRule
from .neurons import slow_rate, slow_rate_reset
from .synapses import current_on_pre

COPI_FORWARD_ON_PRE = "w += eta_w * gate_w(t) / rs * ((u_post - ubar_post) - w * fluct_pre)"
"""Event-driven COPI forward rule (``fluct_pre`` is read before the spike's own trace jump:
Brian2 runs ``on_pre`` before the presynaptic reset that adds it)."""

COPI_FORWARD_SPIKE_DRIVEN = "w_post += eta_w * gate_w(t) / (rs * copies) * ((u_q - ubar_q) - w_post * activity_pre)"
"""Event-driven COPI forward rule of the spike-driven formulation, applied by a learning synapse to the
shared weight ``w_post`` (:mod:`copi_bio.spiking.chain.shared_weights`) at a spike of its presynaptic cell;
``u_q``, ``ubar_q`` are the somatic potential and its slow mean of the postsynaptic cell of the same
copy. The decay reads the fluctuation ``activity_pre`` of the presynaptic firing intensity filtered like
a spike trace, which (unlike the trace itself) the regularity of LIF spike trains does not bias."""

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
    post_namespace, pre_namespace : dict
        Constants of those equations.
    pre_equations : str
        Equations the presynaptic group must have (the mean drive of the COPI lateral rule).
    """

    model: str
    on_pre: str
    on_post: str
    namespace: dict
    post_equations: str = ""
    post_reset: str = ""
    post_namespace: dict = field(default_factory=dict)
    pre_equations: str = ""
    pre_namespace: dict = field(default_factory=dict)


def _common(rule: PlasticityRule, offset: float) -> dict:
    return {"tau_stdp": rule.tau * second, "eta_w": rule.eta * 1e-9 * siemens, "w_max": rule.w_max * siemens,
            "onset": rule.onset * second, "offset": offset * second}


_UPDATE = "w = clip(w + int(t >= onset) * int(t < offset) * eta_w * ({drive}), 0 * siemens, w_max)"
"""A weight update, gated to ``onset <= t < offset`` (the learning window; ``offset`` is where a test
phase freezes the weights)."""


def vogels_sprekeler(rule: VogelsSprekelerRule, offset: float) -> SpikeTimingRule:
    """Vogels-Sprekeler inhibitory STDP: pre ``w += eta (apost - alpha)``, post ``w += eta apre``."""
    return SpikeTimingRule(
        model=_TRACES,
        on_pre="apre += 1\n" + _UPDATE.format(drive="apost - alpha"),
        on_post="apost += 1\n" + _UPDATE.format(drive="apre"),
        namespace={**_common(rule, offset), "alpha": rule.alpha})


def covariance(rule: CovarianceRule, name: str, offset: float) -> SpikeTimingRule:
    """Covariance STDP: pre ``w += eta (apost - 2 tau nu_post)``, post ``w += eta apre``.

    ``name`` is the postsynaptic slow-rate variable (one per projection).
    """
    return SpikeTimingRule(
        model=_TRACES,
        on_pre="apre += 1\n" + _UPDATE.format(drive=f"apost - 2 * tau_stdp * {name}_post"),
        on_post="apost += 1\n" + _UPDATE.format(drive="apre"),
        namespace=_common(rule, offset),
        post_equations=slow_rate(name), post_reset=slow_rate_reset(name),
        post_namespace={f"tau_{name}": rule.tau_rate * second})


def copi_lateral(rule: CopiLateralRule, name: str, offset: float) -> SpikeTimingRule:
    """COPI's lateral rule through an interneuron (:class:`~copi_bio.spec.CopiLateralRule`): at a
    postsynaptic spike ``w += eta (g_exc_pre - gbar_pre) / nS``; the presynaptic group keeps
    ``gbar_<name>``, the mean of its excitatory conductance over ``tau_mean``."""
    mean = f"gbar_{name}"
    return SpikeTimingRule(
        model="w : siemens\n", on_pre="",
        on_post=_UPDATE.format(drive=f"(g_exc_pre - {mean}_pre) / nS"),
        namespace={"eta_w": rule.eta * 1e-9 * siemens, "w_max": rule.w_max * siemens,
                   "onset": rule.onset * second, "offset": offset * second},
        pre_equations=f"d{mean}/dt = (g_exc - {mean}) / tau_{mean} : siemens\n",
        pre_namespace={f"tau_{mean}": rule.tau_mean * second})


def spike_timing_rule(rule: PlasticityRule, name: str, offset: float) -> SpikeTimingRule:
    """The rule object of a projection's plasticity spec (``name`` labels its per-neuron variables),
    learning from ``rule.onset`` until ``offset`` (s)."""
    if isinstance(rule, VogelsSprekelerRule):
        return vogels_sprekeler(rule, offset)
    if isinstance(rule, CovarianceRule):
        return covariance(rule, name, offset)
    if isinstance(rule, CopiLateralRule):
        return copi_lateral(rule, name, offset)
    raise TypeError(f"no spiking implementation of plasticity rule {rule.rule!r}")


@dataclass
class TableRule:
    """A plasticity rule of a spike-driven chain connection whose weights live in a shared table.

    Attributes
    ----------
    var : str
        The weight variable (``w`` forward, ``M`` lateral).
    transmit : str
        ``on_pre`` of the transmission synapses (a current jump scaled by the weight).
    learn : str
        ``on_pre`` of the learning synapses: the rule, applied to ``<var>_post``, the table element.
    reads : dict
        ``variable -> unit``: variables of the partner cell of the same copy that ``learn`` reads
        (as ``<variable>_q``).
    centring : str or None
        With ``spiking.forward_centring = "mean_rate"``: the summed expression of the continuous
        centring term of one copy (:data:`CENTRING`).
    apply_centring : str or None
        The statement that subtracts the copies' summed ``centring`` from the table element every
        ``spiking.summation_dt`` (``t_centring``).
    """

    var: str
    transmit: str
    learn: str
    reads: dict[str, str]
    centring: str | None = None
    apply_centring: str | None = None


CENTRING = "rate_bar_pre / rs * ((u_q - ubar_q) - {weight} * activity_pre)"
"""Drift of the forward rule's centring term in one copy, summed into the table element's
``centring``: the spike-driven rule's ``<S_pre (...)>`` at the presynaptic slow mean rate ``rate_bar``."""

_CENTRING_STEP = "w - eta_w * gate_w(t) * t_centring / copies * centring"
"""The table element after subtracting the copies' summed centring term over ``t_centring``."""


def copi_forward(centred: bool = False) -> TableRule:
    """Forward synapse of a spike-driven chain: current jump and the COPI rule at presynaptic spikes.

    With ``centred``, a continuous term subtracts the rule's drift at the
    presynaptic slow mean rate: ``dw/dt = -eta_w rate_bar_pre / rs ((u - ubar)
    - w activity_pre)``, so that the rule follows the centred spike train
    ``S_pre - rate_bar_pre`` (``docs/spiking.md``). Namespace needed:
    ``eta_w`` (Hz), ``gate_w`` (a :class:`brian2.TimedArray`), ``rs``,
    ``tau_syn``, ``copies`` (the centring synapses add ``t_centring``).
    """
    return TableRule(var="w", transmit=current_on_pre("I_ff", "w"), learn=COPI_FORWARD_SPIKE_DRIVEN,
                     reads={"u": "1", "ubar": "1"},
                     centring=CENTRING.format(weight="w_post") if centred else None,
                     apply_centring=f"w = {_CENTRING_STEP}" if centred else None)


def copi_forward_dale(centred: bool = False) -> TableRule:
    """Excitatory forward synapse of the Dale circuit: current jump and the COPI rule of the signed
    weight ``w - w_offset`` at presynaptic spikes, ``w >= 0``.

    Namespace needed: as :func:`copi_forward`, and ``w_offset`` (the weight ``c`` of the
    feedforward inhibition). ``centred`` as in :func:`copi_forward`, also clipped at ``w >= 0``.
    """
    step = ("w_post + eta_w * gate_w(t) / (rs * copies) * ((u_q - ubar_q) - (w_post - w_offset) "
            "* activity_pre)")
    return TableRule(var="w", transmit=current_on_pre("I_ff", "w"), learn=f"w_post = clip({step}, 0, inf)",
                     reads={"u": "1", "ubar": "1"},
                     centring=CENTRING.format(weight="(w_post - w_offset)") if centred else None,
                     apply_centring=f"w = clip({_CENTRING_STEP}, 0, inf)" if centred else None)


def interneuron_covariance() -> TableRule:
    """Inhibitory synapse from an interneuron onto a principal cell (Dale circuit): current jump into
    ``I_lat`` and, at every interneuron spike, ``V += eta_l / (rs * copies) * xi_post`` (``xi`` the
    principal cell's trace fluctuation), clipped at ``V >= 0``.

    An interneuron spikes at ``r0_int + rs_int * h`` with ``h`` its drive,
    so the expected drift is ``eta_l <(r0_int / rs_int + h) xi> = eta_l <h xi>``
    (``xi`` has zero mean). Namespace needed: ``eta_l`` (Hz), ``gate_l``,
    ``rs`` (the principal cells' rate scale), ``rs_int`` (the interneurons'),
    ``tau_syn``, ``copies``.
    """
    step = "V_post + eta_l * gate_l(t) / (rs_int * copies) * (x_q - xbar_q) / rs"
    return TableRule(var="V", transmit="I_lat_post += V / (rs_int * tau_syn)",
                     learn=f"V_post = clip({step}, 0, inf)", reads={"x": "Hz", "xbar": "Hz"})


def lateral_covariance(dale: bool) -> TableRule:
    """Lateral synapse of a spike-driven chain: inhibitory current and a symmetric covariance rule.

    Pre spike: ``M += eta_l / (2 rs) * fluct_post``; post spike:
    ``M += eta_l / (2 rs) * fluct_pre``; ``M >= 0`` when ``dale``. A spike is
    never paired with its own trace (pre and post are different cells), so
    the expected drift is ``eta_l`` times the covariance of the two cells'
    normalised rate fluctuations (``docs/spiking.md``). With a shared table,
    a spike of a cell updates both elements it belongs to, ``M_ik`` (as pre)
    and ``M_ki`` (as post), each with the partner's fluctuation
    ``(x_q - xbar_q) / rs``. Namespace needed: ``eta_l`` (Hz), ``gate_l``,
    ``rs``, ``tau_syn``, ``copies``.
    """
    step = "M_post + eta_l * gate_l(t) / (2 * rs * copies) * (x_q - xbar_q) / rs"
    return TableRule(var="M", transmit=current_on_pre("I_lat", "M"),
                     learn=f"M_post = clip({step}, 0, inf)" if dale else f"M_post = {step}",
                     reads={"x": "Hz", "xbar": "Hz"})
