"""Score models and recordings side by side on trial-aligned counts: a score matrix and its figures.

Every source (a model run's ``trial_counts_<population>`` or a recording read by
:mod:`copi_bio.analysis.trial_io`) is measured with the same code (:mod:`copi_bio.analysis.trial_stats`).
Two kinds of rows make the score matrix (phenomenon x source):

* **directions from the literature**, scored for every source that has the epochs they need:

  - ``window``: ``r_sc`` grows with the counting window (Huang & Lisberger 2009): the difference
    ``rsc_window_<longest> - rsc_window_10``; passes when its interval lies above 0;
  - ``rate``: ``r_sc`` grows with the pair's geometric-mean rate (de la Rocha et al. 2007): Spearman's
    rho of pair ``r_sc`` with pair rate; passes when its interval lies above 0;
  - ``tuning``: similarly tuned pairs are more correlated (Huang & Lisberger 2009; weakly in awake V1,
    Ecker et al. 2010): ``rsc_similar - rsc_dissimilar``, and the same with signal and noise
    correlations from separate halves of the repeats (``tuning_split_half``); passes above 0;
  - ``spontaneous_vs_evoked``: spontaneous ``r_sc`` about twice the evoked one (Smith & Kohn 2008;
    Smith & Sommer 2013): the difference ``rsc_spontaneous - rsc_evoked`` (the same trials, the 200 ms
    before onset against 300-500 ms after); passes when its interval lies above 0. The ratio is in the
    row's note; it is not the score, since near zero correlations make its interval meaningless;
  - ``fano_quench``: variability falls at stimulus onset (Churchland et al. 2010): the ratio
    ``fano_after_onset / fano_before_onset``; passes when its interval lies below 1;

* **agreement with a recording** (when one is given), for every model: ``match_<statistic>`` for each
  statistic of :data:`~copi_bio.analysis.recording_statistics.STATISTICS`, scored by
  ``z = (model - recording) / sqrt(se_model^2 + se_recording^2)`` (each ``se`` the interval's width
  over 3.92); passes at ``|z| < 1.96``; and ``distribution_<rate|cv|rsc>``, scored by Cohen's d with its
  interval and the Kolmogorov-Smirnov distance as NetworkUnit scores two samples; passes at
  ``|d| < 0.5`` (less than a medium effect).

A row a source cannot support says ``not scored: needs ...``. Nothing here runs a simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from . import recording_statistics as st
from . import resampling as rs
from . import trial_stats as ts

DIRECTIONS = ("window", "rate", "tuning", "tuning_split_half", "spontaneous_vs_evoked", "fano_quench")
DISTRIBUTIONS = ("rate", "cv", "rsc")
MEDIUM_EFFECT = 0.5
"""Largest absolute Cohen's d of a distribution that passes as matching."""


@dataclass
class Measured:
    """What one source gives: its statistics, per-pair and per-unit samples, and its direction scores."""

    name: str
    kind: str
    statistics: dict[str, rs.Estimate]
    samples: dict[str, np.ndarray]
    directions: dict[str, rs.Estimate | str]
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


def _joint(tables: list[ts.PairTable], counts: xr.DataArray, combine, selects=None, n_boot: int = rs.N_BOOT,
           seed: int = 0) -> rs.Estimate:
    """``combine(means)`` of the mean of each table's ``r_sc`` (over its selected pairs), with an interval
    from draws shared by all tables (the tables list the same pairs in the same order)."""
    selects = selects or [None] * len(tables)
    values = [np.where(sel, t.values["r_sc"], np.nan) if sel is not None else t.values["r_sc"]
              for t, sel in zip(tables, selects)]
    codes = ts.session_codes(counts)
    first = tables[0]
    boot = [combine([rs.weighted_mean(v, w) for v in values])
            for w in rs.Resampler(codes, n_boot, seed).pair_weights(first.a, first.b, counts.sizes["unit"])]
    one = np.ones(first.a.size)
    ok = np.all([np.isfinite(v) for v in values], axis=0) if len(values) == 1 else \
        np.any([np.isfinite(v) for v in values], axis=0)
    units = np.unique(np.concatenate([first.a[ok], first.b[ok]]))
    return rs.Estimate(combine([rs.weighted_mean(v, one) for v in values]), *rs.percentile_interval(boot), int(ok.sum()),
                       int(units.size), int(np.unique(codes[units]).size))


