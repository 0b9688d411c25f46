"""Published correlation measurements shipped with copi_bio, and matching
model statistics to them (same counting window, same firing-rate range)."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import xarray as xr

COLUMNS = ("quantity", "phenomenon", "value", "spread", "spread_kind", "species", "area", "state",
           "counting_window_ms", "rate_range_hz", "n_pairs", "condition", "citation",
           "doi_or_id", "source_read", "value_status", "note")


def reference_table() -> list[dict[str, str]]:
    """Rows of ``copi_bio/data/reference_correlations.csv`` (see docs/reference_data.md).

    Numeric values are only given where they were confirmed in the cited
    source (``value_status == "confirmed"``); other rows are qualitative.
    ``phenomenon`` tags the effect a row documents (``window``, ``rate``,
    ``tuning``, ``training``, ``spontaneous_vs_evoked``,
    ``pattern_decorrelation``, ``development``, ``attention``, ``fano_quench``, ``mean_level``)
    or is empty.
    """
    text = resources.files("copi_bio").joinpath("data/reference_correlations.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return rows


def numeric_rows(rows: list[dict[str, str]] | None = None) -> list[dict[str, object]]:
    """Confirmed rows with a numeric mean and a stated counting window."""
    out = []
    for row in rows if rows is not None else reference_table():
        try:
            value = float(row["value"])
            window = float(row["counting_window_ms"]) / 1000.0
        except (TypeError, ValueError):
            continue
        if row.get("value_status") == "confirmed":
            out.append({**row, "value": value, "window_s": window})
    return out


def _rate_range(text: str) -> tuple[float, float] | None:
    try:
        lo, hi = (float(v) for v in text.replace("–", "-").split("-"))
        return lo, hi
    except (ValueError, AttributeError):
        return None


def match_windows(model_rsc: xr.Dataset, rows: list[dict[str, object]] | None = None,
                  model_rate_hz: float | None = None) -> list[dict[str, object]]:
    """Pair each confirmed measurement with the model's mean r_sc at the same window.

    Parameters
    ----------
    model_rsc : xarray.Dataset
        From :func:`copi_bio.analysis.correlations.rsc_by_window`.
    rows : list, optional
        Reference rows (default: the shipped table's numeric rows).
    model_rate_hz : float, optional
        The model's mean firing rate; rows whose stated rate range excludes
        it are marked ``rate_matched = False``.

    Returns
    -------
    list of dict
        Reference row fields plus ``model_mean`` (NaN where the model has no
        statistic at that window) and ``rate_matched``.
    """
    rows = numeric_rows() if rows is None else rows
    windows = model_rsc["window"].values
    out = []
    for row in rows:
        hit = np.flatnonzero(np.isclose(windows, row["window_s"], rtol=1e-6))
        model = float(model_rsc["mean"].values[hit[0]]) if hit.size else float("nan")
        rng = _rate_range(str(row.get("rate_range_hz", "")))
        matched = None if rng is None or model_rate_hz is None else bool(rng[0] <= model_rate_hz <= rng[1])
        out.append({**row, "model_mean": model, "rate_matched": matched})
    return out
