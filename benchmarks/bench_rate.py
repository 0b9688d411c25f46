"""Time one integration step of a 784-500-500-10 rate COPI network against its FLOP bound.

The network is built through the public API (:func:`copi_bio.parse_model`)
and stepped with plasticity on (COPI forward rule, COPI lateral rule on every
connection, backprop feedback, output nudging) for 50 parallel trials.

The lower bound of a step is its minimal floating-point work -- the matrix
products that any implementation of the equations has to do, listed by
:func:`step_gemms` -- divided by the throughput numpy's ``matmul`` reaches on
products of exactly those shapes, measured in the same run. Element-wise
work (leaks, transfer functions, diagonal rescalings) is not counted: it is
O(N B) or O(N^2) and the bound leaves it out, so a ratio of 1 is not
reachable. The decorrelation update ``offdiag(<x x^T>) R`` is counted as
``x^T (x R)``, O(N^2 B), never as the O(N^3) product ``(x^T x) R``.

With ``--cheaper`` a second row per type times the same network with the
cheaper decorrelation update of ``mnist_bp_fast`` (``lateral.sample_count =
5``, ``lateral.update_every = 4``: the update estimated on 5 of the 50 trials
on every 4th step); its bound counts the lateral products on 5 trials, a
quarter of them per step.

Usage::

    python benchmarks/bench_rate.py                    # float64 and float32
    python benchmarks/bench_rate.py --dtype float32 --steps 100 --rounds 9
    python benchmarks/bench_rate.py --cheaper          # and the subsampled update
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run against this checkout

import copi_bio  # noqa: E402
from copi_bio.rate.lateral_estimate import lateral_schedule  # noqa: E402
from copi_bio.rate.network import RateNetwork  # noqa: E402
from copi_bio.tasks import build_task  # noqa: E402

SIZES = (784, 500, 500, 10)
TRIALS = 50
CHEAPER = {"sample_count": 5, "update_every": 4}


def model_table(dtype: str, cheaper: bool = False) -> dict:
    """The benchmark model as a model-file table."""
    pops = [{"name": "input", "size": SIZES[0]}]
    pops += [{"name": f"hidden{i}", "size": n, "transfer": "leaky_relu"} for i, n in enumerate(SIZES[1:-1], 1)]
    pops += [{"name": "output", "size": SIZES[-1], "transfer": "linear"}]
    return {
        "name": "bench_784_500_500_10",
        "description": "benchmark network",
        "backend": "rate",
        "seed": 0,
        "populations": pops,
        # slow plasticity keeps the untrained network bounded over the few
        # hundred benchmark steps (the cost of a step does not depend on the
        # rates, as long as nothing overflows)
        "lateral": {"rule": "copi", "tau": "100 s", "statistics": "raw", **(CHEAPER if cheaper else {})},
        "plasticity": {"rule": "copi", "tau": "100 s"},
        "feedback": {"mode": "bp", "gamma": 1.0},
        "task": {"kind": "teacher_student", "correlation": 0.3, "test_size": 16},
        "protocol": {"dt": "1 ms", "t_present": "20 ms", "presentations": 1, "trials": TRIALS,
                     "dtype": dtype},
    }


def step_gemms(model: copi_bio.Model, trials: int) -> list[tuple[str, int, int, int, float]]:
    """Matrix products of one plastic step with feedback: ``(name, m, k, n, per_step)`` for
    ``(m x k) @ (k x n)`` done ``per_step`` times per step on average.

    Written for the benchmark's configuration (COPI forward and lateral
    rules, ``bp`` feedback, ``x = R z``); the lateral update's products on
    ``lateral.sample_size(trials)`` trials, ``1 / lateral.update_every`` of them per step.
    """
    sizes = [p.size for p in model.populations]
    n_layers = len(sizes) - 1
    sample, every = model.lateral.sample_size(trials), model.lateral.update_every
    out = []
    for k in range(n_layers):
        n_in, n_out = sizes[k], sizes[k + 1]
        if model.decorrelates(k):
            out.append((f"x{k} = z R{k}^T", trials, n_in, n_in, 1.0))
        out.append((f"a{k + 1} = x{k} W{k}^T", trials, n_in, n_out, 1.0))
        out.append((f"dW{k}: u{k + 1}^T x{k}", n_out, trials, n_in, 1.0))
        if model.decorrelates(k):
            out.append((f"dR{k}: x{k} R{k}", sample, n_in, n_in, 1.0 / every))
            out.append((f"dR{k}: x{k}^T (x{k} R{k})", n_in, sample, n_in, 1.0 / every))
    for k in range(n_layers - 1, 0, -1):
        out.append((f"feedback delta{k + 1} W{k}", trials, sizes[k + 1], sizes[k], 1.0))
        if model.decorrelates(k):
            out.append((f"feedback (.) R{k}", trials, sizes[k], sizes[k], 1.0))
    return out


def _best_time(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


class GemmSet:
    """numpy ``matmul`` of each listed product into a preallocated output."""

    def __init__(self, gemms, dtype):
        rng = np.random.default_rng(0)
        self.gemms = gemms
        self.ops = []
        for _, m, k, n, _ in gemms:
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = np.empty((m, n), dtype=dtype)
            np.matmul(a, b, out=c)
            self.ops.append((a, b, c))
        self.per_step = np.array([w for *_, w in gemms])
        self.flops = float(sum(2.0 * m * k * n * w for _, m, k, n, w in gemms))
        self.best = [np.inf] * len(gemms)
        self.samples = [[] for _ in gemms]

    def measure(self, calls: int = 10) -> None:
        """One timing pass over all products; keeps the best time of each."""
        for i, (a, b, c) in enumerate(self.ops):
            t = _best_time(lambda: np.matmul(a, b, out=c), calls)
            self.samples[i].append(t)
            self.best[i] = min(self.best[i], t)


def peak_throughput(dtype, n: int = 1024) -> float:
    """FLOP/s of a large square numpy ``matmul`` (for reference only)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=c)
    return 2.0 * n ** 3 / min(_best_time(lambda: np.matmul(a, b, out=c), 2) for _ in range(4))


