"""Parameter sweeps on a real dask LocalCluster (copi_bio.sweep, ``copi-bio sweep``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT

import copi_bio
from copi_bio.modelfile import model_hash
from copi_bio.results import ResultExistsError
from copi_bio.sweep import Sweep, run_sweep
from copi_bio.sweep.grid import parse_grid, parse_seeds

SMALL = ["protocol.presentations=100", "protocol.trials=8", "protocol.eval_every=50"]
GRID = {"feedback.gamma": [1, 4]}
SEEDS = [1, 2, 3]


def metric_names(ds: xr.Dataset) -> list[str]:
    return [n for n, v in ds.data_vars.items() if v.dims == ("t_eval",)]


def run_files(out) -> dict[str, int]:
    """Run result file -> mtime (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.nc")}


def assert_same_metrics(a: xr.Dataset, b: xr.Dataset) -> None:
    names = [n for n, v in a.data_vars.items() if v.dims[-1:] == ("t_eval",)]
    assert names and names == [n for n, v in b.data_vars.items() if v.dims[-1:] == ("t_eval",)]
    for n in names + ["status"]:
        np.testing.assert_array_equal(a[n].values, b[n].values, err_msg=n)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    ds = run_sweep("teacher_student", GRID, SEEDS, out, workers=2, progress=False, overrides=SMALL)
    return out, ds


def test_sweep_combined_dataset_on_local_cluster(small_sweep):
    out, ds = small_sweep
    assert (out / "sweep.nc").is_file() and len(run_files(out)) == 6
    metric = ds["inference_error_teacher"]
    assert metric.dims == ("feedback.gamma", "seed", "t_eval")
    assert ds["feedback.gamma"].values.tolist() == [1, 4]
    assert ds["seed"].values.tolist() == SEEDS
    assert ds["inference_error_teacher_final"].dims == ("feedback.gamma", "seed")
    assert (ds["status"].values == "complete").all()
    spec = json.loads(ds.attrs["sweep"])
    assert spec["grid"] == {"feedback.gamma": [1, 4]} and spec["seeds"] == SEEDS
    on_disk = copi_bio.open_result(out / "sweep.nc")
    assert_same_metrics(ds, on_disk)
    # bit-identical to running the same configuration directly
    for gamma in (1, 4):
        for seed in SEEDS:
            model = copi_bio.load_model("teacher_student", SMALL + [f"feedback.gamma={gamma}", f"seed={seed}"])
            direct = copi_bio.simulate(model)
            names = metric_names(direct)
            assert names
            for n in names:
                np.testing.assert_array_equal(ds[n].sel({"feedback.gamma": gamma, "seed": seed}).values,
                                              direct[n].values, err_msg=n)
    # more training with stronger nudging infers the teacher better
    assert float(ds["inference_error_teacher_final"].sel({"feedback.gamma": 4}).mean()) < \
        float(ds["inference_error_teacher_final"].sel({"feedback.gamma": 1}).mean())


def test_rerun_skips_finished_runs(small_sweep):
    out, ds = small_sweep
    before = run_files(out)
    sweep = Sweep("teacher_student", GRID, SEEDS, out, SMALL)
    again = sweep.run(workers=2, progress=False)
    assert sweep.skipped == 6 and sweep.executed == []
    assert run_files(out) == before
    assert_same_metrics(ds, again)


def test_other_sweep_or_edited_model_is_refused_unless_overwrite(tmp_path, small_sweep):
    """Issue 9: a different sweep (sweep.nc) or a run file of a different model (same
    run name, edited model file) is refused before anything runs; overwrite=True
    replaces it, reusing the runs whose model is identical."""
    out = tmp_path / "copy"
    shutil.copytree(small_sweep[0], out)
    before, combined = run_files(out), (out / "sweep.nc").read_bytes()
    with pytest.raises(ResultExistsError, match="sweep.nc"):
        Sweep("teacher_student", {"feedback.gamma": [1]}, [1], out, SMALL).run(progress=False)
    assert run_files(out) == before and (out / "sweep.nc").read_bytes() == combined
    other = Sweep("teacher_student", {"feedback.gamma": [1]}, [1], out, SMALL, overwrite=True)
    ds = other.run(progress=False)
    assert other.skipped == 1 and other.executed == []      # the identical run file is reused
    assert copi_bio.open_result(out / "sweep.nc").attrs["sweep_hash"] == ds.attrs["sweep_hash"]
    assert ds.attrs["sweep_hash"] != small_sweep[1].attrs["sweep_hash"]

    edited = tmp_path / "teacher_student.toml"  # same name, so the same run names
    text = (ROOT / "models" / "teacher_student.toml").read_text()
    assert '\ndescription = "' in text
    edited.write_text(text.replace('\ndescription = "', '\ndescription = "edited: ', 1))
    (out / "sweep.nc").unlink()
    with pytest.raises(ResultExistsError, match="different model"):
        Sweep(edited, {"feedback.gamma": [1]}, [1], out, SMALL).run(progress=False)
    assert run_files(out) == before
    mine = Sweep(edited, {"feedback.gamma": [1]}, [1], out, SMALL, overwrite=True)
    ds = mine.run(workers=1, progress=False)
    assert mine.skipped == 0 and len(mine.executed) == 1
    path = mine.result_path(mine.runs()[0])
    assert copi_bio.open_result(path).attrs["model_hash"] == model_hash(mine.runs()[0].model)
    assert_same_metrics(ds, small_sweep[1].sel({"feedback.gamma": [1], "seed": [1]}))  # a description only


def test_failing_run_is_recorded_and_others_finish(tmp_path):
    # without decorrelation a delta-rule step dt/tau = 0.1 diverges on inputs with
    # rho = 0.9 (largest eigenvalue 27) and converges on uncorrelated ones
    grid = {"task.correlation": [0.0, 0.9]}
    sweep = Sweep("teacher_student", grid, [1, 2], tmp_path,
                  SMALL + ['lateral.rule="none"', 'plasticity.rule="delta"', 'plasticity.tau="10 ms"',
                           "protocol.anneal=0"])
    ds = sweep.run(workers=2, progress=False)
    assert ds["status"].sel({"task.correlation": 0.0}).values.tolist() == ["complete", "complete"]
    assert ds["status"].sel({"task.correlation": 0.9}).values.tolist() == ["error", "error"]
    assert ds.attrs["n_failed"] == 2
    assert np.isnan(ds["test_loss"].sel({"task.correlation": 0.9}).values).all()
    assert np.isfinite(ds["test_loss"].sel({"task.correlation": 0.0}).values).all()
    errors = sorted((tmp_path / "runs").glob("*.error.json"))
    assert len(errors) == 2
    info = json.loads(errors[0].read_text())
    assert info["error_type"] == "SimulationError" and "ran away" in info["message"]
    assert "task.correlation=0.9" in info["overrides"]
    assert "SimulationError" in str(ds["error"].sel({"task.correlation": 0.9}).values[0])


def test_workers_read_relative_paths_from_the_callers_folder(tmp_path, monkeypatch):
    """The LocalCluster's workers fork from a server process started in another folder (here, if no
    sweep started it earlier, the test's starting folder); a model's relative ``task.path`` is still
    read from the folder the sweep was started in, as a plain run reads it."""
    from copi_bio.sweep.cluster import start_worker_server

    start_worker_server()
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("mnist.npz", x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 40), x_test=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 12))
    small = ["protocol.presentations=4", "protocol.trials=2", "protocol.eval_every=2", "protocol.forward_onset=0"]
    ds = run_sweep("mnist_bp", {"feedback.gamma": [1000.0]}, [1, 2], "out", workers=2, progress=False,
                   overrides=small)
    assert ds["status"].values.ravel().tolist() == ["complete", "complete"]
    assert not list((tmp_path / "out" / "runs").glob("*.error.json"))


