"""What the NWB and Neo trial readers and writers share: limits, the layout record, trials on a clock.

A trial-count array (:mod:`copi_bio.trials`) is written as spikes and trials: every trial a session
showed becomes a trial on one continuous clock (``[onset - before, onset + after)``, trials one after
another, session after session), and a unit's count ``c`` in the bin centred at ``t`` becomes ``c``
spikes at ``onset + t`` (:func:`plan_trials`). Reading bins the spikes again with
:func:`copi_bio.trials.bin_trials` (:func:`bin_table`); a trial a unit was not observed in is NaN.
What spikes and trials cannot say (the bin width, the window, the bin centres, every coordinate with
its dtype, the attributes, conditions and repeats no session showed) is the layout record
(:func:`layout_record`), JSON stored beside the data, from which :func:`assemble` rebuilds the array
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ..errors import CopiBioError
from ..export import trial_repeats
from ..trials import bin_trials, make_trial_counts

MAX_FILE_BYTES = 2 ** 31
"""Largest recording file read (2 GiB)."""
MAX_COUNTS = 2 ** 28
"""Largest number of count values (units x conditions x repeats x bins) one file may declare."""
MAX_UNITS = 100_000
"""Most units one file may hold."""
MAX_TRIALS = 1_000_000
"""Most trials one file may hold."""
MAX_SPIKES = 2 ** 28
"""Most spikes one file may hold, all units together."""
_INDEX_DIMS = ("unit", "condition", "repeat")
_TOLERANCE = 1e-9
"""Seconds by which trial and observation boundaries may differ and still match."""


def one_line(err: BaseException) -> str:
    """An exception as one line: its type and its message with whitespace runs collapsed."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def recording_file(path: str | Path) -> Path:
    """``path`` as a Path, refused in one line if it is not a file or larger than :data:`MAX_FILE_BYTES`."""
    path = Path(path)
    if not path.is_file():
        raise CopiBioError(f"recording {str(path)!r} does not exist")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CopiBioError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} a recording may have")
    return path


def check_count(path: Path, what: str, n: int, limit: int) -> None:
    """Refuse a file declaring more than ``limit`` of ``what``."""
    if n > limit:
        raise CopiBioError(f"{path}: declares {n} {what}, more than the {limit} allowed; refused before reading")


def _json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def layout_record(counts: xr.DataArray) -> dict:
    """The JSON-ready layout of a trial-count array: bin width, window, bin centres, sizes, every
    coordinate (values and dtype) and the attributes."""
    width = float(counts.attrs["bin_width"])
    times = counts["time"].values
    coords = {}
    for name, coord in counts.coords.items():
        if name == "time":
            continue
        if coord.ndim != 1 or coord.dims[0] not in _INDEX_DIMS:
            raise CopiBioError(f"trial counts: coordinate {name!r} spans {coord.dims}; only coordinates along one "
                               f"of {_INDEX_DIMS} can be written")
        values = coord.values.astype(str) if coord.dtype == object else coord.values
        coords[str(name)] = {"dim": coord.dims[0], "dtype": values.dtype.str, "values": values.tolist()}
    return {"bin_width": width, "before": float(-(times[0] - width / 2)), "after": float(times[-1] + width / 2),
            "time": times.tolist(), "n_condition": counts.sizes["condition"], "n_repeat": counts.sizes["repeat"],
            "coords": coords, "attrs": {str(k): _json(v) for k, v in counts.attrs.items()}}


@dataclass
class Trials:
    """Trials on one clock: onset, window and condition of each (one entry per trial), the repeat
    (None: numbered by onset within the condition and group) and the group (session; None: one group)."""

    onset: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    condition: np.ndarray
    repeat: np.ndarray | None
    group: np.ndarray | None


@dataclass
class Plan:
    """A trial-count array as trials (:class:`Trials`, condition coordinates per trial in ``params``),
    its unit coordinates (``units``, without ``unit``), per unit the trials it was observed in
    (``rows``) and its counts there (``counts``, ``(rows, time)``), and its layout ``record``."""

    trials: Trials
    params: dict[str, list]
    units: dict[str, list]
    rows: list[np.ndarray]
    counts: list[np.ndarray]
    record: dict

    def spike_times(self, unit: int, times: np.ndarray) -> np.ndarray:
        """The spikes of ``unit`` on the clock (s), each count placed at onset + bin centre."""
        onsets = self.trials.onset[self.rows[unit]]
        return np.repeat((onsets[:, None] + times[None, :]).ravel(), self.counts[unit].ravel().astype(np.int64))