def _spearman(table: ts.PairTable, counts: xr.DataArray, n_boot: int, seed: int) -> rs.Estimate:
    """Spearman's rho of pair ``r_sc`` with pair rate (:func:`copi_bio.analysis.resampling.rank_correlation`)."""
    return rs.rank_correlation(table.values["r_sc"], table.values["rate"], table.a, table.b,
                               ts.session_codes(counts), n_boot, seed)


def _rate_curve(table: ts.PairTable, bins: int = 5) -> tuple[np.ndarray, ...]:
    r, rate = table.values["r_sc"], table.values["rate"]
    ok = np.isfinite(r) & np.isfinite(rate)
    edges = np.quantile(rate[ok], np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, rate[ok], side="right") - 1, 0, bins - 1)
    x = np.array([rate[ok][which == k].mean() for k in range(bins)])
    m = np.array([r[ok][which == k].mean() for k in range(bins)])
    se = np.array([r[ok][which == k].std(ddof=1) / np.sqrt(max(1, (which == k).sum())) for k in range(bins)])
    return x, m, m - 1.96 * se, m + 1.96 * se


def measure(name: str, counts: xr.DataArray, kind: str = "model", n_boot: int = rs.N_BOOT,
            seed: int = 0) -> Measured:
    """Every statistic and direction score of one source (see the module docstring).

    Parameters
    ----------
    name : str
        Column name of the source.
    counts : xarray.DataArray
        Trial counts (single units already selected for a recording).
    kind : str
        ``"model"`` or ``"recording"``.
    """
    values = st.statistics(counts, n_boot=n_boot, seed=seed)
    ep = st.epochs(counts)
    main = ts.noise_correlations(counts, *ep["evoked"])
    samples = {"rate": ts.unit_rates(counts, *ep["evoked"]), "cv": ts.isi_cv(counts, *ep["evoked"]),
               "rsc": main.values["r_sc"]}
    directions: dict[str, rs.Estimate | str] = {}
    windows = [int(k.rsplit("_", 1)[1]) for k in values if k.startswith("rsc_window_")]
    if len(windows) >= 2:
        short, long = min(windows), max(windows)
        tables = ts.rsc_by_window(counts, [short / 1e3, long / 1e3], *ep["evoked"])
        directions["window"] = _joint([tables[long / 1e3], tables[short / 1e3]], counts, lambda m: m[0] - m[1],
                                      n_boot=n_boot, seed=seed)
    else:
        directions["window"] = "not scored: needs an evoked epoch of 20 ms or more"
    directions["rate"] = _spearman(main, counts, n_boot, seed)
    signal = main.values["signal"]
    directions["tuning"] = _joint([main, main], counts, lambda m: m[0] - m[1],
                                  [signal > ts.SIMILAR, signal < ts.DISSIMILAR], n_boot, seed)
    half = ts.split_half_signal_noise(counts, *ep["evoked"])
    directions["tuning_split_half"] = _joint([half, half], counts, lambda m: m[0] - m[1],
                                             [half.values["signal"] > ts.SIMILAR,
                                              half.values["signal"] < ts.DISSIMILAR], n_boot, seed)
    if "spontaneous" in ep:
        directions["spontaneous_vs_evoked"] = _joint(
            [ts.noise_correlations(counts, *ep["spontaneous"]), ts.noise_correlations(counts, *ep["evoked_late"])],
            counts, lambda m: m[0] - m[1], n_boot=n_boot, seed=seed)
        before, after = st.fano_factor(counts, *ep["fano_before"], n_boot=n_boot, seed=seed), values["fano_after_onset"]
        directions["fano_quench"] = _fano_ratio(counts, ep, n_boot, seed, before, after)
    else:
        need = "not scored: needs " + _needs("rsc_spontaneous")
        directions["spontaneous_vs_evoked"] = directions["fano_quench"] = need
    curves = {"rate": _rate_curve(main)}
    return Measured(name, kind, values, samples, directions, curves)