def test_local_workers_fork_with_both_backends_imported():
    """On Linux the LocalCluster's workers fork from a server that imported the rate and Brian2
    backends in its main thread and froze them out of the collector's scans; Brian2's Ctrl+C handler is
    not left installed in the workers."""
    import gc
    import signal

    import dask
    from distributed import Client, LocalCluster

    from copi_bio.sweep.cluster import start_worker_server

    method = start_worker_server()
    if method != "forkserver":
        pytest.skip("workers are spawned on this platform")

    def state():
        handler = signal.getsignal(signal.SIGINT)
        return ("brian2" in sys.modules, "copi_bio.rate.simulate" in sys.modules, gc.get_freeze_count() > 10_000,
                getattr(handler, "__module__", "") or "")

    with dask.config.set({"distributed.worker.multiprocessing-method": method}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        (brian2, rate, frozen, handler_module), = client.run(state).values()
    assert brian2 and rate and frozen and not handler_module.startswith("brian2")


def test_sweeps_side_by_side_do_not_fight_over_a_port(tmp_path):
    """Another process (here a plain socket) holds dask's default HTTP port 8787, as a sweep already
    running does: a sweep starts its scheduler's HTTP server on a free port, without a warning."""
    import socket
    import warnings

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # already held by another process: the same situation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = run_sweep("teacher_student", {"feedback.gamma": [1]}, [1], tmp_path, workers=1,
                           progress=False, overrides=["protocol.presentations=20", "protocol.eval_every=10"])
    finally:
        holder.close()
    assert ds["status"].values.ravel().tolist() == ["complete"]
    assert not [w for w in caught if "already in use" in str(w.message)]


