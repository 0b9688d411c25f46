"""Spiking backend on Brian2 (``backend = "spiking"``).

See :mod:`copi_bio.spiking.builder` for the equations and
:func:`run_spiking` for the run protocol.
"""

from .run import run_spiking

__all__ = ["run_spiking"]
