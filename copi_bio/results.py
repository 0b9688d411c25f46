"""Results: one labelled :class:`xarray.Dataset` per run, saved as netCDF.

Layout (``pop`` is a population name, ``pre``/``post`` a connection):

* ``r_pop``, ``u_pop``, ``delta_pop``, ``x_pop`` — dims ``(time, trial, neuron_pop)``,
  recorded state variables (``x`` is the decorrelated presynaptic activity);
* ``W_pre_post`` ``(t_weights, neuron_post, neuron_pre)``, ``R_pop`` or ``M_pop``
  ``(t_weights, neuron_pop, neuron_pop_pre)``, ``b_pop`` — weight snapshots;
* metrics along ``t_eval`` (with coordinate ``presentation``): ``test_loss``,
  ``test_accuracy`` (spiking chains: read from spikes at the end of the run, with
  ``weights_test_loss``/``weights_test_accuracy`` at every evaluation; ``test_spike_counts``,
  ``test_label``, ``test_prediction`` along ``test_image``), ``train_loss``, ``mean_abs_corr_pop``,
  ``decorrelation_index_pop``, ``inference_error_teacher``, ``teacher_r``, ``teacher_slope``,
  ``inference_error_fixed_point_pre_post``, ``copi_bp_cosine_pre_post``;
* ``teacher_weights`` when the task has a linear teacher;
* spiking chain models: ``stimulus_pop`` of the first population, and where a stimulus is shown
  twice or more ``trial_onset``/``trial_condition`` along ``presentations`` and trial-aligned spike
  counts ``trial_counts_pop`` ``(unit_pop, condition, repeat, trial_time)``
  (:func:`copi_bio.trials.from_result`; docs/spiking.md);
* spiking backend: ``spike_time_pop`` (s) and ``spike_index_pop`` along ``spike_pop``
  and binned rates ``rate_pop`` (Hz) with dims ``(time_bin, neuron_pop)``, the coordinate
  ``neuron_pop`` holding the recorded neurons' indices;
* every variable and coordinate has ``units`` and ``long_name`` (:mod:`copi_bio.conventions`);
* attrs: the resolved model file (``model_toml``) and its SHA-256
  (``model_hash``), seed, backend, source, package versions, creation time,
  status and wall time.

:func:`save_result` refuses to replace a file that holds the result of a
different model (another ``model_hash``) unless ``overwrite=True``.

All times are in seconds.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from .atomic import atomic_write
from .bounded import MAX_RESULT_BYTES, InputTooLarge, check_declared_bytes
from .conventions import describe
from .errors import CopiBioError
from .modelfile import dumps_model, toml_hash
from .outdir import OutputError, free_space_text
from .record import RunRecord

_STATE_UNITS = {"r": "rate (a.u.)", "u": "somatic potential (a.u.)",
                "delta": "top-down perturbation (a.u.)", "x": "decorrelated rate (a.u.)"}
_METRIC_DOCS = {
    "test_loss": "mean squared error per output on the test set, free-running (no feedback)",
    "test_accuracy": "fraction of test stimuli classified correctly, free-running (spiking chains: read from "
                     "the output spikes of a test phase with plasticity off, at the end of the run)",
    "weights_test_loss": "spiking chains: test_loss of the rate read-out f(W (I+M)^-1 (z - <z>)) of the learned "
                         "weights, not of the network's spikes",
    "weights_test_accuracy": "spiking chains: test_accuracy of the rate read-out of the learned weights, not of "
                             "the network's spikes",
    "train_loss": "mean squared error of the feedforward output prediction f(W x + b) during training",
    "mean_abs_corr": "mean |Pearson r| over pairs of decorrelated inputs x",
    "decorrelation_index": "||offdiag(C)||_F / ||diag(C)||_F of the covariance of x",
    "inference_error_teacher": "||W_eff - W_teacher||_F / ||W_teacher||_F",
    "teacher_r": "Pearson r between the elements of the learned effective map W_eff and the teacher's",
    "teacher_slope": "least-squares slope of the elements of W_eff regressed on the teacher's (1: right scale)",
    "inference_error_fixed_point": "||W - <u x^T> diag(<x^2>)^-1||_F / ||fixed point||_F",
    "copi_bp_cosine": "cosine between the COPI update <u x^T> - W diag<x^2> and <delta x^T>",
}
_PACKAGES = ("copi_bio", "numpy", "scipy", "xarray", "netCDF4", "brian2")


def package_versions() -> dict[str, str]:
    """Versions of copi_bio and its main dependencies (``"not installed"`` if absent)."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = sys.version.split()[0]
    return out


