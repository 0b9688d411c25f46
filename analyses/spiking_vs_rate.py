"""Spiking against rate COPI on digits: accuracy against training samples and against wall time.

Runs (each cached as ``OUT/runs/TAG.nc``; seeds 1..N):

* ``spiking_lif_digits_copies``: the spike-driven chain (LIF cells, spike-passing
  synapses, event-driven COPI and lateral rules), 16 copies sharing weights;
* the same file on the rate backend (``backend = "rate"``, dt 1 ms): the same
  equations without spikes;
* ``spiking_lif_digits_prediction``: one spiking network, one stimulus at a time (seed 1;
  not with ``--small``);
* ``digits_bp``: the rate model in the paper's setting (minibatch 50, 10 ms presentations).

Figure ``spiking_vs_rate.png``: held-out accuracy against training samples seen
(presentations x copies) and against wall time (``copi_bio.analysis.learning.training_seconds``:
for a compiled spiking run, code generation and compilation count before the first
sample). Table ``spiking_vs_rate.csv``: final accuracy per run, wall time.

Usage: python analyses/spiking_vs_rate.py --out docs/figures [--seeds 5] [--only SEED] [--small]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis import learning
from copi_bio.analysis.figure_io import save_figure
from study import parser, run_or_load, write_table

COPIES = "spiking_lif_digits_copies"
SMALL = ["protocol.trials=4", "protocol.presentations=60", "protocol.eval_every=20", "protocol.forward_onset=10",
         "spiking.test_images=80", "spiking.test_present='100 ms'"]
RATE = ["backend=rate", "protocol.dt='1 ms'"]


def runs(seeds: list[int], small: bool) -> dict[str, tuple[str, list[str], list[int]]]:
    """Label -> (model, overrides, seeds)."""
    extra = SMALL if small else []
    out = {
        "spiking, 16 copies (spiking_lif_digits_copies)": (COPIES, extra, seeds),
        "rate, same file (backend = rate)": (COPIES, RATE + extra, seeds),
        "spiking, one network (spiking_lif_digits_prediction)": ("spiking_lif_digits_prediction", [], [1]),
        "rate, paper setting (digits_bp)": ("digits_bp", ["protocol.presentations=60"] if small else [], seeds),
    }
    if small:  # one compiled spiking model is enough for a smoke test
        del out["spiking, one network (spiking_lif_digits_prediction)"]
    return out


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds 1..N")
    p.add_argument("--only", type=int, default=None,
                   help="run this seed of the multi-seed models only (to spread seeds over processes); no figure")
    args = p.parse_args(argv)
    seeds = [args.only] if args.only else list(range(1, args.seeds + 1))
    size = "small" if args.small else "full"
    results = {}
    for label, (model, overrides, model_seeds) in runs(seeds, args.small).items():
        if args.only and args.only not in model_seeds:
            continue
        backend = "rate_" if "backend=rate" in overrides else ""
        results[label] = [run_or_load(model, overrides + [f"seed={s}"], args.out, f"{model}_{size}_{backend}seed{s}")
                          for s in model_seeds]
    if args.only:
        return
    rows = []
    fig, (ax_n, ax_t) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, dss in results.items():
        for k, ds in enumerate(dss):
            samples = ds["presentation"].values * float(ds.attrs.get("trials", 1))
            # the curve is the weights' read-out for spiking runs (the spikes are read once, at the end)
            acc = ds["weights_test_accuracy"].values if "weights_test_accuracy" in ds else ds["test_accuracy"].values
            style = dict(color=f"C{list(results).index(label)}", alpha=0.8, lw=1.2, label=label if k == 0 else None)
            ax_n.plot(samples, acc, **style)
            seconds = learning.training_seconds(ds)
            shown = seconds > 0  # a rate run's first evaluation is at 0 s, off the logarithmic axis
            ax_t.plot(seconds[shown], acc[shown], **style)
            rows.append({"run": label, "seed": int(ds.attrs.get("seed", k + 1)),
                         "final_accuracy": round(float(ds["test_accuracy"].values[-1]), 4),
                         "weights_final_accuracy": round(float(acc[-1]), 4), "samples": int(samples[-1]),
                         "wall_time_s": round(float(ds.attrs["wall_time_s"]), 1)})
    for ax in (ax_n, ax_t):
        ax.axhline(0.97, color="0.5", lw=0.8, ls="--")
        ax.set_ylim(0.8, 1.0)
        ax.grid(alpha=0.3)
    ax_n.set_xlabel("training samples (presentations x copies)")
    ax_t.set_xlabel("wall time (s, 2-core CPU; compilation counted first)")
    ax_t.set_xscale("log")
    ax_n.set_ylabel("held-out accuracy")
    ax_n.legend(fontsize=7, loc="lower right")
    fig.suptitle("Digits 64-100-10: spiking and rate COPI")
    fig.tight_layout()
    print(save_figure(fig, args.out, "spiking_vs_rate"))
    print(write_table(rows, args.out / "spiking_vs_rate.csv"))
    for label in results:
        finals = [r["final_accuracy"] for r in rows if r["run"] == label]
        print(f"{label}: {np.mean(finals):.4f} +- {np.std(finals, ddof=1) if len(finals) > 1 else 0:.4f} "
              f"(min {min(finals):.4f}, n = {len(finals)})")


if __name__ == "__main__":
    main()
