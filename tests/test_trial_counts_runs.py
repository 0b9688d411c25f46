"""Trial-aligned spike counts of model runs (copi_bio.trials): binning, the ``trial_counts_<pop>``
variables a spiking chain run stores when stimuli repeat, and their standard form (real Brian2 runs)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from copi_bio import load_model
from copi_bio.errors import CopiBioError
from copi_bio.record import RunRecord
from copi_bio.results import open_result, save_result
from copi_bio.simulation import simulate
from copi_bio.spiking.chain.run import _store_trial_counts
from copi_bio.sweep.dataset import combine_runs
from copi_bio.sweep.grid import Run
from copi_bio.trials import DIMS, bin_trials, from_result, result_populations_with_trials, stimulus_conditions

# 3 training images in 8 presentations of 50 ms: every image is shown 2 or 3 times (epoch-wise shuffling)
SHORT = ["protocol.presentations=8", "protocol.eval_every=4", "protocol.anneal=10", "protocol.t_present=50 ms",
         "protocol.t_settle=20 ms", "spiking.count_window=50 ms", "spiking.rate_bin=50 ms", "spiking.device=runtime",
         "spiking.test_images=0"]


def test_bin_trials_counts_hand_made_spikes():
    """Two units, two conditions (condition 1 shown once: its second repeat is NaN), 10 ms bins over
    [onset - 10 ms, onset + 20 ms); a spike exactly at a bin edge falls in the later bin."""
    onsets = np.array([0.1, 0.2, 0.3])
    cond = np.array([0, 1, 0])
    times = np.array([0.095, 0.100, 0.105, 0.119, 0.2, 0.21, 0.299, 0.31, 0.32, 0.05])
    units = np.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0])
    counts, centres = bin_trials(times, units, 2, onsets, cond, 2, before=0.01, after=0.02, bin_width=0.01)
    np.testing.assert_allclose(centres, [-0.005, 0.005, 0.015])
    assert counts.shape == (2, 2, 2, 3) and counts.dtype == np.float32
    np.testing.assert_array_equal(counts[0, 0], [[1, 1, 0], [0, 0, 1]])  # 0.100 at the edge: bin [0, 10 ms)
    np.testing.assert_array_equal(counts[1, 0], [[0, 1, 1], [1, 0, 0]])  # 0.299: 1 ms before the third onset
    np.testing.assert_array_equal(counts[0, 1, 0], [0, 1, 0])
    np.testing.assert_array_equal(counts[1, 1, 0], [0, 0, 1])
    assert np.all(np.isnan(counts[:, 1, 1]))  # condition 1 has no second repeat
    assert np.nansum(counts) == 8  # 0.05 lies in no window, 0.32 is past the last window's end
    np.testing.assert_array_equal(stimulus_conditions(np.array([[1, 0], [0, 1], [1, 0], [2, 2], [0, 1]])),
                                  [0, 1, 0, 2, 1])


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """The hidden-layer digits model on 3 training images, 2 network copies each shown its own images:
    8 presentations, each image 2-3 times to the first copy; saved and opened again."""
    ds = simulate(load_model("spiking_lif_digits_hidden", ["task.train_size=3", "protocol.trials=2", *SHORT]))
    path = save_result(ds, tmp_path_factory.mktemp("trials") / "run.nc")
    return ds, open_result(path), path


def test_a_run_with_repeated_stimuli_stores_trial_counts_of_every_population(repeated):
    ds = repeated[0]
    assert result_populations_with_trials(ds) == ["input", "hidden", "output"]
    assert "trial_counts" not in ds.attrs
    stimuli = ds["stimulus_input"].values
    cond = ds["trial_condition"].values
    np.testing.assert_allclose(ds["trial_onset"].values, np.arange(8) * 0.05)
    assert sorted(set(cond)) == [0, 1, 2] and cond[0] == 0
    for k in range(8):  # equal stimuli, equal condition
        np.testing.assert_array_equal(stimuli[k], stimuli[np.flatnonzero(cond == cond[k])[0]])
    shown = np.bincount(cond)
    for pop, size in (("input", 64), ("hidden", 100), ("output", 10)):
        var = ds[f"trial_counts_{pop}"]
        assert var.dims == (f"unit_{pop}", "condition", "repeat", "trial_time")
        assert var.shape == (size, 3, shown.max(), 5) and var.dtype == np.float32
        np.testing.assert_allclose(var["trial_time"].values, [0.005, 0.015, 0.025, 0.035, 0.045])
        assert var.attrs["bin_width"] == 0.01 and var.attrs["after"] == pytest.approx(0.05)
        assert var.attrs["copies"] == 2 and "first of 2 copies" in var.attrs["long_name"]
        # every presentation is counted: the counts add up to all spikes of the run (of the first copy)
        t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
        assert np.nansum(var.values) == t.size > 0
        np.testing.assert_array_equal(np.nansum(var.values, axis=(1, 2, 3)), np.bincount(i, minlength=size))
        for c in range(3):  # missing repeats are NaN, shown ones whole counts
            assert np.all(np.isnan(var.values[:, c, shown[c]:])) and np.all(np.isfinite(var.values[:, c, :shown[c]]))
        # one presentation's counts by hand
        k = 5
        c, r = cond[k], int(np.sum(cond[:k] == cond[k]))
        sel = (t >= 0.05 * k - 1e-9) & (t < 0.05 * (k + 1) - 1e-9)
        np.testing.assert_array_equal(np.nansum(var.values[:, c, r], axis=1), np.bincount(i[sel], minlength=size))


def test_from_result_gives_the_standard_structure_and_survives_netcdf(repeated):
    ds, back, _ = repeated
    da = from_result(ds, "hidden")
    assert da.dims == DIMS and da.shape == ds["trial_counts_hidden"].shape
    assert list(np.unique(da["session"].values)) == ["run"]
    np.testing.assert_array_equal(da["neuron"].values, np.arange(100))
    np.testing.assert_array_equal(da["stimulus"].values, [0, 1, 2])
    assert da.attrs["bin_width"] == 0.01 and da.attrs["population"] == "hidden"
    np.testing.assert_array_equal(da.values, ds["trial_counts_hidden"].values)
    again = from_result(back, "hidden")
    xr.testing.assert_identical(again, da)
    for name in ("trial_onset", "trial_condition", "trial_counts_input", "trial_counts_output"):
        xr.testing.assert_equal(back[name], ds[name])
    with pytest.raises(CopiBioError, match="populations with trial counts: input, hidden, output"):
        from_result(ds, "readout")


def test_a_task_whose_stimuli_never_repeat_stores_no_trial_counts():
    """Teacher-student inputs are continuous: no two presentations are equal."""
    ds = simulate(load_model("spiking_lif_teacher_student", SHORT))
    assert ds["stimulus_input"].shape == (8, 30)
    assert not [v for v in ds.variables if str(v).startswith("trial_")]
    assert result_populations_with_trials(ds) == []
    assert ds.attrs["trial_counts"] == "not stored: no stimulus is shown twice"
    with pytest.raises(CopiBioError, match="stored none .not stored: no stimulus is shown twice"):
        from_result(ds, "output")


def test_trial_counts_are_bounded():
    """Over 200 conditions, or over 20 million values in one population's array, nothing is stored and
    the result attribute ``trial_counts`` says why."""
    model = load_model("spiking_lif_digits_hidden", ["task.train_size=3", *SHORT])
    spikes = {p.name: (np.zeros(0), np.zeros(0, dtype=np.int64)) for p in model.populations}
    for stimulus, reason in (
            (np.repeat(np.arange(201.0), 2)[:, None], "not stored: 201 conditions > 200"),
            # 100 hidden units x 1 condition x 40001 repeats x 5 bins
            (np.zeros((40001, 1)), "not stored: 20000500 values > 20000000")):
        record = RunRecord(model=model)
        _store_trial_counts(model, stimulus, spikes, record)
        assert record.attrs["trial_counts"] == reason and not record.variables and not record.coords
    record = RunRecord(model=model)
    _store_trial_counts(model, np.repeat(np.arange(200.0), 2)[:, None], spikes, record)
    assert "trial_counts" not in record.attrs and record.variables["trial_counts_hidden"][1].shape == (100, 200, 2, 5)


def test_a_sweep_combines_runs_with_trial_counts_into_metrics_only(repeated, tmp_path):
    """The combined sweep Dataset holds metrics along t_eval; trial counts stay in each run's file."""
    ds, _, path = repeated
    run = Run(index=(0,), seed=1, overrides=(), name="run", model=load_model("spiking_lif_digits_hidden"))
    out = combine_runs([run], {"task.train_size": [3]}, [1], lambda r: path, lambda r: tmp_path / "none.json", {})
    assert str(out["status"].values[0, 0]) == "complete"
    np.testing.assert_array_equal(out["weights_test_accuracy"].values[0, 0], ds["weights_test_accuracy"].values)
    assert not [v for v in out.variables if str(v).startswith("trial_")]
