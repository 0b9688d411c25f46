"""What a new user meets first: the Python API's overrides, the messages of bad input, and
``copi-bio analyze`` / ``show`` on every kind of file (each message asserted as printed)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import copi_bio
from copi_bio.cli import main
from copi_bio.errors import ModelError
from copi_bio.version import __version__

SMALL_EI = {"protocol.duration": "1.5 s", "protocol.eval_every": "0.5 s", "spiking.device": "runtime",
            "network.populations.E.size": 200, "network.populations.I.size": 50, "recording.neurons": 50}


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    return err.strip()


def test_overrides_as_a_mapping_a_text_or_keywords():
    by_map = copi_bio.load_model("digits_bp", {"protocol.trials": 64, "plasticity.tau": "4 s"})
    by_text = copi_bio.load_model("digits_bp", "protocol.trials=64")
    by_list = copi_bio.load_model("digits_bp", ["protocol.trials=64"])
    by_keys = copi_bio.load_model("digits_bp", protocol__trials=64)
    assert by_map.protocol.trials == by_text.protocol.trials == by_list.protocol.trials == 64
    assert by_keys.protocol.trials == 64 and by_map.plasticity.tau == 4.0
    assert by_map == copi_bio.load_model("digits_bp").replace({"protocol.trials": 64, "plasticity.tau": "4 s"})


def test_python_errors_never_mention_the_command_line():
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("digits_bp", ["protocol.trials"])
    assert str(err.value) == "overrides = 'protocol.trials' is invalid: KEY=VALUE, e.g. protocol.presentations=500"
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("digits_bp", [3])
    assert "--set" not in str(err.value) and "a mapping of dotted keys" in str(err.value)


def test_misspelt_names_and_keys_get_a_suggestion():
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("digit_bp")
    assert str(err.value) == ("MODEL = 'digit_bp' is invalid: did you mean digits_bp or digits_deep_bp or "
                              "digits_fa? a model file path or a library model name (copi-bio models lists them)")
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("digits_bp", {"feedback.gama": 1.0})
    assert str(err.value).endswith("feedback.gama = 1.0 is invalid: did you mean feedback.gamma? a known key of "
                                   "[feedback]: gamma, mode, perturbation, scale, tau")


def test_the_error_blames_the_key_the_user_set():
    """Setting task.kind makes the file's own task.correlation wrong: the message names task.kind."""
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("teacher_student", {"task.kind": "digits"})
    assert str(err.value).endswith("task.correlation = 0.3 is invalid: a key of task.kind = 'decorrelation' or "
                                   "'teacher_student', not of task.kind = 'digits', which takes: test_fraction, "
                                   "train_size")


def test_a_missing_model_file_is_not_found(tmp_path, capsys):
    assert main(["run", str(tmp_path / "my_model.toml"), "--out", str(tmp_path)]) == 2
    assert _error(capsys) == (f"copi-bio: error: MODEL = '{tmp_path / 'my_model.toml'}' is invalid: an existing "
                              f"model file ({tmp_path / 'my_model.toml'} is not found)")
    assert main(["run", "--set", "protocol.trials", "--out", str(tmp_path)]) == 2
    assert "--set = 'protocol.trials' is invalid" in _error(capsys)


@pytest.mark.parametrize("duration", ["-1 s", "0 s"])
def test_network_durations_must_be_positive(duration):
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("spiking_ei_small", {"protocol.duration": duration})
    assert str(err.value).endswith(f"protocol.duration = {duration!r} is invalid: a value > 0 (times and time "
                                   "constants must be positive)")


def test_a_plasticity_onset_after_the_run_is_warned():
    with pytest.warns(UserWarning, match=r"network.projections.I_E.plasticity.onset = '5.0 s' is at or after the "
                                         r"end of the run \(protocol.duration = '3.0 s'\): the I_E synapses stay "
                                         r"static"):
        copi_bio.load_model("spiking_ei_small", {"protocol.duration": "3 s", "protocol.eval_every": "1 s"})


def test_version_and_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"copi-bio {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    for command in ("run", "sweep", "models", "show", "analyze", "export", "validate"):
        assert f"    {command} " in text
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    assert "about 3 min on 2 cores" in capsys.readouterr().out


@pytest.fixture(scope="module")
def ei_result(tmp_path_factory):
    path = tmp_path_factory.mktemp("ei") / "ei.nc"
    with pytest.warns(UserWarning, match="stay static"):
        model = copi_bio.load_model("spiking_ei_small", SMALL_EI)
    copi_bio.save_result(copi_bio.simulate(model), path)
    return path