def _fano_ratio(counts: xr.DataArray, ep: dict, n_boot: int, seed: int, before: rs.Estimate,
                after: rs.Estimate) -> rs.Estimate:
    """Fano factor after over before onset, with an interval from draws shared by both."""
    parts = [st.fano_cells(counts, *ep["fano_after"]), st.fano_cells(counts, *ep["fano_before"])]
    codes = ts.session_codes(counts)

    def ratio(w: np.ndarray) -> float:
        (sa, ca), (sb, cb) = parts
        return float((w @ sa / (w @ ca)) / (w @ sb / (w @ cb)))

    boot = [ratio(w) for w in rs.Resampler(codes, n_boot, seed).unit_weights(counts.sizes["unit"])]
    return rs.Estimate(after.value / before.value, *rs.percentile_interval(boot), min(after.n, before.n),
                       min(after.n_units, before.n_units), after.n_sessions)


def direction_passes(phenomenon: str, est: rs.Estimate) -> bool:
    """Whether a direction score passes (see the module docstring)."""
    if phenomenon == "fano_quench":
        return bool(est.ci_high < 1)
    return bool(est.ci_low > 0)


def _se(est: rs.Estimate) -> float:
    return (est.ci_high - est.ci_low) / 3.92


def score_matrix(measured: list[Measured]) -> list[dict]:
    """Rows ``phenomenon, source, kind, value, ci_low, ci_high, score, score_kind, passed, note`` for every
    source and phenomenon (see the module docstring); matches against every recording among ``measured``."""
    rows = []
    for m in measured:
        for ph in DIRECTIONS:
            est = m.directions[ph]
            if isinstance(est, str):
                rows.append(_row(ph, m, note=est))
                continue
            kind = {"fano_quench": "ratio after / before onset, passes with its interval below 1",
                    "rate": "Spearman rho of r_sc with rate, passes with its interval above 0"}.get(
                ph, "difference, passes with its interval above 0")
            note = f"n = {est.n} pairs" if ph != "fano_quench" else f"n = {est.n} unit-condition cells"
            if ph == "spontaneous_vs_evoked":
                a, b = m.statistics["rsc_spontaneous"].value, m.statistics["rsc_evoked"].value
                note += f"; rsc_spontaneous {a:.3g}, rsc_evoked {b:.3g}, ratio {a / b:.3g}"
            if ph == "tuning":
                note = (f"similar (signal r > {ts.SIMILAR:g}): {m.statistics['rsc_similar'].n} pairs, dissimilar "
                        f"(signal r < {ts.DISSIMILAR:g}): {m.statistics['rsc_dissimilar'].n} pairs")
            rows.append(_row(ph, m, est, est.value, kind, direction_passes(ph, est), note))
    recordings = [m for m in measured if m.kind == "recording"]
    for rec in recordings:
        for m in measured:
            if m.kind == "recording":
                continue
            for stat in st.STATISTICS:
                name = f"match_{stat}" + ("" if len(recordings) == 1 else f" ({rec.name})")
                if stat not in m.statistics or stat not in rec.statistics:
                    rows.append(_row(name, m, note="not scored: needs " + _needs(stat)))
                    continue
                a, b = m.statistics[stat], rec.statistics[stat]
                z = (a.value - b.value) / np.hypot(_se(a), _se(b))
                rows.append(_row(name, m, a, float(z), f"z against {rec.name} ({b}), passes |z| < 1.96",
                                 bool(abs(z) < 1.96)))
            for dist in DISTRIBUTIONS:
                name = f"distribution_{dist}" + ("" if len(recordings) == 1 else f" ({rec.name})")
                x, y = m.samples[dist], rec.samples[dist]
                if np.isfinite(x).sum() < 2 or np.isfinite(y).sum() < 2:
                    rows.append(_row(name, m, note="not scored: needs 2 or more values in both samples"))
                    continue
                d = rs.effect_size(x, y)
                ks, p = rs.ks_distance(x, y)
                rows.append(_row(name, m, d, d.value, f"Cohen's d against {rec.name}, passes |d| < {MEDIUM_EFFECT}",
                                 bool(abs(d.value) < MEDIUM_EFFECT), f"KS distance {ks:.3f} (p = {p:.2g})"))
    return rows


