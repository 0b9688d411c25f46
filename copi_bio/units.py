"""Parsing of physical quantities written in model files.

Quantities are written as strings with a unit, ``"20 ms"``, ``"5 Hz"``,
``"-60 mV"``, ``"3 nS"``, ``"200 pF"``, ``"200 pA"``. They are converted to SI
floats (seconds, hertz, volts, siemens, farads, amperes). Plain numbers
are refused for dimensional keys so that a value is never read in the wrong
unit silently.
"""

from __future__ import annotations

import re

from .errors import ModelError

_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
_RATE = {"Hz": 1.0, "kHz": 1e3, "/s": 1.0, "1/s": 1.0}
_VOLTAGE = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6}
_CONDUCTANCE = {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "µS": 1e-6, "nS": 1e-9, "pS": 1e-12}
_CAPACITANCE = {"F": 1.0, "uF": 1e-6, "µF": 1e-6, "nF": 1e-9, "pF": 1e-12}
_CURRENT = {"A": 1.0, "mA": 1e-3, "uA": 1e-6, "µA": 1e-6, "nA": 1e-9, "pA": 1e-12}
DIMENSIONS = {"time": _TIME, "rate": _RATE, "voltage": _VOLTAGE, "conductance": _CONDUCTANCE,
              "capacitance": _CAPACITANCE, "current": _CURRENT}
_SI = {"time": "s", "rate": "Hz", "voltage": "V", "conductance": "S", "capacitance": "F", "current": "A"}
_EXAMPLE = {"time": "20 ms", "rate": "20 Hz", "voltage": "-60 mV", "conductance": "3 nS",
            "capacitance": "200 pF", "current": "200 pA"}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value: object, dimension: str, key: str) -> float:
    """Convert ``"20 ms"``-style text to an SI float.

    Parameters
    ----------
    value : object
        The value read from the model file.
    dimension : {"time", "rate", "voltage", "conductance", "capacitance", "current"}
        The physical dimension the key expects.
    key : str
        Dotted key, used in the error message.

    Returns
    -------
    float
        The value in SI units (s, Hz, V, S, F or A).

    Raises
    ------
    ModelError
        If the value is not a string with a known unit of that dimension.
    """
    units = DIMENSIONS[dimension]
    allowed = f"a string with a {dimension} unit, e.g. '{_EXAMPLE[dimension]}' (units: {', '.join(units)})"
    if not isinstance(value, str):
        raise ModelError(key, value, allowed)
    match = _PATTERN.match(value)
    if match is None or match.group(2) is None or match.group(2) not in units:
        raise ModelError(key, value, allowed)
    return float(match.group(1)) * units[match.group(2)]


def format_quantity(value: float, dimension: str) -> str:
    """Write an SI float back as text with its SI unit (``0.02 -> "0.02 s"``)."""
    return f"{value!r} {_SI[dimension]}"
