"""Trial counts as NWB: a units table of spike times and a trials table with a ``condition`` column.

The layout :func:`write_trials_nwb` writes (and :func:`read_trials_nwb` reads, as it reads
:func:`copi_bio.export.export_nwb`'s files of runs with trials and other NWB files):

* ``units``: one row per unit, ``spike_times`` on the file's clock (a count ``c`` in the bin centred at
  ``t`` is ``c`` spikes at onset + ``t``), ``obs_intervals`` the trials the unit was observed in (a
  trial outside them is NaN), and one column per unit coordinate (``session``, ``contamination``,
  ``tetrode``, ...);
* ``intervals/trials``: one row per trial a session showed, ``start_time`` = onset - before,
  ``stop_time`` = onset + after, and the columns ``condition`` (index), ``repeat``, ``onset`` (s),
  ``session`` and one per condition coordinate (``orientation``, ``contrast``, ...); sessions follow
  one another on the clock;
* ``scratch["copi_bio_trial_layout"]``: the layout record (JSON; :mod:`.trial_layout`).

Any other NWB file with a trials table that has a ``condition`` column is read too: ``onset`` is
``start_time`` unless an ``onset`` column says otherwise, the window is the whole bins every trial
holds around its onset, bins are :data:`copi_bio.trials.BIN_WIDTH` wide, repeats are numbered by onset
within each condition (and session, where both tables have a ``session`` column), and every trials
column whose value is the same for all trials of a condition is a condition coordinate.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..atomic import atomic_write
from ..errors import CopiBioError
from ..export import TRIAL_LAYOUT
from ..trials import BIN_WIDTH, check_trial_counts
from .trial_layout import (MAX_FILE_BYTES, MAX_SPIKES, MAX_TRIALS, MAX_UNITS, Trials, assemble, bin_table,
                           check_count, condition_table, covered, one_line, plan_trials,
                           recording_file, window)

MAX_DECLARED_BYTES = 2 * MAX_FILE_BYTES
"""Most bytes the datasets of one NWB file may declare, all together."""
_UNIT_TABLE = ("spike_times", "obs_intervals", "electrodes", "electrode_group", "waveform_mean", "waveform_sd",
               "waveforms")
_TRIAL_TABLE = ("start_time", "stop_time", "condition", "repeat", "onset", "session", "tags", "timeseries")


def _pynwb() -> Any:
    """The ``pynwb`` module, or a one-line error saying how to install it."""
    try:
        import pynwb
    except ImportError:
        raise CopiBioError('reading and writing NWB files needs pynwb: pip install "copi_bio[nwb]"') from None
    return pynwb


def _h5py() -> Any:
    """The ``h5py`` module (installed with pynwb), or a one-line error saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise CopiBioError('reading NWB files needs h5py, installed with pynwb: pip install "copi_bio[nwb]"') from None
    return h5py


