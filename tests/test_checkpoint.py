"""Checkpoint/resume of single runs: kill -9 mid-run, rerun, compare with an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT

import copi_bio
from copi_bio.checkpoint import CheckpointError, checkpoint_path
from copi_bio.rate.simulate import run_rate
from copi_bio.results import to_dataset

PRESENTATIONS = 4000


def _cli(out, *extra):
    return [sys.executable, "-m", "copi_bio.cli", "run", "teacher_student",
            "--set", f"protocol.presentations={PRESENTATIONS}", "--out", str(out), "-q", *extra]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _assert_identical(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    assert set(a.coords) == set(b.coords)
    for name in list(a.data_vars) + list(a.coords):
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(x, y), name


def test_sigkill_and_resume_is_bit_identical(tmp_path):
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    model = copi_bio.load_model("teacher_student", [f"protocol.presentations={PRESENTATIONS}"])
    ckpt = checkpoint_path(killed, model)
    proc = subprocess.Popen(_cli(killed, "--checkpoint-every", "200"), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert ckpt.exists(), "no checkpoint appeared"
    time.sleep(0.3)
    assert proc.poll() is None, "run finished before it could be killed; raise PRESENTATIONS"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = killed / f"{model.name}_seed{model.seed}.nc"
    assert ckpt.exists() and not result.exists()

    rerun = subprocess.run(_cli(killed, "--checkpoint-every", "200"), cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming from checkpoint" in rerun.stderr
    assert result.exists() and not ckpt.exists()
    assert sorted(p.name for p in killed.iterdir()) == [result.name]  # no checkpoint or temp file left

    ref = subprocess.run(_cli(straight), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    with xr.open_dataset(result) as a, xr.open_dataset(straight / result.name) as b:
        assert int(a.attrs.get("resumed_at_presentation", 0)) > 0
        _assert_identical(a.load(), b.load())


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name, sets", [
    ("digits_bp", ["protocol.presentations=60", "protocol.eval_every=20"]),
    ("teacher_student", ["protocol.presentations=60", "protocol.eval_every=20", "plasticity.optimizer='adam'",
                         "lateral.statistics='centered'", "recording.variables=['r','u','delta','x']"]),
    ("decorrelation_foldiak", ["protocol.presentations=60", "protocol.eval_every=20"]),
])
def test_resume_in_process_identical_across_models(tmp_path, monkeypatch, name, sets):
    sim_mod = sys.modules["copi_bio.rate.simulate"]
    model = copi_bio.load_model(name, sets)
    full = to_dataset(run_rate(model))
    ckpt = tmp_path / "run.ckpt"
    real = sim_mod.save_checkpoint
    count = {"n": 0}

    def save_then_die(*args, **kwargs):
        real(*args, **kwargs)
        count["n"] += 1
        if count["n"] == 2:
            raise _Stop

    monkeypatch.setattr(sim_mod, "save_checkpoint", save_then_die)
    with pytest.raises(_Stop):
        run_rate(model, checkpoint=ckpt, checkpoint_every=13)
    monkeypatch.setattr(sim_mod, "save_checkpoint", real)
    resumed = to_dataset(run_rate(model, checkpoint=ckpt, checkpoint_every=13))
    assert resumed.attrs["resumed_at_presentation"] == 26
    _assert_identical(full, resumed)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    m1 = copi_bio.load_model("teacher_student", ["protocol.presentations=20"])
    m2 = copi_bio.load_model("teacher_student", ["protocol.presentations=20", "feedback.gamma=2.0"])
    run_rate(m1, checkpoint=ckpt, checkpoint_every=5)
    with pytest.raises(CheckpointError, match="different model"):
        run_rate(m2, checkpoint=ckpt)
    ckpt.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot be read"):
        run_rate(m1, checkpoint=ckpt)


def test_cli_refuses_foreign_checkpoint_with_clear_error(tmp_path):
    from copi_bio.cli import main

    m = copi_bio.load_model("teacher_student", ["protocol.presentations=20"])
    run_rate(m, checkpoint=checkpoint_path(tmp_path, m), checkpoint_every=5)
    code = main(["run", "teacher_student", "--set", "protocol.presentations=30", "--out", str(tmp_path), "-q"])
    assert code == 2
    assert not (tmp_path / f"{m.name}_seed{m.seed}.nc").exists()
