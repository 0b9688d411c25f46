"""NWB export (``copi-bio export RESULT.nc --nwb FILE.nwb``): real runs, real netCDF, real pynwb."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys

import numpy as np
import pytest
from nwbinspector import inspect_nwbfile
from pynwb import NWBHDF5IO, validate

import copi_bio
from conftest import ROOT, small_model
from copi_bio.analysis.recordings import load_spiketrains
from copi_bio.cli import main
from copi_bio.errors import CopiBioError
from copi_bio.modelfile import parse_model, read_model_table

SUBSET = [1, 5, 7, 20, 33]  # recorded neurons of each population of the E/I network


def _ei_model() -> copi_bio.Model:
    """spiking_ei_small at a tenth of its size (160 E + 40 I, p = 0.5, the same in-degree of 80 E and
    20 I synapses), 1 s in Brian2's runtime mode, spikes of five neurons per population recorded."""
    data, path = read_model_table("spiking_ei_small")
    for pop in data["network"]["populations"]:
        pop["size"] //= 10
    for proj in data["network"]["projections"]:
        proj["probability"] = 0.5
    data["network"]["projections"][3]["plasticity"]["onset"] = "0.5 s"
    data["protocol"].update(duration="1 s", eval_every="0.5 s")
    data["recording"]["neurons"] = SUBSET
    data["spiking"].update(device="runtime", rate_bin="100 ms")
    return parse_model(data, str(path))


def _export(tmp_path, ds, name: str, *flags: str) -> tuple[int, object]:
    """Save ``ds`` as ``name.nc`` and export it with the CLI to ``name.nwb``: (exit code, NWB path)."""
    result = copi_bio.save_result(ds, tmp_path / f"{name}.nc", overwrite=True)
    target = tmp_path / f"{name}.nwb"
    return main(["export", str(result), "--nwb", str(target), *flags]), target


def _spikes_of(ds, pop: str, neuron: int) -> np.ndarray:
    times, index = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
    return np.sort(times[index == neuron])


@pytest.fixture(scope="module")
def ei_run():
    return copi_bio.simulate(_ei_model())


@pytest.fixture(scope="module")
def chain_run():
    model = copi_bio.load_model("spiking_trace_teacher_student", [
        "protocol.presentations=20", "protocol.eval_every=10", "recording.variables=['r', 'u', 'x']",
        "recording.trials=1"])
    return copi_bio.simulate(model)


def test_recorded_subset_round_trips_through_pynwb_and_the_recording_loader(tmp_path, ei_run, capsys):
    ds = ei_run
    code, path = _export(tmp_path, ds, "ei")
    assert code == 0 and f"saved {path}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ei.nc", "ei.nwb"]  # no temporary file left
    assert validate(path=str(path)) == []  # valid against the NWB schema
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units
        rows = [(units["population"][k], int(units["neuron"][k])) for k in range(len(units))]
        trains = [np.asarray(units.get_unit_spike_times(k)) for k in range(len(units))]
        assert units["spike_times"].target.data.dtype == np.float64
        np.testing.assert_array_equal(units["obs_intervals"][0], [[0.0, 1.0]])
        rates = {pop: (nwb.processing["binned_rates"][f"rate_{pop}"].data[:],
                       nwb.processing["binned_rates"][f"rate_{pop}"].get_timestamps(),
                       nwb.processing["binned_rates"][f"rate_{pop}"].unit) for pop in ("E", "I")}
    # one unit per recorded neuron (not per neuron of the population), populations in order
    assert rows == [("E", n) for n in SUBSET] + [("I", n) for n in SUBSET]
    expected = [_spikes_of(ds, pop, n) for pop, n in rows]
    assert sum(len(t) for t in expected) == ds.sizes["spike_E"] + ds.sizes["spike_I"] > 50  # every spike kept
    for got, want in zip(trains, expected):
        np.testing.assert_array_equal(got, want)  # the same float64 seconds, bit for bit
    loaded = load_spiketrains(path)  # the package's own loader reads the units table
    assert len(loaded) == len(rows)
    assert [(t.annotations["population"], t.annotations["neuron"]) for t in loaded] == rows
    only_i = load_spiketrains(path, population="I")  # populations stay apart on reading back
    assert [t.annotations["neuron"] for t in only_i] == SUBSET
    with pytest.raises(CopiBioError, match="no units of population 'X'; its populations: E, I"):
        load_spiketrains(path, population="X")
    for train, want in zip(loaded, expected):
        assert str(train.units.dimensionality) == "s"
        np.testing.assert_array_equal(train.magnitude, want)
    for pop, (data, stamps, unit) in rates.items():
        assert unit == "Hz"
        np.testing.assert_array_equal(data, ds[f"rate_{pop}"].values)  # columns = this population's units
        np.testing.assert_allclose(stamps, ds["time_bin"].values, rtol=1e-12)  # starting_time + rate
        assert data.shape == (10, len(SUBSET))


