"""NWB export of a result Dataset: ``copi-bio export RESULT.nc --nwb FILE.nwb``.

Where the result's content goes in the NWB file (written with ``pynwb``, the
optional ``nwb`` extra: ``pip install "copi_bio[nwb]"``):

* ``units`` — one row per **recorded** neuron of every population with spikes
  (``spike_time_<pop>`` / ``spike_index_<pop>``), in population order and by
  neuron index; all of its spikes in ``spike_times`` (s, float64, exactly as
  in the result), the columns ``population`` (name) and ``neuron`` (index
  within the population), and ``obs_intervals`` ``[[0, spike_duration]]``
  (the simulated time, so a silent unit is known to have been observed);
* ``acquisition`` — the recorded state variables ``r_<pop>``, ``u_<pop>``,
  ``delta_<pop>``, ``x_<pop>`` as :class:`pynwb.TimeSeries` of the same name,
  data with dims ``(time, trial, neuron)``, ``timestamps`` in s and the unit
  and meaning in ``unit`` and ``description`` (rate-backend variables are
  dimensionless model quantities, unit ``"a.u."``; the spiking backend's
  ``r`` is an instantaneous rate in Hz);
* ``processing["binned_rates"]`` — binned firing rates ``rate_<pop>`` (Hz),
  dims ``(time_bin, neuron)`` with the bin centres as ``timestamps``; the
  columns are the population's rows of the units table, in the same order;
* ``intervals/trials`` — for runs that store trial counts (stimuli shown
  more than once, ``trial_onset``): one row per presentation, from
  ``start_time`` = onset - ``before`` to ``stop_time`` = onset + ``after``
  (the window of ``trial_counts_<pop>``), with the columns ``condition``
  (index), ``repeat`` (how many times the condition was shown before),
  ``onset`` (s) and one per condition coordinate (``stimulus``); the bin
  width and window are also in ``scratch["copi_bio_trial_layout"]`` (JSON),
  so that :func:`copi_bio.analysis.trial_io.read_trials_nwb` bins the units'
  spikes into the run's trial counts again;
* metadata — ``session_start_time`` is the result's ``created`` time,
  ``identifier`` is ``copi_bio:<model_hash>:<created>``, ``session_id``
  ``<model_name>_seed<seed>``, ``source_script`` the resolved model file
  (``model_toml``, named ``<model_name>.toml`` in ``source_script_file_name``),
  ``was_generated_by`` the ``(package, version)`` pairs of the run, ``notes``
  a readable summary (model hash, seed, backend, status, ...), and
  ``scratch["copi_bio_result_attrs"]`` every attribute of the result as JSON
  (what a program reads back; :func:`stored_identity` reads ``model_hash``
  from it).

Weight snapshots and metrics stay in the netCDF result only. Importing this
module does not import ``pynwb``; :func:`to_nwb` and :func:`export_nwb` do.
This is results-layer code: it converts a Dataset and never runs a simulation.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .atomic import atomic_write
from .errors import CopiBioError
from .modelfile import parse_model_text
from .outdir import output_path, prepare_output_folder
from .results import check_replace, identity
from .trials import result_populations_with_trials

if TYPE_CHECKING:
    from pynwb import NWBFile

ATTRS_NAME = "copi_bio_result_attrs"
TRIAL_LAYOUT = "copi_bio_trial_layout"
"""Name of the scratch entry (JSON) that says how a file's trials table and units bin into trial counts."""
RATES_MODULE = "binned_rates"
SYNTHETIC_CONSTRUCT = "http://purl.obolibrary.org/obo/NCBITaxon_32630"
"""The NCBI taxon 'synthetic construct', the species of a simulated network's NWB Subject."""
_STATE = re.compile(r"^(r|u|delta|x)_(.+)$")
_STATE_DOCS = {  # variable -> (unit, meaning)
    "r": ("a.u.", "rate r = f(u) (dimensionless model rate, arbitrary units, not Hz)"),
    "u": ("a.u.", "somatic potential u (dimensionless, arbitrary units)"),
    "delta": ("a.u.", "top-down perturbation delta of the soma (dimensionless, arbitrary units)"),
    "x": ("a.u.", "decorrelated presynaptic activity x (dimensionless, arbitrary units)"),
}
_SPIKING_STATE_DOCS = {  # where the spiking backend's chain models record something else
    "r": ("Hz", "instantaneous Poisson firing rate of the neuron (Hz)"),
    "x": ("a.u.", "spike-trace fluctuation xi = (x - xbar) / rate_scale transmitted by the synapses "
                  "(dimensionless)"),
}


