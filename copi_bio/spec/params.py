"""Declaring a model-file key: :func:`param` and the checks and conversions it implies.

Each spec class declares its keys once, with :func:`param`: the kind of
value (a dimension such as ``"time"``, or a number, string, choice), the
default, the bounds and a one-line meaning. The declaration is what
validates a value (:func:`convert`), writes it back as a model file writes
it (:func:`file_value`) and documents it (``copi-bio models --keys`` and the
docs' model reference).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any, Mapping

from ..errors import ModelError
from ..units import DIMENSIONS, format_quantity, parse_quantity

REQUIRED = dataclasses.MISSING
"""Default of a key that must be given."""

MAX_INT = 10 ** 12  # larger integers in a model file are refused before any use


def param(kind: str, default: Any = REQUIRED, *, choices: tuple = (), low: float | None = None,
          high: float | None = None, strict: bool = True, optional: bool = False, doc: str = "") -> Any:
    """Declare a model-file key of a spec dataclass.

    Parameters
    ----------
    kind : {"time", "rate", "float", "int", "bool", "str", "choice", "str_list", "float_list"}
        How the TOML value is checked and converted. ``"time"``, ``"rate"``
        and the other dimensions of :data:`copi_bio.units.DIMENSIONS`
        (``"voltage"``, ``"conductance"``, ``"capacitance"``, ``"current"``)
        take strings with units and are stored in SI units.
    default : object, optional
        Value used when the key is absent (already converted); required if omitted.
    choices : tuple of str
        Allowed values for ``kind="choice"`` (and entries of ``"str_list"``).
    low, high : float, optional
        Bounds for numbers (and every entry of ``"float_list"``); ``strict`` makes ``low`` exclusive.
    optional : bool
        ``None`` is a valid value (the key may be omitted to mean "off").
    doc : str
        One-line meaning, shown by ``copi-bio models --keys``.
    """
    meta = dict(kind=kind, choices=choices, low=low, high=high, strict=strict,
                optional=optional, doc=doc)
    return field(default=default, metadata=meta)


def convert(meta: Mapping[str, Any], value: Any, key: str) -> Any:
    """Check a model-file value against its declaration ``meta`` (a :func:`param`'s metadata) and
    return it converted (quantities to SI floats, lists to tuples).

    Raises
    ------
    ModelError
        Naming ``key``, the value and what is allowed.
    """
    kind = meta["kind"]
    if value is None and meta["optional"]:
        return None
    if kind in DIMENSIONS:
        out = parse_quantity(value, kind, key)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelError(key, value, "a number")
        try:
            out = float(value)
        except OverflowError:
            raise ModelError(key, value, "a finite number") from None
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(key, value, "an integer")
        if abs(value) > MAX_INT:
            raise ModelError(key, value, f"an integer of magnitude at most {MAX_INT:.0e}")
        out = value
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ModelError(key, value, "true or false")
        return value
    elif kind == "str":
        if not isinstance(value, str):
            raise ModelError(key, value, "a string")
        return value
    elif kind == "choice":
        if value not in meta["choices"]:
            raise ModelError(key, value, "one of " + ", ".join(repr(c) for c in meta["choices"]))
        return value
    elif kind == "str_list":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ModelError(key, value, "a list of strings")
        bad = [v for v in value if meta["choices"] and v not in meta["choices"]]
        if bad:
            raise ModelError(key, value, "entries from " + ", ".join(repr(c) for c in meta["choices"]))
        return tuple(value)
    elif kind == "float_list":
        if not isinstance(value, (list, tuple)) or not value:
            raise ModelError(key, value, "a non-empty list of numbers")
        return tuple(convert({**meta, "kind": "float"}, v, key) for v in value)
    else:  # pragma: no cover - guarded by param()
        raise AssertionError(kind)
    if not math.isfinite(out):
        raise ModelError(key, value, "a finite number")
    low, high = meta["low"], meta["high"]
    if low is not None and (out <= low if meta["strict"] else out < low):
        raise ModelError(key, value, f"a value {'>' if meta['strict'] else '>='} {low:g}"
                         + (" (times and time constants must be positive)" if kind == "time" and low == 0 else ""))
    if high is not None and out > high:
        raise ModelError(key, value, f"a value <= {high:g}")
    return out


def file_value(meta: Mapping[str, Any], value: Any) -> Any:
    """An SI value of a key as a model file writes it (quantities as text, lists for tuples)."""
    if value is not None and meta.get("kind") in DIMENSIONS:
        return format_quantity(value, meta["kind"])
    return list(value) if isinstance(value, tuple) else value

