"""The conventions of every result Dataset: each data variable and coordinate has ``units`` and a
non-empty ``long_name`` (CF conventions: ``"1"`` for a dimensionless quantity or an index, ``"s"``,
``"Hz"``, ``"nS"``, ``"a.u."`` for the rate model's arbitrary units), and one dimension name per kind
of axis across backends:

==================  =================================================================
dimension           axis
==================  =================================================================
``time``            recorded samples of state variables (s)
``t_eval``          evaluation points of the metrics (s), with coordinate ``presentation``
``t_weights``       weight snapshots (s)
``time_bin``        bins of the binned rates (s, bin centres)
``trial``           parallel trials (copies) whose states were recorded
``neuron_<pop>``    neurons of a population; its coordinate holds their indices (the
                    recorded ones, where only some were recorded)
``spike_<pop>``     stored spikes of a population
``synapse_<proj>``  synapses of a plastic projection
==================  =================================================================

:func:`describe` fills in what a backend left out, from the variable's name (the patterns below);
what a backend set is kept.
"""

from __future__ import annotations

import re

import xarray as xr

_PATTERNS: tuple[tuple[str, str, str], ...] = (  # (name regex, units, long_name; {0} the name's suffix)
    (r"^mean_rate_(.+)$", "Hz", "mean firing rate of population {0} over the evaluation interval"),
    (r"^mean_spike_count_corr_(.+)$", "1", "mean Pearson r of spike counts over recorded pairs of {0}"),
    (r"^cv_isi_(.+)$", "1", "mean coefficient of variation of inter-spike intervals of {0}"),
    (r"^mean_w_(.+)$", "nS", "mean conductance of the plastic {0} synapses"),
    (r"^(test|weights_test|train)_accuracy$", "1", "fraction of stimuli classified correctly"),
    (r"^(test|weights_test|train)_loss$", "1", "mean squared error per output"),
    (r"^mean_abs_corr_(.+)$", "1", "mean |Pearson r| over pairs of {0}"),
    (r"^(decorrelation_index|inference_error|teacher_r|teacher_slope|copi_bp_cosine)(_.+)?$", "1",
     "dimensionless measure {0}"),
    (r"^W_(.+)$", "1", "forward weights {0} (dimensionless)"),
    (r"^[RM]_(.+)$", "1", "lateral weights of {0} (dimensionless)"),
    (r"^b_(.+)$", "1", "biases of {0} (dimensionless)"),
    (r"^teacher_weights$", "1", "the teacher's weights (dimensionless)"),
    (r"^(r|u|delta|x)_(.+)$", "a.u.", "recorded state {0}"),
    (r"^spike_index_(.+)$", "1", "index of the spiking neuron in population {0}"),
    (r"^neuron_(.+)$", "1", "index of the neuron in population {0}"),
    (r"^synapse_(pre|post)_(.+)$", "1", "{0}synaptic neuron index"),
    (r"^presentation$", "1", "presentations before the evaluation"),
    (r"^(trial|test_image|test_label|test_prediction|trial_condition)$", "1", "{0}"),
    (r"^test_spike_counts$", "1", "output spike counts of each held-out image"),
    (r"^trial_counts_(.+)$", "1", "spike counts of {0} per unit, condition, repeat and time bin"),
    (r"^stimulus_(.+)$", "1", "stimulus values of population {0} per presentation"),
)


def describe(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``units`` and ``long_name`` on every variable and coordinate (in place; returned).

    A value a backend set is kept; a missing or empty one comes from the variable's name. A variable
    that matches no pattern gets ``units = "1"`` and its name as ``long_name``, so that nothing is
    left undescribed.
    """
    for name, var in ds.variables.items():
        units, long_name = _from_name(str(name))
        if not var.attrs.get("units"):
            var.attrs["units"] = units
        if not var.attrs.get("long_name"):
            var.attrs["long_name"] = long_name
    return ds


def _from_name(name: str) -> tuple[str, str]:
    for pattern, units, text in _PATTERNS:
        match = re.match(pattern, name)
        if match:
            groups = [g for g in match.groups() if g is not None]
            return units, text.format(*(groups or [name])).strip() or name
    if name.startswith(("t_", "time")):
        return "s", name
    return "1", name
