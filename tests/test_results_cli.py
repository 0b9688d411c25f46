"""Result files (netCDF round trip, provenance, atomic writes) and the CLI."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import xarray as xr

import copi_bio
from conftest import small_model
from copi_bio.cli import main
from copi_bio.errors import CopiBioError
from copi_bio.modelfile import model_hash


@pytest.fixture(scope="module")
def small_run():
    model = small_model()
    return model, copi_bio.simulate(model)


def test_dataset_layout(small_run):
    model, ds = small_run
    proto, rec = model.protocol, model.recording
    n_samples = proto.presentations  # recorded once per presentation by default
    assert ds["u_output"].shape == (n_samples, rec.trials, 3)
    assert ds["x_input"].shape == (n_samples, rec.trials, 4)
    np.testing.assert_allclose(ds["time"].values, np.arange(1, n_samples + 1) * proto.t_present, rtol=1e-12)
    n_eval = proto.presentations // proto.eval_every + 1
    assert ds["test_loss"].shape == (n_eval,)
    np.testing.assert_array_equal(ds["presentation"].values, np.arange(n_eval) * proto.eval_every)
    assert ds["W_input_output"].shape == (n_eval, 3, 4)
    assert ds["R_input"].shape == (n_eval, 4, 4)
    np.testing.assert_array_equal(ds["R_input"].values[0], np.eye(4))
    assert ds["time"].attrs["units"] == "s"
    assert ds.attrs["steps"] == proto.presentations * proto.steps_per_presentation


def test_netcdf_round_trip(tmp_path, small_run):
    model, ds = small_run
    path = copi_bio.save_result(ds, tmp_path / "sub" / "run.nc")
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.nc"]  # no temporary file left
    back = copi_bio.open_result(path)
    assert set(back.data_vars) == set(ds.data_vars)
    for name, var in ds.data_vars.items():
        np.testing.assert_array_equal(back[name].values, var.values, err_msg=name)
        assert back[name].dims == var.dims
    for coord in ("time", "t_eval", "t_weights", "presentation"):
        np.testing.assert_array_equal(back[coord].values, ds[coord].values)
    assert back.attrs["seed"] == model.seed
    assert back.attrs["status"] == "complete"
    assert back.attrs["version_numpy"] == np.__version__
    assert back.attrs["version_xarray"] == xr.__version__
    assert back.attrs["version_copi_bio"]
    again = copi_bio.parse_model(tomllib.loads(back.attrs["model_toml"]))
    assert again.to_mapping() == model.to_mapping()
    assert back.attrs["model_hash"] == model_hash(model) == model_hash(again)  # what --overwrite compares
    # the file is closed after open_result: it can be overwritten at once
    copi_bio.save_result(ds, path)


def test_saved_file_has_umask_permissions(tmp_path, small_run):
    """The atomic write goes through mkstemp (mode 0600); the final file must
    get the usual mode 0666 & ~umask like any other file the user writes."""
    import os
    umask = os.umask(0o022)
    try:
        path = copi_bio.save_result(small_run[1], tmp_path / "run.nc")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_no_temporary_file(tmp_path, small_run):
    _, ds = small_run
    bad = ds.copy()
    bad.attrs["unserialisable"] = {"a": 1}  # netCDF attributes cannot be dicts
    with pytest.raises(Exception):
        copi_bio.save_result(bad, tmp_path / "bad.nc")
    assert list(tmp_path.iterdir()) == []


def test_open_result_errors(tmp_path):
    with pytest.raises(CopiBioError, match="does not exist"):
        copi_bio.open_result(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(CopiBioError, match="not a readable netCDF"):
        copi_bio.open_result(junk)


def test_cli_run_show_models(tmp_path, capsys):
    code = main(["run", "teacher_student", "--set", "protocol.presentations=50", "--out", str(tmp_path), "-q"])
    out = capsys.readouterr().out
    assert code == 0
    path = tmp_path / "teacher_student_seed1.nc"
    assert path.is_file() and f"saved {path}" in out
    assert "inference_error_teacher" in out
    ds = copi_bio.open_result(path)
    assert int(ds["presentation"].values[-1]) == 50
    assert copi_bio.parse_model(tomllib.loads(ds.attrs["model_toml"])).protocol.presentations == 50

    assert main(["show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "teacher_student" in shown and "complete" in shown and "50 presentations" in shown
    assert main(["show", str(path), "--model"]) == 0
    assert "presentations = 50" in capsys.readouterr().out

    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "teacher_student" in listed and "(default)" in listed
    assert main(["models", "--print", "teacher_student"]) == 0
    assert 'name = "teacher_student"' in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cli_diverged_run_keeps_partial_result(tmp_path, capsys):
    """A delta-rule step dt/tau = 0.1 (nudging gain 0.8) on undecorrelated inputs
    with rho = 0.9 (largest eigenvalue of <z z^T> 27) overshoots by
    |1 - 0.1 * 0.8 * 27| > 1 per step; the run must stop with a SimulationError
    (exit code 2) and keep what was recorded."""
    args = ["run", "teacher_student", "--out", str(tmp_path), "-q"]
    for setting in ('lateral.rule="none"', 'plasticity.rule="delta"', 'plasticity.tau="10 ms"',
                    "protocol.anneal=0", "task.correlation=0.9", "protocol.presentations=600"):
        args += ["--set", setting]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert "non-finite or ran away" in err
    partial = tmp_path / "teacher_student_seed1.partial.nc"
    assert sorted(p.name for p in tmp_path.iterdir()) == [partial.name]
    ds = copi_bio.open_result(partial)
    assert ds.attrs["status"].startswith("failed")
    # states were recorded once per presentation up to the failure
    assert 0 < ds.sizes["time"] < 600
    assert np.all(np.isfinite(ds["r_input"].values))


def test_cli_user_errors_exit_2(tmp_path, capsys):
    assert main(["run", "teacher_student", "--set", "protocol.bogus=1", "--out", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "protocol.bogus" in err and "error" in err
    assert main(["run", "teacher_student", "--set", "noequals", "--out", str(tmp_path), "-q"]) == 2
    assert main(["show", str(tmp_path / "missing.nc")]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing written on errors
