"""Sphinx extension of the copi_bio docs: tables made from the code and data the package ships.

``.. copi-model-keys:: copi_bio.spec.Protocol`` (option ``:table:`` names the
model-file table) writes one row per key declared with
:func:`copi_bio.spec.param`: its type or unit, default, allowed values and
meaning, read from the field metadata, so the reference cannot drift from
the validation code. ``.. copi-reference-table::`` renders the shipped
table of published correlation measurements.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import warnings

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from copi_bio.units import DIMENSIONS

_SI = {"time": "s", "rate": "Hz", "voltage": "V", "conductance": "S", "capacitance": "F", "current": "A"}
_KIND = {"float": "number", "int": "integer", "bool": "true / false", "str": "string",
         "choice": "string", "str_list": "list of strings", "float_list": "list of numbers"}


def _number(value: float) -> str:
    return f"{value + 0.0:g}"  # no "-0"


def _quantity(value: float, kind: str) -> str:
    """An SI float as the shortest readable quantity string of its dimension."""
    units = sorted(DIMENSIONS[kind].items(), key=lambda item: -item[1])
    for unit, scale in units:
        if abs(value) >= scale and unit.isascii() and "/" not in unit:
            return f'"{value / scale:g} {unit}"'
    return f'"{value:g} {_SI[kind]}"'


def _default(f: dataclasses.Field) -> str:
    meta = f.metadata
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "required"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if value is None:
        return "(omitted)"
    if meta["kind"] in DIMENSIONS:
        return _quantity(value, meta["kind"])
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_number(v) if isinstance(v, float) else f'"{v}"' for v in value) + "]"
    return _number(value) if isinstance(value, float) else str(value)


def _allowed(meta: dict) -> str:
    parts = []
    if meta["choices"]:
        parts.append(", ".join(f'"{c}"' for c in meta["choices"]))
    low, high = meta["low"], meta["high"]
    unit = f" {_SI[meta['kind']]}" if meta["kind"] in DIMENSIONS else ""
    if low is not None and not (isinstance(low, float) and math.isinf(low)):
        parts.append(f"{'>' if meta['strict'] else '>='} {_number(low)}{unit}")
    if high is not None:
        parts.append(f"<= {_number(high)}{unit}")
    if meta.get("optional"):
        parts.append("may be omitted")
    return "; ".join(parts) or "any"


def _type(meta: dict) -> str:
    kind = meta["kind"]
    if kind in DIMENSIONS:
        return f"{kind} (string with unit, e.g. {', '.join(u for u in DIMENSIONS[kind] if u.isascii())})"
    return _KIND.get(kind, kind)


def _row(cells: list[nodes.Node], header: bool = False) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", cell) if not header else nodes.paragraph("", "", nodes.strong("", cell.astext()))
        row += entry
    return row


class ModelKeys(SphinxDirective):
    """Table of the model-file keys of one spec class (docutils nodes, so it works in rst and MyST)."""

    required_arguments = 1
    option_spec = {"table": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        module, _, name = self.arguments[0].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        widths = (16, 22, 14, 22, 40)
        group = nodes.tgroup(cols=len(widths))
        for width in widths:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row([nodes.Text(h) for h in ("key", "type", "default", "allowed", "meaning")], header=True)
        body = nodes.tbody()
        for f in dataclasses.fields(cls):
            if not f.metadata:
                continue
            meta = f.metadata
            body += _row([nodes.literal("", f.name), nodes.Text(_type(meta)), nodes.Text(_default(f)),
                          nodes.Text(_allowed(meta)), nodes.Text(meta.get("doc", ""))])
        group += head
        group += body
        table = nodes.table()
        title = self.options.get("table")
        if title:
            table += nodes.title("", "", nodes.literal("", title), nodes.Text(f" ({cls.__module__}.{cls.__name__})"))
        table += group
        return [table]


class ReferenceTable(SphinxDirective):
    """The shipped table of published correlation measurements, as shipped."""

    COLUMNS = (("quantity", "quantity"), ("phenomenon", "phenomenon"), ("value", "value"), ("spread", "spread"), ("area", "area"),
               ("state", "state"), ("counting_window_ms", "window (ms)"), ("rate_range_hz", "rates (Hz)"),
               ("n_pairs", "pairs"), ("condition", "condition"), ("citation", "source"),
               ("value_status", "status"))

    def run(self) -> list[nodes.Node]:
        from copi_bio.analysis.reference import reference_table

        group = nodes.tgroup(cols=len(self.COLUMNS))
        for _ in self.COLUMNS:
            group += nodes.colspec(colwidth=10)
        head = nodes.thead()
        head += _row([nodes.Text(title) for _, title in self.COLUMNS], header=True)
        body = nodes.tbody()
        for row in reference_table():
            body += _row([nodes.Text(row.get(key, "") or "") for key, _ in self.COLUMNS])
        group += head
        group += body
        table = nodes.table()
        table += nodes.title("", "copi_bio/data/reference_correlations.csv")
        table += group
        return [table]


def quiet_third_party(gallery_conf: dict, fname: str, when: str | None = None) -> None:
    """sphinx-gallery ``reset_modules`` hook: before each example, hide third-party
    deprecation chatter (pyparsing names used by Brian2, Elephant's binning
    notes) that would fill its printed output."""
    warnings.filterwarnings("ignore", message=r".*deprecated, use|.*deprecated - use")
    warnings.filterwarnings("ignore", message="Binning discarded")


def setup(app):  # noqa: D103 - Sphinx entry point
    app.add_directive("copi-model-keys", ModelKeys)
    app.add_directive("copi-reference-table", ReferenceTable)
    return {"parallel_read_safe": True, "version": "1"}
