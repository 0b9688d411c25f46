"""Exceptions raised by copi_bio.

Every error a user can cause names the offending key or variable, the value
it had and what would have been allowed.
"""

from __future__ import annotations

RUNAWAY = 1e6
"""A state or weight whose magnitude exceeds this (inputs are O(1)) has diverged."""


class CopiBioError(Exception):
    """Base class of all copi_bio errors."""


class ModelError(CopiBioError, ValueError):
    """A model file or spec value is invalid.

    Parameters
    ----------
    key : str
        Dotted path of the offending key, e.g. ``"protocol.dt"``.
    value : object
        The value found.
    allowed : str
        What would have been accepted.
    source : str, optional
        The file the value came from.
    """

    def __init__(self, key: str, value: object, allowed: str, source: str | None = None):
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key} = {value!r} is invalid: {allowed}")


class SimulationError(CopiBioError, RuntimeError):
    """A simulation diverged or produced non-finite values.

    Parameters
    ----------
    variable : str
        Name of the state variable, e.g. ``"u"`` or ``"W"``.
    population : str
        Population or connection it belongs to.
    time : float
        Simulated time in seconds at which the problem was detected.
    cause : str
        Likely cause and what to change.
    """

    def __init__(self, variable: str, population: str, time: float, cause: str):
        self.variable = variable
        self.population = population
        self.time = time
        self.cause = cause
        super().__init__(
            f"{variable} of {population!r} became non-finite or ran away at "
            f"t = {time:.4g} s; {cause}"
        )


class CheckpointError(CopiBioError):
    """A checkpoint cannot be used (other model, other format, unreadable)."""
