"""Spiking backend on Brian2 (``backend = "spiking"``).

E/I network models (a ``[network]`` table): :mod:`.network` builds them from
:mod:`.neurons`, :mod:`.synapses` and :mod:`.plasticity`, and
:mod:`.run_network` runs them. Chain models in the trace formulation: see
:mod:`copi_bio.spiking.builder` for the equations and :func:`run_spiking`
for the run protocol.
"""

from .run import run_spiking

__all__ = ["run_spiking"]