def plan_trials(counts: xr.DataArray) -> Plan:
    """Lay a trial-count array out as trials on one clock (see the module docstring).

    Raises
    ------
    CopiBioError
        If a trial is NaN in some bins and not in others (NaN marks a whole missing trial), or the bin
        centres are not those of a window around onset (``before``, ``after`` >= 0, whole bins).
    """
    values = counts.values
    missing = np.isnan(values)
    if np.any(missing.any(axis=-1) != missing.all(axis=-1)):
        raise CopiBioError("trial counts: a trial is NaN in some bins and not in others; NaN marks a whole "
                           "missing trial")
    record = layout_record(counts)
    width, before, after = record["bin_width"], record["before"], record["after"]
    if min(before, after) < -_TOLERANCE or abs(before / width - round(before / width)) > 1e-6 or \
            abs(after / width - round(after / width)) > 1e-6:
        raise CopiBioError(f"trial counts: bin centres {record['time'][0]} ... {record['time'][-1]} s are not those "
                           "of a window of whole bins around onset")
    observed = ~missing[..., 0]
    sessions = counts["session"].values.astype(str)
    order = list(dict.fromkeys(sessions))
    cond, rep, group = [], [], []
    for session in order:
        shown = observed[sessions == session].any(axis=0)  # (condition, repeat)
        r, c = np.nonzero(shown.T)  # repeat-major: every condition once, then again
        cond.append(c)
        rep.append(r)
        group.append(np.full(c.size, session))
    cond, rep, group = np.concatenate(cond), np.concatenate(rep), np.concatenate(group)
    onset = before + np.arange(cond.size) * (before + after)
    trials = Trials(onset, onset - before, onset + after, cond, rep, group)
    params = {name: [c["values"][k] for k in cond] for name, c in record["coords"].items()
              if c["dim"] == "condition" and name != "condition"}
    units = {name: c["values"] for name, c in record["coords"].items() if c["dim"] == "unit" and name != "unit"}
    rows, unit_counts = [], []
    for u, session in enumerate(sessions):
        mine = np.flatnonzero(group == session)
        mine = mine[observed[u, cond[mine], rep[mine]]]
        rows.append(mine)
        unit_counts.append(values[u, cond[mine], rep[mine], :])
    return Plan(trials, params, units, rows, unit_counts, record)


def window(trials: Trials, width: float, path: Path) -> tuple[float, float]:
    """The window (``before``, ``after``, s) that every trial holds, in whole bins of ``width``."""
    before = np.floor(np.min(trials.onset - trials.start) / width + 1e-6) * width
    after = np.floor(np.min(trials.stop - trials.onset) / width + 1e-6) * width
    if before < 0 or after < 0 or before + after < width:
        raise CopiBioError(f"{path}: the trials hold no whole {width} s bin around their onsets")
    return float(before), float(after)


def condition_table(ids: np.ndarray, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Conditions of trials with condition ids ``ids``: the index (0, 1, ... in order of id) of each
    trial's condition, and as condition coordinates the ids (``condition_id``, unless they already are
    0, 1, ...) and every column whose value is the same for all trials of each condition."""
    unique, first, index = np.unique(ids, return_index=True, return_inverse=True)
    conditions = {} if np.array_equal(unique, np.arange(unique.size)) else {"condition_id": unique}
    for name, values in columns.items():
        if np.array_equal(values, values[first][index]):
            conditions[name] = values[first]
    return index, conditions


def covered(intervals: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Whether each ``[start, stop]`` lies within the union of ``intervals`` (``(n, 2)``, s)."""
    if intervals.size == 0:
        return np.zeros(start.size, dtype=bool)
    intervals = intervals[np.argsort(intervals[:, 0], kind="stable")]
    reach = np.maximum.accumulate(intervals[:, 1])
    new = np.concatenate([[True], intervals[1:, 0] > reach[:-1] + _TOLERANCE])
    block_start = intervals[new, 0]
    block_stop = reach[np.concatenate([np.flatnonzero(new)[1:] - 1, [len(intervals) - 1]])]
    k = np.searchsorted(block_start, start + _TOLERANCE, side="right") - 1
    return (k >= 0) & (block_stop[np.clip(k, 0, None)] >= stop - _TOLERANCE)