def test_bad_key_fails_before_anything_runs(tmp_path):
    with pytest.raises(copi_bio.ModelError, match="feedback.gama"):
        run_sweep("teacher_student", {"feedback.gama": [1, 2]}, [1], tmp_path, progress=False)
    assert not (tmp_path / "runs").exists()


def test_grid_and_seed_parsing():
    assert parse_grid("feedback.gamma=1,4") == ("feedback.gamma", [1, 4])
    assert parse_grid('lateral.tau="50 ms", "100 ms"') == ("lateral.tau", ["50 ms", "100 ms"])
    assert parse_grid("recording.variables=[\"r\",\"u\"],[\"r\"]")[1] == [["r", "u"], ["r"]]
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert parse_seeds("1,3,7") == [1, 3, 7]
    assert parse_seeds("1-2,10") == [1, 2, 10]
    for bad in ("1-x", "", "3-1", "1,1"):
        with pytest.raises(copi_bio.ModelError):
            parse_seeds(bad)
    for bad in ("feedback.gamma", "feedback.gamma=1,1", "seed=1,2", "feedback.gamma=1,,2"):
        with pytest.raises(copi_bio.ModelError):
            parse_grid(bad)


def test_cli_syntax_errors_exit_2(tmp_path):
    from copi_bio.cli import main
    assert main(["sweep", "teacher_student", "--grid", "feedback.gamma", "--out", str(tmp_path)]) == 2
    assert main(["sweep", "teacher_student", "--seeds", "a-b", "--out", str(tmp_path)]) == 2
    assert main(["sweep", "teacher_student", "--grid", "nope.key=1,2", "--out", str(tmp_path)]) == 2


def test_kill_and_resume(tmp_path):
    slow = ["protocol.presentations=1500", "protocol.trials=8", "protocol.eval_every=500"]
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "copi_bio.cli", "sweep", "teacher_student", "--grid", "feedback.gamma=1,4",
           "--seeds", "1-3", "--workers", "2", "--out", str(out), "-q"]
    for s in slow:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not run_files(out) if (out / "runs").exists() else True:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no run finished within 60 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.5)
    written = run_files(out)
    assert 1 <= len(written) < 6, written
    assert not (out / "sweep.nc").exists()

    resumed = Sweep("teacher_student", GRID, SEEDS, out, slow)
    ds = resumed.run(workers=2, progress=False)
    assert resumed.skipped == len(written) and len(resumed.executed) == 6 - len(written)
    after = run_files(out)
    assert len(after) == 6
    assert {k: after[k] for k in written} == written          # not recomputed
    reference = run_sweep("teacher_student", GRID, SEEDS, tmp_path / "uninterrupted", workers=2,
                          progress=False, overrides=slow)
    assert_same_metrics(ds, reference)
    assert (ds["status"].values == "complete").all()