def _pynwb() -> Any:
    """The ``pynwb`` module, or a one-line error saying how to install it."""
    try:
        import pynwb
    except ImportError:
        raise CopiBioError('NWB export needs pynwb, which is not installed: pip install "copi_bio[nwb]"') from None
    return pynwb


def spiking_populations(ds: xr.Dataset) -> list[str]:
    """Populations whose spikes a result stores, in the result's order."""
    return [name[len("spike_time_"):] for name in ds.data_vars if name.startswith("spike_time_")]


def recorded_neurons(ds: xr.Dataset, pop: str) -> np.ndarray:
    """Indices of the neurons of ``pop`` whose spikes were recorded: the coordinate ``neuron_<pop>``
    (``recorded_<pop>`` in files of earlier versions).

    Raises
    ------
    CopiBioError
        If the result has neither coordinate, or a spike belongs to a neuron
        outside the recorded set (an inconsistent file).
    """
    for coord in (f"neuron_{pop}", f"recorded_{pop}"):
        if coord in ds.coords:
            neurons = np.asarray(ds[coord].values, dtype=np.int64)
            break
    else:
        raise CopiBioError(f"spike_time_{pop} has no recorded_{pop} or neuron_{pop} coordinate: cannot tell "
                           f"which neurons of {pop!r} were recorded")
    stray = np.setdiff1d(ds[f"spike_index_{pop}"].values, neurons)
    if stray.size:
        raise CopiBioError(f"spike_index_{pop} holds neuron {int(stray[0])}, which is not among the recorded "
                           f"neurons of {pop!r} ({neurons.size} neurons); the result file is inconsistent")
    return neurons


def _state_variables(ds: xr.Dataset) -> list[tuple[str, str, str]]:
    """``(name, variable, population)`` of the recorded state variables."""
    out = []
    for name, var in ds.data_vars.items():
        match = _STATE.match(name)
        if match and var.dims == ("time", "trial", f"neuron_{match.group(2)}"):
            out.append((name, match.group(1), match.group(2)))
    return out


def _rate_variables(ds: xr.Dataset) -> list[tuple[str, str]]:
    """``(name, population)`` of the binned spike rates."""
    return [(f"rate_{pop}", pop) for pop in spiking_populations(ds)
            if f"rate_{pop}" in ds and ds[f"rate_{pop}"].dims[:1] == ("time_bin",)]


def _json_value(value: Any) -> Any:
    """A netCDF attribute value as a JSON-serialisable Python value."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _start_time(ds: xr.Dataset) -> _dt.datetime:
    """``session_start_time``: the result's ``created`` attribute (ISO 8601, UTC if no zone)."""
    text = str(ds.attrs.get("created", ""))
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise CopiBioError(f"the result's 'created' attribute {text!r} is not an ISO 8601 time; NWB needs it "
                           "as session_start_time") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def _notes(ds: xr.Dataset) -> str:
    """Readable provenance summary for ``NWBFile.notes``."""
    keys = ("model_name", "model_hash", "seed", "backend", "status", "created", "wall_time_s", "model_source",
            "command", "platform")
    lines = [f"{key}: {ds.attrs[key]}" for key in keys if key in ds.attrs]
    lines.append("The resolved model file is in general/source_script; every attribute of the copi_bio result "
                 f"is in scratch/{ATTRS_NAME} (JSON).")
    return "\n".join(lines)


def time_step(ds: xr.Dataset) -> float | None:
    """The run's integration step ``protocol.dt`` (s), from its resolved model file; None where the
    result carries no valid model file."""
    try:
        return parse_model_text(str(ds.attrs["model_toml"]), str(ds.attrs.get("model_source", "<result>"))).protocol.dt
    except (KeyError, CopiBioError):  # no model file, or one this version no longer validates
        return None


def _sampling(times: np.ndarray) -> dict[str, Any]:
    """``starting_time`` and ``rate`` of a regularly sampled series (to 1e-9 of the step), else its
    ``timestamps``."""
    times = np.asarray(times, dtype=float)
    if times.size >= 2:
        step = np.diff(times)
        if np.all(np.abs(step - step[0]) <= 1e-9 * max(abs(step[0]), 1e-12)) and step[0] > 0:
            return {"starting_time": float(times[0]), "rate": float(1.0 / step[0])}
    return {"timestamps": times}


