"""Seconds per MNIST learning epoch: continuous COPI against the paper's discrete algorithm.

All in this process, on real MNIST (``--data``, default ``../shared/data/mnist``
beside the project), COPI-BP 784-500x6-10, minibatches of 50, learning rate
1e-3, gamma = 1000, the same initial weights and minibatches:

* **continuous, shipped setting**: ``models/mnist_bp.toml`` as shipped
  (``dt = 1 ms``, 10 steps per presentation, float64);
* **continuous, discrete limit**: ``dt = 5 ms``, somatic ``tau = 0.5 ms``
  (2 steps per presentation), float32;
* **discrete**: the independent implementation in ``tests/discrete_copi.py``,
  float32.

Each learns for ``--presentations`` minibatches with forward and lateral
plasticity, and the time is scaled to an epoch of 1200 minibatches. The
continuous runs are whole runs (``copi_bio.simulate``: the connection
statistics, divergence checks and weight snapshots included; the test
evaluations, reported separately by the run, and the loading of the data
excluded); the discrete learner is its training loop. Peak memory is the
largest amount of memory numpy and Python allocated while the learner ran
(``tracemalloc``): for a continuous run the data set it loads (60 000 x 784
float64, 376 MB) included, for the discrete learner not. The line
``epoch time over discrete: X`` is for the discrete-limit setting; the shipped
setting's ratio is printed above it.

**Time to 98 %** (docs/mnist.md, "Per second"): ``mnist_bp_fast`` (COPI-BP, one step per
presentation, the cheaper decorrelation update, its 240 decorrelation-only minibatches
included) and BP with Adam at 1e-4 (``mnist_adam`` in the same one-step setting), one after
the other in this process with the same BLAS threads, each learning until its first test
evaluation (every 300 minibatches) at or above 98 % (at most ``--max-epochs``). A run's
seconds are its training wall time (test evaluations excluded) up to that evaluation. The
last line is ``time to 98 % over Adam: X`` (goal: below 0.8).

Usage: python benchmarks/bench_mnist.py [--presentations 60] [--data DIR] [--no-98]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # run against this checkout

import copi_bio  # noqa: E402
from copi_bio.initial import seeded_generators  # noqa: E402
from copi_bio.analysis.learning import time_to_level  # noqa: E402
from copi_bio.rate.linalg import blas_threads  # noqa: E402
from copi_bio.rate.network import RateNetwork  # noqa: E402
from copi_bio.tasks import build_task  # noqa: E402
from discrete_copi import DiscreteCopi  # noqa: E402

EPOCH = 1200
LIMIT = ['protocol.dt="5 ms"', 'protocol.dtype="float32"',
         *[f'populations.{p}.tau="0.5 ms"' for p in [f"hidden{i}" for i in range(1, 7)] + ["output"]]]


def continuous(model: copi_bio.Model, n: int) -> float:
    """Seconds of ``n`` learning presentations of a run (``copi_bio.simulate``, metrics and checks
    included, test evaluations and data loading excluded)."""
    model = model.replace({"protocol.presentations": n + 1, "protocol.forward_onset": 1,
                           "protocol.eval_every": n + 1})
    ds = copi_bio.simulate(model)
    return (float(ds.attrs["wall_time_s"]) - float(ds.attrs["eval_time_s"])) * n / (n + 1)


def discrete(model: copi_bio.Model, task, n: int) -> float:
    """The same for the discrete algorithm (float32, the continuous network's initial weights)."""
    proto = model.protocol
    _, init_rng, data_rng = seeded_generators(model.seed)
    w0 = RateNetwork(model, init_rng).W
    net = DiscreteCopi(w0, eta=(proto.t_present - proto.t_settle) / model.plasticity.tau,
                       gamma=model.feedback.gamma, feedback="bp", output="leaky_relu", dtype=np.float32)
    with blas_threads([784] + [500] * 6 + [10], proto.trials):
        start = time.perf_counter()
        for _ in range(n):
            net.train_batch(*task.batch(data_rng, proto.trials))
        return time.perf_counter() - start


def time_to_98(name: str, data: str, epochs: int) -> tuple[float, float]:
    """Training seconds and minibatches of a library model until its first test evaluation at or above
    98 %, from a run of ``epochs`` learning epochs in the one-step setting (NaN if it is not reached).

    The run's training wall time (test evaluations excluded) is spread evenly over its minibatches."""
    over = [f"task.path='{data}'"]
    if name != "mnist_bp_fast":
        over += [*LIMIT, 'protocol.t_present="5 ms"', 'protocol.t_settle="0 ms"', "protocol.eval_every=300",
                 "recording.statistics_every=10", "protocol.forward_onset=1"]
    model = copi_bio.load_model(name, over)
    model = model.replace({"protocol.presentations": model.protocol.forward_onset + epochs * EPOCH})
    ds = copi_bio.simulate(model)
    pres = ds["presentation"].values
    reached = time_to_level(ds["test_accuracy"].values, pres, 0.98)  # NaN if never
    train = float(ds.attrs["wall_time_s"]) - float(ds.attrs["eval_time_s"])
    return train * reached / pres[-1], reached


def measured(label: str, run, n: int) -> float:
    """Run one learner under tracemalloc; print and return its seconds per epoch."""
    tracemalloc.start()
    seconds = run(n)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    per_epoch = seconds / n * EPOCH
    print(f"{label:44s} {per_epoch:8.1f} s per learning epoch   peak memory {peak / 2 ** 20:7.0f} MiB")
    return per_epoch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presentations", type=int, default=60, help="minibatches timed per learner")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--no-98", action="store_true", help="skip the time-to-98 % comparison (about 4 min)")
    args = parser.parse_args(argv)
    shipped = copi_bio.load_model("mnist_bp", [f"task.path='{args.data}'"])
    limit = copi_bio.load_model("mnist_bp", [f"task.path='{args.data}'", *LIMIT])
    task = build_task(shipped.task, 784, 10, seeded_generators(shipped.seed)[0])
    n = args.presentations
    print(f"MNIST 784-500x6-10, COPI-BP, minibatches of 50; {n} minibatches timed per learner, "
          f"scaled to {EPOCH} per epoch")
    disc = measured("discrete algorithm (float32)", lambda k: discrete(limit, task, k), n)
    lim = measured("continuous, discrete limit (dt 5 ms, float32)", lambda k: continuous(limit, k), n)
    ship = measured("continuous, shipped setting (dt 1 ms)", lambda k: continuous(shipped, k), n)
    print(f"shipped setting over discrete: {ship / disc:.2f}")
    print(f"epoch time over discrete: {lim / disc:.2f}")
    if args.no_98:
        return
    copi_s, copi_p = time_to_98("mnist_bp_fast", args.data, 4)
    print(f"COPI-BP, mnist_bp_fast: 98 % after {copi_p:.0f} minibatches (240 of decorrelation), {copi_s:.1f} s")
    adam_s, adam_p = time_to_98("mnist_adam", args.data, 7)
    print(f"BP + Adam, lr 1e-4:     98 % after {adam_p:.0f} minibatches, {adam_s:.1f} s")
    print(f"time to 98 % over Adam: {copi_s / adam_s:.2f}")


if __name__ == "__main__":
    main()
