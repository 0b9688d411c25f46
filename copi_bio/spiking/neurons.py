"""Neuron models of the spiking backend (Brian2 equation strings with units).

:func:`conductance_lif` is the leaky integrate-and-fire neuron with
exponentially decaying excitatory and inhibitory conductances (the model of
NEST's ``iaf_cond_exp``) used by the E/I network models; :func:`slow_rate`
adds a slow spike-rate estimate that a plasticity rule may need.

The spike-driven chain models (``spiking.neuron = "lif_spike"``) use
:data:`POISSON_INPUT` for the stimulus population and
:func:`two_compartment_lif` for hidden and output populations; both carry
spike-driven synaptic currents (:func:`synaptic_current`) and a presynaptic
spike trace (:data:`SPIKE_TRACE`) that the learning rules read. The neurons
of the trace formulation are in :mod:`copi_bio.spiking.chain.trace`.
"""

from __future__ import annotations

from brian2 import Hz, amp, farad, second, siemens, volt

from ..spec import NetworkPopulation

LIF_CONDUCTANCE = """
dv/dt = (g_leak * (E_leak - v) + g_exc * (E_exc - v) + g_inh * (E_inh - v) + I_bg + I_common) / C_m : volt (unless refractory)
dg_exc/dt = -g_exc / tau_exc : siemens
dg_inh/dt = -g_inh / tau_inh : siemens
I_common = common_input(t) : amp
"""


def slow_rate(name: str) -> str:
    """Equation of a slow spike-rate estimate ``name`` (Hz) with time constant ``tau_<name>``;
    each spike adds ``1 / tau_<name>`` (see :func:`slow_rate_reset`)."""
    return f"d{name}/dt = -{name} / tau_{name} : Hz\n"


def slow_rate_reset(name: str) -> str:
    """Reset statement that counts a spike into the slow rate estimate ``name``."""
    return f"{name} += 1 / tau_{name}"


TUNING = "exp(kappa_stim * (cos(2 * (stim_theta(t) - pref)) - 1))"
"""The stimulus tuning curve of a receiving cell: von Mises over the doubled angle between the shown
orientation ``stim_theta(t)`` and the cell's preferred one ``pref``, 1 at the preferred orientation."""

STIMULUS_CURRENT = f"""
I_stim = stim_gain(t) * (I_untuned + I_tuned * {TUNING}) : amp
pref : 1 (constant)
"""
"""Stimulus current of a population that receives an E/I network's stimulus (:mod:`copi_bio.spec.stimulus`):
``stim_gain(t)`` (contrast times the trial's shared gain; 0 outside stimulus epochs) and ``stim_theta(t)``
(the orientation's angle, rad) are :class:`brian2.TimedArray` s; ``pref`` is the neuron's preferred angle."""


STIMULUS_RATE = f"""
rate = r_spont + stim_gain(t) * (r_untuned + r_tuned * {TUNING}) : Hz
pref : 1 (constant)
"""
"""Rate of a Poisson population that receives the stimulus: its spontaneous rate plus the tuned rate of
the stimulus (the time courses as in :data:`STIMULUS_CURRENT`)."""


def poisson_source(pop: NetworkPopulation, stimulus: bool = False) -> tuple[str, dict, dict]:
    """Equations, namespace and threshold/reset arguments of a population of Poisson spike sources:
    each cell fires with probability ``rate * dt`` per step, independently of every other cell. With
    ``stimulus`` its rate follows :data:`STIMULUS_RATE`, whose constants and time courses the caller adds."""
    eqs = STIMULUS_RATE if stimulus else "rate = r_spont : Hz\n"
    return eqs, {"r_spont": pop.rate * Hz}, dict(threshold="rand() < rate * dt")