def write_trials_nwb(counts: xr.DataArray, path: str | Path) -> Path:
    """Write a trial-count array as an NWB file (see the module docstring for the layout).

    Parameters
    ----------
    counts : xarray.DataArray
        ``(unit, condition, repeat, time)`` (:mod:`copi_bio.trials`).
    path : str or Path
        Target ``.nwb`` file, written atomically (replaced if it exists).

    Returns
    -------
    Path
        The written file; :func:`read_trials_nwb` reads ``counts`` back identically.

    Raises
    ------
    CopiBioError
        If ``counts`` is not a trial-count array, a trial is NaN in only some bins, a coordinate's name
        is taken by an NWB column, or ``path`` does not end in ``.nwb``.
    """
    pynwb = _pynwb()
    path = Path(path)
    if path.suffix.lower() != ".nwb":
        raise CopiBioError(f"NWB output file {str(path)!r} must end in .nwb")
    check_trial_counts(counts)
    plan = plan_trials(counts)
    taken = sorted(set(plan.units) & set(_UNIT_TABLE) | set(plan.params) & set(_TRIAL_TABLE))
    if taken:
        raise CopiBioError(f"trial counts: coordinate {taken[0]!r} has the name of an NWB units or trials column")
    source = str(counts.attrs.get("source", "trial counts"))
    nwb = pynwb.NWBFile(session_description=f"trial-aligned spike counts of {source}",
                        identifier=f"copi_bio:trial_counts:{uuid.uuid4()}",
                        session_start_time=_dt.datetime.now(_dt.timezone.utc),
                        notes=("spike counts per bin as spikes at the bin centres; trials on one clock, sessions "
                               f"one after another; scratch/{TRIAL_LAYOUT} rebuilds the counts"))
    for name in plan.units:
        nwb.add_unit_column(name, f"{name} of the unit")
    times = counts["time"].values
    for u in range(counts.sizes["unit"]):
        trials = plan.rows[u]
        nwb.add_unit(spike_times=plan.spike_times(u, times),
                     obs_intervals=np.stack([plan.trials.start[trials], plan.trials.stop[trials]], axis=1),
                     **{name: values[u] for name, values in plan.units.items()})
    nwb.add_trial_column("condition", "stimulus condition (index along the condition dimension)")
    nwb.add_trial_column("repeat", "repeat of the condition in its session")
    nwb.add_trial_column("onset", "stimulus onset (s); the trial spans [onset - before, onset + after)")
    nwb.add_trial_column("session", "session of the trial (its units are those of the same session)")
    for name in plan.params:
        nwb.add_trial_column(name, f"{name} of the condition")
    t = plan.trials
    for k in range(t.onset.size):
        nwb.add_trial(start_time=t.start[k], stop_time=t.stop[k], condition=int(t.condition[k]),
                      repeat=int(t.repeat[k]), onset=float(t.onset[k]), session=str(t.group[k]),
                      **{name: values[k] for name, values in plan.params.items()})
    nwb.add_scratch(json.dumps(plan.record), name=TRIAL_LAYOUT,
                    description="layout of the trial counts: bin width, window, coordinates, attributes (JSON)")

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # the temporary name ends in .tmp; the file it becomes in .nwb
            warnings.filterwarnings("ignore", message="The file path provided: .* does not end in '.nwb'")
            with pynwb.NWBHDF5IO(str(tmp), "w") as io:
                io.write(nwb)

    return atomic_write(path, write)


def _check_hdf5(path: Path) -> None:
    """Refuse an HDF5 file that cannot be opened or whose datasets declare too many bytes."""
    h5py = _h5py()
    sizes: dict[str, int] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            sizes[name] = int(np.prod(item.shape, dtype=np.int64)) * item.dtype.itemsize if item.shape else 0

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except Exception as err:  # h5py raises OSError, KeyError, RuntimeError for damaged files
        raise CopiBioError(f"{path}: not a readable HDF5/NWB file ({one_line(err)})") from None
    total = sum(sizes.values())
    if total > MAX_DECLARED_BYTES:
        largest = max(sizes, key=sizes.get)
        raise CopiBioError(f"{path}: its datasets declare {total} bytes (largest: {largest!r}, {sizes[largest]} "
                           f"bytes), more than the {MAX_DECLARED_BYTES} allowed; refused before reading")


def _ragged(table: Any, name: str, path: Path, limit: int) -> list[np.ndarray]:
    """The rows of a ragged column (``spike_times``, ``obs_intervals``), sizes checked before reading."""
    index = table[name]  # the column's VectorIndex: row ends into its target's values
    data, ends = index.target.data, index.data
    check_count(path, f"{name} values", int(data.shape[0]), limit)
    ends = np.asarray(ends[:], dtype=np.int64)
    if ends.size and (np.any(np.diff(ends) < 0) or ends[0] < 0 or ends[-1] != data.shape[0]):
        raise CopiBioError(f"{path}: the index of {name} does not match its {data.shape[0]} values")
    values = np.asarray(data[:], dtype=float)
    return np.split(values, ends[:-1])


