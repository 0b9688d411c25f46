"""Parsing of physical quantities written in model files.

Quantities are written as strings with a unit, ``"20 ms"``, ``"5 Hz"``,
``"1.5 s"``. They are converted to SI floats (seconds, hertz). Plain numbers
are refused for dimensional keys so that a value is never read in the wrong
unit silently.
"""

from __future__ import annotations

import re

from .errors import ModelError

_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
_RATE = {"Hz": 1.0, "kHz": 1e3, "/s": 1.0, "1/s": 1.0}
DIMENSIONS = {"time": _TIME, "rate": _RATE}
_SI = {"time": "s", "rate": "Hz"}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value: object, dimension: str, key: str) -> float:
    """Convert ``"20 ms"``-style text to an SI float.

    Parameters
    ----------
    value : object
        The value read from the model file.
    dimension : {"time", "rate"}
        The physical dimension the key expects.
    key : str
        Dotted key, used in the error message.

    Returns
    -------
    float
        The value in SI units (seconds for time, hertz for rate).

    Raises
    ------
    ModelError
        If the value is not a string with a known unit of that dimension.
    """
    units = DIMENSIONS[dimension]
    allowed = f"a string with a {dimension} unit, e.g. '20 {'ms' if dimension == 'time' else 'Hz'}' (units: {', '.join(units)})"
    if not isinstance(value, str):
        raise ModelError(key, value, allowed)
    match = _PATTERN.match(value)
    if match is None or match.group(2) is None or match.group(2) not in units:
        raise ModelError(key, value, allowed)
    return float(match.group(1)) * units[match.group(2)]


def format_quantity(value: float, dimension: str) -> str:
    """Write an SI float back as text with its SI unit (``0.02 -> "0.02 s"``)."""
    return f"{value!r} {_SI[dimension]}"
