"""Parameter sweeps on a dask.distributed cluster.

A sweep runs one model for every combination of a grid of ``--set``-style
overrides and every seed::

    ds = run_sweep("teacher_student", {"feedback.gamma": [1, 4]}, seeds=[1, 2, 3],
                   out_dir="sweep_out", workers=2)

Layout of ``out_dir``:

* ``runs/<name>.nc`` -- one result file per finished run, written (atomically,
  by the client) as soon as that run finishes;
* ``runs/<name>.error.json`` -- error type, message, traceback and overrides
  of a run that raised; the other runs go on;
* ``sweep.nc`` (or ``sweep.zarr``) -- the combined Dataset: every metric along
  ``t_eval`` with dims ``(swept keys..., seed, t_eval)``, its final value
  ``<metric>_final`` with dims ``(swept keys..., seed)``, a ``status`` variable
  (``"complete"``, ``"error"`` or ``"missing"``), ``error`` messages and
  ``wall_time_s``; the sweep specification is in the attributes.

Re-running the same sweep into the same folder skips every run whose result
file opens and holds the same resolved model (same ``model_hash``), retries
runs that failed and rewrites the combined file. Before anything runs, the
output folder is checked for writability, and a run file of a different
model, or a combined file of a different sweep (``sweep_hash``), is refused
unless ``overwrite=True`` (``--overwrite``). Every file name is checked to
stay inside ``out_dir``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import tomli_w
import xarray as xr

from .atomic import atomic_write
from .errors import CopiBioError, ModelError
from .modelfile import load_model, model_hash, parse_override, resolve_model_path
from .outdir import output_path, prepare_output_folder
from .results import check_replace, identity, package_versions, save_result, stored_identity
from .spec import Model

_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --------------------------------------------------------------------------- parsing


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside quotes or brackets."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """Parse ``key=v1,v2,...`` (each value in TOML syntax, as for ``--set``).

    >>> parse_grid("feedback.gamma=1,4")
    ('feedback.gamma', [1, 4])
    >>> parse_grid('lateral.tau="50 ms","100 ms"')
    ('lateral.tau', ['50 ms', '100 ms'])
    """
    if "=" not in text:
        raise ModelError("--grid", text, "KEY=V1,V2,..., e.g. feedback.gamma=1,4")
    key, raw = text.split("=", 1)
    key = key.strip()
    values = []
    for part in _split_top_level(raw):
        if not part:
            raise ModelError("--grid", text, "a comma-separated list of non-empty values")
        parts, value = parse_override(f"{key}={part}")
        values.append(value)
    _check_key(key, values, text)
    return key, values


def _check_key(key: str, values: Sequence[Any], where: Any) -> None:
    if not key or any(not p for p in key.split(".")):
        raise ModelError("--grid", where, "a dotted key such as feedback.gamma")
    if key == "seed":
        raise ModelError("--grid", where, "a model key other than seed (use --seeds)")
    if len(values) == 0:
        raise ModelError("--grid", where, "at least one value")
    seen = [_toml_value(v) for v in values]
    if len(set(seen)) != len(seen):
        raise ModelError("--grid", where, "distinct values")


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"1-5"`` -> ``[1, 2, 3, 4, 5]``; ``"1,3,7"``; mixed ``"1-3,10"``."""
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        seeds = []
        for part in text.split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise ModelError("--seeds", text, "ranges LOW-HIGH with LOW <= HIGH")
                seeds.extend(range(lo, hi + 1))
            elif re.fullmatch(r"\d+", part):
                seeds.append(int(part))
            else:
                raise ModelError("--seeds", text, "non-negative integers: 1-5, 1,3,7 or 1-3,10")
    if not seeds:
        raise ModelError("--seeds", text, "at least one seed")
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ModelError("--seeds", text, "distinct non-negative seeds")
    return seeds


def _toml_value(value: Any) -> str:
    """A Python value in TOML syntax (the right-hand side of ``--set``)."""
    try:
        return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
    except TypeError:
        raise ModelError("--grid", value, "a TOML value (number, string, boolean, array)") from None


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    """One combination of the sweep."""

    index: tuple[int, ...]          # position along the swept keys
    seed: int
    overrides: tuple[str, ...]      # base overrides + grid values + seed
    name: str
    model: Model = field(repr=False, compare=False)


