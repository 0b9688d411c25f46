"""Synapses of the spiking backend.

Spike-driven conductance synapses of the E/I network: a presynaptic spike
raises the postsynaptic conductance of the receptor that matches the
presynaptic cell type (Dale's law: an excitatory population only ever
excites, an inhibitory one only inhibits; weights are non-negative).

Spike-driven current synapses of the chain models (``neuron = "lif_spike"``):
a presynaptic spike raises a postsynaptic current (``I_ff`` forward,
``I_lat`` lateral) by ``weight / (rate_scale * tau_syn)``, so that the
current is ``sum_j weight_j x_j / rate_scale`` with ``x_j`` the presynaptic
spike train filtered by ``exp(-t / tau_syn) / tau_syn`` (a rate in Hz).
"""

from __future__ import annotations

RECEPTOR = {"excitatory": "g_exc", "inhibitory": "g_inh"}
"""Postsynaptic conductance raised by the spikes of each cell type."""


def static_on_pre(cell_type: str) -> str:
    """``on_pre`` of a static synapse whose weight is the constant ``w_syn`` (siemens)."""
    return f"{RECEPTOR[cell_type]}_post += w_syn"


def plastic_on_pre(cell_type: str) -> str:
    """``on_pre`` of a synapse with its own weight variable ``w`` (siemens)."""
    return f"{RECEPTOR[cell_type]}_post += w"


def current_on_pre(current: str, weight: str) -> str:
    """``on_pre`` of a chain synapse: the postsynaptic ``current`` jumps by ``weight / (rs * tau_syn)``."""
    return f"{current}_post += {weight} / (rs * tau_syn)"


def balance_current(weight: str) -> str:
    """Summed variable of a forward chain synapse: ``I_bal = sum_j weight_j xbar_j / rs``.

    The mean of the spike-driven current ``I_ff`` at the presynaptic neurons'
    slow mean rates ``xbar``; the soma integrates ``I_ff - I_bal``, so a
    change of the weights never moves its mean potential (a tonic
    counter-current, as from feedforward inhibition co-tuned with each
    excitatory input).
    """
    return f"I_bal_post = {weight} * xbar_pre / rs : 1 (summed)\n"
