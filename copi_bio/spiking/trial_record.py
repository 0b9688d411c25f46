"""Store a spiking run's trial-aligned spike counts in its record (:mod:`copi_bio.trials` layout).

Both spiking model kinds use it: chain models where a stimulus repeats
(:mod:`copi_bio.spiking.chain.run`) and E/I networks with a stimulus protocol
(:mod:`copi_bio.spiking.ei_network.run`). The record gets ``trial_onset`` and ``trial_condition``
along the run's trial dimension and, per population, ``trial_counts_<pop>`` with dims
``(unit_<pop>, condition, repeat, trial_time)`` and the unit coordinates ``session_<pop>`` and
``neuron_index_<pop>``, which :func:`copi_bio.trials.from_result` turns into the standard structure.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..record import RunRecord
from ..trials import BIN_WIDTH, bin_trials


def store_trial_counts(record: RunRecord, spikes: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                       onsets: np.ndarray, conditions: np.ndarray, condition_coords: Mapping[str, tuple],
                       before: float, after: float, trial_dim: str, note: str = "") -> None:
    """Bin every population's spikes around the onsets and store them in ``record``.

    Parameters
    ----------
    record : RunRecord
    spikes : mapping
        Population name -> (spike times in s, unit of each spike ``0 .. n - 1``, neuron index of each of
        the ``n`` units).
    onsets : ndarray
        Onset (s) of every trial.
    conditions : ndarray of int
        Condition of every trial (``0 .. n_conditions - 1``).
    condition_coords : mapping
        Coordinate name -> ``(values, attrs)`` along ``condition``, one per stimulus parameter.
    before, after : float
        Counted window ``[onset - before, onset + after)`` s, whole multiples of
        :data:`copi_bio.trials.BIN_WIDTH`.
    trial_dim : str
        Dimension of ``trial_onset`` and ``trial_condition`` (the run's trials or presentations).
    note : str
        Appended to every count array's ``long_name``.
    """
    n_conditions = len(next(iter(condition_coords.values()))[0])
    record.variables["trial_onset"] = ((trial_dim,), np.asarray(onsets, float), {
        "units": "s", "long_name": "stimulus onset of each trial"})
    record.variables["trial_condition"] = ((trial_dim,), np.asarray(conditions, int), {
        "long_name": "stimulus condition of each trial"})
    record.coords["condition"] = (("condition",), np.arange(n_conditions), {})
    for name, (values, attrs) in condition_coords.items():
        record.coords[name] = (("condition",), np.asarray(values), dict(attrs))
    centres = None
    for pop, (times, units, neurons) in spikes.items():
        counts, centres = bin_trials(times, units, len(neurons), onsets, conditions, n_conditions,
                                     before=before, after=after, bin_width=BIN_WIDTH)
        unit = f"unit_{pop}"
        record.variables[f"trial_counts_{pop}"] = ((unit, "condition", "repeat", "trial_time"), counts, {
            "long_name": f"spike count of {pop} per bin, aligned to stimulus onset{note}", "units": "spikes",
            "bin_width": BIN_WIDTH, "bin_width_units": "s", "before": before, "after": after})
        record.coords[f"session_{pop}"] = ((unit,), np.full(len(neurons), "run"), {})
        record.coords[f"neuron_index_{pop}"] = ((unit,), np.asarray(neurons, dtype=np.int64),
                                                {"long_name": f"neuron index in {pop}"})
    record.coords["repeat"] = (("repeat",), np.arange(counts.shape[2]), {})
    record.coords["trial_time"] = (("trial_time",), centres, {
        "units": "s", "long_name": "bin centre relative to stimulus onset"})
