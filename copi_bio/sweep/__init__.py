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

This module holds the sweep and its files; the grid and the runs' names are
in :mod:`copi_bio.sweep.grid`, the execution on dask in
:mod:`copi_bio.sweep.cluster`, combining the run files in
:mod:`copi_bio.sweep.dataset`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..atomic import atomic_write
from ..errors import CopiBioError
from ..modelfile import load_model, model_hash, resolve_model_path
from ..outdir import output_path, prepare_output_folder
from ..results import check_replace, save_result, stored_identity
from .cluster import run_on_dask
from .dataset import combine_runs, save_zarr, zarr_identity
from .grid import Run, check_key, parse_seeds, run_name, toml_value

__all__ = ["Sweep", "run_sweep"]


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
            check_key(key, values, f"{key}={values!r}")
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
                ov = (*self.overrides, *(f"{k}={toml_value(v)}" for k, v in values.items()),
                      f"seed={seed}")
                model = load_model(self.model_path, ov)
                out.append(Run(tuple(int(i) for i in index), seed, ov,
                               run_name(model.name, values, seed, ov), model))
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
                      zarr_identity if fmt == "zarr" else stored_identity)
        # a run file of the same model is finished; one of another model is refused (or replaced)
        todo = [r for r in runs if not check_replace(self.result_path(r), model_hash(r.model), self.overwrite)]
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.skipped = len(runs) - len(todo)
        self.executed: list[str] = []
        if todo:
            self._execute(todo, len(runs), workers, scheduler, progress, on_result)
        ds = self.combine(runs)
        if fmt == "zarr":
            save_zarr(ds, combined)
        else:
            save_result(ds, combined, overwrite=True)  # checked above
        return ds

    def _execute(self, todo, total, workers, scheduler, progress, on_result) -> None:
        def store(fut, run: Run) -> str:
            status = self._store(fut, run)
            self.executed.append(run.name)
            return status

        run_on_dask(todo, total, workers, scheduler, progress, store, on_result)

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
        return combine_runs(runs, self.grid, self.seeds,
                            lambda run: self.result_path(run) if self.is_finished(run) else None,
                            self.error_path,
                            {"title": f"copi_bio sweep of model {self.model_path.stem!r}",
                             "sweep": json.dumps(self.spec()),
                             "sweep_hash": self.identity(runs)})


def _write_json_atomic(data: dict, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


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
