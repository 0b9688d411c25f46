"""Running the runs of a sweep on a dask.distributed cluster.

:func:`run_on_dask` submits one task per run to a LocalCluster it starts
(worker processes with one thread and BLAS pinned to one thread each) or to
an existing scheduler, and hands each finished future to a ``store``
callback in this process, as the runs finish. Workers only simulate
(:func:`simulate_pinned`); every file is written by the caller. On Linux
the LocalCluster's workers fork from a server process that imported the
backends once (:func:`start_worker_server`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from contextlib import ExitStack
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


def start_worker_server() -> str:
    """Start the process that LocalCluster workers fork from, with copi_bio's backends imported.

    Workers of a LocalCluster are by default spawned: each starts a fresh
    interpreter and imports dask, then copi_bio and Brian2 on its first task
    (seconds). Forked from a ``forkserver`` process that imported them once,
    in its main thread (:mod:`copi_bio.sweep._preload`), they start with
    everything imported and with those objects out of the garbage
    collector's scans. The server starts here, in the background, so that
    its imports overlap this process's work until the workers start, with
    one BLAS/OpenMP thread (:data:`THREAD_ENV`) in its environment.

    It lives as long as this Python process, so later sweeps start their
    workers at once; and, with it, what it read when it started: copi_bio's
    code, Brian2's preference files, environment variables that were
    removed since (:func:`run_on_dask` hands the current environment over,
    which adds and changes variables but cannot remove any). Restart Python
    after editing any of these. If something else in the process started a
    forkserver first, workers fork from that one and import the backends on
    their first task.

    Only on Linux with Python >= 3.11.1 (older forkservers listen on a socket
    that other local users can reach); elsewhere workers are spawned.

    Returns
    -------
    str
        The start method for dask's ``distributed.worker.multiprocessing-method``:
        ``"forkserver"`` or ``"spawn"``.
    """
    if sys.platform != "linux" or sys.version_info < (3, 11, 1):
        return "spawn"
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", f"{__package__}._preload"])
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    try:
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
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
    method = start_worker_server() if scheduler is None else None  # first: its imports overlap ours
    import dask
    from distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    with ExitStack() as stack:  # closed in reverse: progress bar, client, cluster, start method
        if scheduler is None:  # the start method stays set while the cluster lives: a restarted worker forks too
            stack.enter_context(dask.config.set({"distributed.worker.multiprocessing-method": method}))
            # no dashboard; the scheduler's HTTP server takes a free port, not dask's 8787, so that
            # sweeps running side by side do not warn that the port is in use
            cluster = stack.enter_context(LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=logging.CRITICAL,
                env={**os.environ, **THREAD_ENV}))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="30s"))
            except (OSError, TimeoutError) as err:
                raise CopiBioError(f"cannot connect to the dask scheduler {scheduler!r}: {err}") from None
        bar = stack.enter_context(tqdm(total=total, initial=total - len(todo), desc="sweep", unit="run",
                                       disable=not progress, dynamic_ncols=True))
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