def _add_units(nwb: "NWBFile", ds: xr.Dataset) -> None:
    """Fill the units table: one unit per recorded neuron, population by population."""
    duration = ds.attrs.get("spike_duration")
    nwb.add_unit_column("population", "population (copi_bio model population) of the neuron")
    nwb.add_unit_column("neuron", "index of the neuron within its population")
    for pop in spiking_populations(ds):
        neurons = recorded_neurons(ds, pop)
        times = np.asarray(ds[f"spike_time_{pop}"].values, dtype=np.float64)
        index = np.asarray(ds[f"spike_index_{pop}"].values, dtype=np.int64)
        order = np.lexsort((times, index))
        times, index = times[order], index[order]
        first, stop = np.searchsorted(index, neurons, "left"), np.searchsorted(index, neurons, "right")
        for neuron, lo, hi in zip(neurons, first, stop):
            extra = {"obs_intervals": [[0.0, float(duration)]]} if duration is not None else {}
            nwb.add_unit(spike_times=times[lo:hi], population=pop, neuron=int(neuron), **extra)


def trial_repeats(onsets: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """Repeat number of every trial: how many trials of its condition began before it (ties in the
    given order), as :func:`copi_bio.trials.bin_trials` numbers them."""
    conditions = np.asarray(conditions)
    order = np.lexsort((np.asarray(onsets, dtype=float), conditions))
    ranked = conditions[order]
    repeats = np.empty(conditions.size, dtype=np.int64)
    repeats[order] = np.arange(conditions.size) - np.searchsorted(ranked, ranked, "left")
    return repeats


def trial_populations(ds: xr.Dataset) -> list[str]:
    """Populations of a run whose trial counts an export bins again from its trials table (none when the
    run stored no trial counts, ``trial_onset``)."""
    return result_populations_with_trials(ds) if "trial_onset" in ds else []


def _add_trials(nwb: "NWBFile", ds: xr.Dataset, population: str) -> None:
    """Fill the trials table: one row per presentation, with the window of ``trial_counts_<population>``."""
    counts = ds[f"trial_counts_{population}"]
    before, after = float(counts.attrs.get("before", 0.0)), float(counts.attrs["after"])
    onsets = np.asarray(ds["trial_onset"].values, dtype=np.float64)
    conditions = np.asarray(ds["trial_condition"].values, dtype=np.int64)
    repeats = trial_repeats(onsets, conditions)
    params = {str(name): coord.values for name, coord in counts.coords.items()
              if coord.dims == ("condition",) and name != "condition"}
    nwb.add_trial_column("condition", "stimulus condition of the presentation (index; equal stimuli are one "
                                      "condition, numbered by first appearance)")
    nwb.add_trial_column("repeat", "how many times the condition was presented before this presentation")
    nwb.add_trial_column("onset", "onset of the presentation (s); the trial spans [onset - before, onset + after)")
    for name in params:
        nwb.add_trial_column(name, f"{name} of the condition")
    for onset, condition, repeat in zip(onsets, conditions, repeats):
        nwb.add_trial(start_time=onset - before, stop_time=onset + after, condition=int(condition),
                      repeat=int(repeat), onset=float(onset),
                      **{name: _json_value(values[condition]) for name, values in params.items()})
    layout = {"bin_width": float(counts.attrs["bin_width"]), "before": before, "after": after}
    nwb.add_scratch(json.dumps(layout), name=TRIAL_LAYOUT,
                    description="bin width and window (s) of the trial counts the trials table bins into")


def to_nwb(ds: xr.Dataset) -> "NWBFile":
    """The NWB file (in memory) of a result Dataset; see the module docstring for the layout.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`copi_bio.simulate` or :func:`copi_bio.open_result`
        (rate or spiking backend, complete or partial).

    Returns
    -------
    pynwb.NWBFile

    Raises
    ------
    CopiBioError
        If ``pynwb`` is not installed, the result holds nothing the NWB file
        can carry (no spikes, recorded states or binned rates), or its
        ``created`` attribute is not a time.
    """
    pynwb = _pynwb()
    states, rates, spiking = _state_variables(ds), _rate_variables(ds), spiking_populations(ds)
    if not (states or rates or spiking):
        raise CopiBioError("the result has nothing to export to NWB: no spikes (spike_time_<pop>), recorded "
                           "states (r/u/delta/x_<pop>) or binned rates (rate_<pop>); record states with "
                           "recording.variables (rate backend)")
    attrs = {key: _json_value(value) for key, value in ds.attrs.items()}
    versions = [[key[len("version_"):], str(value)] for key, value in attrs.items()
                if key.startswith("version_") and value != "not installed"]
    name = str(attrs.get("model_name", "model"))
    backend = str(attrs.get("backend", "rate"))
    nwb = pynwb.NWBFile(
        session_description=str(attrs.get("title", f"copi_bio run of model {name!r}")),
        identifier=f"copi_bio:{identity(ds.attrs) or 'unknown'}:{attrs.get('created', '')}",
        session_start_time=_start_time(ds),
        session_id=f"{name}_seed{attrs.get('seed', '')}",
        experiment_description=(f"simulation of model {name!r} with copi_bio's {backend} backend "
                                f"(status: {attrs.get('status', 'unknown')})"),
        keywords=["copi_bio", "simulation", "constrained parameter inference", backend],
        source_script=str(attrs.get("model_toml", "")),
        source_script_file_name=f"{name}.toml",
        was_generated_by=versions,
        notes=_notes(ds),
        subject=pynwb.file.Subject(
            subject_id=f"{name}_seed{attrs.get('seed', '')}", sex="O", date_of_birth=_start_time(ds),
            species=SYNTHETIC_CONSTRUCT,
            description=(f"a simulated network, no animal: copi_bio model {name!r} ({backend} backend), seed "
                         f"{attrs.get('seed', '')}; the resolved model file is the source script, sex 'O' "
                         "(other: not applicable), species the NCBI taxon 'synthetic construct' and the date of birth "
                         "the run's creation time")),
    )
    nwb.add_scratch(json.dumps(attrs, sort_keys=True), name=ATTRS_NAME,
                    description="every attribute of the copi_bio result Dataset (JSON object)")
    if spiking:
        nwb.units = pynwb.misc.Units(name="units", resolution=time_step(ds) or -1.0, description=(
            "spikes of the recorded neurons of the simulated populations: one unit per recorded neuron, all its "
            "spike times (s, on the simulation's time grid of step 'resolution'); 'population' and 'neuron' give "
            "its population and index within it"))
        _add_units(nwb, ds)
    populations = trial_populations(ds)
    if populations:
        _add_trials(nwb, ds, populations[0])
    for var_name, var, pop in states:
        unit, meaning = (_SPIKING_STATE_DOCS if backend == "spiking" else {}).get(var, _STATE_DOCS[var])
        nwb.add_acquisition(pynwb.TimeSeries(
            name=var_name, data=ds[var_name].values, unit=unit, **_sampling(ds["time"].values),
            description=(f"{meaning} of population {pop!r}; dims (time, trial, neuron): the recorded parallel "
                         "trials and the population's neurons in index order")))
    rates = [(var_name, pop) for var_name, pop in rates if ds[var_name].shape[0] >= ds[var_name].shape[1]]
    if rates:
        module = nwb.create_processing_module(RATES_MODULE, "firing rates binned from the spikes (Hz)")
        for var_name, pop in rates:
            width = 2 * float(ds["time_bin"].values[0])  # the first bin starts at 0
            module.add(pynwb.TimeSeries(
                name=var_name, data=ds[var_name].values, unit="Hz", **_sampling(ds["time_bin"].values),
                description=(f"firing rate of population {pop!r}: spike count in the {width:g} s bin centred on "
                             "the timestamp divided by the bin width (Hz); dims (time_bin, neuron), the columns "
                             f"are the units of population {pop!r} in the order of their rows in the units table")))
    return nwb


def stored_identity(path: str | Path) -> tuple[bool, str | None]:
    """``(readable, identity)`` of an existing file: is it a copi_bio NWB export, and of what.

    Reads only the JSON of ``scratch/copi_bio_result_attrs`` with ``h5py``
    (data, never code); the identity is that of the exported result
    (:func:`copi_bio.results.identity`, its ``model_hash``).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            attrs = json.loads(f[f"scratch/{ATTRS_NAME}"][()])
        return True, identity(attrs)
    except Exception:  # not HDF5, not an NWB file of copi_bio, a folder: all mean "not an export"
        return False, None


def export_nwb(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write a result Dataset as an NWB file, atomically (temporary file, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
        Result of a rate or spiking run.
    path : str or Path
        Target ``.nwb`` file; its folder is created and checked for
        writability first.
    overwrite : bool
        Replace a file at ``path`` that is not an export of a result of the
        same model (same ``model_hash``); an export of the same model is
        always rewritten, as :func:`copi_bio.save_result` does.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    CopiBioError
        As :func:`to_nwb`, or if ``path`` does not end in ``.nwb``.
    copi_bio.results.ResultExistsError
        If ``path`` holds something else and ``overwrite`` is False.
    copi_bio.outdir.OutputError
        If the file cannot be written; an existing file is kept as it was.
    """
    path = Path(path)
    if path.suffix.lower() != ".nwb":
        raise CopiBioError(f"NWB output file {str(path)!r} must end in .nwb")
    nwb = to_nwb(ds)
    from pynwb import NWBHDF5IO

    target = output_path(prepare_output_folder(path.parent), path.name)
    check_replace(target, identity(ds.attrs), overwrite, reader=stored_identity)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # the temporary name ends in .tmp; the file it becomes in .nwb
            warnings.filterwarnings("ignore", message="The file path provided: .* does not end in '.nwb'")
            with NWBHDF5IO(str(tmp), "w") as io:
                io.write(nwb)

    return atomic_write(target, write)