def conductance_lif(pop: NetworkPopulation, stimulus: bool = False) -> tuple[str, dict, dict]:
    """Equations, namespace and threshold/reset arguments of a conductance-based LIF population.

    The namespace still needs ``common_input`` (a :class:`brian2.TimedArray`
    of the shared current, in amperes); with ``stimulus``, the population receives the stimulus
    current :data:`STIMULUS_CURRENT`, whose constants and time courses the caller adds.
    """
    namespace = {
        "C_m": pop.C * farad, "g_leak": pop.g_leak * siemens, "E_leak": pop.E_leak * volt,
        "E_exc": pop.E_exc * volt, "E_inh": pop.E_inh * volt, "tau_exc": pop.tau_exc * second,
        "tau_inh": pop.tau_inh * second, "I_bg": pop.I_bg * amp, "V_th": pop.V_th * volt,
        "V_reset": pop.V_reset * volt,
    }
    spiking = dict(threshold="v > V_th", reset="v = V_reset", refractory=pop.refractory * second)
    if stimulus:
        return LIF_CONDUCTANCE.replace("+ I_common)", "+ I_common + I_stim)") + STIMULUS_CURRENT, namespace, spiking
    return LIF_CONDUCTANCE, namespace, spiking


# Every slow running mean below integrates at the rate ``adapt_mean(t)`` (1 while a chain learns, or the
# learning rates' annealing factor with ``spiking.mean_anneal``; 0 in its test phase:
# :data:`copi_bio.spiking.chain.common.MEAN_PHASE`), a TimedArray the chain's builder provides.
SPIKE_TRACE = """
dx/dt = -x / tau_trace : Hz
dxbar/dt = adapt_mean(t) * (x - xbar) / tau_mean : Hz
fluct = (x - xbar) / rs : 1
"""
"""Presynaptic spike trace ``x`` (each spike adds ``1 / tau_trace``: :data:`TRACE_RESET`), its slow
mean ``xbar`` and the normalised fluctuation ``fluct`` that the learning rules read."""

TRACE_RESET = "x += 1 / tau_trace"


def synaptic_current(name: str) -> str:
    """Equation of a spike-driven synaptic current ``name``: each presynaptic spike raises it (see
    :func:`copi_bio.spiking.synapses.current_on_pre`), it decays with ``tau_syn``."""
    return f"d{name}/dt = -{name} / tau_syn : 1\n"


def slow_mean(name: str) -> str:
    """Equation of ``<name>_bar``, the mean of ``name`` over ``tau_mean``: a homeostatic offset that
    the neuron subtracts, so that it responds to the fluctuations of ``name`` around its slow mean."""
    return f"d{name}_bar/dt = adapt_mean(t) * ({name} - {name}_bar) / tau_mean : 1\n"


LATERAL_CURRENT = synaptic_current("I_lat") + slow_mean("I_lat")
"""Lateral inhibitory current ``I_lat`` and its slow mean (the neuron responds to ``I_lat - I_lat_bar``)."""

INTENSITY = """
drate_f/dt = (rate - rate_f) / tau_trace : Hz
drate_bar/dt = adapt_mean(t) * (rate_f - rate_bar) / tau_mean : Hz
activity = (rate_f - rate_bar) / rs : 1
"""
"""The neuron's firing intensity ``rate`` filtered with the spike trace's kernel (``rate_f``), its slow
mean ``rate_bar`` and the normalised fluctuation ``activity``: the expectation of the spike trace
``x``, but not shaped by the cell's own spikes (the forward rule's decay term reads it)."""

POISSON_INPUT = """
rate = clip(r0 + rs * (stim(t, i) - (I_lat - I_lat_bar)), 0 * Hz, rmax) : Hz
""" + LATERAL_CURRENT + SPIKE_TRACE + INTENSITY
"""Stimulus population: Poisson spike sources at ``rate_offset + rate_scale * (z(t) - I_lat)``
(``I_lat`` the lateral inhibitory current around its slow mean); threshold ``rand() < rate * dt``."""

_LIF_SOMA = """
du/dt = (-u + {drive} + delta) / tau_u : 1
I_bal : 1
dubar/dt = adapt_mean(t) * (u - ubar) / tau_mean : 1
f_rate = {f} : 1
fprime = {fprime} : 1
rate = clip(r0 + rs * (f_rate - (I_lat - I_lat_bar)), 0 * Hz, rmax) : Hz
dv/dt = (J - v) / tau_lif : 1 (unless refractory)
J = 1 / (1 - exp(-(1 / clip(rate, rmin, rmax) - t_ref) / tau_lif)) : 1
"""