def bin_table(spikes: Sequence[np.ndarray], unit_group: np.ndarray | None, trials: Trials,
              observed: Sequence[np.ndarray] | None, n_conditions: int, n_repeat: int | None,
              before: float, after: float, width: float, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Bin every unit's spikes into ``(unit, condition, repeat, time)`` counts.

    Parameters
    ----------
    spikes : sequence of ndarray
        Spike times (s) of every unit on the trials' clock.
    unit_group : ndarray or None
        Session of every unit; a unit's trials are those of its session (all trials where either the
        units or the trials have no session).
    trials : Trials
    observed : sequence of ndarray or None
        Per unit, whether it was observed in each trial (NaN counts where not); None: in every trial.
    n_conditions : int
        Number of conditions (trial conditions are ``0 .. n_conditions - 1``).
    n_repeat : int or None
        Number of repeats (at least the most repeats a condition has in a group); None: that most.
    before, after, width : float
        The window around onsets and the bin width (s).
    path : Path
        The file, for messages.

    Returns
    -------
    counts : ndarray
    centres : ndarray
        Bin centres relative to onset (s).
    """
    n_units, n_trials = len(spikes), trials.onset.size
    grouped = unit_group is not None and trials.group is not None
    groups = trials.group if grouped else np.zeros(n_trials, dtype=int)
    unit_groups = unit_group if grouped else np.zeros(n_units, dtype=int)
    repeat = trials.repeat
    if repeat is None:
        repeat = np.zeros(n_trials, dtype=np.int64)
        for g in np.unique(groups):
            repeat[groups == g] = trial_repeats(trials.onset[groups == g], trials.condition[groups == g])
    pairs = np.stack([np.unique(groups, return_inverse=True)[1], trials.condition, repeat])
    if np.unique(pairs, axis=1).shape[1] != n_trials:
        raise CopiBioError(f"{path}: a condition's repeat appears twice among the trials of one session")
    most = int(repeat.max(initial=-1)) + 1
    n_repeat = most if n_repeat is None else n_repeat
    if most > n_repeat or (n_trials and (min(trials.condition.min(), repeat.min()) < 0
                                         or trials.condition.max() >= n_conditions)):
        raise CopiBioError(f"{path}: trials name conditions or repeats beyond the {n_conditions} conditions and "
                           f"{n_repeat} repeats it declares")
    n_bins = int(round(before / width)) + int(round(after / width))
    check_count(path, "count values (units x conditions x repeats x bins)",
                n_units * n_conditions * n_repeat * n_bins, MAX_COUNTS)
    counts = np.full((n_units, n_conditions, n_repeat, n_bins), np.nan, dtype=np.float32)
    centres = (np.arange(n_bins) + 0.5) * width - int(round(before / width)) * width
    for g in np.unique(groups):
        units, mine = np.flatnonzero(unit_groups == g), np.flatnonzero(groups == g)
        if not units.size or not mine.size:
            continue
        flat = trials.condition[mine] * n_repeat + repeat[mine]
        times = np.concatenate([spikes[u] for u in units])
        index = np.repeat(np.arange(units.size), [spikes[u].size for u in units])
        binned, _ = bin_trials(times, index, units.size, trials.onset[mine], flat, n_conditions * n_repeat,
                               before, after, width)
        counts[units] = binned[:, :, 0, :].reshape(units.size, n_conditions, n_repeat, n_bins)
        if observed is not None:
            for u in units:
                absent = mine[~observed[u][mine]]
                counts[u, trials.condition[absent], repeat[absent], :] = np.nan
    return counts, centres


def assemble(counts: np.ndarray, centres: np.ndarray, width: float, units: dict[str, np.ndarray],
             conditions: dict[str, np.ndarray], attrs: dict, record: dict, rows: np.ndarray, n_units: int,
             path: Path) -> xr.DataArray:
    """The trial-count array of binned counts: coordinates and attributes from the layout ``record``
    where it has them (its unit coordinates, one per unit of the file's ``n_units``, for the units
    ``rows`` read), else ``units`` (with ``session``), ``conditions`` and ``attrs``."""
    try:
        return _assemble(counts, centres, width, units, conditions, attrs, record, rows, n_units, path)
    except (ValueError, TypeError, KeyError, IndexError) as err:  # a record that does not fit the data
        raise CopiBioError(f"{path}: its layout record does not match its trials and units ({one_line(err)})") \
            from None


def _assemble(counts: np.ndarray, centres: np.ndarray, width: float, units: dict[str, np.ndarray],
              conditions: dict[str, np.ndarray], attrs: dict, record: dict, rows: np.ndarray, n_units: int,
              path: Path) -> xr.DataArray:
    stored = record.get("coords") or {}
    sizes = {"unit": n_units, "condition": counts.shape[1], "repeat": counts.shape[2]}
    for name, c in stored.items():
        dtype = np.dtype(c["dtype"])
        if dtype.kind not in "biufU" or dtype.itemsize > 4096 or len(c["values"]) != sizes[c["dim"]]:
            raise CopiBioError(f"{path}: coordinate {name!r} of its layout record is not {sizes[c['dim']]} plain "
                               f"values along {c['dim']}")
    times = centres
    if "time" in record:
        times = np.asarray(record["time"], dtype=float)
        if times.shape != centres.shape or not np.allclose(times, centres, atol=1e-9):
            raise CopiBioError(f"{path}: the bin centres of its layout record do not match its trials")
    repeats: dict[str, np.ndarray] = {}
    if stored:
        values = {name: np.asarray(c["values"], dtype=c["dtype"]) for name, c in stored.items()}
        units = {n: v[rows] for n, v in values.items() if stored[n]["dim"] == "unit"}
        conditions = {n: v for n, v in values.items() if stored[n]["dim"] == "condition"}
        repeats = {n: v for n, v in values.items() if stored[n]["dim"] == "repeat"}
        attrs = record.get("attrs", attrs)
    sessions = units.pop("session")
    index = {dim: source.pop(dim) for dim, source in
             (("unit", units), ("condition", conditions), ("repeat", repeats)) if dim in source}
    da = make_trial_counts(counts, times, width, sessions, conditions, unit_coords=units, attrs=attrs)
    if stored:
        da = da.drop_vars("unit").assign_coords(
            {**index, **{n: ("repeat", v) for n, v in repeats.items()}})
    return da