def test_spiking_chain_states_units_and_provenance(tmp_path, chain_run):
    ds = chain_run
    code, path = _export(tmp_path, ds, "chain")
    assert code == 0
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units
        counts = {}
        for k in range(len(units)):
            pop, neuron = units["population"][k], int(units["neuron"][k])
            np.testing.assert_array_equal(units.get_unit_spike_times(k), _spikes_of(ds, pop, neuron))
            counts[pop] = counts.get(pop, 0) + 1
        assert counts == {"input": 30, "output": 5}  # every neuron recorded: all of them are units
        r = nwb.acquisition["r_output"]
        assert r.unit == "Hz" and "Hz" in r.description  # the spiking backend's r is a rate in Hz
        np.testing.assert_array_equal(r.data[:], ds["r_output"].values)
        np.testing.assert_allclose(r.get_timestamps(), ds["time"].values, rtol=1e-12)  # regular: starting_time + rate
        assert nwb.acquisition["x_input"].unit == "a.u."
        assert nwb.source_script == ds.attrs["model_toml"]
        assert nwb.source_script_file_name == "spiking_trace_teacher_student.toml"
        stored = json.loads(nwb.scratch["copi_bio_result_attrs"].data)
        assert stored["model_hash"] == ds.attrs["model_hash"] and stored["seed"] == 1
        assert stored["model_toml"] == ds.attrs["model_toml"]
        assert ds.attrs["model_hash"] in nwb.notes and ds.attrs["model_hash"] in nwb.identifier
        assert nwb.session_start_time == datetime.datetime.fromisoformat(ds.attrs["created"])
        generated = {name: version for name, version in nwb.was_generated_by[:]}
        assert generated == {key[len("version_"):]: value for key, value in ds.attrs.items()
                             if key.startswith("version_") and value != "not installed"}
        assert generated["brian2"] == ds.attrs["version_brian2"] and "python" in generated
    assert sum(len(st) for st in load_spiketrains(path)) == ds.sizes["spike_input"] + ds.sizes["spike_output"]


def test_rate_run_states_come_back_as_time_series(tmp_path):
    ds = copi_bio.simulate(small_model())
    code, path = _export(tmp_path, ds, "rate")
    assert code == 0
    assert validate(path=str(path)) == []
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        assert nwb.units is None and "binned_rates" not in nwb.processing  # a rate run has no spikes
        names = {"r_input", "x_input", "r_output", "u_output", "delta_output"}  # what the rate backend records
        assert {n for n, v in ds.data_vars.items() if v.dims[0] == "time"} == names == set(nwb.acquisition)
        for name in names:
            series = nwb.acquisition[name]
            assert series.unit == "a.u." and "arbitrary units" in series.description
            assert series.data.shape == ds[name].shape == (40, 2, ds[name].shape[2])
            np.testing.assert_array_equal(series.data[:], ds[name].values)
            np.testing.assert_allclose(series.get_timestamps(), ds["time"].values, rtol=1e-12)
        assert json.loads(nwb.scratch["copi_bio_result_attrs"].data)["backend"] == "rate"