PREDICTION = "da/dt = (-a + {drive}) / tau_u : 1\n"
"""Forward prediction ``a`` of the prediction formulation: the low-pass filtered feedforward synaptic
drive only (no top-down current); ``u - a`` is the top-down perturbation filtered by ``tau_u``."""


FEEDFORWARD_DRIVE = "I_ff - I_bal"
"""The feedforward drive of a chain neuron: the spike-driven forward current around its balancing mean."""

FEEDFORWARD_INHIBITION = synaptic_current("I_ffi") + slow_mean("I_ffi")
"""Feedforward inhibitory current ``I_ffi`` from interneurons (Dale circuit) and its slow mean; the drive
becomes ``I_ff - I_bal - (I_ffi - I_ffi_bar)``."""

INTERNEURON = """
rate = clip(r0_int + rs_int * gain_in * (I_e - I_e_bar), 0 * Hz, rmax_int) : Hz
gain_in : 1 (constant)
""" + synaptic_current("I_e") + slow_mean("I_e")
"""Inhibitory interneuron of the Dale circuit: a Poisson cell (threshold ``rand() < rate * dt``) whose
rate follows the fluctuation of its excitatory synaptic current ``I_e`` (each spike of a principal
cell adds ``1 / (rs tau_syn)``) around its slow mean, scaled by ``gain_in``; it rests at ``r0_int``,
changes by ``rs_int`` per unit drive and is clipped at ``rmax_int``."""


def two_compartment_lif(f: str, fprime: str, delta: str, prediction: bool = False,
                        feedforward_inhibition: bool = False) -> tuple[str, dict]:
    """Equations and threshold/reset arguments of a hidden or output neuron of a spike-driven chain.

    The somatic potential ``u`` (dimensionless, not reset by spikes: the
    learning signal) integrates the forward synaptic current ``I_ff`` minus
    its balancing mean ``I_bal`` (summed by the forward synapses,
    :func:`copi_bio.spiking.synapses.balance_current`) and the top-down
    current ``delta``. The spike-initiation zone ``v`` is a leaky
    integrate-and-fire membrane (threshold 1, reset 0, refractory
    ``t_ref``) driven by the current ``J`` at which a noise-free LIF fires
    at ``rate = rate_offset + rate_scale * (f(.) - I_lat)`` (``I_lat``:
    perisomatic lateral inhibition around its slow mean). Membrane noise is
    added by the builder.

    With self-consistent nudging (``prediction = False``) the rate follows
    the soma, ``f(u)``. With ``prediction`` a third compartment, the forward
    prediction ``a`` (:data:`PREDICTION`, the feedforward drive alone),
    sets the rate, ``f(a)``; the perturbation moves only the soma.

    Parameters
    ----------
    f, fprime : str
        Transfer function and its derivative, as expressions of the
        compartment that sets the rate (``u``, or ``a`` with ``prediction``).
    delta : str
        Equation lines defining the top-down current ``delta``.
    prediction : bool
        Whether the forward prediction ``a`` sets the rate (``feedback.perturbation = "prediction"``).
    feedforward_inhibition : bool
        Whether the drive includes the feedforward inhibition of the Dale circuit
        (:data:`FEEDFORWARD_INHIBITION`).
    """
    drive = FEEDFORWARD_DRIVE + (" - (I_ffi - I_ffi_bar)" if feedforward_inhibition else "")
    eqs = _LIF_SOMA.format(f=f, fprime=fprime, drive=drive) + (PREDICTION.format(drive=drive) if prediction else "") \
        + delta + "\n" + synaptic_current("I_ff") + LATERAL_CURRENT + SPIKE_TRACE + INTENSITY \
        + (FEEDFORWARD_INHIBITION if feedforward_inhibition else "")
    spiking = dict(threshold="v > 1", reset="v = 0\n" + TRACE_RESET, refractory="t_ref")
    return eqs, spiking


__all__ = ["FEEDFORWARD_DRIVE", "FEEDFORWARD_INHIBITION", "INTENSITY", "INTERNEURON", "LATERAL_CURRENT",
           "LIF_CONDUCTANCE", "POISSON_INPUT", "PREDICTION", "SPIKE_TRACE", "TRACE_RESET",
           "conductance_lif", "slow_mean", "slow_rate", "slow_rate_reset", "synaptic_current", "two_compartment_lif"]