def test_analyze_draws_the_spiking_figures_of_an_ei_run(ei_result, tmp_path, capsys):
    from copi_bio.analysis.spike_figures import population_statistics

    out = tmp_path / "figures"
    assert main(["analyze", str(ei_result), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {f"{n}.{e}" for n in ("metrics", "raster", "spike_statistics")
                                                for e in ("png", "svg")}
    ds = copi_bio.open_result(ei_result)
    stats = population_statistics(ds, "E")
    # the rates drawn are the stored spikes of the second half, counted directly
    t, i = ds["spike_time_E"].values, ds["spike_index_E"].values
    late = t >= 0.75
    counts = np.array([np.count_nonzero(i[late] == n) for n in ds["neuron_E"].values])
    np.testing.assert_allclose(stats["rate"], counts / 0.75)
    assert stats["rsc"].size > 100 and np.all(np.abs(stats["rsc"]) <= 1.0)
    assert stats["window"][0] == pytest.approx(0.01) and stats["window"][-1] <= 0.15


def test_show_and_analyze_refuse_files_of_another_kind(ei_result, tmp_path, capsys):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(foreign)
    assert main(["analyze", str(foreign), "--out", str(tmp_path / "f")]) == 2
    assert _error(capsys) == (f"copi-bio: error: {str(foreign)!r} is a netCDF/HDF5 file that copi_bio did not "
                              "write, not a run's result file or a sweep's combined file")
    sweep_like = tmp_path / "sweep.nc"
    xr.Dataset(attrs={"sweep_hash": "0" * 64}).to_netcdf(sweep_like)
    assert main(["show", str(sweep_like)]) == 2
    assert _error(capsys) == (f"copi-bio: error: {str(sweep_like)!r} is a sweep's combined file (copi-bio sweep), "
                              "not a run's result file")
    assert main(["show", str(tmp_path / "missing.nc")]) == 2
    assert _error(capsys) == f"copi-bio: error: result file {str(tmp_path / 'missing.nc')!r} does not exist"
    assert main(["show", str(ei_result)]) == 0
    assert "presentations" not in capsys.readouterr().out  # an E/I run has none


def test_analyze_draws_a_sweep_and_a_misspelt_grid_key_fails_first(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "teacher_student", "--grid", "feedback.gama=0.5,1.0", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "runs on" not in captured.err and "did you mean feedback.gamma?" in captured.err
    assert main(["sweep", "teacher_student", "--grid", "feedback.gamma=0.5,1.0", "--seeds", "1-2", "--set",
                 "protocol.presentations=100", "--set", "protocol.eval_every=50", "--out", str(out),
                 "--workers", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out / "sweep.nc"), "--out", str(tmp_path / "fig")]) == 0
    assert {p.name for p in (tmp_path / "fig").iterdir()} == {"sweep_metrics.png", "sweep_metrics.svg"}


def _undescribed(ds: xr.Dataset) -> list[str]:
    return [str(n) for n, v in ds.variables.items() if not v.attrs.get("units") or not v.attrs.get("long_name")]


def test_every_variable_has_units_and_a_long_name(ei_result):
    """The Dataset convention (copi_bio.conventions), after a round trip through netCDF, for an E/I run and
    a rate run; the E/I run's recorded subset is the coordinate of neuron_<pop>, as in every backend."""
    ei = copi_bio.open_result(ei_result)
    assert _undescribed(ei) == []
    assert ei["rate_E"].dims == ("time_bin", "neuron_E") and ei["rate_I"].dims == ("time_bin", "neuron_I")
    assert ei["neuron_E"].values.tolist() == list(range(50))
    assert ei["mean_rate_E"].attrs["units"] == "Hz" and ei["mean_w_I_E"].attrs["units"] == "nS"
    rate = copi_bio.simulate(copi_bio.load_model("teacher_student", {"protocol.presentations": 20,
                                                                      "protocol.eval_every": 10}))
    assert _undescribed(rate) == []
    assert rate["W_input_output"].attrs["units"] == "1" and rate["r_output"].attrs["units"] == "a.u."


def test_show_refuses_an_nwb_file(ei_result, tmp_path, capsys):
    nwb = tmp_path / "ei.nwb"
    assert main(["export", str(ei_result), "--nwb", str(nwb)]) == 0
    capsys.readouterr()
    assert main(["show", str(nwb)]) == 2
    assert _error(capsys) == (f"copi-bio: error: {str(nwb)!r} is an NWB file (copi-bio export; read recordings with "
                              "copi_bio.analysis.trial_io.read_trials), not a run's result file")


def test_analyze_draws_the_spiking_figures_of_a_chain_run(tmp_path):
    """A trace-formulation chain (every kind of spiking result gets the raster and spike statistics)."""
    ds = copi_bio.simulate(copi_bio.load_model("spiking_trace_teacher_student", {
        "protocol.presentations": 20, "protocol.eval_every": 10}))
    path = copi_bio.save_result(ds, tmp_path / "chain.nc")
    assert main(["analyze", str(path), "--out", str(tmp_path / "fig")]) == 0
    names = {p.name for p in (tmp_path / "fig").iterdir()}
    assert {"metrics.png", "raster.png", "spike_statistics.png"} <= names