def _metric_doc(name: str) -> str:
    for key, doc in _METRIC_DOCS.items():
        if name.startswith(key):
            return doc
    return ""


def to_dataset(record: RunRecord) -> xr.Dataset:
    """Build the result Dataset of a run (see the module docstring for the layout)."""
    model = record.model
    ds = xr.Dataset()
    if record.time:
        ds = ds.assign_coords(time=("time", np.asarray(record.time), {"units": "s"}))
    for (var, pop), samples in record.states.items():
        arr = np.stack(samples)
        ds[f"{var}_{pop}"] = (("time", "trial", f"neuron_{pop}"), arr, {"long_name": _STATE_UNITS[var]})
    if record.weight_time:
        ds = ds.assign_coords(t_weights=("t_weights", np.asarray(record.weight_time), {"units": "s"}))
        for name, (dims, mats) in record.weights.items():
            ds[name] = (("t_weights",) + tuple(dims), np.stack(mats))
    if record.metric_time:
        ds = ds.assign_coords(t_eval=("t_eval", np.asarray(record.metric_time), {"units": "s"}),
                              presentation=("t_eval", np.asarray(record.presentation)))
        for name, values in record.metrics.items():
            ds[name] = ("t_eval", np.asarray(values, dtype=float), {"long_name": _metric_doc(name)})
    if record.teacher is not None:
        pre, post = model.populations[0].name, model.populations[-1].name
        ds["teacher_weights"] = ((f"neuron_{post}", f"neuron_{pre}"), record.teacher)
    _add_spikes(ds, record)
    for name, (dims, values, attrs) in record.variables.items():
        ds[name] = (dims, values, attrs)
    ds = ds.assign_coords({name: (dims, values, attrs) for name, (dims, values, attrs) in record.coords.items()})
    for pop in model.populations:
        dim = f"neuron_{pop.name}"
        if dim in ds.dims and dim not in ds.coords:
            ds = ds.assign_coords({dim: np.arange(ds.sizes[dim])})
    versions = package_versions()
    toml = dumps_model(model)
    ds.attrs.update({
        "title": f"copi_bio run of model {model.name!r}",
        "model_name": model.name,
        "model_source": model.source,
        "model_toml": toml,
        "model_hash": toml_hash(toml),
        "backend": model.backend,
        "seed": model.seed,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        **{f"version_{k}": v for k, v in versions.items()},
        **{k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in record.attrs.items()},
    })
    return describe(ds)