def run(dtype: str, steps: int, rounds: int, verbose: bool, cheaper: bool = False) -> dict:
    """Benchmark one dtype and print the report.

    The matrix products alone (numpy) are timed ``rounds`` times before and
    after ``rounds`` blocks of ``steps`` plastic steps; each reports its best
    (least disturbed) time, and the medians are shown too. The phases are
    not interleaved finely: numpy and scipy load separate OpenBLAS builds
    whose thread pools would then disturb each other.
    """
    model = copi_bio.parse_model(model_table(dtype, cheaper))
    rng = np.random.default_rng(0)
    net = RateNetwork(model, rng)
    task = build_task(model.task, SIZES[0], SIZES[-1], rng)
    z, target = task.batch(rng, TRIALS)
    z, target = z.astype(net.dtype), target.astype(net.dtype)
    state = net.new_state(TRIALS)
    dt = model.protocol.dt
    eta_w, eta_l = dt / model.plasticity.tau, dt / model.lateral.tau
    gemms = GemmSet(step_gemms(model, TRIALS), np.dtype(dtype))
    gemms.measure(calls=3)  # warm-up
    for _ in range(rounds):
        gemms.measure()
    time.sleep(0.5)  # let the idle BLAS threads park
    schedule = [lateral_schedule(model.lateral, model.seed, i, TRIALS) for i in range(4 * steps)]
    counter = iter(range(10 ** 9))

    def step() -> None:
        factor, rows = schedule[next(counter) % len(schedule)]
        net.step(state, z, target, True, eta_w, factor * eta_l, rows)

    for _ in range(20):  # warm-up: scratch arrays, BLAS threads, caches
        step()
    blocks = [_best_time(step, steps) for _ in range(rounds)]
    time.sleep(0.5)
    gemms.measure(calls=3)
    for _ in range(rounds):
        gemms.measure()
    finite = all(np.all(np.isfinite(net.forward_weights(k))) for k in range(net.n_layers)) and all(
        net.L[k] is None or np.all(np.isfinite(net.lateral_weights(k))) for k in range(net.n_layers))
    if not finite:
        print("  WARNING: weights became non-finite; timings are not representative")
    t_step, t_step_med = min(blocks), float(np.median(blocks))
    bound = float(np.dot(gemms.best, gemms.per_step))
    bound_med = float(np.dot([np.median(s) for s in gemms.samples], gemms.per_step))
    rate = gemms.flops / bound
    peak = peak_throughput(np.dtype(dtype))
    label = " (lateral update on 5 of 50 trials, every 4th step)" if cheaper else ""
    print(f"== {dtype}: {'-'.join(map(str, SIZES))} network, {TRIALS} trials, plasticity on{label} ==")
    if verbose:
        print("  minimal matrix products of one step (m x k) @ (k x n), best numpy time:")
        for (name, m, k, n, _), t in zip(gemms.gemms, gemms.best):
            f = 2.0 * m * k * n
            print(f"    {name:28s} {m:4d}x{k:4d} @ {k:4d}x{n:4d}  {f / 1e6:7.2f} MFLOP  "
                  f"{t * 1e6:8.1f} us  {f / t / 1e9:6.1f} GFLOP/s")
    print(f"  minimal work per step:        {gemms.flops / 1e6:.1f} MFLOP")
    print(f"  numpy matmul throughput:      {rate / 1e9:.1f} GFLOP/s on these shapes "
          f"({peak / 1e9:.1f} GFLOP/s on 1024^3)")
    print(f"  lower bound per step:         {bound * 1e3:.3f} ms  (median pass {bound_med * 1e3:.3f} ms)")
    print(f"  time per step:                {t_step * 1e3:.3f} ms  (median block {t_step_med * 1e3:.3f} ms; "
          f"{rounds} blocks of {steps} steps)")
    print(f"  step's achieved rate:         {gemms.flops / t_step / 1e9:.1f} GFLOP/s of useful work")
    print(f"  ratio to bound: {t_step / bound:.2f}  (medians: {t_step_med / bound_med:.2f})")
    return {"dtype": dtype + (", cheaper update" if cheaper else ""), "flops": gemms.flops, "rate": rate,
            "bound": bound, "step": t_step, "ratio": t_step / bound, "peak": peak}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float64", "float32"), action="append",
                        help="floating-point type (repeatable; default: both)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=9, help="timed step blocks and GEMM passes")
    parser.add_argument("--quiet", action="store_true", help="omit the per-product table")
    parser.add_argument("--cheaper", action="store_true", help="also time the cheaper decorrelation update")
    args = parser.parse_args(argv)
    results = [run(dtype, args.steps, args.rounds, not args.quiet, cheaper)
               for dtype in (args.dtype or ["float64", "float32"]) for cheaper in (False, True)[:1 + args.cheaper]]
    if len(results) > 1:
        print("\nsummary:")
        for r in results:
            print(f"  {r['dtype']}: {r['step'] * 1e3:.3f} ms/step, bound {r['bound'] * 1e3:.3f} ms, "
                  f"ratio to bound: {r['ratio']:.2f}")


if __name__ == "__main__":
    main()