def _run_name(model_name: str, values: Mapping[str, Any], seed: int, overrides: Sequence[str]) -> str:
    readable = "_".join(f"{k}={_toml_value(v)}" for k, v in values.items())
    readable = re.sub(r"[^A-Za-z0-9.=+-]+", "-", f"{model_name}_{readable}_seed{seed}").strip("-")[:120]
    readable = re.sub(r"\.{2,}", ".", readable)  # one path component, never '..'
    digest = hashlib.sha1("\n".join([model_name, *overrides]).encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def _execute(model: Model) -> xr.Dataset:
    """Worker task: simulate one run (BLAS pinned to one thread)."""
    for k, v in _THREAD_ENV.items():
        os.environ.setdefault(k, v)
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limiter = None
    try:
        from .simulation import simulate
        return simulate(model)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


@dataclass
class Sweep:
    """A sweep specification; :meth:`run` executes it.

    Parameters
    ----------
    model : str or Path
        Model file or library name.
    grid : dict
        Dotted key -> list of values (Python values, as after TOML parsing).
    seeds : list of int
    out_dir : str or Path
    overrides : list of str
        ``--set`` overrides applied to every run (before the grid values).
    overwrite : bool
        Replace run files of a different model and a combined file of a
        different sweep in ``out_dir`` (refused otherwise).
    """

    model: str | Path
    grid: dict[str, list[Any]]
    seeds: list[int]
    out_dir: str | Path = "sweep"
    overrides: list[str] = field(default_factory=list)
    overwrite: bool = False

    def __post_init__(self):
        self.grid = {str(k): list(v) for k, v in dict(self.grid).items()}
        for key, values in self.grid.items():
            _check_key(key, values, f"{key}={values!r}")
        self.seeds = parse_seeds(self.seeds)
        self.out_dir = Path(self.out_dir)
        self.overrides = list(self.overrides)
        self.model_path = resolve_model_path(self.model)

    @property
    def runs_dir(self) -> Path:
        return self.out_dir / "runs"

    def runs(self) -> list[Run]:
        """Every combination, each validated with :func:`load_model` (raises
        :class:`ModelError` before anything is submitted)."""
        keys = list(self.grid)
        shape = [len(self.grid[k]) for k in keys]
        out = []
        for index in np.ndindex(*shape) if keys else [()]:
            values = {k: self.grid[k][i] for k, i in zip(keys, index)}
            for seed in self.seeds:
                ov = (*self.overrides, *(f"{k}={_toml_value(v)}" for k, v in values.items()),
                      f"seed={seed}")
                model = load_model(self.model_path, ov)
                out.append(Run(tuple(int(i) for i in index), seed, ov,
                               _run_name(model.name, values, seed, ov), model))
        return out

    def spec(self) -> dict[str, Any]:
        return {"model": str(self.model), "model_path": str(self.model_path), "grid": self.grid,
                "seeds": self.seeds, "overrides": self.overrides}

    def result_path(self, run: Run) -> Path:
        return output_path(self.out_dir, "runs", f"{run.name}.nc")

    def error_path(self, run: Run) -> Path:
        return output_path(self.out_dir, "runs", f"{run.name}.error.json")

    def combined_path(self, fmt: str = "netcdf") -> Path:
        return output_path(self.out_dir, "sweep.zarr" if fmt == "zarr" else "sweep.nc")

    def identity(self, runs: list[Run]) -> str:
        """``sweep_hash``: SHA-256 over the swept keys, the seeds and every run's model hash."""
        text = json.dumps({"keys": list(self.grid), "seeds": self.seeds,
                           "runs": [model_hash(r.model) for r in runs]})
        return hashlib.sha256(text.encode()).hexdigest()

    def is_finished(self, run: Run) -> bool:
        """The run's result file exists, opens and holds the same resolved model."""
        path = self.result_path(run)
        readable, found = stored_identity(path) if path.is_file() else (False, None)
        return readable and found == model_hash(run.model)

    # ----------------------------------------------------------------- execution

    def run(self, workers: int = 2, scheduler: str | None = None, progress: bool = True,
            fmt: str = "netcdf", on_result: Callable[[Run, str], None] | None = None) -> xr.Dataset:
        """Execute the missing runs and return (and write) the combined Dataset.

        Parameters
        ----------
        workers : int
            Worker processes of the LocalCluster started when ``scheduler`` is None.
        scheduler : str, optional
            Address of an existing dask scheduler (its workers must be able to
            import copi_bio; result files are written by this process).
        progress : bool
            tqdm bar over runs on stderr.
        fmt : ``"netcdf"`` or ``"zarr"``
            Format of the combined file.
        on_result : callable, optional
            Called as ``on_result(run, status)`` for each run as it finishes.
        """
        if fmt not in ("netcdf", "zarr"):
            raise CopiBioError(f"sweep format {fmt!r} is invalid: 'netcdf' or 'zarr'")
        if scheduler is None and (isinstance(workers, bool) or int(workers) < 1):
            raise CopiBioError(f"--workers = {workers!r} is invalid: a positive integer")
        runs = self.runs()                     # validates every combination first
        prepare_output_folder(self.out_dir)    # before simulating: fail now, not after the runs
        combined = self.combined_path(fmt)
        check_replace(combined, self.identity(runs), self.overwrite,
                      _zarr_identity if fmt == "zarr" else stored_identity)
        # a run file of the same model is finished; one of another model is refused (or replaced)
        todo = [r for r in runs if not check_replace(self.result_path(r), model_hash(r.model), self.overwrite)]
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.skipped = len(runs) - len(todo)
        self.executed: list[str] = []
        if todo:
            self._execute(todo, len(runs), workers, scheduler, progress, on_result)
        ds = self.combine(runs)
        if fmt == "zarr":
            _save_zarr(ds, combined)
        else:
            save_result(ds, combined, overwrite=True)  # checked above
        return ds

    def _execute(self, todo, total, workers, scheduler, progress, on_result) -> None:
        from distributed import Client, LocalCluster, as_completed
        from tqdm.auto import tqdm

        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL,
                                   env=dict(_THREAD_ENV))
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as err:
                raise CopiBioError(f"cannot connect to the dask scheduler {scheduler!r}: {err}") from None
        bar = tqdm(total=total, initial=total - len(todo), desc="sweep", unit="run",
                   disable=not progress, dynamic_ncols=True)
        try:
            futures = {}
            for run in todo:
                fut = client.submit(_execute, run.model, key=f"copi-run-{run.name}", pure=False)
                futures[fut] = run
            for fut in as_completed(futures):
                run = futures[fut]
                status = self._store(fut, run)
                self.executed.append(run.name)
                bar.update(1)
                bar.set_postfix_str(f"{run.name[:40]}: {status}", refresh=False)
                if on_result is not None:
                    on_result(run, status)
                fut.release()
        finally:
            bar.close()
            client.close()
            if cluster is not None:
                cluster.close()

    def _store(self, fut, run: Run) -> str:
        err_path = self.error_path(run)
        if fut.status == "finished":
            save_result(fut.result(), self.result_path(run), overwrite=True)  # checked before submitting
            err_path.unlink(missing_ok=True)
            return "complete"
        exc = fut.exception()
        tb = fut.traceback()
        info = {
            "name": run.name, "seed": run.seed, "overrides": list(run.overrides),
            "model_hash": model_hash(run.model),
            "error_type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_tb(tb)) if tb is not None else "",
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        _write_json_atomic(info, err_path)
        return "error"

    # ----------------------------------------------------------------- combining

    def combine(self, runs: list[Run] | None = None) -> xr.Dataset:
        """Combine the run files (and error records) into one Dataset."""
        runs = self.runs() if runs is None else runs
        keys = list(self.grid)
        shape = tuple(len(self.grid[k]) for k in keys) + (len(self.seeds),)
        seed_pos = {s: i for i, s in enumerate(self.seeds)}
        status = np.full(shape, "missing", dtype=object)
        errors = np.full(shape, "", dtype=object)
        wall = np.full(shape, np.nan)
        loaded: dict[tuple, xr.Dataset] = {}
        for run in runs:
            pos = run.index + (seed_pos[run.seed],)
            if self.is_finished(run):  # its declared size was checked there (stored_identity)
                with xr.open_dataset(self.result_path(run), engine="netcdf4") as ds:
                    metric_vars = [n for n, v in ds.data_vars.items() if v.dims == ("t_eval",)]
                    loaded[pos] = ds[metric_vars].load()
                    status[pos] = str(ds.attrs.get("status", "complete"))
                    wall[pos] = float(ds.attrs.get("wall_time_s", np.nan))
            elif self.error_path(run).is_file():
                info = json.loads(self.error_path(run).read_text())
                status[pos] = "error"
                errors[pos] = f"{info.get('error_type')}: {info.get('message')}"
        t_all = sorted({float(t) for d in loaded.values() for t in d["t_eval"].values})
        t_index = {t: i for i, t in enumerate(t_all)}
        names = sorted({n for d in loaded.values() for n in d.data_vars})
        dims = tuple(keys) + ("seed",)
        out = xr.Dataset()
        coords = {k: ((k,), _coord_values(self.grid[k])) for k in keys}
        coords["seed"] = (("seed",), np.asarray(self.seeds, dtype=np.int64))
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
            "title": f"copi_bio sweep of model {self.model_path.stem!r}",
            "sweep": json.dumps(self.spec()),
            "sweep_hash": self.identity(runs),
            "swept_keys": json.dumps(keys),
            "n_runs": len(runs), "n_failed": n_failed, "n_missing": n_missing,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **{f"version_{k}": v for k, v in package_versions().items()},
        })
        return out


