"""Trial counts as a Neo block: one Segment per trial, one SpikeTrain per unit observed in it.

The file is Neo's MATLAB format (``.mat``, :class:`neo.io.NeoMatlabIO`: plain arrays and structs,
read with :mod:`scipy.io`, never a pickle), checked with :func:`.matfile.check_mat` before it is read.
The layout :func:`write_trials_neo` writes and :func:`read_trials_neo` reads:

* each Segment is one trial a session showed, its annotations ``condition`` (index), ``repeat``,
  ``onset`` (s), ``session`` and one per condition coordinate (``orientation``, ``contrast``, ...);
* its SpikeTrains span ``[onset - before, onset + after)``, one per unit observed in the trial (a unit
  without one is NaN there), a count ``c`` in the bin centred at ``t`` being ``c`` spikes at onset +
  ``t``; their annotations are ``unit`` (the unit's position) and the unit's coordinates
  (``session``, ``contamination``, ``tetrode``, ...);
* the Block annotation ``copi_bio_trial_layout`` holds the layout record (JSON; :mod:`.trial_layout`).

Other Neo blocks in this format are read too when their trial Segments have a ``condition``
annotation: ``onset`` is the Segment's start unless annotated, the window is the whole bins every trial
holds around its onset, bins are :data:`copi_bio.trials.BIN_WIDTH` wide, units are matched by their
``unit`` annotation (else by position), sessions come from the trains' or Segments' ``session``
annotation, and every Segment annotation whose value is the same for all trials of a condition is a
condition coordinate.
"""

from __future__ import annotations

import json
from pathlib import Path

import neo
import numpy as np
import quantities as pq
import scipy.io
import xarray as xr

from ..atomic import atomic_write
from ..errors import CopiBioError
from ..export import TRIAL_LAYOUT
from ..trials import BIN_WIDTH, check_trial_counts
from .matfile import check_mat
from .trial_layout import (MAX_SPIKES, MAX_TRIALS, MAX_UNITS, Trials, assemble, bin_table, check_count,
                           condition_table, one_line, plan_trials, recording_file, window)

_SEGMENT_KEYS = ("condition", "repeat", "onset", "session")


def write_trials_neo(counts: xr.DataArray, path: str | Path) -> Path:
    """Write a trial-count array as a Neo block in Neo's MATLAB format (see the module docstring).

    Parameters
    ----------
    counts : xarray.DataArray
        ``(unit, condition, repeat, time)`` (:mod:`copi_bio.trials`).
    path : str or Path
        Target ``.mat`` file, written atomically (replaced if it exists).

    Returns
    -------
    Path
        The written file; :func:`read_trials_neo` reads ``counts`` back identically.

    Raises
    ------
    CopiBioError
        If ``counts`` is not a trial-count array, a trial is NaN in only some bins, a condition
        coordinate is named like a Segment annotation (``condition``, ``repeat``, ``onset``,
        ``session``), or ``path`` does not end in ``.mat``.
    """
    path = Path(path)
    if path.suffix.lower() != ".mat":
        raise CopiBioError(f"Neo output file {str(path)!r} must end in .mat (Neo's MATLAB format)")
    check_trial_counts(counts)
    plan = plan_trials(counts)
    taken = sorted(set(plan.params) & set(_SEGMENT_KEYS))
    if taken:
        raise CopiBioError(f"trial counts: condition coordinate {taken[0]!r} has the name of a Segment annotation")
    block = neo.Block(name=str(counts.attrs.get("source", "trial counts")),
                      description="trial-aligned spike counts: one segment per trial, spikes at the bin centres")
    block.annotate(**{TRIAL_LAYOUT: json.dumps(plan.record)})
    t, times = plan.trials, counts["time"].values
    segments = []
    for k in range(t.onset.size):
        segment = neo.Segment(name=f"trial {k}")
        segment.annotate(condition=int(t.condition[k]), repeat=int(t.repeat[k]), onset=float(t.onset[k]),
                         session=str(t.group[k]), **{name: values[k] for name, values in plan.params.items()})
        segments.append(segment)
    for u in range(counts.sizes["unit"]):
        spikes = np.split(plan.spike_times(u, times), np.cumsum(plan.counts[u].sum(axis=1).astype(np.int64))[:-1])
        for k, train_times in zip(plan.rows[u], spikes):
            train = neo.SpikeTrain(train_times * pq.s, t_start=t.start[k] * pq.s, t_stop=t.stop[k] * pq.s)
            train.annotate(unit=u, **{name: values[u] for name, values in plan.units.items()})
            segments[k].spiketrains.append(train)
    block.segments.extend(segments)
    atomic_write(path, lambda tmp: neo.io.NeoMatlabIO(str(tmp)).write_block(block))
    return path


