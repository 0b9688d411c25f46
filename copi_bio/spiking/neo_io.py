"""Conversion of stored spikes to Neo, so that Elephant's analyses apply.

Neo and Elephant are optional (``pip install copi_bio[spiking-analysis]``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import CopiBioError


def _neo():
    try:
        import neo
        import quantities as pq
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise CopiBioError("to_neo needs the optional packages neo and quantities: "
                           "pip install 'copi_bio[spiking-analysis]'") from err
    return neo, pq


def to_neo(ds: xr.Dataset, population: str) -> list:
    """Spike trains of one population as :class:`neo.SpikeTrain` objects.

    Parameters
    ----------
    ds : xarray.Dataset
        Result of a spiking run (with ``spike_time_<population>``).
    population : str
        Population name.

    Returns
    -------
    list of neo.SpikeTrain
        One train per neuron (index order), times in seconds, ``t_stop`` the
        end of the simulation.

    Examples
    --------
    >>> from elephant.statistics import mean_firing_rate  # doctest: +SKIP
    >>> [mean_firing_rate(st) for st in to_neo(ds, "input")]  # doctest: +SKIP
    """
    name = f"spike_time_{population}"
    if name not in ds:
        have = sorted(v[len("spike_time_"):] for v in ds.data_vars if str(v).startswith("spike_time_"))
        raise CopiBioError(f"population {population!r} has no stored spikes; populations with spikes: {have}")
    neo, pq = _neo()
    times = np.asarray(ds[name].values, dtype=float)
    idx = np.asarray(ds[f"spike_index_{population}"].values, dtype=np.int64)
    n = ds.sizes[f"neuron_{population}"]
    t_stop = _t_stop(ds, times)
    order = np.argsort(times, kind="stable")
    times, idx = times[order], idx[order]
    return [neo.SpikeTrain(times[idx == k] * pq.s, t_start=0 * pq.s, t_stop=t_stop * pq.s,
                           name=f"{population}[{k}]") for k in range(n)]


def _t_stop(ds: xr.Dataset, times: np.ndarray) -> float:
    if "spike_duration" in ds.attrs:
        return max(float(ds.attrs["spike_duration"]), float(times.max()) + 1e-9 if times.size else 0.0)
    if "time_bin" in ds.coords and ds.sizes["time_bin"]:
        centres = ds["time_bin"].values
        width = float(centres[1] - centres[0]) if len(centres) > 1 else 2 * float(centres[0])
        stop = float(centres[-1] + width / 2)
    else:
        stop = 0.0
    return max(stop, float(times.max()) + 1e-9 if times.size else 0.0)
