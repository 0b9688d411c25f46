"""Model constants as run-time parameters of Brian2 objects.

Brian2 writes every constant of an object's namespace into the code it
generates. In ``cpp_standalone`` a new value therefore means new C++ and a
recompilation, so that a sweep over a learning rate compiled once per value.
:func:`declare` turns such constants into shared, constant variables of the
object (``eta_w : siemens (shared, constant)``); :class:`RunParameters`
remembers their values and sets them when the run starts: through
``run_args`` of the compiled binary in ``cpp_standalone``
(:func:`copi_bio.spiking.device.simulate`), by assignment on the runtime
device. The generated code is then the same for every value, and runs of one
network structure share one build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import brian2 as b2
import numpy as np


def _unit_text(value: Any) -> str:
    """The unit of a scalar as Brian2 equations spell it (``1`` when dimensionless)."""
    dim = b2.get_dimensions(value)
    return "1" if dim.is_dimensionless else repr(b2.get_unit(dim))


def _is_constant(value: Any) -> bool:
    return isinstance(value, (float, b2.Quantity)) and np.ndim(value) == 0


def declare(namespace: dict) -> tuple[str, dict, dict]:
    """Split a namespace into shared-variable declarations, their values and the rest.

    Parameters
    ----------
    namespace : dict
        Identifier -> value. Scalar floats and quantities become shared,
        constant variables; everything else (functions such as a
        :class:`brian2.TimedArray`, integers used as counts) stays.

    Returns
    -------
    equations : str
        One declaration per constant, to append to the object's equations.
    values : dict
        Identifier -> value of the declared constants.
    rest : dict
        The remaining namespace.
    """
    values = {k: v for k, v in namespace.items() if _is_constant(v)}
    rest = {k: v for k, v in namespace.items() if k not in values}
    equations = "".join(f"{k} : {_unit_text(v)} (shared, constant)\n" for k, v in values.items())
    return equations, values, rest


@dataclass
class RunParameters:
    """Values of the shared constants of a network's objects, set when its run starts."""

    entries: list[tuple[Any, str, Any]] = field(default_factory=list)

    def bind(self, obj: Any, values: dict) -> None:
        """Record that ``obj`` (a group or synapses) takes ``values`` (from :func:`declare`)."""
        self.entries.extend((obj, name, value) for name, value in values.items())

    def assign(self) -> None:
        """Set every value directly (runtime device)."""
        for obj, name, value in self.entries:
            setattr(obj, name, value)

    def run_args(self) -> dict:
        """``{variable view: value}`` for :meth:`brian2.devices.cpp_standalone.CPPStandaloneDevice.run`."""
        return {getattr(obj, name): value for obj, name, value in self.entries}
