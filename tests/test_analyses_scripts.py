"""Every analyses/ script runs end to end on its --small configuration."""

from __future__ import annotations

import csv
import importlib
import sys
from pathlib import Path

import pytest

ANALYSES = Path(__file__).resolve().parent.parent / "analyses"


@pytest.fixture(autouse=True)
def _analyses_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ANALYSES))


def _run(name: str, out: Path, *extra: str) -> None:
    module = importlib.import_module(name)
    module.main(["--out", str(out), "--small", *extra])
    sys.modules.pop(name, None)


def _table(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _figures(out: Path, name: str) -> None:
    for ext in ("png", "svg"):
        assert (out / f"{name}.{ext}").stat().st_size > 1000


def test_parameter_inference_script(tmp_path):
    _run("parameter_inference", tmp_path)
    _figures(tmp_path, "parameter_inference")
    rows = _table(tmp_path / "alignment.csv")
    # the COPI update turns toward <delta x^T> as the input decorrelates
    assert float(rows[-1]["cosine"]) > float(rows[0]["cosine"]) and float(rows[-1]["cosine"]) > 0.95


def test_features_script(tmp_path):
    _run("features", tmp_path)
    _figures(tmp_path, "receptive_fields")
    rows = {r["representation"]: r for r in _table(tmp_path / "decorrelation_vs_zca.csv")}
    assert float(rows["copi_R"]["mean_abs_second_moment_corr"]) < 0.5 * float(rows["raw"]["mean_abs_second_moment_corr"])


def test_compression_script(tmp_path):
    _run("compression", tmp_path)
    _figures(tmp_path, "compression")
    rows = _table(tmp_path / "compression.csv")
    assert {int(r["layers_removed"]) for r in rows} == {0, 1, 2}
    assert all(float(r["test_accuracy"]) > 0.3 for r in rows)  # far above chance (0.1) even compressed


def test_learning_speed_script(tmp_path):
    _run("learning_speed", tmp_path, "--seeds", "2")
    _figures(tmp_path, "learning_speed")
    rows = _table(tmp_path / "learning_speed.csv")
    assert len(rows) == 6 and all(int(r["seeds"]) == 2 for r in rows)
    final = {r["method"]: float(r["final_accuracy_mean"]) for r in rows}
    # after 5 epochs every method is above chance (0.1); Adam at lr 1e-4 is the
    # slowest (0.30 measured), the COPI methods are past 0.9 (0.95-0.97 measured)
    assert min(final.values()) > 0.2, final
    assert final["COPI (BP perturbation)"] > 0.9 and final["COPI (FA perturbation)"] > 0.9, final


def test_decorrelation_vs_data_script(tmp_path):
    _run("decorrelation_vs_data", tmp_path)
    _figures(tmp_path, "decorrelation_vs_data")
    rows = _table(tmp_path / "model_vs_data.csv")
    assert rows and all(r["model_mean"] not in ("", "nan") for r in rows)


@pytest.mark.slow
def test_learning_speed_script_on_a_local_mnist_file(tmp_path):
    """--task mnist --data PATH: the same six-method comparison on a user-supplied MNIST
    file; here an MNIST-format .npz made from the 8x8 digits upscaled to 28x28."""
    path = _fake_mnist(tmp_path / "mnist.npz")
    _run("learning_speed", tmp_path / "out", "--seeds", "1", "--task", "mnist", "--data", str(path), "--small",
         "--shipped")
    rows = {r["method"]: r for r in _table(tmp_path / "out" / "learning_speed.csv")}
    assert len(rows) == 6
    # a diverging run (COPI-FA does on a 2000-image MNIST subset in the discrete-limit setting) is
    # reported in the table, not dropped; with the shipped 1 ms steps every method learns here
    assert all(r["diverged"] == "0" and float(r["final_accuracy_mean"]) > 0.5 for r in rows.values()), rows


def _fake_mnist(path: Path) -> Path:
    """An MNIST-format .npz made from the 8x8 digits upscaled to 28x28."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.zeros((len(digits.images), 28, 28), dtype=np.uint8)
    images[:, 2:26, 2:26] = np.kron(digits.images, np.ones((3, 3))) * 255 / 16
    np.savez(path, x_train=images[:1500], y_train=digits.target[:1500],
             x_test=images[1500:], y_test=digits.target[1500:])
    return path


def test_mnist_per_second_script(tmp_path):
    """COPI-BP with the cheaper update against Adam at 1e-4: the timing pass writes each method's seconds
    per minibatch, the table counts minibatches to 98 % (not reached in these short runs: empty) and
    reads accuracies at the evaluations of the runs."""
    import json

    path = _fake_mnist(tmp_path / "mnist.npz")
    _run("mnist_per_second", tmp_path / "out", "--seeds", "1", "--data", str(path), "--timing",
         "--methods", "mnist_bp_fast", "lr 1e-4")
    costs = json.loads((tmp_path / "out" / "mnist_per_second_timing.json").read_text())
    assert len(costs) == 2 and all(0 < c < 1 for c in costs.values())
    rows = {r["method"]: r for r in _table(tmp_path / "out" / "mnist_per_second.csv")}
    assert set(rows) == set(costs)
    copi = rows["COPI-BP, cheaper decorrelation (mnist_bp_fast)"]
    assert copi["onset_presentations"] == "240" and float(copi["seconds_per_epoch"]) > 0
    _figures(tmp_path / "out", "mnist_per_second")


def test_spiking_vs_rate_script(tmp_path):
    _run("spiking_vs_rate", tmp_path, "--seeds", "1")
    _figures(tmp_path, "spiking_vs_rate")
    rows = _table(tmp_path / "spiking_vs_rate.csv")
    assert len(rows) == 3 and all(0.0 <= float(r["final_accuracy"]) <= 1.0 for r in rows)
    spiking = next(r for r in rows if r["run"].startswith("spiking"))
    assert int(spiking["samples"]) == 240  # 60 presentations x 4 copies (2 copies run away at gamma = 50)


def test_cached_runs_are_reused_only_for_the_same_model(tmp_path, capsys):
    """``study.run_or_load`` reuses ``runs/TAG.nc`` for the same resolved model and runs again, replacing
    the file, when the model differs (a changed model file or other overrides)."""
    study = importlib.import_module("study")
    small = ["protocol.presentations=20", "protocol.eval_every=10"]
    path = tmp_path / "runs" / "tag.nc"
    first = study.run_or_load("teacher_student", small, tmp_path, "tag")
    digest, inode = first.attrs["model_hash"], path.stat().st_ino
    first.close()
    study.run_or_load("teacher_student", small, tmp_path, "tag").close()
    assert path.stat().st_ino == inode  # loaded, not written again (a new result is renamed into place)
    assert "running it again" not in capsys.readouterr().err
    other = study.run_or_load("teacher_student", small + ["seed=7"], tmp_path, "tag")
    assert other.attrs["seed"] == 7 and other.attrs["model_hash"] != digest and path.stat().st_ino != inode
    assert "model_hash differs" in capsys.readouterr().err
    other.close()