def _needs(statistic: str) -> str:
    """What trial counts lack when ``statistic`` cannot be measured on them."""
    if "spont" in statistic or "before" in statistic:
        return "a spontaneous epoch (200 ms before onset) in the trials"
    return f"an evoked epoch of {statistic.rsplit('_', 1)[1]} ms or more"


def _row(phenomenon: str, m: Measured, est: rs.Estimate | None = None, score: float = float("nan"),
         score_kind: str = "", passed: bool | None = None, note: str = "") -> dict:
    return {"phenomenon": phenomenon, "source": m.name, "kind": m.kind,
            "value": est.value if est else float("nan"), "ci_low": est.ci_low if est else float("nan"),
            "ci_high": est.ci_high if est else float("nan"), "score": score, "score_kind": score_kind,
            "passed": "" if passed is None else ("PASS" if passed else "FAIL"), "note": note}


def table_text(rows: list[dict]) -> str:
    """The score matrix as text: a line per phenomenon, a column per source (value [interval] PASS/FAIL)."""
    sources = list(dict.fromkeys(r["source"] for r in rows))
    phenomena = list(dict.fromkeys(r["phenomenon"] for r in rows))
    cell = {(r["phenomenon"], r["source"]): (
        "not scored" if r["note"].startswith("not scored") else
        f"{r['value']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}] {r['passed']}") for r in rows}
    width = max(len(p) for p in phenomena) + 2
    cols = [max([len(s)] + [len(v) for (_, src), v in cell.items() if src == s]) + 2 for s in sources]
    lines = ["".ljust(width) + "".join(s.ljust(c) for s, c in zip(sources, cols))]
    for p in phenomena:
        lines.append(p.ljust(width) + "".join(cell.get((p, s), "").ljust(c) for s, c in zip(sources, cols)))
    reasons = dict.fromkeys(f"  {r['source']}: {r['note']}" for r in rows if r["note"].startswith("not scored"))
    return "\n".join(lines + list(reasons))


def heatmap(rows: list[dict]) -> plt.Figure:
    """Pass (green), fail (red) and not scored (grey) of every phenomenon and source, with the scores."""
    sources = list(dict.fromkeys(r["source"] for r in rows))
    phenomena = list(dict.fromkeys(r["phenomenon"] for r in rows))
    grid = np.full((len(phenomena), len(sources)), np.nan)
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * len(sources), 0.8 + 0.32 * len(phenomena)))
    for r in rows:
        i, j = phenomena.index(r["phenomenon"]), sources.index(r["source"])
        if r["passed"]:
            grid[i, j] = 1.0 if r["passed"] == "PASS" else 0.0
            ax.text(j, i, f"{r['score']:.2g}", ha="center", va="center", fontsize=6)
        else:
            ax.text(j, i, "n/s", ha="center", va="center", fontsize=6, color="0.3")
    colours = plt.matplotlib.colors.ListedColormap(["#e8a0a0", "#a0d8a0"])
    ax.imshow(np.ma.masked_invalid(grid), cmap=colours, vmin=0, vmax=1, aspect="auto")
    ax.set_facecolor("0.85")
    ax.set_xticks(range(len(sources)), sources, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(phenomena)), phenomena, fontsize=7)
    ax.set_title("scores: green passes, red fails, n/s not scored", fontsize=8)
    fig.tight_layout()
    return fig


