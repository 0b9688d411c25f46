"""Learning speed (the paper's central claim) on digits, in the paper's setting.

Methods (5 seeds each by default), all 64-100-10 with leaky-ReLU units,
minibatches of 50 (parallel trials), perturbations from the prediction error
with gamma = 1000, learning rate 1e-3 per presentation unless stated:

* COPI with backprop-aligned perturbations (``digits_bp``);
* COPI with feedback-alignment perturbations (``digits_fa``);
* BP with decorrelation: the delta rule on COPI-decorrelated inputs (``digits_delta``);
* plain BP (SGD): the delta rule without decorrelation, same learning rate;
* BP + Adam without decorrelation, learning rate 1e-3 and 1e-4 per presentation (``digits_adam``).

Figures: test accuracy against epochs and against training wall time
(evaluations excluded), test loss against epochs (mean +- SD over seeds).
Table: epochs and seconds to 95 % and 97 % test accuracy, accuracy after
2 and 5 epochs, final accuracy. With ``--mnist PATH`` the same comparison
runs on a local MNIST copy (``mnist_bp``).

Usage: python analyses/learning_speed.py --out figures/learning [--seeds 5] [--small] [--mnist PATH]
"""

from __future__ import annotations

import hashlib

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis import learning
from copi_bio.analysis.figures import save_figure
from study import parser, run_or_load, write_table

SGD = ['lateral.rule="none"', 'plasticity.rule="delta"', "protocol.forward_onset=0"]
ADAM = ['lateral.rule="none"', 'plasticity.rule="delta"', 'plasticity.optimizer="adam"',
        "protocol.forward_onset=0"]
METHODS = {
    "COPI (BP perturbation)": ("digits_bp", []),
    "COPI (FA perturbation)": ("digits_fa", []),
    "BP + decorrelation": ("digits_delta", []),
    "BP (SGD)": ("digits_delta", SGD),
    "BP + Adam, lr 1e-3": ("digits_adam", []),
    "BP + Adam, lr 1e-4": ("digits_adam", ['plasticity.tau="50 s"']),
}
MNIST = {
    "COPI (BP perturbation)": ("mnist_bp", []),
    "COPI (FA perturbation)": ("mnist_bp", ['feedback.mode="fa"']),
    "BP + decorrelation": ("mnist_bp", ['plasticity.rule="delta"']),
    "BP (SGD)": ("mnist_bp", SGD),
    "BP + Adam, lr 1e-3": ("mnist_bp", ADAM + ['plasticity.tau="5 s"']),
    "BP + Adam, lr 1e-4": ("mnist_bp", ADAM + ['plasticity.tau="50 s"']),
}
LEVELS = (0.95, 0.97)


def tag(overrides: list[str]) -> str:
    """Short stable name for a list of overrides (cache file names)."""
    return hashlib.sha1("\n".join(overrides).encode()).hexdigest()[:8]


def _mean_sd(values: list[float]) -> tuple[float, float]:
    values = np.asarray(values, float)
    ok = values[np.isfinite(values)]
    if not ok.size:
        return float("nan"), float("nan")
    return float(ok.mean()), float(ok.std(ddof=1)) if ok.size > 1 else 0.0


def at_epoch(ds, epoch: float) -> float:
    """Test accuracy at the first evaluation at or after ``epoch``."""
    ep = learning.epochs(ds)
    hit = np.flatnonzero(ep >= epoch - 1e-9)
    return float(ds["test_accuracy"].values[hit[0]]) if hit.size else float("nan")


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=5, help="seeds per method")
    p.add_argument("--mnist", default=None, help="local MNIST (.npz or IDX folder) instead of digits")
    args = p.parse_args(argv)
    methods = MNIST if args.mnist else METHODS
    extra = [f"task.path=\"{args.mnist}\""] if args.mnist else []
    if args.small:
        schedule = ["protocol.presentations=135", "protocol.eval_every=27"]
    else:
        schedule = [] if args.mnist else ["protocol.eval_every=9"]
    fig, (ax_acc, ax_wall, ax_loss) = plt.subplots(1, 3, figsize=(14, 3.8))
    rows = []
    for label, (model, overrides) in methods.items():
        runs = [run_or_load(model, overrides + extra + schedule + [f"seed={s}"], args.out,
                            f"{model}_{tag(overrides + extra + schedule)}_seed{s}")
                for s in range(1, args.seeds + 1)]
        epochs = learning.epochs(runs[0])
        seconds = np.mean([learning.training_seconds(ds) for ds in runs], axis=0)
        acc = learning.mean_and_spread(learning.stack_runs(runs, "test_accuracy"))
        loss = learning.mean_and_spread(learning.stack_runs(runs, "test_loss"))
        for ax, x, stats in ((ax_acc, epochs, acc), (ax_wall, seconds, acc), (ax_loss, epochs, loss)):
            mean, sd = stats["mean"].values, stats["sd"].values
            line, = ax.plot(x, mean, label=label)
            ax.fill_between(x, mean - sd, mean + sd, alpha=0.2, color=line.get_color())
        row = {"method": label, "seeds": len(runs)}
        for level in LEVELS:
            pct = f"{level:.0%}".replace("%", "pct")
            for unit, xs in (("epochs", [learning.epochs(ds) for ds in runs]),
                             ("seconds", [learning.training_seconds(ds) for ds in runs])):
                m, sd = _mean_sd([learning.time_to_level(ds["test_accuracy"].values, x, level)
                                  for ds, x in zip(runs, xs)])
                row[f"{unit}_to_{pct}_mean"], row[f"{unit}_to_{pct}_sd"] = m, sd
            row[f"reached_{pct}"] = int(sum(np.nanmax(ds["test_accuracy"].values) >= level for ds in runs))
        for epoch in (2, 5):
            row[f"accuracy_epoch{epoch}_mean"], row[f"accuracy_epoch{epoch}_sd"] = _mean_sd(
                [at_epoch(ds, epoch) for ds in runs])
        row["final_accuracy_mean"], row["final_accuracy_sd"] = _mean_sd(
            [float(ds["test_accuracy"][-1]) for ds in runs])
        row["seconds_per_epoch"] = float(seconds[-1] / max(epochs[-1], 1e-12))
        rows.append(row)
    ax_acc.set_ylabel("test accuracy")
    ax_wall.set_ylabel("test accuracy")
    ax_loss.set_ylabel("test loss (MSE)")
    ax_loss.set_yscale("log")
    ax_acc.set_xlabel("epoch")
    ax_loss.set_xlabel("epoch")
    ax_wall.set_xlabel("training wall time (s)")
    for ax in (ax_acc, ax_wall):
        ax.set_ylim(0.85, 1.0)
    ax_acc.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, args.out, "learning_speed")
    write_table(rows, args.out / "learning_speed.csv")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
