"""The combined Dataset of a sweep: run files and error records into one
Dataset, its zarr form, and a one-line-per-run summary.

The combined Dataset holds every metric along ``t_eval`` with dims
``(swept keys..., seed, t_eval)``, its final value ``<metric>_final`` with
dims ``(swept keys..., seed)``, a ``status`` variable (``"complete"``,
``"error"`` or ``"missing"``), ``error`` messages and ``wall_time_s``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import CopiBioError
from ..results import identity, package_versions
from .grid import Run, toml_value

__all__ = ["coord_values", "combine_runs", "save_zarr", "summary_table", "zarr_identity"]


def combine_runs(runs: Sequence[Run], grid: Mapping[str, list[Any]], seeds: Sequence[int],
                 result_file: Callable[[Run], Path | None], error_file: Callable[[Run], Path],
                 sweep_attrs: Mapping[str, Any]) -> xr.Dataset:
    """Combine the run files (and error records) of ``runs`` into one Dataset.

    Parameters
    ----------
    runs : list of Run
    grid : dict
        Swept key -> values, in the order of the runs' ``index``.
    seeds : list of int
    result_file : callable
        ``result_file(run)``: the run's result file if the run is finished
        (the file was checked to open and hold the run's model), else None.
    error_file : callable
        ``error_file(run)``: where the run's error record is, if it failed.
    sweep_attrs : dict
        Leading attributes of the Dataset (title, sweep specification, ``sweep_hash``).
    """
    keys = list(grid)
    shape = tuple(len(grid[k]) for k in keys) + (len(seeds),)
    seed_pos = {s: i for i, s in enumerate(seeds)}
    status = np.full(shape, "missing", dtype=object)
    errors = np.full(shape, "", dtype=object)
    wall = np.full(shape, np.nan)
    loaded: dict[tuple, xr.Dataset] = {}
    for run in runs:
        pos = run.index + (seed_pos[run.seed],)
        finished = result_file(run)
        if finished is not None:  # its declared size was checked there (stored_identity)
            with xr.open_dataset(finished, engine="netcdf4") as ds:
                metric_vars = [n for n, v in ds.data_vars.items() if v.dims == ("t_eval",)]
                loaded[pos] = ds[metric_vars].load()
                status[pos] = str(ds.attrs.get("status", "complete"))
                wall[pos] = float(ds.attrs.get("wall_time_s", np.nan))
        elif (error_path := error_file(run)).is_file():
            info = json.loads(error_path.read_text())
            status[pos] = "error"
            errors[pos] = f"{info.get('error_type')}: {info.get('message')}"
    t_all = sorted({float(t) for d in loaded.values() for t in d["t_eval"].values})
    t_index = {t: i for i, t in enumerate(t_all)}
    names = sorted({n for d in loaded.values() for n in d.data_vars})
    dims = tuple(keys) + ("seed",)
    out = xr.Dataset()
    coords = {k: ((k,), coord_values(grid[k])) for k in keys}
    coords["seed"] = (("seed",), np.asarray(seeds, dtype=np.int64))
    coords["t_eval"] = (("t_eval",), np.asarray(t_all, dtype=float), {"units": "s"})
    out = out.assign_coords(coords)
    pres = {}
    for name in names:
        arr = np.full(shape + (len(t_all),), np.nan)
        for pos, d in loaded.items():
            if name in d:
                idx = [t_index[float(t)] for t in d["t_eval"].values]
                arr[pos + (idx,)] = d[name].values
                if "presentation" in d.coords:
                    for t, p in zip(d["t_eval"].values, d["presentation"].values):
                        pres.setdefault(float(t), set()).add(int(p))
        attrs = dict(next(d[name].attrs for d in loaded.values() if name in d))
        out[name] = (dims + ("t_eval",), arr, attrs)
        final = np.full(shape, np.nan)
        for pos, d in loaded.items():
            if name in d:
                vals = d[name].values
                final[pos] = vals[-1] if vals.size else np.nan
        out[f"{name}_final"] = (dims, final, {"long_name": f"{name} at the last evaluation"})
    if t_all and all(len(pres.get(t, ())) == 1 for t in t_all):
        out = out.assign_coords(presentation=("t_eval", [next(iter(pres[t])) for t in t_all]))
    out["status"] = (dims, status.astype(str), {"long_name": "complete | error | missing"})
    out["error"] = (dims, errors.astype(str), {"long_name": "error type and message of failed runs"})
    out["wall_time_s"] = (dims, wall, {"units": "s"})
    n_failed = int((status == "error").sum())
    n_missing = int((status == "missing").sum())
    out.attrs.update({
        **sweep_attrs,
        "swept_keys": json.dumps(keys),
        "n_runs": len(runs), "n_failed": n_failed, "n_missing": n_missing,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **{f"version_{k}": v for k, v in package_versions().items()},
    })
    return out


def coord_values(values: list[Any]) -> np.ndarray:
    """Coordinate values of a swept key: booleans as ``true``/``false``, numbers and strings as
    they are, anything else in TOML syntax."""
    if all(isinstance(v, bool) for v in values):
        return np.asarray([str(v).lower() for v in values])
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.dtype.kind in "iufU":
        return arr
    return np.asarray([toml_value(v) for v in values])


def zarr_identity(path: Path) -> tuple[bool, str | None]:
    """``(readable, sweep_hash)`` of a zarr store, from its JSON metadata only (never its arrays)."""
    for meta in (".zattrs", "zarr.json"):
        try:
            data = json.loads((path / meta).read_text())
        except (OSError, ValueError):
            continue
        attrs = data.get("attributes", {}) if meta == "zarr.json" else data
        return isinstance(attrs, dict), identity(attrs) if isinstance(attrs, dict) else None
    return False, None


def save_zarr(ds: xr.Dataset, path: Path) -> Path:
    """Write ``ds`` as a zarr store at ``path`` (built next to it, then moved into place)."""
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise CopiBioError("writing zarr needs the 'zarr' package (pip install zarr)") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        ds.to_zarr(tmp / "data.zarr", mode="w")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp / "data.zarr", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def summary_table(ds: xr.Dataset) -> str:
    """One line per run: swept values, seed, status and a few final metrics."""
    keys = json.loads(ds.attrs.get("swept_keys", "[]"))
    finals = [n for n in ds.data_vars if n.endswith("_final")]
    prefer = [n for n in finals if n.split("_final")[0] in
              ("test_loss", "test_accuracy", "inference_error_teacher", "train_loss")]
    shown = (prefer or finals)[:3]
    header = [*keys, "seed", "status", *[n[: -len("_final")] for n in shown]]
    rows = []
    for idx in np.ndindex(*[ds.sizes[d] for d in (*keys, "seed")]):
        sel = dict(zip((*keys, "seed"), idx))
        row = [str(ds[d].values[i]) for d, i in sel.items()]
        row.append(str(ds["status"].isel(sel).values))
        row.extend(f"{float(ds[n].isel(sel).values):.4g}" for n in shown)
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    failed = list(dict.fromkeys(str(e) for e in np.ravel(ds["error"].values) if str(e)))
    for msg in failed[:5]:
        lines.append(f"error: {msg}")
    return "\n".join(lines)
