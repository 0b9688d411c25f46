"""Running the runs of a sweep on a dask.distributed cluster.

:func:`run_on_dask` submits one task per run to a LocalCluster it starts
(worker processes with one thread and BLAS pinned to one thread each) or to
an existing scheduler, and hands each finished future to a ``store``
callback in this process, as the runs finish. Workers only simulate
(:func:`simulate_pinned`); every file is written by the caller. Workers of
the LocalCluster fork from a server process that imported the backend once
(:func:`start_worker_server`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Callable, Sequence

import xarray as xr

from ..errors import CopiBioError
from ..simulation import simulate
from ..spec import Model
from .grid import Run

THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Environment of the worker processes: one BLAS/OpenMP thread each."""


def simulate_pinned(model: Model) -> xr.Dataset:
    """Worker task: simulate one run (BLAS pinned to one thread)."""
    for k, v in THREAD_ENV.items():
        os.environ.setdefault(k, v)
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limiter = None
    try:
        return simulate(model)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def start_worker_server(modules: Sequence[str]) -> str:
    """Start the process that LocalCluster workers fork from, with ``modules`` imported.

    Workers of a LocalCluster are by default spawned: each starts a fresh
    interpreter and imports dask, then copi_bio and Brian2 on its first task
    (seconds). Forked from a ``forkserver`` process that imported ``modules``
    once, in its main thread (where Brian2 may install its Ctrl+C handler),
    they start with everything imported (and with those objects out of the
    garbage collector's scans, :mod:`copi_bio.sweep.worker`). The server
    starts here, in the background, so that its imports overlap this
    process's work until the workers start; it lives as long as this
    process, so later sweeps start their workers at once. A forked worker
    starts in this process's folder (multiprocessing hands it over) but with
    the server's environment: :func:`run_on_dask` hands this process's
    environment over as the LocalCluster's ``env``.

    Returns
    -------
    str
        The start method for dask's ``distributed.worker.multiprocessing-method``:
        ``"forkserver"``, or ``"spawn"`` where there is none (Windows).
    """
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["distributed", *modules, f"{__package__}.worker"])
    forkserver.ensure_running()
    return "forkserver"


def run_on_dask(todo: Sequence[Run], total: int, workers: int, scheduler: str | None, progress: bool,
                store: Callable[[object, Run], str],
                on_result: Callable[[Run, str], None] | None = None) -> None:
    """Simulate ``todo`` on dask; ``store(future, run)`` saves each finished run and returns its status.

    Parameters
    ----------
    todo : list of Run
        The runs to simulate.
    total : int
        Runs of the whole sweep (the progress bar starts at ``total - len(todo)``).
    workers : int
        Worker processes of the LocalCluster started when ``scheduler`` is None.
    scheduler : str, optional
        Address of an existing dask scheduler.
    progress : bool
        tqdm bar over runs on stderr.
    store : callable
        Called in this process as each run finishes (or fails), with its
        future; returns the run's status.
    on_result : callable, optional
        Called as ``on_result(run, status)`` after ``store``.
    """
    cluster = None
    if scheduler is None:  # first, so that the server's imports overlap this process's
        spiking = any(run.model.backend == "spiking" for run in todo)
        method = start_worker_server(["copi_bio.spiking" if spiking else "copi_bio.simulation"])
    import dask
    from distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    if scheduler is None:
        with dask.config.set({"distributed.worker.multiprocessing-method": method}):
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL,
                                   env={**os.environ, **THREAD_ENV})
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise CopiBioError(f"cannot connect to the dask scheduler {scheduler!r}: {err}") from None
    bar = tqdm(total=total, initial=total - len(todo), desc="sweep", unit="run",
               disable=not progress, dynamic_ncols=True)
    try:
        futures = {}
        for run in todo:
            fut = client.submit(simulate_pinned, run.model, key=f"copi-run-{run.name}", pure=False)
            futures[fut] = run
        for fut in as_completed(futures):
            run = futures[fut]
            status = store(fut, run)
            bar.update(1)
            bar.set_postfix_str(f"{run.name[:40]}: {status}", refresh=False)
            if on_result is not None:
                on_result(run, status)
            fut.release()
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