def _scalar(value: object) -> object:
    """An annotation as a plain scalar (str, int or float), or None for anything else."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value) if isinstance(value, (float, np.floating)) else None


def _read_block(path: Path) -> neo.Block:
    """The block of a Neo MATLAB file, its sizes checked first."""
    check_mat(path)
    names = {name: kind for name, _, kind in scipy.io.whosmat(str(path))}
    if names.get("block") != "struct":
        raise CopiBioError(f"{path}: not a Neo MATLAB file (no struct 'block'; the file holds "
                           f"{', '.join(names) or 'nothing'})")
    try:
        block = neo.io.NeoMatlabIO(str(path)).read_block()
    except Exception as err:  # scipy and Neo raise many kinds for a malformed file
        raise CopiBioError(f"{path}: not a readable Neo MATLAB file ({one_line(err)})") from None
    if block is None:
        raise CopiBioError(f"{path}: not a readable Neo MATLAB file (no block)")
    return block


def _trial_segments(block: neo.Block) -> list[neo.Segment]:
    """The segments with a ``condition`` annotation and at least one spike train."""
    return [s for s in block.segments if "condition" in s.annotations and s.spiketrains]


def neo_has_trials(path: str | Path) -> bool:
    """Whether a Neo MATLAB file holds more than one trial segment (with a ``condition`` annotation)."""
    return len(_trial_segments(_read_block(recording_file(path)))) > 1


def read_trials_neo(path: str | Path) -> xr.DataArray:
    """Trial counts from a Neo MATLAB file with one Segment per trial (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file (:func:`write_trials_neo`'s, read back identically, or another Neo block whose
        trial Segments have a ``condition`` annotation).

    Returns
    -------
    xarray.DataArray
        ``(unit, condition, repeat, time)``; NaN for the trials in which a unit has no spike train.

    Raises
    ------
    CopiBioError
        One line naming the file: missing, too large, a MATLAB file whose declared sizes do not fit its
        bytes (a truncated file, a huge declared array), not a Neo block, no trial segments, more trials,
        units or spikes than allowed, or annotations that do not describe trials.
    """
    path = recording_file(path)
    block = _read_block(path)
    try:
        return _from_block(block, path)
    except CopiBioError:
        raise
    except Exception as err:  # annotations of any type and shape: a malformed file, not a bug to show
        raise CopiBioError(f"{path}: not a Neo block of trials ({one_line(err)})") from None


def _trials(segments: list[neo.Segment], record: dict) -> tuple[Trials, dict, int, np.ndarray]:
    """The trials of the segments (onsets on the file's clock), their condition coordinates, the
    number of conditions and each segment's onset."""
    start = np.array([float(s.t_start.rescale(pq.s)) for s in segments])
    stop = np.array([float(s.t_stop.rescale(pq.s)) for s in segments])
    onset = np.array([float(s.annotations.get("onset", a)) for s, a in zip(segments, start)])
    annotations = {key: [_scalar(s.annotations.get(key)) for s in segments]
                   for key in set.intersection(*(set(s.annotations) for s in segments))}
    group = np.asarray(annotations.pop("session")).astype(str) if "session" in annotations else None
    ids = np.asarray(annotations.pop("condition"), dtype=np.int64)
    repeat = np.asarray(annotations.pop("repeat"), dtype=np.int64) if "repeat" in annotations else None
    if "n_condition" in record:
        return Trials(onset, start, stop, ids, repeat, group), {}, int(record["n_condition"]), onset
    columns = {k: np.asarray(v) for k, v in annotations.items() if k != "onset" and None not in v}
    index, conditions = condition_table(ids, columns)
    return Trials(onset, start, stop, index, repeat, group), conditions, int(index.max()) + 1, onset


def _from_block(block: neo.Block, path: Path) -> xr.DataArray:
    """The trial counts of a Neo block read from ``path``."""
    segments = _trial_segments(block)
    if not segments:
        raise CopiBioError(f"{path}: no segment with a 'condition' annotation and spike trains")
    check_count(path, "trials", len(segments), MAX_TRIALS)
    check_count(path, "spikes", sum(st.size for s in segments for st in s.spiketrains), MAX_SPIKES)
    record = json.loads(str(block.annotations[TRIAL_LAYOUT])) if TRIAL_LAYOUT in block.annotations else {}
    if not isinstance(record, dict):
        raise CopiBioError(f"{path}: the block annotation {TRIAL_LAYOUT} is not a JSON object")
    keyed = all("unit" in st.annotations for s in segments for st in s.spiketrains)
    unit_of = [[int(st.annotations["unit"]) if keyed else k for k, st in enumerate(s.spiketrains)] for s in segments]
    if min(min(u) for u in unit_of) < 0 or any(len(set(u)) < len(u) for u in unit_of):
        raise CopiBioError(f"{path}: a segment has two spike trains of one unit, or a negative unit annotation")
    n_units = max(max(u) for u in unit_of) + 1
    check_count(path, "units", n_units, MAX_UNITS)
    table, conditions, n_conditions, onset = _trials(segments, record)
    width = float(record.get("bin_width", BIN_WIDTH))
    before, after = ((float(record["before"]), float(record["after"])) if "before" in record
                     else window(table, width, path))
    # trial k's spikes on a clock of its own, so that trials that overlapped in time do not share spikes
    shifted = np.arange(len(segments)) * (before + after + width) + before
    table = Trials(shifted, shifted - before, shifted + after, table.condition, table.repeat, table.group)
    spikes: list[list[np.ndarray]] = [[] for _ in range(n_units)]
    observed = np.zeros((n_units, len(segments)), dtype=bool)
    first: dict[int, dict] = {}
    for k, (segment, units) in enumerate(zip(segments, unit_of)):
        for u, train in zip(units, segment.spiketrains):
            times = np.asarray(train.times.rescale(pq.s).magnitude, dtype=float) - onset[k]
            spikes[u].append(times[(times >= -before) & (times < after)] + shifted[k])
            observed[u, k] = True
            first.setdefault(u, {"session": table.group[k] if table.group is not None else block.name or path.stem,
                                 **train.annotations})
    if len(first) < n_units:
        raise CopiBioError(f"{path}: units {sorted(set(range(n_units)) - set(first))[:5]} have no spike train")
    keys = set.intersection(*(set(a) for a in first.values())) - {"unit"}
    units = {key: np.asarray([_scalar(first[u][key]) for u in range(n_units)]) for key in keys
             if all(_scalar(first[u][key]) is not None for u in range(n_units))}
    units["session"] = units["session"].astype(str)
    counts, centres = bin_table([np.sort(np.concatenate(s)) for s in spikes],
                                units["session"] if table.group is not None else None, table, list(observed),
                                n_conditions, record.get("n_repeat"), before, after, width, path)
    return assemble(counts, centres, width, units, conditions, {"source": path.name}, record,
                    np.arange(n_units), n_units, path)
