"""Sweep throughput (runs per minute) with 1 and 2 dask workers.

Eight short teacher_student runs (grid ``feedback.gamma=1,4`` x seeds 1-4,
``protocol.presentations`` runs each) are executed by :class:`copi_bio.Sweep`
on a LocalCluster with one worker process, then with two. Two rates are
printed for each: *warm* (the cluster is started before the clock starts, so
only submitting, running, transferring and saving the runs and combining the
results are timed) and *cold* (``run_sweep`` as a user calls it, LocalCluster
start-up and shutdown included).

Usage::

    python benchmarks/bench_sweep.py
    python benchmarks/bench_sweep.py --presentations 3000 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import copi_bio  # noqa: E402
from copi_bio.sweep import Sweep, run_sweep  # noqa: E402

GRID = {"feedback.gamma": [1, 4]}
SEEDS = [1, 2, 3, 4]


def timed_sweep(overrides, workers: int, warm: bool) -> float:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as out:
        if not warm:
            t0 = time.perf_counter()
            run_sweep("teacher_student", GRID, SEEDS, out, workers=workers, progress=False,
                      overrides=overrides)
            return time.perf_counter() - t0
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
            t0 = time.perf_counter()
            Sweep("teacher_student", GRID, SEEDS, out, overrides).run(
                scheduler=cluster.scheduler_address, progress=False)
            return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presentations", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many sweeps")
    args = parser.parse_args()
    overrides = [f"protocol.presentations={args.presentations}", "protocol.trials=8",
                 "protocol.eval_every=500"]
    n = len(SEEDS) * len(GRID["feedback.gamma"])
    t0 = time.perf_counter()
    copi_bio.simulate(copi_bio.load_model("teacher_student", overrides))
    print(f"{n} runs of teacher_student ({args.presentations} presentations, 8 trials); "
          f"one run in this process: {time.perf_counter() - t0:.2f} s")
    rates = {}
    for warm in (True, False):
        for workers in (1, 2):
            best = min(timed_sweep(overrides, workers, warm) for _ in range(args.repeats))
            rates[warm, workers] = 60 * n / best
            label = "warm" if warm else "cold"
            print(f"{label}  {workers} worker(s): {best:6.2f} s  {rates[warm, workers]:7.1f} runs/min")
    for warm in (True, False):
        print(f"{'warm' if warm else 'cold'}  speed-up 2 vs 1 workers: {rates[warm, 2] / rates[warm, 1]:.2f}x")


if __name__ == "__main__":
    main()