def _add_spikes(ds: xr.Dataset, record: RunRecord) -> None:
    """Store spike times/indices and binned rates of a spiking run (in place)."""
    if not record.spikes:
        return
    sizes = {p.name: p.size for p in record.model.populations}
    ds.attrs["spike_duration"] = float(record.spike_duration)
    n_bins = max(1, int(round(record.spike_duration / record.rate_bin)))
    edges = np.arange(n_bins + 1) * record.rate_bin
    ds.coords["time_bin"] = ("time_bin", edges[:-1] + record.rate_bin / 2,
                             {"units": "s", "long_name": "centre of the rate bin"})
    for pop, (times, idx) in record.spikes.items():
        times = np.asarray(times, dtype=float)
        idx = np.asarray(idx, dtype=np.int64)
        ds[f"spike_time_{pop}"] = (f"spike_{pop}", times, {"units": "s", "long_name": f"spike times of {pop}"})
        ds[f"spike_index_{pop}"] = (f"spike_{pop}", idx, {"long_name": f"neuron index in {pop}"})
        counts, _, _ = np.histogram2d(times, idx, bins=(edges, np.arange(sizes[pop] + 1) - 0.5))
        attrs = {"units": "Hz", "long_name": f"binned firing rate of {pop}"}
        if pop in record.spike_neurons:  # a recorded subset: rates of those neurons only
            sub = np.asarray(record.spike_neurons[pop], dtype=np.int64)
            ds.coords[f"neuron_{pop}"] = (f"neuron_{pop}", sub, {
                "units": "1", "long_name": f"index of the recorded neuron in population {pop}"})
            ds[f"rate_{pop}"] = (("time_bin", f"neuron_{pop}"), counts[:, sub] / record.rate_bin, attrs)
        else:
            ds[f"rate_{pop}"] = (("time_bin", f"neuron_{pop}"), counts / record.rate_bin, attrs)


class ResultExistsError(CopiBioError):
    """The output file holds a result of a different model (or is not a result file)."""


def identity(attrs: dict) -> str | None:
    """What a result file is the result of: ``model_hash`` (runs) or ``sweep_hash`` (sweeps).

    Files of copi_bio versions that did not store ``model_hash`` are
    identified by the hash of their ``model_toml``.
    """
    if attrs.get("model_hash"):
        return str(attrs["model_hash"])
    if attrs.get("sweep_hash"):
        return str(attrs["sweep_hash"])
    if attrs.get("model_toml"):
        return toml_hash(str(attrs["model_toml"]))
    return None


def stored_identity(path: str | Path) -> tuple[bool, str | None]:
    """``(readable, identity)`` of an existing file: is it a netCDF file, and of what.

    Only the attributes are read (netCDF through netCDF4: data, never code).
    """
    try:
        check_declared_bytes(path, MAX_RESULT_BYTES)
        with xr.open_dataset(path, engine="netcdf4", decode_cf=False) as ds:
            return True, identity(ds.attrs)
    except InputTooLarge:
        raise
    except Exception:  # not netCDF, a folder, unreadable: all mean "not a result file"
        return False, None


def check_replace(path: str | Path, new: str | None, overwrite: bool = False,
                  reader: Callable[[Path], tuple[bool, str | None]] = stored_identity) -> bool:
    """May a result identified by ``new`` be written to ``path``?

    ``reader(path)`` gives ``(readable, identity)`` of the existing file
    (default :func:`stored_identity`, for netCDF files).

    Returns
    -------
    bool
        True if ``path`` already holds a result with the same identity (the
        same model), False if it does not exist or ``overwrite`` allows
        replacing it.

    Raises
    ------
    ResultExistsError
        If ``path`` exists, holds something else (another model, or is not a
        result file) and ``overwrite`` is False.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return False
    readable, found = reader(path)
    if readable and found == new:
        return True
    if overwrite:
        return False
    what = ("is not a copi_bio result file" if not readable else
            "holds the result of a different model" if found else "holds a result with no model hash")
    detail = f" (model_hash {found[:12]}..., this one is {str(new)[:12]}...)" if readable and found else ""
    raise ResultExistsError(f"{path} {what}{detail}; refusing to replace it: pass --overwrite "
                            "(overwrite=True in Python) to replace it, or choose another --out folder")


def save_result(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write a Dataset to netCDF atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
    path : str or Path
        Target file; parent folders are created.
    overwrite : bool
        Replace a file at ``path`` that holds the result of a different
        model (or is not a result file). A result of the same model
        (same ``model_hash``) is always rewritten.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ResultExistsError
        If ``path`` holds something else and ``overwrite`` is False.
    OutputError
        If the file cannot be written (permissions, disk full); nothing is
        left behind and an existing file is kept as it was.
    """
    check_replace(path, identity(ds.attrs), overwrite)

    def write(tmp: Path) -> None:
        try:
            ds.to_netcdf(tmp, engine="netcdf4")
        except RuntimeError as err:  # the netCDF/HDF5 C library reports write failures so
            raise OutputError(f"cannot write {str(path)!r}: the netCDF library failed ({err}); "
                              f"{free_space_text(path)}") from err

    return atomic_write(path, write)