def _columns(table: Any, skip: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The plain one-dimensional columns of a table (text as str)."""
    out = {}
    for name in table.colnames:
        column = table[name]
        if name in skip or hasattr(column, "target") or hasattr(column, "table"):  # ragged or references
            continue
        values = np.asarray(column.data[:])
        if values.ndim != 1:
            continue
        out[name] = values.astype(str) if values.dtype.kind in "OSU" else values
    return out


def _from_file(nwb: Any, path: Path, population: str | None) -> xr.DataArray:
    """The trial counts of an open NWB file."""
    trials, units = nwb.trials, nwb.units
    if trials is None or "condition" not in trials.colnames:
        raise CopiBioError(f"{path}: no trials table with a 'condition' column")
    if units is None or "spike_times" not in units.colnames or not len(units.id.data):
        raise CopiBioError(f"{path}: no units table with spike times")
    check_count(path, "units", len(units.id.data), MAX_UNITS)
    check_count(path, "trials", len(trials.id.data), MAX_TRIALS)
    record = json.loads(str(nwb.scratch[TRIAL_LAYOUT].data)) if TRIAL_LAYOUT in nwb.scratch else {}
    if not isinstance(record, dict):
        raise CopiBioError(f"{path}: scratch/{TRIAL_LAYOUT} is not a JSON object")
    unit_columns = _columns(units, _UNIT_TABLE)
    rows = np.arange(len(units.id.data))
    if population is not None:
        if "population" not in unit_columns:
            raise CopiBioError(f"{path}: its units have no 'population' column to select {population!r} by")
        rows = np.flatnonzero(unit_columns["population"] == population)
        if not rows.size:
            raise CopiBioError(f"{path}: no units of population {population!r}; populations: "
                               f"{', '.join(dict.fromkeys(unit_columns['population']))}")
    trains = _ragged(units, "spike_times", path, MAX_SPIKES)
    spikes = [trains[r] for r in rows]
    columns = _columns(trials, ("tags", "timeseries"))
    start, stop = np.asarray(columns.pop("start_time"), float), np.asarray(columns.pop("stop_time"), float)
    onset = np.asarray(columns.pop("onset"), float) if "onset" in columns else start
    ids = np.asarray(columns.pop("condition"))
    repeat = np.asarray(columns.pop("repeat"), dtype=np.int64) if "repeat" in columns else None
    group = columns.pop("session", None)
    if "n_condition" in record:
        index, conditions, n_conditions = ids.astype(np.int64), {}, int(record["n_condition"])
    else:
        index, conditions = condition_table(ids, columns)
        n_conditions = int(index.max(initial=-1)) + 1
    table = Trials(onset, start, stop, index, repeat, group)
    observed = None
    if "obs_intervals" in units.colnames:
        intervals = _ragged(units, "obs_intervals", path, MAX_SPIKES)
        observed = [covered(intervals[r].reshape(-1, 2), start, stop) for r in rows]
    width = float(record.get("bin_width", BIN_WIDTH))
    before, after = ((float(record["before"]), float(record["after"])) if "before" in record
                     else window(table, width, path))
    unit_coords = {name: values[rows] for name, values in unit_columns.items()}
    unit_coords.setdefault("session", np.full(rows.size, nwb.session_id or path.stem))
    unit_session = unit_columns["session"][rows] if "session" in unit_columns else None
    counts, centres = bin_table(spikes, unit_session, table, observed, n_conditions, record.get("n_repeat"),
                                before, after, width, path)
    attrs = {"source": path.name, **({"population": population} if population is not None else {})}
    return assemble(counts, centres, width, unit_coords, conditions, attrs, record, rows, len(units.id.data), path)


def read_trials_nwb(path: str | Path, population: str | None = None) -> xr.DataArray:
    """Trial counts from an NWB file with a units table and a trials table with a ``condition`` column.

    Parameters
    ----------
    path : str or Path
        The ``.nwb`` file: one :func:`write_trials_nwb` wrote (read back identically), an export of a run
        with trials (:func:`copi_bio.export.export_nwb`), or another NWB file (see the module docstring).
    population : str, optional
        Only the units whose ``population`` column is this (an export holds every population).

    Returns
    -------
    xarray.DataArray
        ``(unit, condition, repeat, time)``; ``session`` from the units' ``session`` column, else the
        file's ``session_id`` (else its name); NaN for the trials a unit was not observed in
        (``obs_intervals``).

    Raises
    ------
    CopiBioError
        One line naming the file: missing, too large, not HDF5 or NWB (a truncated file, for one), datasets
        declaring more than :data:`MAX_DECLARED_BYTES` or more units, trials or spikes than allowed, no
        trials table with a ``condition`` column, no units, or an unknown ``population``.
    """
    path = recording_file(path)
    pynwb = _pynwb()
    _check_hdf5(path)
    try:
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            return _from_file(io.read(), path, population)
    except CopiBioError:
        raise
    except Exception as err:  # pynwb and hdmf raise many kinds for a malformed file
        raise CopiBioError(f"{path}: not a readable NWB file of trials ({one_line(err)})") from None


def nwb_has_trials(path: str | Path) -> bool:
    """Whether an NWB file has a trials table with a ``condition`` column (its structure only)."""
    path = recording_file(path)
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("intervals/trials/condition"), h5py.Dataset)
    except Exception as err:  # h5py raises OSError, KeyError, RuntimeError for damaged files
        raise CopiBioError(f"{path}: not a readable HDF5/NWB file ({one_line(err)})") from None
