"""Neuron models of the spiking backend (Brian2 equation strings with units).

:func:`conductance_lif` is the leaky integrate-and-fire neuron with
exponentially decaying excitatory and inhibitory conductances (the model of
NEST's ``iaf_cond_exp``) used by the E/I network models; :func:`slow_rate`
adds a slow spike-rate estimate that a plasticity rule may need. The neurons
of the chain models (trace formulation) are in :mod:`copi_bio.spiking.builder`.
"""

from __future__ import annotations

from brian2 import amp, farad, second, siemens, volt

from ..spec_spiking import NetworkPopulation

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


def conductance_lif(pop: NetworkPopulation) -> tuple[str, dict, dict]:
    """Equations, namespace and threshold/reset arguments of a conductance-based LIF population.

    The namespace still needs ``common_input`` (a :class:`brian2.TimedArray`
    of the shared current, in amperes).
    """
    namespace = {
        "C_m": pop.C * farad, "g_leak": pop.g_leak * siemens, "E_leak": pop.E_leak * volt,
        "E_exc": pop.E_exc * volt, "E_inh": pop.E_inh * volt, "tau_exc": pop.tau_exc * second,
        "tau_inh": pop.tau_inh * second, "I_bg": pop.I_bg * amp, "V_th": pop.V_th * volt,
        "V_reset": pop.V_reset * volt,
    }
    spiking = dict(threshold="v > V_th", reset="v = V_reset", refractory=pop.refractory * second)
    return LIF_CONDUCTANCE, namespace, spiking


__all__ = ["LIF_CONDUCTANCE", "conductance_lif", "slow_rate", "slow_rate_reset"]