def test_sweep_on_an_existing_scheduler(tmp_path, small_sweep):
    """--scheduler ADDRESS: runs go to a scheduler started elsewhere (here a
    separate LocalCluster) and give the same results as the built-in cluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        ds = run_sweep("teacher_student", GRID, [1], tmp_path, scheduler=cluster.scheduler_address,
                       progress=False, overrides=SMALL)
    _, reference = small_sweep
    np.testing.assert_array_equal(ds["inference_error_teacher"].values,
                                  reference["inference_error_teacher"].sel(seed=[1]).values)
    with pytest.raises(copi_bio.CopiBioError, match="cannot connect"):
        run_sweep("teacher_student", GRID, [1], tmp_path / "x", scheduler="tcp://127.0.0.1:1",
                  progress=False, overrides=SMALL)


SPIKING_SWEEPS = {
    # E/I network: 2 values x 2 seeds, as a user would sweep the plastic inhibition
    "spiking_ei_small": ({"network.projections.I_E.plasticity.eta": [0.02, 0.05]},
                         ["protocol.duration='2 s'", "protocol.eval_every='1 s'"]),
    # spike-driven chain, on a scheduler started elsewhere (--scheduler); a forward learning rate of
    # 1e5 diverges within the first second, and the run records its error as a rate run does
    "spiking_lif_teacher_student": ({"spiking.eta_forward": [1.0, 1e5]},
                                    ["protocol.presentations=20", "protocol.eval_every=10"]),
    # trace chain: 2 seeds of a short run
    "spiking_trace_teacher_student": ({"feedback.gamma": [1.0]},
                                ["protocol.presentations=20", "protocol.eval_every=10",
                                 "spiking.device='cpp_standalone'"]),
}
DIVERGING = {"spiking_lif_teacher_student": ("spiking.eta_forward", 1e5)}


def _compiled(out: Path) -> list[int]:
    """Files each run of a sweep compiled (``standalone_compiled_files``), in run order."""
    return [int(xr.open_dataset(p).attrs["standalone_compiled_files"]) for p in sorted((out / "runs").glob("*.nc"))]


@pytest.mark.parametrize("name", list(SPIKING_SWEEPS))
def test_spiking_sweeps_run_on_the_local_cluster_and_compile_once(name, tmp_path, monkeypatch):
    """Brian2 is imported in the main thread of the process the LocalCluster's workers fork from, or,
    on the workers of an existing scheduler, first in a dask worker's task thread (no Ctrl+C handler
    there); concurrent cpp_standalone runs take separate locked build folders of the cache, and only the
    first run of the structure compiles: the others (other seeds, other values, the other worker's slot) reuse its build.
    Failing runs record their error; an existing scheduler (``--scheduler``) runs spiking models too.
    The LocalCluster's workers fork from a server process that was started before the build cache was
    set: they still build in the caller's cache (the caller's environment is handed over)."""
    from copi_bio.sweep.cluster import start_worker_server

    start_worker_server()
    monkeypatch.setenv("COPI_BIO_CACHE", str(tmp_path / "cache"))
    grid, overrides = SPIKING_SWEEPS[name]
    if name in DIVERGING:
        from distributed import LocalCluster

        key, bad = DIVERGING[name]
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          env={"COPI_BIO_CACHE": str(tmp_path / "cache")}) as cluster:
            ds = run_sweep(name, grid, [1, 2], tmp_path / "a", scheduler=cluster.scheduler_address,
                           progress=False, overrides=overrides)
        assert ds["status"].sel({key: bad}).values.tolist() == ["error", "error"]
        assert (ds["status"].sel({key: 1.0}).values == "complete").all()
        errors = sorted((tmp_path / "a" / "runs").glob("*.error.json"))
        info = json.loads(errors[0].read_text())
        assert len(errors) == 2 and info["error_type"] == "SimulationError" and "diverged" in info["message"]
    else:
        ds = run_sweep(name, grid, [1, 2], tmp_path / "a", workers=2, progress=False, overrides=overrides)
        assert (ds["status"].values == "complete").all()
        assert not list((tmp_path / "a" / "runs").glob("*.error.json"))
    assert ds["status"].size == 2 * len(next(iter(grid.values())))
    folders = {xr.open_dataset(p).attrs.get("standalone_dir") for p in (tmp_path / "a" / "runs").glob("*.nc")}
    slots = sorted((tmp_path / "cache" / "brian2_standalone").glob("*/*/"))
    assert folders <= {str(p).rstrip("/") for p in slots} and 1 <= len(slots) <= 2  # one per worker at most
    compiled = _compiled(tmp_path / "a")
    if name not in DIVERGING:  # (a chain's learning rate is compiled into its code: one build per value)
        assert sum(c > 0 for c in compiled) == 1, compiled  # one build for the sweep
    if name != "spiking_ei_small":
        return
    # a second sweep over other seeds builds nothing: no folder added, no file compiled
    ds2 = run_sweep(name, grid, [3, 4], tmp_path / "b", workers=2, progress=False, overrides=overrides)
    assert (ds2["status"].values == "complete").all()
    assert sorted((tmp_path / "cache" / "brian2_standalone").glob("*/*/")) == slots
    assert _compiled(tmp_path / "b") == [0, 0, 0, 0]
