"""Synapses of the spiking backend.

Spike-driven conductance synapses of the E/I network: a presynaptic spike
raises the postsynaptic conductance of the receptor that matches the
presynaptic cell type (Dale's law: an excitatory population only ever
excites, an inhibitory one only inhibits; weights are non-negative).
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
