"""Checkpoint/resume of single runs: kill -9 mid-run, rerun, compare with an uninterrupted run.

Checkpoints are data only (an .npz archive with a JSON header, no pickle; see
copi_bio.rate.checkpoint); tests/test_security.py plants hostile files at their names.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT, small_model

import copi_bio
from copi_bio.rate import network
from copi_bio.rate.checkpoint import (CheckpointError, checkpoint_path, load_checkpoint, model_hash, read_header,
                                      save_checkpoint)
from copi_bio.rate.checkpoint_state import array_state
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
    header = read_header(ckpt, model)  # the data-only format, checked before any array
    assert header["presentation"] % 200 == 0 and 0 < header["presentation"] < PRESENTATIONS
    assert header["time_s"] == pytest.approx(header["presentation"] * model.protocol.t_present, rel=1e-12)
    with np.load(ckpt, allow_pickle=False) as npz:
        assert "header.json" in npz.files and all(npz[k].dtype != object for k in npz.files if k.startswith("b"))

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
    ("digits_bp", ["protocol.presentations=60", "protocol.eval_every=20", "lateral.sample_count=7",
                   "lateral.update_every=3", "recording.statistics_every=4"]),
    ("teacher_student", ["protocol.presentations=60", "protocol.eval_every=20", "protocol.dtype='float32'"]),
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
    with pytest.raises(CheckpointError, match="cannot be read as a copi_bio checkpoint"):
        run_rate(m1, checkpoint=ckpt)


def test_cli_refuses_foreign_checkpoint_with_clear_error(tmp_path):
    from copi_bio.cli import main

    m = copi_bio.load_model("teacher_student", ["protocol.presentations=20"])
    run_rate(m, checkpoint=checkpoint_path(tmp_path, m), checkpoint_every=5)
    code = main(["run", "teacher_student", "--set", "protocol.presentations=30", "--out", str(tmp_path), "-q"])
    assert code == 2
    assert not (tmp_path / f"{m.name}_seed{m.seed}.nc").exists()
    # --overwrite discards the other model's checkpoint and runs from the beginning
    code = main(["run", "teacher_student", "--set", "protocol.presentations=30", "--out", str(tmp_path), "-q",
                 "--overwrite"])
    assert code == 0
    ds = copi_bio.open_result(tmp_path / f"{m.name}_seed{m.seed}.nc")
    assert "resumed_at_presentation" not in ds.attrs and int(ds["presentation"].values[-1]) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{m.name}_seed{m.seed}.nc"]


def _same(a, b, where="state") -> None:
    """Equal values, dtypes, shapes and memory order; None where None."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.flags.c_contiguous == b.flags.c_contiguous and b.flags.writeable, where
        assert np.array_equal(a, b, equal_nan=True), where
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_every_state_field_and_network_array_round_trips(tmp_path):
    """Fields are found by walking the dataclass: a field added to State is saved
    without any change to copi_bio.rate.checkpoint_state."""
    model = small_model(lateral={"statistics": "centered"}, plasticity={"optimizer": "adam"})
    net = network.RateNetwork(model, np.random.default_rng(3))
    state = net.new_state(model.protocol.trials)
    z = np.random.default_rng(4).standard_normal((model.protocol.trials, 4))
    target = np.random.default_rng(5).standard_normal((model.protocol.trials, 3))
    for _ in range(5):
        net.step(state, z, target, True, 0.01, 0.01)
    path = tmp_path / "s.ckpt"
    save_checkpoint(path, model, {"state": dataclasses.replace(state, work={}), "network": array_state(net),
                                  "presentation": 1})
    back = load_checkpoint(path, model)
    fields = [f.name for f in dataclasses.fields(network.State) if f.name != "work"]
    assert {"u", "r", "delta", "x"} <= set(fields)
    for name in fields:
        _same(getattr(state, name), getattr(back["state"], name), f"state.{name}")
    assert {"W", "L", "adam"} <= set(back["network"])
    for name, value in array_state(net).items():
        if name == "adam":
            for a, b in zip(value, back["network"]["adam"]):
                assert vars(a).keys() == vars(b).keys() and a.t == b.t
                _same([a.m, a.v], [b.m, b.v], "adam")
        else:
            _same(value, back["network"][name], f"network.{name}")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
    assert header["model_hash"] == model_hash(model) and header["presentation"] == 1


def test_new_network_arrays_are_checkpointed_without_edits(tmp_path, monkeypatch):
    """An array attribute a new formulation adds to RateNetwork survives a resume."""
    nets = []
    init, step = network.RateNetwork.__init__, network.RateNetwork.step

    def init_with_trace(self, model, rng):
        init(self, model, rng)
        self.trace = [None, np.zeros(3)]
        nets.append(self)

    def step_counting(self, s, z, target, feedback, eta_w, eta_l, lateral_rows=None):
        step(self, s, z, target, feedback, eta_w, eta_l, lateral_rows)
        if feedback:
            self.trace[1] += 1.0

    monkeypatch.setattr(network.RateNetwork, "__init__", init_with_trace)
    monkeypatch.setattr(network.RateNetwork, "step", step_counting)
    model = small_model()
    run_rate(model)
    full = nets[-1].trace[1].copy()
    assert full[0] == model.protocol.presentations * model.protocol.steps_per_presentation
    sim_mod = sys.modules["copi_bio.rate.simulate"]
    real = sim_mod.save_checkpoint

    def save_then_die(*args, **kwargs):
        real(*args, **kwargs)
        raise _Stop

    monkeypatch.setattr(sim_mod, "save_checkpoint", save_then_die)
    with pytest.raises(_Stop):
        run_rate(model, checkpoint=tmp_path / "c.ckpt", checkpoint_every=15)
    monkeypatch.setattr(sim_mod, "save_checkpoint", real)
    run_rate(model, checkpoint=tmp_path / "c.ckpt", checkpoint_every=15)
    np.testing.assert_array_equal(nets[-1].trace[1], full)
