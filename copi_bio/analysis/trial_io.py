"""Read trial-structured recordings into trial-count arrays (:mod:`copi_bio.trials`).

Readers (each returns one ``(unit, condition, repeat, time)`` array, every session of the file in it):

* :func:`read_v1_mat`: the MATLAB layout of the awake macaque V1 grating recordings of Ecker et al.
  (2010) and Berens et al. (2012) (``data``: one struct per session with ``spikes`` units x conditions x
  time bins x repetitions, ``times`` in ms, ``conditions``, ``contamination``, ``tetrode``).
* :func:`read_trials`: any supported file by its extension (``.mat`` as above; ``.nwb`` and Neo files
  as documented in their readers).

A recording file is data, never code: sizes are checked before arrays are read, and a malformed or
unexpected file gets a one-line :class:`~copi_bio.errors.CopiBioError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import xarray as xr

from ..errors import CopiBioError
from ..trials import make_trial_counts

MAX_FILE_BYTES = 2 ** 31
"""Largest recording file read (2 GiB)."""
MAX_COUNTS = 2 ** 28
"""Largest number of count values (units x conditions x repeats x bins) one file may declare."""


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
    path = Path(path)
    if not path.is_file():
        raise CopiBioError(f"recording {str(path)!r} does not exist")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CopiBioError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} a recording may have")
    try:
        listed = scipy.io.whosmat(str(path))
    except Exception as err:  # scipy raises many kinds for a malformed file
        raise CopiBioError(f"{path}: not a readable MATLAB v5 file ({type(err).__name__}: {err})") from None
    names = {name: (shape, kind) for name, shape, kind in listed}
    if "data" not in names or names["data"][1] not in ("cell", "struct") or int(np.prod(names["data"][0])) > 10_000:
        raise CopiBioError(f"{path}: expected one variable 'data' (a cell or struct array of at most 10000 "
                           f"sessions); the file declares {[(n, s, c) for n, (s, c) in names.items()]}")
    try:
        sessions = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False,
                                    variable_names=["data"])["data"]
    except (Exception, MemoryError) as err:
        raise CopiBioError(f"{path}: cannot read 'data' ({type(err).__name__}: {err})") from None
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


def read_trials(path: str | Path, **kwargs) -> xr.DataArray:
    """Trial counts from a recording file, by extension (``.mat``: :func:`read_v1_mat`).

    Keyword arguments go to the reader.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return read_v1_mat(path, **kwargs)
    raise CopiBioError(f"{path}: no trial-structured reader for {suffix!r} files (readers: .mat)")
