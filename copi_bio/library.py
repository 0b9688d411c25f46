"""The ``[about]`` table of a model file: what the model is for, what it measured and how long it
runs, shown by ``copi-bio models`` as columns.

::

    [about]
    family = "digits"              # one of FAMILIES
    purpose = "spiking digits at the rate backend's accuracy, 16 copies sharing weights"
    result = "test_accuracy 0.955 +- 0.009 (spikes, seeds 1-5)"
    wall_time = "5 min"            # on 2 cores, a time with its unit
    status = "current"             # or "superseded", with replaced_by naming the successor

The table describes the file; it is not part of the model: it is checked here and removed before
the model is validated, so it never changes a run or its ``model_hash``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ModelError
from .units import parse_quantity

FAMILIES = {
    "teacher_student": "recover a teacher's weights (parameter inference)",
    "digits": "classify the 8x8 digits",
    "mnist": "classify MNIST (the paper's experiment)",
    "decorrelation": "decorrelate correlated inputs",
    "ei_network": "conductance-based E/I networks with plastic inhibition",
}
"""Model families: the question each family of models answers."""
STATUSES = ("current", "superseded")
KEYS = ("family", "purpose", "result", "wall_time", "status", "replaced_by")


@dataclass(frozen=True)
class About:
    """A model file's ``[about]`` table (see the module docstring); ``wall_time`` in seconds."""

    family: str
    purpose: str
    result: str
    wall_time: float
    status: str = "current"
    replaced_by: str = ""


def parse_about(table: Any, source: str = "") -> About:
    """Check an ``[about]`` table.

    Raises
    ------
    ModelError
        Naming the key, its value and what is allowed.
    """
    if not isinstance(table, Mapping):
        raise ModelError("about", table, "a table with " + ", ".join(KEYS), source)
    for key in table:
        if key not in KEYS:
            raise ModelError(f"about.{key}", table[key], "a key of [about]: " + ", ".join(KEYS), source)
    for key in KEYS[:4]:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ModelError(f"about.{key}", table.get(key), "a non-empty string", source)
    if table["family"] not in FAMILIES:
        raise ModelError("about.family", table["family"], "one of " + ", ".join(FAMILIES), source)
    status = table.get("status", "current")
    if status not in STATUSES:
        raise ModelError("about.status", status, "one of " + ", ".join(STATUSES), source)
    replaced_by = table.get("replaced_by", "")
    if (status == "superseded") != bool(replaced_by):
        raise ModelError("about.replaced_by", replaced_by,
                         "the successor's name exactly when status = 'superseded'", source)
    wall = parse_quantity(table["wall_time"], "time", "about.wall_time")
    return About(table["family"], table["purpose"].strip(), table["result"].strip(), wall, status, replaced_by)


def split_about(data: Mapping[str, Any], source: str = "") -> tuple[dict[str, Any], About | None]:
    """The model table without ``[about]``, and the checked ``[about]`` (None where there is none)."""
    rest = {key: value for key, value in data.items() if key != "about"}
    return rest, (parse_about(data["about"], source) if "about" in data else None)


def format_wall_time(seconds: float) -> str:
    """``"40 s"``, ``"4.5 min"`` or ``"1.2 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.2g} h"
