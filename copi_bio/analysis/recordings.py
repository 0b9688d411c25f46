"""Users' own recordings: load spike trains and put their statistics next to a model's."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import neo
import numpy as np
import quantities as pq
import xarray as xr

from ..bounded import read_npz
from ..errors import CopiBioError
from .correlations import DEFAULT_WINDOWS, rsc_by_window, spiketrains_from_arrays


MAX_RECORDING_BYTES = 2 ** 29
"""Largest array (bytes) read from a user's ``.npz`` recording (64 million spikes in float64)."""


def load_spiketrains(path: str | Path, segment: int = 0, allow_pickle: bool = False,
                     population: str | None = None) -> list[neo.SpikeTrain]:
    """Spike trains from a recording file.

    Parameters
    ----------
    path : str or Path
        ``.npz`` with arrays ``times`` (s) and ``indices`` (and optionally
        ``t_start``, ``t_stop``, ``n_neurons``); an NWB file (``.nwb``, its
        ``units`` table is read with ``pynwb``); or any file Neo can read
        (Neo picks the reader from the extension: ``.nix`` needs ``nixio``,
        ``.pkl`` is Neo's pickle format, ...).
    segment : int
        Which segment of the first block to use (Neo files).
    allow_pickle : bool
        Read Neo's pickle files (``.pkl``, ``.pickle``). Unpickling runs
        whatever code the file names, so this is off by default: only allow
        it for files you wrote yourself. ``.npz`` files are always read with
        ``allow_pickle=False``.
    population : str, optional
        Only the units of this population: an NWB units table with a ``population`` column (copi_bio's
        exports) or Neo trains annotated with ``population``. The trains of such files carry their
        ``population`` (and ``neuron``) in ``annotations`` either way.
    """
    path = Path(path)
    if not path.exists():
        raise CopiBioError(f"recording {str(path)!r} does not exist")
    if path.suffix.lower() in (".pkl", ".pickle") and not allow_pickle:
        raise CopiBioError(f"{str(path)!r} is a pickle, which can run code when read; convert it to "
                           ".npz, .nix or .nwb, or pass allow_pickle=True if you wrote it yourself")
    if path.suffix == ".npz":
        try:
            f = read_npz(path, ["times", "indices", "t_start", "t_stop", "n_neurons"], MAX_RECORDING_BYTES)
        except (ValueError, zipfile.BadZipFile) as err:
            raise CopiBioError(f"{path}: not an .npz of plain arrays ({err})") from None
        if "times" not in f or "indices" not in f:
            raise CopiBioError(f"{path}: an .npz recording needs arrays 'times' (s) and 'indices'")
        times, idx = f["times"], f["indices"].astype(int)
        t0 = float(f["t_start"]) if "t_start" in f else 0.0
        t1 = float(f["t_stop"]) if "t_stop" in f else float(times.max()) + 1e-3
        n = int(f["n_neurons"]) if "n_neurons" in f else int(idx.max()) + 1
        return spiketrains_from_arrays(times, idx, n, t0, t1)
    if path.suffix == ".nwb":
        return _of_population(_load_nwb_units(path), population, path)
    try:
        io = neo.io.get_io(str(path))
        block = io.read_block()
    except (ImportError, IOError, ValueError) as err:
        raise CopiBioError(f"Neo cannot read {str(path)!r}: {err}") from None
    if segment >= len(block.segments):
        raise CopiBioError(f"{path} has {len(block.segments)} segments; segment={segment} is out of range")
    trains = block.segments[segment].spiketrains
    if not trains:
        raise CopiBioError(f"{path} segment {segment} holds no spike trains")
    return _of_population(list(trains), population, path)


def _of_population(trains: list[neo.SpikeTrain], population: str | None, path: Path) -> list[neo.SpikeTrain]:
    """The trains annotated with ``population`` (all trains where ``population`` is None)."""
    if population is None:
        return trains
    names = sorted({str(t.annotations["population"]) for t in trains if "population" in t.annotations})
    if population not in names:
        raise CopiBioError(f"{path}: no units of population {population!r}; "
                           + (f"its populations: {', '.join(names)}" if names else "its units name no population"))
    return [t for t in trains if t.annotations.get("population") == population]


def _load_nwb_units(path: Path) -> list[neo.SpikeTrain]:
    """Spike trains of the ``units`` table of an NWB file (times in seconds).

    The trains span the units' observation intervals (``obs_intervals``) when
    the file has them, so that silent or early-stopping units keep their true
    rates; otherwise from 0 to just after the last spike.
    """
    try:
        from pynwb import NWBHDF5IO
    except ImportError:
        raise CopiBioError("reading NWB files needs pynwb: pip install 'copi_bio[nwb]'") from None
    try:
        with NWBHDF5IO(str(path), "r") as io:
            units = io.read().units
            if units is None or len(units) == 0:
                raise CopiBioError(f"{path} has no units table with spike times")
            trains = [np.asarray(units.get_unit_spike_times(i), dtype=float) for i in range(len(units))]
            labels = [{key: (str(units[key][i]) if key == "population" else int(units[key][i]))
                       for key in ("population", "neuron") if key in units.colnames} for i in range(len(units))]
            observed = None
            if "obs_intervals" in units.colnames:  # the observed epochs bound the trains
                intervals = [np.asarray(units.get_unit_obs_intervals(i), dtype=float) for i in range(len(units))]
                if all(iv.size for iv in intervals):
                    observed = (min(float(iv.min()) for iv in intervals), max(float(iv.max()) for iv in intervals))
    except (OSError, ValueError, KeyError) as err:
        raise CopiBioError(f"cannot read NWB file {str(path)!r}: {err}") from None
    last = max((t.max() for t in trains if t.size), default=0.0)
    t_start, t_stop = observed if observed is not None else (0.0, last + 1e-3)
    t_stop = max(t_stop, last)
    return [neo.SpikeTrain(np.sort(t) * pq.s, t_start=t_start * pq.s, t_stop=t_stop * pq.s, **label)
            for t, label in zip(trains, labels)]


def mean_rate(spiketrains: Sequence[neo.SpikeTrain]) -> float:
    """Mean firing rate (Hz) over trains."""
    return float(np.mean([len(st) / float((st.t_stop - st.t_start).rescale(pq.s)) for st in spiketrains]))


def side_by_side(sources: dict[str, Sequence[neo.SpikeTrain]],
                 windows: Sequence[float] = DEFAULT_WINDOWS) -> xr.Dataset:
    """The same r_sc statistics for several sources (model runs, recordings).

    Returns
    -------
    xarray.Dataset
        ``mean``, ``sd``, ``sem``, ``median`` with dims ``(source, window)``
        and ``rate`` (Hz) per source; windows a source is too short for are NaN.
    """
    tables = []
    for name, trains in sources.items():
        table = rsc_by_window(trains, windows).drop_vars("r_sc")
        tables.append(table.reindex(window=list(windows)).expand_dims(source=[name]))
    out = xr.concat(tables, dim="source")
    out["rate"] = ("source", [mean_rate(t) for t in sources.values()], {"units": "Hz"})
    return out
