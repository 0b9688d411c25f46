"""Time to 97 % test accuracy on digits: continuous COPI against the paper's discrete algorithm.

Both learners run in this process on the same data: scikit-learn's 8x8
digits (test fraction 0.25), the same initial weights, the same sequence
of minibatches of 50 (the task's sampler), COPI with backprop-aligned
perturbations, gamma = 1000, learning rate 1e-3 per minibatch /
presentation, the first epoch training only the decorrelation.

* **continuous**: ``models/digits_bp.toml`` integrated by the rate backend
  (``RateNetwork.step``), optionally with other integration settings
  (``--set``, e.g. ``protocol.dt="5 ms"``);
* **discrete**: the independent numpy implementation of the paper's
  algorithm in ``tests/discrete_copi.py``.

Test accuracy is evaluated every ``--eval-every`` presentations; the clock is
paused while it is (``copi_bio.rate.simulate.evaluate`` for the continuous
network, a forward pass for the discrete one). The time to accuracy is the
training time until the first evaluation at or above ``--target``. The
printed figure is ``time-to-accuracy ratio: X = continuous / discrete``.

Usage::

    python benchmarks/bench_learning.py                           # the shipped model and two faster settings
    python benchmarks/bench_learning.py --set 'protocol.dt="5 ms"' --set 'protocol.dtype="float32"'
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # run against this checkout

import copi_bio  # noqa: E402
from copi_bio.initial import seeded_generators  # noqa: E402
from copi_bio.rate.linalg import blas_threads  # noqa: E402
from copi_bio.rate.network import RateNetwork  # noqa: E402
from copi_bio.rate.simulate import evaluate  # noqa: E402
from copi_bio.tasks import build_task  # noqa: E402
from discrete_copi import DiscreteCopi  # noqa: E402

BASE = ["task.test_fraction=0.25"]
SETTINGS = {
    "shipped model (dt 1 ms, 10 steps per presentation)": [],
    "dt 5 ms, tau_u 0.5 ms (2 steps per presentation)": [
        'protocol.dt="5 ms"', 'populations.hidden.tau="0.5 ms"', 'populations.output.tau="0.5 ms"'],
    "same in float32": [
        'protocol.dt="5 ms"', 'populations.hidden.tau="0.5 ms"', 'populations.output.tau="0.5 ms"',
        'protocol.dtype="float32"'],
}


def time_continuous(model: copi_bio.Model, target: float, eval_every: int, max_presentations: int
                    ) -> tuple[float, int, float]:
    """Training wall time (s) and presentations until test accuracy >= target, and the accuracy then."""
    proto = model.protocol
    task_rng, init_rng, data_rng = seeded_generators(model.seed)
    task = build_task(model.task, 64, 10, task_rng)
    net = RateNetwork(model, init_rng)
    state = net.new_state(proto.trials)
    steps, settle, dt = proto.steps_per_presentation, proto.settle_steps, proto.dt
    eta_w_on, eta_l_on = dt / model.plasticity.tau, dt / model.lateral.tau
    clock, acc = 0.0, 0.0
    with blas_threads(net.sizes, proto.trials):
        for p in range(max_presentations):
            start = time.perf_counter()
            z, t = task.batch(data_rng, proto.trials)
            z, t = z.astype(net.dtype), t.astype(net.dtype)
            eta_w = eta_w_on if p >= proto.forward_onset else 0.0
            for i in range(steps):
                on = i >= settle
                net.step(state, z, t, True, eta_w if on else 0.0, eta_l_on if on else 0.0)
            clock += time.perf_counter() - start
            if (p + 1) % eval_every == 0:
                acc = evaluate(net, task)["test_accuracy"]
                if acc >= target:
                    return clock, p + 1, acc
    return float("nan"), max_presentations, acc


def time_discrete(model: copi_bio.Model, target: float, eval_every: int, max_presentations: int
                  ) -> tuple[float, int, float]:
    """The same for the paper's discrete algorithm (same data, same initial weights)."""
    proto = model.protocol
    task_rng, init_rng, data_rng = seeded_generators(model.seed)
    task = build_task(model.task, 64, 10, task_rng)
    w0 = RateNetwork(model, init_rng).W  # the continuous run's initial weights
    eta = (proto.t_present - proto.t_settle) / model.plasticity.tau
    net = DiscreteCopi([w.astype(float) for w in w0], eta=eta, gamma=model.feedback.gamma,
                       feedback=model.feedback.mode, output="leaky_relu")
    clock, acc = 0.0, 0.0
    with blas_threads([64, 100, 10], proto.trials):
        for p in range(max_presentations):
            start = time.perf_counter()
            z, t = task.batch(data_rng, proto.trials)
            net.train_batch(z, t, learn_forward=p >= proto.forward_onset)
            clock += time.perf_counter() - start
            if (p + 1) % eval_every == 0:
                acc = float(np.mean(np.argmax(net.predict(task.test_inputs), axis=1) == task.test_labels))
                if acc >= target:
                    return clock, p + 1, acc
    return float("nan"), max_presentations, acc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                        help="integration settings of the continuous run (default: three settings)")
    parser.add_argument("--target", type=float, default=0.97, help="test accuracy to reach (default 0.97)")
    parser.add_argument("--eval-every", type=int, default=9, help="presentations between evaluations")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (median time over them)")
    parser.add_argument("--max-presentations", type=int, default=2700)
    args = parser.parse_args(argv)
    settings = {"--set " + " --set ".join(args.set): args.set} if args.set else SETTINGS
    print(f"digits 64-100-10, COPI-BP, gamma 1000, lr 1e-3, 50 per batch; target {args.target:.0%}; "
          f"median over seeds 1-{args.seeds}; evaluation time excluded")
    for label, overrides in settings.items():
        cont, disc, pres = [], [], []
        for seed in range(1, args.seeds + 1):
            model = copi_bio.load_model("digits_bp", BASE + overrides + [f"seed={seed}"])
            tc, pc, ac = time_continuous(model, args.target, args.eval_every, args.max_presentations)
            td, pd, ad = time_discrete(model, args.target, args.eval_every, args.max_presentations)
            cont.append(tc)
            disc.append(td)
            pres.append((pc, pd))
            print(f"  seed {seed}: continuous {tc:.3f} s ({pc} presentations, {ac:.3f}), "
                  f"discrete {td:.3f} s ({pd} minibatches, {ad:.3f})")
        ratio = float(np.median(cont) / np.median(disc))
        print(f"{label}: continuous {np.median(cont):.3f} s, discrete {np.median(disc):.3f} s")
        print(f"time-to-accuracy ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