FILE_KINDS = {
    "result": "a run's result file (copi-bio run)",
    "sweep": "a sweep's combined file (copi-bio sweep)",
    "nwb": "an NWB file (copi-bio export; read recordings with copi_bio.analysis.trial_io.read_trials)",
    "netcdf": "a netCDF/HDF5 file that copi_bio did not write",
}
"""What each kind of file :func:`file_kind` tells apart is."""


def file_kind(ds: xr.Dataset) -> str:
    """``"result"``, ``"sweep"``, ``"nwb"`` or ``"netcdf"`` (:data:`FILE_KINDS`), from the attributes."""
    if "sweep_hash" in ds.attrs:
        return "sweep"
    if "model_hash" in ds.attrs and "backend" in ds.attrs:
        return "result"
    if "nwb_version" in ds.attrs or ds.attrs.get("neurodata_type") == "NWBFile":
        return "nwb"
    return "netcdf"


def open_result(path: str | Path, expect: tuple[str, ...] = ("result", "sweep")) -> xr.Dataset:
    """Load a result file (a run's, or a sweep's combined file) fully into memory (the file is closed
    afterwards).

    A file that declares more than :data:`copi_bio.bounded.MAX_RESULT_BYTES`
    of data is refused (:class:`copi_bio.bounded.InputTooLarge`) before any is read, and so is a
    file whose kind (:func:`file_kind`) is not one of ``expect``.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise CopiBioError(f"result file {str(path)!r} {what}")
    try:
        check_declared_bytes(path, MAX_RESULT_BYTES)
        with xr.open_dataset(path, engine="netcdf4") as ds:
            kind = file_kind(ds)
            if kind not in expect:
                raise CopiBioError(f"{str(path)!r} is {FILE_KINDS[kind]}, not "
                                   + " or ".join(FILE_KINDS[k].split(" (")[0] for k in expect))
            return ds.load()
    except (OSError, ValueError) as err:
        raise CopiBioError(f"{str(path)!r} is not a readable netCDF result file: {err}") from None


def summarize(ds: xr.Dataset) -> str:
    """Human-readable summary: model, status, run length and first/last metrics."""
    lines = [
        f"model       {ds.attrs.get('model_name')}  ({ds.attrs.get('model_source')})",
        f"backend     {ds.attrs.get('backend')}   seed {ds.attrs.get('seed')}",
        f"status      {ds.attrs.get('status', 'unknown')}",
        f"created     {ds.attrs.get('created')}   copi_bio {ds.attrs.get('version_copi_bio')}",
    ]
    if "wall_time_s" in ds.attrs:
        lines.append(f"wall time   {float(ds.attrs['wall_time_s']):.2f} s")
    if "t_eval" in ds.dims:
        t = ds["t_eval"].values
        presented = f", {int(ds['presentation'].values[-1])} presentations" if "trials" in ds.attrs else ""
        lines.append(f"simulated   {t[-1]:.4g} s{presented}")
        lines.append(f"{'metric':42s} {'start':>11s} {'end':>11s}")
        for name, var in ds.data_vars.items():
            if var.dims == ("t_eval",):
                v = var.values
                lines.append(f"{name:42s} {v[0]:11.4g} {v[-1]:11.4g}")
    recorded = [n for n, v in ds.data_vars.items() if v.dims[:1] == ("time",)]
    if recorded:
        lines.append(f"recorded    {', '.join(recorded)} ({ds.sizes['time']} samples)")
    return "\n".join(lines)
