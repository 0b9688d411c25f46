"""A recording with trials scored on the shipped suite's phenomena, with the suite's own rules.

The shipped suite (:mod:`copi_bio.validate`, :mod:`copi_bio.analysis.validation`) judges model runs;
given a recording's trial counts (:mod:`copi_bio.trials`, single units), :func:`score` gives the same
score with the same pass rule for every phenomenon the recording supports, for the suite's
``recording`` column:

* ``window``: ``rsc`` in non-overlapping 500 ms windows over ``rsc`` in 150 ms windows tiling the
  0-500 ms epoch (Huang & Lisberger's windows); passes above 1;
* ``rate``: Spearman's rho of pair noise correlation with pair rate (0-500 ms), its interval from
  the session-unit bootstrap; passes above 0;
* ``spontaneous_vs_evoked`` and ``tuning``: :func:`~copi_bio.analysis.validation.spontaneous_vs_evoked`
  and :func:`~copi_bio.analysis.validation.tuning_dependence` themselves;
* ``training`` and ``pattern_decorrelation`` need trained and naive states, or stimuli of known
  similarity, which a recording of one state does not label: "not scored: needs ...".

Nothing here runs a simulation or reads a file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from . import recording_statistics as rstat
from . import resampling as rs
from . import trial_stats as ts
from . import validation

NEEDS = {"training": "trained and naive states", "pattern_decorrelation": "stimuli of known similarity"}
"""What a recording of one state lacks for the phenomena it cannot be scored on."""


def _verdict(score: float, passed: bool) -> str:
    return f"{score:.3g} ({'PASS' if passed else 'FAIL'})"


def score(phenomenon: str, counts: xr.DataArray, n_boot: int = rs.N_BOOT) -> str:
    """The recording's score on ``phenomenon`` and its verdict, ``"<score> (PASS|FAIL)"``, or
    ``"not scored: needs ..."`` (see the module docstring)."""
    if phenomenon in NEEDS:
        return f"not scored: needs {NEEDS[phenomenon]}"
    ep = rstat.epochs(counts)
    if phenomenon == "window":
        start, stop = ep["evoked"]
        if stop - start < 0.5 - 1e-9:
            return "not scored: needs an evoked epoch of 500 ms"
        tables = ts.rsc_by_window(counts, [0.15, 0.5], start, stop)
        mean = {w: float(np.nanmean(t.values["r_sc"])) for w, t in tables.items()}
        ratio = mean[0.5] / mean[0.15]
        return _verdict(ratio, ratio > 1.0)
    if phenomenon == "rate":
        table = ts.noise_correlations(counts, *ep["evoked"])
        rho = rs.rank_correlation(table.values["r_sc"], table.values["rate"], table.a, table.b,
                                  ts.session_codes(counts), n_boot)
        return _verdict(rho.value, rho.ci_low > 0)
    if phenomenon == "spontaneous_vs_evoked":
        if "spontaneous" not in ep:
            return "not scored: needs a spontaneous epoch (200 ms before onset) in the trials"
        out = validation.spontaneous_vs_evoked(counts, n_boot)
    elif phenomenon == "tuning":
        out = validation.tuning_dependence(counts, n_boot=n_boot)
    else:
        raise ValueError(f"unknown phenomenon {phenomenon!r}")
    plt.close(out.figure)
    return _verdict(out.score, out.passed)
