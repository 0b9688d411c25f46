"""Sweep of a spiking model on a dask LocalCluster: time spent building against simulating.

Runs ``spiking_ei_small`` (duration shortened from 35 s) over 2 values of
the I->E learning rate x 4 seeds on 2 workers, twice: with an empty build
cache and with the cache the first sweep left. Prints, per run, the files
its ``make`` compiled, the seconds spent building (everything but the simulation:
``wall_time_s - standalone_binary_time_s``, that is building the Brian2
objects, generating the code, writing and compiling the C++ project, waiting
for the structure's build lock, loading the results; the part spent in
``make`` and waiting for the lock, ``standalone_build_time_s``, in
brackets) and simulating (``standalone_binary_time_s``: the compiled binary),
and

    sweep time over ideal: X,   X = sweep wall time / (one build + 8 x mean simulate / 2 workers)

where "one build" is the build time of the run that compiled (0 when the
cache held the build). The sweep wall time includes starting the dask
LocalCluster.

Usage: python benchmarks/bench_spiking_sweep.py [--duration "10 s"]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from copi_bio.sweep import run_sweep

GRID = {"network.projections.I_E.plasticity.eta": [0.02, 0.05]}
SEEDS = [1, 2, 3, 4]
WORKERS = 2


def sweep_once(out: Path, duration: str) -> float:
    """Run the sweep into ``out``, print per-run times, return X."""
    start = time.perf_counter()
    run_sweep("spiking_ei_small", GRID, SEEDS, out, workers=WORKERS, progress=False,
              overrides=[f"protocol.duration='{duration}'", "protocol.eval_every='1 s'"])
    wall = time.perf_counter() - start
    builds, sims = [], []
    for path in sorted((out / "runs").glob("*.nc")):
        with xr.open_dataset(path) as ds:
            sim = float(ds.attrs["standalone_binary_time_s"])
            build = float(ds.attrs["wall_time_s"]) - sim
            compiling = float(ds.attrs["standalone_build_time_s"])
            compiled = int(ds.attrs["standalone_compiled_files"])
        if compiled:
            builds.append(build)
        sims.append(sim)
        print(f"  {path.stem[-28:]:28s} compiled {compiled:3d} files  build {build:5.1f} s "
              f"(make and lock {compiling:5.1f} s)  simulate {sim:5.1f} s")
    ideal = sum(builds) + len(sims) * float(np.mean(sims)) / WORKERS
    x = wall / ideal
    print(f"  sweep wall time {wall:.1f} s, ideal {ideal:.1f} s")
    print(f"sweep time over ideal: {x:.2f}")
    return x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", default="10 s", help="simulated time of each run")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COPI_BIO_CACHE"] = str(Path(tmp) / "cache")
        print("empty build cache:")
        sweep_once(Path(tmp) / "cold", args.duration)
        print("warm build cache (the folders the first sweep left):")
        sweep_once(Path(tmp) / "warm", args.duration)


if __name__ == "__main__":
    main()
