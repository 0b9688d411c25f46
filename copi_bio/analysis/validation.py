"""Decorrelation phenomena as tests: a published observation, a model prediction, a score.

In the spirit of SciUnit (a test holds the observation; a model's output is
judged against it), kept as a small protocol: every phenomenon is a
function that takes result Datasets or their trial counts (:mod:`copi_bio.trials`) of shipped
models (never runs one;
:mod:`copi_bio.validate` does) and returns an :class:`Outcome` with a
figure of the model curve and the data points. The observations come from
the shipped reference table (:func:`copi_bio.analysis.reference.reference_table`),
numbers only where they were confirmed in a source.

Phenomena (docs/validation.md says which pass and why):

* ``window``: ``r_sc`` grows with the counting window;
* ``rate``: ``r_sc`` grows with the pair's firing rate;
* ``training``: learning a task with COPI lowers noise correlations at repeated stimuli;
* ``spontaneous_vs_evoked``: spontaneous ``r_sc`` (before onset) is about twice the evoked one (after
  onset, the same trials);
* ``tuning``: ``r_sc`` is higher for similarly tuned pairs;
* ``pattern_decorrelation``: the patterns of similar stimuli grow less similar after onset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from scipy import stats

from ..errors import CopiBioError
from . import correlations, reference, tuning
from . import recording_statistics as rstat
from . import resampling as rs
from . import trial_stats as ts

WINDOWS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.5)
"""Counting windows (s) of the window phenomenon; 150 and 500 ms are the windows of Huang & Lisberger 2009."""


@dataclass
class Outcome:
    """One phenomenon judged: what was observed, what the model predicts, the score.

    Attributes
    ----------
    phenomenon : str
        Tag of the reference table (``window``, ``rate``, ``training``, ``spontaneous_vs_evoked``,
        ``tuning``, ``pattern_decorrelation``).
    observation, prediction : str
        One line each, with numbers and their sources or models.
    score : float
        The statistic named by ``score_kind``.
    score_kind : str
        What ``score`` is and when it passes.
    passed : bool
    mechanism : str
        What in the model produces (or fails to produce) the effect.
    by_copi : bool
        Whether COPI's rules produce it (False: the effect comes from other parts of the model, such as
        balanced E/I dynamics or spike generation, and would be there without COPI).
    figure : matplotlib.figure.Figure or None
        The model curve with the data points.
    recording : str or None
        The same score on a user's recording (``"<score> (PASS|FAIL)"``, or why it cannot be scored);
        None when no recording was given.
    """

    phenomenon: str
    observation: str
    prediction: str
    score: float
    score_kind: str
    passed: bool
    mechanism: str
    figure: plt.Figure | None = field(default=None, repr=False)
    by_copi: bool = False
    recording: str | None = None

    def line(self) -> str:
        """The one-line report: observation, prediction, score, pass or fail."""
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{self.phenomenon:9s} {verdict}  observed: {self.observation} | model: {self.prediction} | "
                f"{self.score_kind} = {self.score:.3g}")

    def row(self) -> dict:
        """The outcome as a table row (no figure)."""
        row = {"phenomenon": self.phenomenon, "passed": self.passed, "score": self.score,
               "score_kind": self.score_kind, "observation": self.observation, "prediction": self.prediction,
               "by_copi": "yes" if self.by_copi else "no", "mechanism": self.mechanism}
        if self.recording is not None:
            row["recording"] = self.recording
        return row


def _rows(tag: str) -> list[dict]:
    return [row for row in reference.reference_table() if row.get("phenomenon") == tag]


def _trains(ds: xr.Dataset, population: str, start: float, stop: float) -> list:
    return correlations.to_neo(ds, population, t_start=start, t_stop=stop)


def _verdict(score: float, passed: bool) -> str:
    return f"{score:.3g} ({'PASS' if passed else 'FAIL'})"


def _window_ratio(curve: xr.Dataset) -> float:
    means = curve["mean"].sel(window=[0.15, 0.5]).values
    return float(means[1] / means[0])


def window_dependence(ds: xr.Dataset, population: str, start: float, stop: float,
                      recording: list | None = None) -> Outcome:
    """``r_sc`` against the counting window, in ``[start, stop)`` s of a spiking result; ``recording``
    (a user's spike trains) is scored alike and drawn beside the model.

    Observation: Huang & Lisberger 2009 (macaque MT, the same pairs): 0.12
    at 150 ms and 0.14 at 500 ms (similar direction preference), 0.020 and
    0.028 (dissimilar). Score: the model's ratio ``r_sc(500 ms) /
    r_sc(150 ms)``; it passes above 1 (the direction of every published
    window comparison in the table).
    """
    curve = correlations.rsc_by_window(_trains(ds, population, start, stop), WINDOWS)
    means = curve["mean"].sel(window=[0.15, 0.5]).values
    ratio = _window_ratio(curve)
    data = [(float(r["counting_window_ms"]) / 1e3, float(r["value"]), r["condition"].split(";")[0])
            for r in _rows("tuning") + _rows("window")
            if r["value"] and r["counting_window_ms"] and r["quantity"] == "mean r_sc"
            and "Huang" in r["citation"]]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.errorbar(curve["window"].values * 1e3, curve["mean"].values, yerr=curve["sem"].values, marker="o",
                label=f"model ({population})")
    scored = None
    if recording is not None:
        theirs = correlations.rsc_by_window(recording, WINDOWS)
        ax.errorbar(theirs["window"].values * 1e3, theirs["mean"].values, yerr=theirs["sem"].values, marker="^",
                    color="k", label="recording")
        their_ratio = _window_ratio(theirs)
        scored = _verdict(their_ratio, their_ratio > 1.0)
    for label in sorted({d[2] for d in data}):
        pts = sorted((w, v) for w, v, lab in data if lab == label)
        ax.plot([p[0] * 1e3 for p in pts], [p[1] for p in pts], "s--", alpha=0.7,
                label="MT, " + label.split(" (")[0])
    ax.set_xscale("log")
    ax.set_xticks([w * 1e3 for w in WINDOWS], [f"{w * 1e3:g}" for w in WINDOWS])
    ax.minorticks_off()
    ax.set_xlabel("counting window (ms)")
    ax.set_ylabel("mean r_sc")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return Outcome(
        "window", "r_sc 0.12 -> 0.14 and 0.020 -> 0.028 from 150 to 500 ms (MT, Huang & Lisberger 2009)",
        f"r_sc {means[0]:.3f} -> {means[1]:.3f} from 150 to 500 ms ({population})", ratio,
        "ratio r_sc(500 ms) / r_sc(150 ms), passes > 1", bool(ratio > 1.0),
        "balanced E/I dynamics: shared slow fluctuations correlate counts more the longer the window; "
        "not COPI", fig, recording=scored)


def _rate_rho(binned: xr.Dataset, n_units: int, n_boot: int = 500) -> rs.Estimate:
    """Spearman's rho of pair ``r_sc`` with pair rate, with its interval from a bootstrap over the cells
    (pairs share cells: they are not independent samples)."""
    return rs.rank_correlation(binned["r_sc"].values, binned["pair_rate"].values, binned["pair_a"].values,
                               binned["pair_b"].values, np.zeros(n_units, int), n_boot)


def rate_dependence(ds: xr.Dataset, population: str, start: float, stop: float, window: float = 0.1,
                    recording: list | None = None) -> Outcome:
    """``r_sc`` of each pair against its geometric-mean rate, in ``[start, stop)`` s; ``recording`` as
    in :func:`window_dependence`.

    Observation: for a fixed input correlation the output correlation rises
    with firing rate (de la Rocha et al. 2007, in vitro; a direction, no
    number confirmed). Score: Spearman's rank correlation of pair ``r_sc``
    with pair rate; passes when its 95 % interval (bootstrap over cells) lies above 0.
    """
    trains = _trains(ds, population, start, stop)
    binned = correlations.rsc_by_rate(trains, window)
    rho = _rate_rho(binned, len(trains))
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(binned["rate"].values, binned["mean"].values, "o-", label=f"model ({population}), rate quintiles")
    scored = None
    if recording is not None:
        theirs = correlations.rsc_by_rate(recording, window)
        ax.plot(theirs["rate"].values, theirs["mean"].values, "^-", color="k", label="recording")
        rho_r = _rate_rho(theirs, len(recording))
        scored = _verdict(rho_r.value, rho_r.ci_low > 0)
    ax.set_xlabel("geometric-mean rate of the pair (Hz)")
    ax.set_ylabel(f"mean r_sc ({window * 1e3:g} ms)")
    ax.set_title("de la Rocha et al. 2007: rises with rate (direction only)", fontsize=7)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return Outcome(
        "rate", "output correlation rises with firing rate at fixed input correlation (de la Rocha et al. 2007)",
        f"Spearman rho {rho} over {binned.sizes['pair']} pairs of {len(trains)} cells; r_sc "
        f"{binned['mean'].values[0]:.3f} -> {binned['mean'].values[-1]:.3f} from the lowest to the highest rate "
        "quintile", rho.value,
        "Spearman rho of pair r_sc with pair rate, passes with its 95 % interval above 0", bool(rho.ci_low > 0),
        "spike generation: a shared input fluctuation moves the counts of fast-firing cells more (shown before "
        "plasticity, at a fixed input correlation); not COPI", fig, recording=scored)


def late_trials(counts: xr.DataArray, ds: xr.Dataset, start: float) -> xr.DataArray:
    """The trial counts of ``ds`` (:func:`copi_bio.trials.from_result`) with every trial whose onset is
    before ``start`` s set to NaN (missing), so that only trials after learning are measured."""
    onset, cond = ds["trial_onset"].values, ds["trial_condition"].values
    repeat, seen = np.zeros(cond.size, int), np.zeros(counts.sizes["condition"], int)
    for k in np.argsort(onset, kind="stable"):
        repeat[k], seen[cond[k]] = seen[cond[k]], seen[cond[k]] + 1
    keep = np.zeros((counts.sizes["condition"], counts.sizes["repeat"]), bool)
    late = onset >= start - 1e-9
    keep[cond[late], repeat[late]] = True
    return counts.where(xr.DataArray(keep, dims=("condition", "repeat")))


def _z(a: rs.Estimate, b: rs.Estimate) -> float:
    """``(a - b) / sqrt(se_a^2 + se_b^2)``, each ``se`` the 95 % interval's width over 3.92 (conservative
    where ``a`` and ``b`` come from the same pairs)."""
    return float((a.value - b.value) / np.hypot((a.ci_high - a.ci_low) / 3.92, (b.ci_high - b.ci_low) / 3.92))


def training_decorrelation(learned: xr.DataArray, naive: xr.DataArray, n_boot: int = rs.N_BOOT) -> Outcome:
    """Noise correlations at repeated stimuli of a network that learned with COPI decorrelation
    (``learned``) against the same network with its lateral plasticity off (``naive``): trial counts
    (:mod:`copi_bio.trials`) over the whole presentation, each stimulus's counts z-scored over its
    repeats (:func:`copi_bio.analysis.trial_stats.noise_correlations`).

    Observation: Gu et al. 2011 (macaque MSTd, PMC summary): correlated noise is significantly
    weaker in trained than in naive animals (a direction; no value, counting window, rate or Fano
    factor comparison was read at an allowed source). Score: ``r_sc`` learned over naive; passes
    below 1 when the difference is below 0 at ``z < -1.96`` (intervals from the session-unit bootstrap).
    Rates and Fano factors are reported, not scored.
    """
    ep = rstat.epochs(learned)["evoked"]
    est = {}
    for name, counts in (("naive", naive), ("learned", learned)):
        est[name] = (rs.pair_estimate(ts.noise_correlations(counts, *ep), counts, n_boot=n_boot),
                     rs.unit_estimate(ts.unit_rates(counts, *ep), counts, n_boot=n_boot),
                     rstat.fano_factor(counts, *ep, n_boot=n_boot))
    (r0, rate0, f0), (r1, rate1, f1) = est["naive"], est["learned"]
    z = _z(r1, r0)
    fig, axes = plt.subplots(1, 3, figsize=(7, 2.6))
    for ax, (name, a, b) in zip(axes, (("mean noise r_sc", r0, r1), ("rate (Hz)", rate0, rate1),
                                      ("Fano factor", f0, f1))):
        ax.bar(["naive (lateral off)", "learned"], [a.value, b.value], color=["0.6", "C0"],
               yerr=[[a.value - a.ci_low, b.value - b.ci_low], [a.ci_high - a.value, b.ci_high - b.value]])
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle("Gu et al. 2011: noise correlations lower after training (direction)", fontsize=8)
    fig.tight_layout()
    window = f"{(ep[1] - ep[0]) * 1e3:g} ms"
    return Outcome(
        "training", "correlated noise weaker in trained than in naive MSTd (Gu et al. 2011; a direction)",
        f"noise r_sc {r0} -> {r1} ({r0.n} pairs, {window} presentations), rate {rate0} -> {rate1} Hz, "
        f"Fano {f0} -> {f1} ({learned.attrs.get('population', '')})", float(r1.value / r0.value),
        "ratio noise r_sc learned / naive, passes < 1 at z < -1.96", bool(r1.value < r0.value and z < -1.96),
        "the lateral rule, off in the naive network, removes the correlations the forward rule needs removed",
        fig, by_copi=True)


EVOKED_RATIO = 2.0
"""Spontaneous over evoked ``r_sc``: "about twice" (Smith & Kohn 2008, macaque V1; Smith & Sommer 2013,
macaque V4), confirmed in both abstracts; neither gives an uncertainty."""


def spontaneous_vs_evoked(counts: xr.DataArray, n_boot: int = rs.N_BOOT) -> Outcome:
    """Noise correlations before and after stimulus onset in the same trials of one run: the 200 ms
    before onset (spontaneous) against 300-500 ms after (evoked), as
    :func:`copi_bio.analysis.recording_statistics.statistics` counts them.

    Observation: spontaneous correlations are about twice the evoked ones (:data:`EVOKED_RATIO`).
    Score: the ratio ``rsc_spontaneous / rsc_evoked``; passes when ``rsc_spontaneous`` exceeds
    ``sqrt(2) rsc_evoked`` (a ratio nearer 2 than 1 on a log scale; the sources give no uncertainty;
    written as a product so that an evoked value at or below zero does not flip it) and the difference
    is above 0 at ``z > 1.96``.
    """
    ep = rstat.epochs(counts)
    if "spontaneous" not in ep:
        raise CopiBioError("spontaneous against evoked needs trial counts from 200 ms before onset")
    spont = rs.pair_estimate(ts.noise_correlations(counts, *ep["spontaneous"]), counts, n_boot=n_boot)
    evoked = rs.pair_estimate(ts.noise_correlations(counts, *ep["evoked_late"]), counts, n_boot=n_boot)
    rate_s = rs.unit_estimate(ts.unit_rates(counts, *ep["spontaneous"]), counts, n_boot=n_boot)
    rate_e = rs.unit_estimate(ts.unit_rates(counts, *ep["evoked_late"]), counts, n_boot=n_boot)
    ratio = spont.value / evoked.value
    rows = [r for r in _rows("spontaneous_vs_evoked") if r["value"]]
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.bar(["model"], [ratio], color="C0")
    ax.bar([r["citation"].split(",")[0][:22] for r in rows], [float(r["value"]) for r in rows], color="0.6")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_ylabel("r_sc spontaneous / evoked")
    ax.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    return Outcome(
        "spontaneous_vs_evoked",
        "spontaneous r_sc about 2x the evoked (Smith & Kohn 2008, V1; Smith & Sommer 2013, V4)",
        f"noise r_sc {spont} in the 200 ms before onset, {evoked} 300-500 ms after, same trials "
        f"({counts.sizes['repeat']} repeats, {spont.n} pairs; rates {rate_s} and {rate_e} Hz, "
        f"{counts.attrs.get('population', '')})", float(ratio),
        "ratio r_sc spontaneous / evoked, passes > sqrt(2) at z > 1.96",
        bool(spont.value > np.sqrt(EVOKED_RATIO) * evoked.value and _z(spont, evoked) > 1.96),
        "balanced E/I dynamics with plastic inhibition; the stimulus is an extra current, so it is not COPI", fig,
        by_copi=False)


def tuning_dependence(counts: xr.DataArray, control: xr.DataArray | None = None,
                      n_boot: int = rs.N_BOOT) -> Outcome:
    """Noise correlations of similarly and dissimilarly tuned pairs at repeated stimuli; ``control`` is
    the same network without decorrelation, drawn for comparison and not scored.

    Observation: Huang & Lisberger 2009 (macaque MT): mean ``r_sc`` 0.12 for pairs with similar and 0.020
    for pairs with dissimilar preferred directions (150 ms; 0.14 and 0.028 at 500 ms). The model's stimuli
    have no direction: its groups are those of the V1 statistics, signal correlation (of the stimulus
    means over all repeats) above :data:`~copi_bio.analysis.trial_stats.SIMILAR` or below
    :data:`~copi_bio.analysis.trial_stats.DISSIMILAR`. Score: the difference of mean ``r_sc``, similar
    minus dissimilar, with its interval from the unit bootstrap (pairs share cells, so they are not
    independent samples); passes when it is at least half the observed 0.10 and its interval lies above 0.
    """
    def groups(c: xr.DataArray) -> tuple:
        table = ts.noise_correlations(c, *rstat.epochs(c)["evoked"])
        sig = table.values["signal"]
        similar, dissimilar = sig > ts.SIMILAR, sig < ts.DISSIMILAR
        return (table, rs.pair_estimate(table, c, select=similar, n_boot=n_boot),
                rs.pair_estimate(table, c, select=dissimilar, n_boot=n_boot),
                rs.difference_estimate(table, c, similar, dissimilar, n_boot=n_boot))

    table, similar, dissimilar, diff = groups(counts)
    data = {r["condition"].split(" (")[0]: float(r["value"]) for r in _rows("tuning")
            if r["value"] and r["counting_window_ms"] == "150" and "direction" in r["condition"]}
    observed = data["similar preferred direction"] - data["dissimilar preferred direction"]
    edges = np.linspace(-1, 1, 9)
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(7.5, 3.0), gridspec_kw={"width_ratios": [1.6, 1]})
    centers = (edges[:-1] + edges[1:]) / 2
    ax.plot(centers, _by_signal(table.values["signal"], table.values["r_sc"], edges), "o-",
            label=f"model ({counts.attrs.get('population', '')})")
    labels = ["MT similar", "MT dissimilar", "model similar", "model dissimilar"]
    values = [data["similar preferred direction"], data["dissimilar preferred direction"], similar.value,
              dissimilar.value]
    colors = ["0.6", "0.8", "C0", "C9"]
    control_text = ""
    if control is not None:
        c_table, c_sim, c_dis, c_diff = groups(control)
        ax.plot(centers, _by_signal(c_table.values["signal"], c_table.values["r_sc"], edges), "o-", color="0.6",
                label="without decorrelation")
        labels += ["no decorr. similar", "no decorr. dissimilar"]
        values += [c_sim.value, c_dis.value]
        colors += ["0.3", "0.5"]
        control_text = f"; without decorrelation {c_sim} against {c_dis} (difference {c_diff})"
    ax.axhline(0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("signal correlation of the pair")
    ax.set_ylabel("mean noise r_sc")
    ax.legend(fontsize=6)
    bars.bar(range(len(values)), values, color=colors)
    bars.set_xticks(range(len(values)), labels, rotation=60, ha="right", fontsize=6)
    bars.axhline(0, color="k", lw=0.6)
    bars.set_title("Huang & Lisberger 2009 (MT, 150 ms)", fontsize=7)
    fig.tight_layout()
    return Outcome(
        "tuning", "r_sc 0.12 for similar against 0.020 for dissimilar preferred directions (MT, 150 ms; "
                  "Huang & Lisberger 2009)",
        f"noise r_sc {similar} for {similar.n} similar (signal r > {ts.SIMILAR:g}) against {dissimilar} for "
        f"{dissimilar.n} dissimilar (< {ts.DISSIMILAR:g}) pairs, difference {diff}" + control_text, diff.value,
        f"difference r_sc similar - dissimilar, passes >= {observed / 2:.2g} (half the observed) with its "
        "interval above 0", bool(diff.value >= observed / 2 and diff.ci_low > 0),
        "feedforward convergence gives similarly tuned cells shared input noise; COPI decorrelation cancels the "
        "shared part pair by pair, and with it the dependence on tuning", fig, by_copi=True)


def _by_signal(signal: np.ndarray, noise: np.ndarray, edges: np.ndarray) -> np.ndarray:
    masks = [(signal >= lo) & (signal < hi) for lo, hi in zip(edges[:-1], edges[1:])]
    return np.array([np.nanmean(noise[m]) if np.isfinite(noise[m]).any() else np.nan for m in masks])


def pattern_decorrelation(ds: xr.Dataset, population: str, first: int, control: xr.Dataset | None = None,
                          bin_width: float = 0.01) -> Outcome:
    """Similarity of the population patterns of similar stimuli in successive bins after onset, from
    presentation ``first`` on (:func:`copi_bio.analysis.tuning.pattern_similarity`); ``control`` as in
    :func:`tuning_dependence`.

    Observation: Friedrich & Laurent 2001 (zebrafish olfactory bulb): the
    mitral-cell patterns of related odors become less similar over the
    response, while their afferent input patterns do not (a direction; no
    number confirmed). Score: the similarity late in the presentation (its
    second half) over that in the first bin; passes below 1 when the
    pairs' late values are lower by a Wilcoxon signed-rank test at p < 0.01.
    """
    _, t_present = tuning.stimulus_ids(ds)
    bins = np.arange(0.0, t_present + 1e-9, bin_width)
    pairs = tuning.similar_stimuli(ds)
    values = tuning.pattern_similarity(ds, population, first, bins, pairs)
    late = values[len(values) // 2:].mean(axis=0)
    early, late_mean = float(values[0].mean()), float(late.mean())
    ratio = late_mean / early
    p = float(stats.wilcoxon(values[0], late, alternative="greater").pvalue) if len(pairs) > 1 else 1.0
    curve = values.mean(axis=1)
    half = np.flatnonzero(curve <= (early + late_mean) / 2)
    half_time = float(bins[half[0]] + bin_width / 2) if half.size else float("nan")
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    centers = (bins[:-1] + bins[1:]) / 2 * 1e3
    ax.plot(centers, curve, "o-", label=f"model ({population}), {len(pairs)} similar stimulus pairs")
    if control is not None:
        ax.plot(centers, tuning.pattern_similarity(control, population, first, bins, pairs).mean(axis=1), "o-",
                color="0.6", label="without decorrelation")
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("pattern correlation")
    ax.set_title("Friedrich & Laurent 2001: falls over the response (direction; over 100s of ms)", fontsize=7)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return Outcome(
        "pattern_decorrelation", "patterns of related odors grow less similar over hundreds of ms after onset; "
                                 "their afferent inputs do not (zebrafish OB, Friedrich & Laurent 2001)",
        f"pattern r {early:.3f} in the first {bin_width * 1e3:g} ms, {late_mean:.3f} in the second half of the "
        f"presentation; half-way by {half_time * 1e3:.0f} ms ({len(pairs)} similar stimulus pairs, {population})",
        float(ratio), "ratio late / first-bin similarity, passes < 1 at Wilcoxon p < 0.01", bool(ratio < 1 and p < 0.01),
        "COPI decorrelation: the learned lateral inhibition catches up with a new stimulus within its synaptic time "
        "constant and removes the patterns' shared part; much faster than in the olfactory bulb", fig, by_copi=True)
