"""COPI against Adam per second on MNIST: time to 98 % test accuracy, counting everything each needs.

Every method runs in the one-step discrete limit (docs/equations.md, "One step per presentation":
``dt = t_present = 5 ms``, no settling step, somatic ``tau = 0.5 ms``, float32), 784-500x6-10,
minibatches of 50, the test set evaluated every 300 minibatches (a quarter epoch), the connection
statistics of the metrics from every 10th minibatch:

* ``mnist_bp_fast``: COPI-BP at the paper's rate 1e-3, the decorrelation update on 5 of 50 trials every
  4th step, a decorrelation-only phase of 240 minibatches;
* ``mnist_bp`` with the full decorrelation update and its decorrelation-only epoch (``--full``);
* BP with Adam (``mnist_adam``) at learning rates 1e-4 (the paper's), 3e-4 and 1e-3, learning from
  the second minibatch.

Each learns for ``--epochs`` learning epochs after its phase without forward learning (COPI's
decorrelation; one minibatch for Adam). "After e learning epochs" is the evaluation nearest to it
(``mnist_bp_fast``: 60 minibatches later, its 240 decorrelation minibatches not being a multiple of
300; Adam: one minibatch earlier). The accuracies come from these runs, which may share
the machine. The seconds come from a **timing pass** (``--timing``, on an otherwise idle machine): each
method's run of ``--timing-presentations`` minibatches, one method after another in this process, its
training wall time (test evaluations excluded) per minibatch, the smallest of ``--timing-rounds``
rounds (2-thread BLAS on a shared machine varies by tens of percent from run to run). Time to 98 % is the minibatches up to the
first evaluation at or above 98 % (COPI's decorrelation phase included) times that cost.

Writes ``mnist_per_second.csv`` (per method: accuracy after 1 / 3 / 10 learning epochs, minibatches,
learning epochs and seconds to 98 %, seconds per epoch; mean and SD over seeds) and
``mnist_per_second.png|svg`` (test accuracy against learning epochs and against seconds).

Usage: python analyses/mnist_per_second.py --data /data/mnist --out figures/mnist --seeds 3 [--timing]
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np

import copi_bio
from copi_bio.analysis.figure_io import save_figure
from copi_bio.analysis.learning import time_to_level
from copi_bio.atomic import atomic_write
from learning_speed import MNIST_LIMIT, mean_sd, tag
from study import parser, run_or_load, write_table

EPOCH = 1200
ONE_STEP = [*MNIST_LIMIT, 'protocol.t_present="5 ms"', 'protocol.t_settle="0 ms"', "protocol.eval_every=300",
            "recording.statistics_every=10"]
METHODS = {
    "COPI-BP, cheaper decorrelation (mnist_bp_fast)": ("mnist_bp_fast", [], 240),
    "COPI-BP, full decorrelation update (mnist_bp)": ("mnist_bp", ONE_STEP, 1200),
    "BP + Adam, lr 1e-4 (mnist_adam)": ("mnist_adam", ONE_STEP, 1),
    "BP + Adam, lr 3e-4": ("mnist_adam", [*ONE_STEP, 'plasticity.tau="16.6667 s"'], 1),
    "BP + Adam, lr 1e-3": ("mnist_adam", [*ONE_STEP, 'plasticity.tau="5 s"'], 1),
}
LEVEL = 0.98


def timing(methods: dict, extra: list[str], n: int, rounds: int) -> dict[str, float]:
    """Seconds per minibatch of each method (training wall time, test evaluations excluded): ``rounds``
    rounds, the methods one after another in each, in this process; the least disturbed (smallest)
    time of each method counts."""
    best: dict[str, float] = {}
    for r in range(rounds):
        for label, (model, overrides, _) in methods.items():
            spec = copi_bio.load_model(model, [*overrides, *extra, f"protocol.presentations={n + 1}",
                                               "protocol.forward_onset=1", f"protocol.eval_every={n + 1}"])
            ds = copi_bio.simulate(spec)
            per = (float(ds.attrs["wall_time_s"]) - float(ds.attrs["eval_time_s"])) / (n + 1)
            best[label] = min(best.get(label, np.inf), per)
            print(f"timing, round {r + 1}: {label:50s} {per * EPOCH:6.1f} s per epoch", flush=True)
    return best


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="local MNIST (.npz or IDX folder); nothing is downloaded")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10, help="learning epochs per run")
    p.add_argument("--full", action="store_true", help="also COPI-BP with the full decorrelation update")
    p.add_argument("--methods", nargs="*", default=None, help="only the methods whose label contains these")
    p.add_argument("--timing", action="store_true", help="time every method (run on an idle machine)")
    p.add_argument("--timing-presentations", type=int, default=360)
    p.add_argument("--timing-rounds", type=int, default=3)
    p.add_argument("--no-runs", action="store_true", help="only the timing pass (and the table of cached runs)")
    args = p.parse_args(argv)
    methods = {k: v for k, v in METHODS.items() if args.full or "full decorrelation" not in k}
    if args.methods:
        methods = {k: v for k, v in methods.items() if any(m in k for m in args.methods)}
    extra = [f"task.path='{args.data}'"]
    learning = 120 if args.small else args.epochs * EPOCH  # minibatches of forward learning
    cost_path = args.out / "mnist_per_second_timing.json"
    if args.timing:
        costs = timing(methods, extra, 30 if args.small else args.timing_presentations,
                       1 if args.small else args.timing_rounds)
        previous = json.loads(cost_path.read_text()) if cost_path.is_file() else {}
        previous.update(costs)
        atomic_write(cost_path, lambda tmp: tmp.write_text(json.dumps(previous, indent=1)))
    costs = json.loads(cost_path.read_text()) if cost_path.is_file() else {}
    fig, (ax_ep, ax_s) = plt.subplots(1, 2, figsize=(11, 4))
    rows = []
    for label, (model, overrides, onset) in methods.items():
        schedule = [f"protocol.forward_onset={onset}", f"protocol.presentations={onset + learning}"]
        if args.small:
            schedule += ["protocol.eval_every=60"]
        names = {seed: f"{model}_{tag(overrides + schedule)}_seed{seed}" for seed in range(1, args.seeds + 1)}
        if args.no_runs:
            names = {seed: n for seed, n in names.items() if (args.out / "runs" / f"{n}.nc").is_file()}
        runs = [run_or_load(model, [*overrides, *extra, *schedule, f"seed={seed}"], args.out, name)
                for seed, name in names.items()]
        if not runs:
            continue
        pres = runs[0]["presentation"].values.astype(float)
        acc = np.array([ds["test_accuracy"].values for ds in runs])
        learning_epochs = (pres - onset) / EPOCH
        per = costs.get(label)
        row = {"method": label, "seeds": len(runs), "onset_presentations": onset}
        for e in (1, 3, 10):
            col = [int(np.argmin(np.abs(learning_epochs - e)))] if learning_epochs[-1] >= e - 0.1 else []
            if col:
                row[f"accuracy_epoch{e}_mean"], row[f"accuracy_epoch{e}_sd"] = mean_sd(acc[:, col[0]])
        hits = [time_to_level(a, pres, LEVEL) for a in acc]
        row["reached_98"] = int(np.sum(np.isfinite(hits)))
        row["presentations_to_98_mean"], row["presentations_to_98_sd"] = mean_sd(hits)
        row["learning_epochs_to_98_mean"], row["learning_epochs_to_98_sd"] = mean_sd(
            (np.asarray(hits) - onset) / EPOCH)
        if per is not None:
            row["seconds_per_epoch"] = per * EPOCH
            row["seconds_to_98_mean"], row["seconds_to_98_sd"] = mean_sd(np.asarray(hits) * per)
        rows.append(row)
        mean, sd = acc.mean(axis=0), acc.std(axis=0)
        line, = ax_ep.plot(learning_epochs, mean, label=label)
        ax_ep.fill_between(learning_epochs, mean - sd, mean + sd, alpha=0.2, color=line.get_color())
        if per is not None:
            ax_s.plot(pres * per, mean, color=line.get_color())
            ax_s.fill_between(pres * per, mean - sd, mean + sd, alpha=0.2, color=line.get_color())
    for ax in (ax_ep, ax_s):
        ax.axhline(LEVEL, color="0.6", lw=0.8, ls=":")
        ax.set_ylim(0.95, 0.99)
        ax.set_ylabel("test accuracy")
    ax_ep.set_xlabel("learning epochs (after the phase without forward learning)")
    ax_s.set_xlabel("seconds (timing pass: minibatches x seconds per minibatch, evaluations excluded)")
    ax_ep.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, args.out, "mnist_per_second")
    write_table(rows, args.out / "mnist_per_second.csv")
    for row in rows:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})


if __name__ == "__main__":
    main()