def _coord_values(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, bool) for v in values):
        return np.asarray([str(v).lower() for v in values])
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.dtype.kind in "iufU":
        return arr
    return np.asarray([_toml_value(v) for v in values])


def _zarr_identity(path: Path) -> tuple[bool, str | None]:
    """``(readable, sweep_hash)`` of a zarr store, from its JSON metadata only (never its arrays)."""
    for meta in (".zattrs", "zarr.json"):
        try:
            data = json.loads((path / meta).read_text())
        except (OSError, ValueError):
            continue
        attrs = data.get("attributes", {}) if meta == "zarr.json" else data
        return isinstance(attrs, dict), identity(attrs) if isinstance(attrs, dict) else None
    return False, None


def _write_json_atomic(data: dict, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


def _save_zarr(ds: xr.Dataset, path: Path) -> Path:
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


def run_sweep(model: str | Path, grid: Mapping[str, Sequence[Any]], seeds: Sequence[int] | str,
              out_dir: str | Path = "sweep", workers: int = 2, scheduler: str | None = None,
              progress: bool = True, overrides: Sequence[str] = (), fmt: str = "netcdf",
              overwrite: bool = False) -> xr.Dataset:
    """Run ``model`` for every combination of ``grid`` values and every seed.

    Parameters
    ----------
    model : str or Path
        Model file or library name.
    grid : dict
        Dotted key -> list of values, e.g. ``{"feedback.gamma": [1, 4]}``.
    seeds : list of int or str
        ``[1, 2, 3]`` or ``"1-3"``.
    out_dir : str or Path
        Run files go to ``out_dir/runs``, the combined Dataset to ``out_dir/sweep.nc``.
    workers : int
        Worker processes of the LocalCluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of an existing dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    progress : bool
        Progress bar over runs.
    overrides : list of str
        ``--set`` overrides applied to every run.
    fmt : ``"netcdf"`` or ``"zarr"``
    overwrite : bool
        Replace run files of a different model and a combined file of a
        different sweep in ``out_dir`` (refused otherwise).

    Returns
    -------
    xarray.Dataset
        Dims ``(swept keys..., seed, t_eval)``; see :mod:`copi_bio.sweep`.
    """
    sweep = Sweep(model, dict(grid), seeds, out_dir, list(overrides), overwrite)
    return sweep.run(workers=workers, scheduler=scheduler, progress=progress, fmt=fmt)


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
