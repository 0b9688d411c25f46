"""Learning speed (the paper's main claim) on digits: COPI with backprop-aligned
perturbations, COPI with feedback-alignment perturbations, backprop (delta
rule) with decorrelation, and backprop with Adam; several seeds each.
Figures: test accuracy and loss over epochs (mean +- SD over seeds); table:
epochs to reach 99 % of each method's peak accuracy. With --mnist PATH the
same comparison runs on a local MNIST copy (784-500-10).

Usage: python analyses/learning_speed.py --out figures/learning [--seeds 5] [--small] [--mnist PATH]
"""

from __future__ import annotations

import hashlib

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis import learning
from copi_bio.analysis.figures import save_figure
from study import parser, run_or_load, write_table

METHODS = {
    "COPI (BP perturbation)": ("digits_bp", []),
    "COPI (FA perturbation)": ("digits_fa", []),
    "BP + decorrelation": ("digits_delta", []),
    "BP + Adam": ("digits_adam", []),
}
MNIST = {
    "COPI (BP perturbation)": ("mnist_bp", []),
    "COPI (FA perturbation)": ("mnist_bp", ["feedback.mode=\"fa\""]),
    "BP + decorrelation": ("mnist_bp", ["plasticity.rule=\"delta\""]),
    "BP + Adam": ("mnist_bp", ["plasticity.rule=\"delta\"", "plasticity.optimizer=\"adam\"",
                               "lateral.rule=\"none\"", "plasticity.tau=\"10 s\"", "protocol.forward_onset=0"]),
}


def tag(overrides: list[str]) -> str:
    """Short stable name for a list of overrides (cache file names)."""
    return hashlib.sha1("\n".join(overrides).encode()).hexdigest()[:8]


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=5, help="seeds per method")
    p.add_argument("--mnist", default=None, help="local MNIST (.npz or IDX folder) instead of digits")
    args = p.parse_args(argv)
    methods = MNIST if args.mnist else METHODS
    extra = [f"task.path=\"{args.mnist}\""] if args.mnist else []
    n = 450 if args.small else None
    schedule = [f"protocol.presentations={n}", "protocol.eval_every=45", "protocol.forward_onset=45"] if n else []
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    rows = []
    for label, (model, overrides) in methods.items():
        runs = [run_or_load(model, overrides + extra + schedule + [f"seed={s}"], args.out,
                            f"{model}_{tag(overrides + extra)}_{n or 'full'}_seed{s}")
                for s in range(1, args.seeds + 1)]
        epochs = learning.epochs(runs[0])
        for metric, ax in (("test_accuracy", ax_acc), ("test_loss", ax_loss)):
            stats = learning.mean_and_spread(learning.stack_runs(runs, metric))
            mean, sd = stats["mean"].values, stats["sd"].values
            ax.plot(epochs, mean, label=label)
            ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.25)
        to_peak = [learning.time_to_fraction_of_peak(ds["test_accuracy"].values, epochs, 0.99) for ds in runs]
        final = [float(ds["test_accuracy"][-1]) for ds in runs]
        rows.append({"method": label, "seeds": len(runs),
                     "epochs_to_99pct_of_peak_mean": float(np.mean(to_peak)),
                     "epochs_to_99pct_of_peak_sd": float(np.std(to_peak, ddof=1)) if len(runs) > 1 else 0.0,
                     "final_accuracy_mean": float(np.mean(final)),
                     "final_accuracy_sd": float(np.std(final, ddof=1)) if len(runs) > 1 else 0.0})
    ax_acc.set_ylabel("test accuracy")
    ax_loss.set_ylabel("test loss (MSE)")
    ax_loss.set_yscale("log")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("epoch")
    ax_acc.legend(fontsize=7)
    save_figure(fig, args.out, "learning_speed")
    write_table(rows, args.out / "learning_speed.csv")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