def test_overwrite_rules_follow_run(tmp_path, capsys):
    first = copi_bio.simulate(small_model(protocol={"presentations": 10}))
    code, path = _export(tmp_path, first, "a")
    assert code == 0
    # the same model again: rewritten (as save_result does)
    assert _export(tmp_path, first, "a")[0] == 0
    other = copi_bio.simulate(small_model(protocol={"presentations": 10}, seed=8))
    result = copi_bio.save_result(other, tmp_path / "b.nc")
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["export", str(result), "--nwb", str(path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to replace" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before  # untouched
    assert main(["export", str(result), "--nwb", str(path), "--overwrite"]) == 0
    with NWBHDF5IO(str(path), "r") as io:
        stored = json.loads(io.read().scratch["copi_bio_result_attrs"].data)
    assert stored["model_hash"] == other.attrs["model_hash"] != first.attrs["model_hash"]
    foreign = tmp_path / "notes.nwb"
    foreign.write_text("someone else's file")
    assert main(["export", str(result), "--nwb", str(foreign)]) == 2
    assert "not a copi_bio result file" in capsys.readouterr().err
    assert foreign.read_text() == "someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "a.nwb", "b.nc", "notes.nwb"]


def test_bad_inputs_and_outputs_give_one_line_errors(tmp_path, capsys):
    def error(*argv: str) -> str:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("copi-bio: error: ")
        return err

    assert "does not exist" in error(str(tmp_path / "missing.nc"), "--nwb", str(tmp_path / "x.nwb"))
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    assert "not a readable netCDF" in error(str(junk), "--nwb", str(tmp_path / "x.nwb"))
    bare = copi_bio.save_result(copi_bio.simulate(small_model(protocol={"presentations": 10},
                                                              recording={"variables": []})), tmp_path / "bare.nc")
    assert "nothing to export" in error(str(bare), "--nwb", str(tmp_path / "out" / "x.nwb"))
    assert "must end in .nwb" in error(str(bare), "--nwb", str(tmp_path / "x.h5"))
    assert "result file itself" in error(str(bare), "--nwb", str(bare))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.nc", "junk.nc"]  # nothing written


def test_missing_pynwb_says_how_to_install(tmp_path, monkeypatch, capsys):
    result = copi_bio.save_result(copi_bio.simulate(small_model(protocol={"presentations": 10})), tmp_path / "r.nc")
    monkeypatch.setitem(sys.modules, "pynwb", None)  # the import system then raises ImportError
    assert main(["export", str(result), "--nwb", str(tmp_path / "r.nwb")]) == 2
    assert 'pip install "copi_bio[nwb]"' in capsys.readouterr().err
    assert not (tmp_path / "r.nwb").exists()


def test_importing_copi_bio_does_not_import_pynwb():
    code = "import sys, copi_bio, copi_bio.cli, copi_bio.export; print('pynwb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _inspected(path) -> list[str]:
    """nwbinspector's messages of importance CRITICAL or BEST_PRACTICE_VIOLATION (suggestions, such as
    a missing experimenter or institution, are not asked of a simulation)."""
    return [f"{m.importance.name} {m.check_function_name}: {m.message}" for m in inspect_nwbfile(nwbfile_path=str(path))
            if m.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION", "PYNWB_VALIDATION", "ERROR")]


def test_exports_pass_nwbinspector(tmp_path, ei_run):
    """A rate run, an E/I run, a trace chain and a spike-driven chain: the Subject describes the model, the
    units' resolution is the run's dt, regular series are starting_time + rate. (nwbinspector flags a
    series with fewer samples than columns as possibly transposed: the recorded chain states here have 40
    samples of 30 neurons; binned rates that short are left out of an export.)"""
    spike_driven = copi_bio.simulate(copi_bio.load_model("spiking_lif_teacher_student", {
        "protocol.presentations": 20, "protocol.eval_every": 10, "spiking.device": "runtime"}))
    trace = copi_bio.simulate(copi_bio.load_model("spiking_trace_teacher_student", {
        "protocol.presentations": 40, "protocol.eval_every": 20, "recording.variables": ["r", "x"],
        "recording.trials": 1}))
    runs = {"rate": copi_bio.simulate(small_model()), "ei": ei_run, "trace": trace, "lif": spike_driven}
    for name, ds in runs.items():
        code, path = _export(tmp_path, ds, name)
        assert code == 0
        assert _inspected(path) == [], name
        with NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            assert nwb.subject.subject_id == f"{ds.attrs['model_name']}_seed{ds.attrs['seed']}"
            assert ds.attrs["model_name"] in nwb.subject.description
            if nwb.units is not None:
                assert nwb.units.resolution == pytest.approx({"trace": 1e-3}.get(name, 1e-4))  # protocol.dt