def figures(measured: list[Measured]) -> dict[str, plt.Figure]:
    """One figure per phenomenon with every source's value and interval side by side (recordings in greys)."""
    out = {}
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for k, m in enumerate(measured):
        ws = [w for w in st.WINDOWS_MS if f"rsc_window_{w}" in m.statistics]
        est = [m.statistics[f"rsc_window_{w}"] for w in ws]
        style = _style(measured, k)
        ax.errorbar(ws, [e.value for e in est], yerr=_yerr(est), capsize=2, label=m.name, **style)
    ax.set_xscale("log")
    ax.axhline(0, color="0.5", lw=0.6, ls=":")
    ax.set_xlabel("counting window (ms)")
    ax.set_ylabel("mean noise r_sc (95 % interval)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    out["window"] = fig
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for k, m in enumerate(measured):
        x, y, lo, hi = m.curves["rate"]
        style = _style(measured, k)
        ax.plot(x, y, label=m.name, **style)
        ax.fill_between(x, lo, hi, color=style["color"], alpha=0.15)
    ax.set_xlabel("geometric-mean rate of the pair (Hz)")
    ax.set_ylabel("mean noise r_sc (rate quintiles)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    out["rate"] = fig
    groups = {"tuning": ("rsc_similar", "rsc_dissimilar"), "spontaneous_vs_evoked": ("rsc_spontaneous", "rsc_evoked"),
              "fano_quench": ("fano_before_onset", "fano_after_onset")}
    for name, keys in groups.items():
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(measured), 3.0))
        for k, m in enumerate(measured):
            for j, key in enumerate(keys):
                if key in m.statistics:
                    e = m.statistics[key]
                    x = k + (j - 0.5) * 0.35
                    ax.bar(x, e.value, width=0.33, color=_style(measured, k)["color"],
                           alpha=1.0 if j == 0 else 0.5)
                    ax.errorbar(x, e.value, yerr=_yerr([e]), color="k", capsize=2)
        ax.set_xticks(range(len(measured)), [m.name for m in measured], rotation=30, ha="right", fontsize=6)
        ax.set_ylabel(" (solid) / ".join(keys) + " (light)", fontsize=7)
        ax.axhline(0, color="0.5", lw=0.6)
        fig.tight_layout()
        out[name] = fig
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
    for ax, dist in zip(axes, DISTRIBUTIONS):
        for k, m in enumerate(measured):
            v = np.sort(m.samples[dist][np.isfinite(m.samples[dist])])
            if v.size:
                ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=m.name,
                        color=_style(measured, k)["color"], ls=_style(measured, k)["ls"])
        ax.set_xlabel({"rate": "rate (Hz)", "cv": "ISI CV (10 ms bins)", "rsc": "noise r_sc"}[dist])
        ax.set_ylabel("cumulative fraction")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    out["distributions"] = fig
    return out


def _style(measured: list[Measured], k: int) -> dict:
    """Line style of source ``k``: recordings in greys with triangles and squares, models in colours."""
    m = measured[k]
    if m.kind == "recording":
        j = [x.name for x in measured if x.kind == "recording"].index(m.name) % 3
        return {"color": ("k", "0.4", "0.65")[j], "marker": ("^", "s", "v")[j], "ls": ("-", "--", ":")[j]}
    j = [x.name for x in measured if x.kind != "recording"].index(m.name)
    return {"color": f"C{j % 10}", "marker": "o", "ls": "-"}


def _yerr(est: list[rs.Estimate]) -> np.ndarray:
    return np.array([[max(0.0, e.value - e.ci_low) for e in est], [max(0.0, e.ci_high - e.value) for e in est]])
