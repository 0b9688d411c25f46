"""Decorrelation versus experimental data: spike-count correlations r_sc of the
spiking decorrelation model without lateral plasticity and at the end of a run
with it, for counting windows from 10 ms to 1 s, next to the published values of
the shipped reference table at the same counting windows; optionally a user's
own recording (--recording FILE: Neo-readable file or .npz of spike times).

Usage: python analyses/decorrelation_vs_data.py --out figures/decorrelation [--small] [--recording FILE]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis import correlations, recordings, reference
from copi_bio.analysis.figure_io import save_figure
from study import parser, run_or_load, write_table

WINDOWS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.5, 1.0)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--recording", default=None, help="your spike recording (Neo file or .npz)")
    args = p.parse_args(argv)
    n = 200 if args.small else 1200
    ds = run_or_load("spiking_trace_decorrelation", [f"protocol.presentations={n}"], args.out,
                     f"spiking_decorrelation_{n}")
    base = run_or_load("spiking_trace_decorrelation", [f"protocol.presentations={n // 4}", "lateral.rule=\"none\""],
                       args.out, f"spiking_decorrelation_no_lateral_{n // 4}")
    duration = float(ds.attrs["spike_duration"])
    span = float(base.attrs["spike_duration"])
    sources = {
        "model without lateral plasticity": correlations.to_neo(base, "input"),
        "model after learning (last %.0f s)" % span: correlations.to_neo(ds, "input", duration - span, duration),
    }
    if args.recording:
        sources["your recording"] = recordings.load_spiketrains(args.recording)
    table = recordings.side_by_side(sources, WINDOWS)
    late = list(sources)[1]
    rows = []
    for row in reference.match_windows(table.sel(source=late), model_rate_hz=float(table["rate"].sel(source=late))):
        rows.append({k: row[k] for k in ("citation", "condition", "area", "counting_window_ms", "value",
                                         "model_mean", "rate_matched")})
    write_table(rows, args.out / "model_vs_data.csv")

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.8))
    for name in table["source"].values:
        sel = table.sel(source=name)
        ax1.errorbar(sel["window"] * 1e3, sel["mean"], yerr=sel["sem"], marker="o", capsize=2,
                     label=f"{name} ({float(sel['rate']):.1f} Hz)")
    refs = reference.numeric_rows()
    ax1.scatter([r["window_s"] * 1e3 for r in refs if r["quantity"] == "mean r_sc"],
                [r["value"] for r in refs if r["quantity"] == "mean r_sc"], marker="*", s=60, color="k",
                zorder=3, label="published mean r_sc (reference table)")
    ax1.set_xscale("log")
    ax1.set_xlabel("counting window (ms)")
    ax1.set_ylabel("mean r_sc")
    ax1.axhline(0, color="grey", lw=0.6)
    ax1.legend(fontsize=6, loc="upper left")
    bins = np.linspace(-0.3, 0.6, 46)
    for name, trains in sources.items():
        ax2.hist(correlations.spike_count_correlations(trains, 0.1), bins=bins, alpha=0.5, label=name)
    ax2.set_xlabel("r_sc, 100 ms window")
    ax2.set_ylabel("pairs")
    ax2.legend(fontsize=7)
    for name, trains in sources.items():
        by_rate = correlations.rsc_by_rate(trains, 0.1, n_bins=4)
        ax3.plot(by_rate["rate"], by_rate["mean"], marker="o", label=name)
    ax3.set_xlabel("geometric-mean rate of the pair (Hz)")
    ax3.set_ylabel("mean r_sc, 100 ms")
    ax3.axhline(0, color="grey", lw=0.6)
    ax3.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, args.out, "decorrelation_vs_data")
    for name, trains in sources.items():
        print(f"{name}: mean STTC (5 ms) = {correlations.sttc_pairs(trains, 0.005, max_pairs=300).mean():.4f}")
    for name in table["source"].values:
        print(f"{name}: mean r_sc (100 ms) = {float(table['mean'].sel(source=name, window=0.1)):.4f}, "
              f"rate {float(table['rate'].sel(source=name)):.1f} Hz")


if __name__ == "__main__":
    main()
