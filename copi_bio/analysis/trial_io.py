"""Read trial-structured recordings into trial-count arrays (:mod:`copi_bio.trials`).

Readers (each returns one ``(unit, condition, repeat, time)`` array, every session of the file in it):

* :func:`read_v1_mat`: the MATLAB layout of the awake macaque V1 grating recordings of Ecker et al.
  (2010) and Berens et al. (2012) (``data``: one struct per session with ``spikes`` units x conditions x
  time bins x repetitions, ``times`` in ms, ``conditions``, ``contamination``, ``tetrode``).
* :func:`read_trials_nwb`: NWB, a units table and a trials table with a ``condition`` column
  (:mod:`.trial_nwb`; :func:`write_trials_nwb` writes trial counts that way, and
  :func:`copi_bio.export.export_nwb` writes runs with trials that way);
* :func:`read_trials_neo`: a Neo block in Neo's MATLAB format, one Segment per trial with the
  condition in its annotations (:mod:`.trial_neo`; :func:`write_trials_neo` writes one);
* :func:`read_trials`: any of these by its extension and content (a ``.mat`` file holding ``data`` is
  the V1 layout, one holding ``block`` a Neo block); :func:`has_trials` says whether a file is
  trial-structured at all.

A recording file is data, never code: sizes are checked before arrays are read (MATLAB files with
:func:`.matfile.check_mat`, HDF5 files from their datasets' declared shapes), and a malformed or
unexpected file gets a one-line :class:`~copi_bio.errors.CopiBioError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import xarray as xr

from ..errors import CopiBioError
from ..trials import make_trial_counts
from .matfile import check_mat
from .trial_layout import MAX_COUNTS, one_line, recording_file
from .trial_neo import neo_has_trials, read_trials_neo, write_trials_neo
from .trial_nwb import nwb_has_trials, read_trials_nwb, write_trials_nwb

__all__ = ["has_trials", "read_trials", "read_trials_neo", "read_trials_nwb", "read_v1_mat", "write_trials_neo",
           "write_trials_nwb"]


def _mat_field(session, name: str, path: Path, k: int):
    try:
        return getattr(session, name)
    except AttributeError:
        raise CopiBioError(f"{path}: session {k} has no field {name!r} (expected the V1 gratings layout: "
                           "spikes, times, conditions, contamination, tetrode)") from None


def read_v1_mat(path: str | Path, max_contamination: float | None = None) -> xr.DataArray:
    """Trial counts from a V1 gratings ``.mat`` file (Ecker et al. 2010 layout).

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file (MATLAB v5).
    max_contamination : float, optional
        Keep only units whose contamination is below this (the original studies used 0.05); None keeps
        every unit (the ``contamination`` coordinate says which are single units).

    Returns
    -------
    xarray.DataArray
        ``(unit, condition, repeat, time)``; ``unit`` carries ``session`` (``<subject>_<date>``),
        ``contamination``, ``tetrode``; ``condition`` carries the file's stimulus parameters
        (``orientation``, ``contrast``, or ``direction``); conditions are the union over sessions (NaN
        counts where a session did not show one); ``time`` in s (10 ms bins, -0.195 ... 0.695).
    """
    path = recording_file(path)
    names = _mat_variables(path)
    if "data" not in names or names["data"][1] not in ("cell", "struct") or int(np.prod(names["data"][0])) > 10_000:
        raise CopiBioError(f"{path}: expected one variable 'data' (a cell or struct array of at most 10000 "
                           f"sessions); the file declares {[(n, s, c) for n, (s, c) in names.items()]}")
    try:
        sessions = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False,
                                    variable_names=["data"])["data"]
    except (Exception, MemoryError) as err:
        raise CopiBioError(f"{path}: cannot read 'data' ({one_line(err)})") from None
    sessions = np.atleast_1d(sessions)
    blocks, total = [], 0
    for k, s in enumerate(sessions):
        spikes = np.asarray(_mat_field(s, "spikes", path, k))
        times = np.asarray(_mat_field(s, "times", path, k), dtype=float).ravel()
        conds = np.atleast_1d(_mat_field(s, "conditions", path, k))
        contamination = np.atleast_1d(np.asarray(_mat_field(s, "contamination", path, k), dtype=float))
        tetrode = np.atleast_1d(np.asarray(_mat_field(s, "tetrode", path, k)))
        if spikes.ndim == 3:  # one repeat, squeezed away
            spikes = spikes[..., None]
        if spikes.ndim == 2:  # one unit and one repeat
            spikes = spikes[None, ..., None]
        if spikes.ndim != 4 or spikes.shape[1] != conds.size or spikes.shape[2] != times.size or \
                contamination.size != spikes.shape[0] or tetrode.size != spikes.shape[0]:
            raise CopiBioError(f"{path}: session {k}: spikes {spikes.shape} do not match units x conditions x "
                               f"time bins x repeats ({contamination.size} units, {conds.size} conditions, "
                               f"{times.size} bins)")
        total += spikes.size
        if total > MAX_COUNTS:
            raise CopiBioError(f"{path}: more than {MAX_COUNTS} counts in all")
        params = [{f: float(getattr(c, f)) for f in c._fieldnames} for c in conds]
        label = f"{getattr(s, 'subject', 'session')}_{getattr(s, 'date', k)}"
        blocks.append((spikes, times, params, contamination, tetrode, label))
    if not blocks:
        raise CopiBioError(f"{path}: 'data' holds no sessions")
    times = blocks[0][1]
    if any(b[1].shape != times.shape or not np.allclose(b[1], times) for b in blocks):
        raise CopiBioError(f"{path}: sessions have different time bins")
    keys = sorted({f for b in blocks for p in b[2] for f in p})
    all_conds = sorted({tuple(p.get(f, np.nan) for f in keys) for b in blocks for p in b[2]})
    index = {c: i for i, c in enumerate(all_conds)}
    n_rep = max(b[0].shape[3] for b in blocks)
    keep_units = [np.ones(b[0].shape[0], bool) if max_contamination is None else b[3] < max_contamination
                  for b in blocks]
    n_units = int(sum(m.sum() for m in keep_units))
    counts = np.full((n_units, len(all_conds), n_rep, times.size), np.nan, dtype=np.float32)
    sessions_of, contam, tet = [], [], []
    row = 0
    for (spikes, _, params, contamination, tetrode, label), keep in zip(blocks, keep_units):
        cols = [index[tuple(p.get(f, np.nan) for f in keys)] for p in params]
        sub = np.transpose(spikes[keep], (0, 1, 3, 2)).astype(np.float32)  # unit, condition, repeat, time
        n = sub.shape[0]
        counts[row:row + n][:, cols, :sub.shape[2], :] = sub
        sessions_of += [label] * n
        contam += list(contamination[keep])
        tet += list(tetrode[keep].astype(int))
        row += n
    conditions = {f: [c[i] for c in all_conds] for i, f in enumerate(keys)}
    bin_width = float(np.median(np.diff(times))) / 1e3
    return make_trial_counts(counts, times / 1e3, bin_width, sessions_of, conditions,
                             {"contamination": np.asarray(contam, float), "tetrode": np.asarray(tet, int)},
                             {"source": path.name})


def _mat_variables(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """The variables of a MATLAB file (name -> shape and class), its declared sizes checked first."""
    check_mat(path)
    try:
        return {name: (shape, kind) for name, shape, kind in scipy.io.whosmat(str(path))}
    except Exception as err:  # scipy raises many kinds for a malformed file
        raise CopiBioError(f"{path}: not a readable MATLAB v5 file ({one_line(err)})") from None


def read_trials(path: str | Path, **kwargs) -> xr.DataArray:
    """Trial counts from a recording file, by extension and content.

    ``.mat``: :func:`read_v1_mat` (a variable ``data``) or :func:`read_trials_neo` (a Neo block);
    ``.nwb``: :func:`read_trials_nwb`. Keyword arguments go to the reader.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        names = _mat_variables(recording_file(path))
        return read_trials_neo(path, **kwargs) if "block" in names and "data" not in names else \
            read_v1_mat(path, **kwargs)
    if suffix == ".nwb":
        return read_trials_nwb(path, **kwargs)
    raise CopiBioError(f"{path}: no trial-structured reader for {suffix!r} files (readers: .mat for the V1 layout "
                       "and Neo's MATLAB format, .nwb)")


def has_trials(path: str | Path) -> bool:
    """Whether a recording file is trial-structured, from its structure (cheaply where it can).

    ``.mat``: the V1 layout (a variable ``data``), or a Neo block with more than one segment with a
    ``condition`` annotation; ``.nwb``: a trials table with a ``condition`` column; any other file
    (``.npz`` spike trains, other Neo formats): False.

    Raises
    ------
    CopiBioError
        If a ``.mat`` or ``.nwb`` file is missing or unreadable (one line naming it).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        names = _mat_variables(recording_file(path))
        return "data" in names or ("block" in names and neo_has_trials(path))
    if suffix == ".nwb":
        return nwb_has_trials(path)
    return False
