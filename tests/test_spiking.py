"""Spiking backend (Brian2, real simulations, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import override_error
from copi_bio import load_model
from copi_bio.modelfile import dumps_model, parse_model, read_model_table
from copi_bio.results import open_result, save_result
from copi_bio.simulation import simulate
from copi_bio.initial import effective_weights
from copi_bio.spiking.measures import count_correlation, spike_counts


def _r_sc(ds, pop: str, start: float, stop: float, window: float = 0.1) -> float:
    """Mean spike-count correlation of a population in ``window`` bins of ``[start, stop)``."""
    t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
    sel = (t >= start) & (t < stop)
    counts = spike_counts(t[sel], i[sel], ds.sizes[f"neuron_{pop}"], start, stop, window)
    return count_correlation(counts)[0]


def _rates(ds, pop: str, start: float, stop: float) -> np.ndarray:
    t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
    sel = (t >= start) & (t < stop)
    return np.bincount(i[sel], minlength=ds.sizes[f"neuron_{pop}"]) / (stop - start)


def test_spiking_table_parses_and_round_trips():
    model = load_model("spiking_trace_teacher_student")
    assert model.spiking.rate_offset == pytest.approx(40.0)
    assert model.spiking.tau_trace == pytest.approx(0.02)
    again = parse_model(__import__("tomllib").loads(dumps_model(model)))
    assert again.spiking == model.spiking
    assert "[spiking]" not in dumps_model(load_model("teacher_student"))


@pytest.mark.parametrize("key, value, fragment", [
    ("spiking.neuron", "hodgkin", "'poisson_rate', 'lif_rate'"),
    ("spiking.neuron", "poisson", "'poisson_rate'"),
    ("spiking.forward_update", "sometimes", "'spike', 'clock'"),
    ("spiking.tau_trace", "20", "time unit"),
    ("spiking.max_rate", "'900 Hz'", "0.5 / dt"),
    ("spiking.max_rate", "'30 Hz'", "rate_offset"),
    ("spiking.tau_mean", "'10 ms'", "tau_trace"),
    ("spiking.device", "gpu", "cpp_standalone"),
    ("spiking.colour", "1", "known key"),
    ("lateral.rule", "copi", "foldiak"),
])
def test_bad_spiking_parameters_name_key_value_and_allowed(key, value, fragment):
    err = override_error("spiking_trace_teacher_student", [f"{key}={value}"])
    assert err.key == key
    assert fragment in err.allowed


@pytest.mark.slow  # CI time; the spike-driven formulation's test of the same (test_spiking_lif.py) runs by default
def test_lateral_plasticity_decorrelates_spike_counts():
    base = simulate(load_model("spiking_trace_decorrelation",
                               ["protocol.presentations=100", "spiking.eta_lateral=0.0"]))
    before = _r_sc(base, "input", 0.0, 10.0)
    ds = simulate(load_model("spiking_trace_decorrelation", ["protocol.presentations=500"]))
    after = _r_sc(ds, "input", 40.0, 50.0)
    rates = _rates(ds, "input", 40.0, 50.0)
    print(f"r_sc before {before:.3f} after {after:.3f}; rates {rates.min():.1f}-{rates.max():.1f} Hz")
    assert 0.12 < before < 0.3
    assert after < 0.03
    assert 1.0 < rates.min() and rates.max() < 50.0
    m = ds["M_input"].values[-1]
    assert m.min() >= 0.0 and m.mean() > 0.0  # Dale: purely inhibitory lateral synapses


@pytest.mark.slow  # CI time; the spike-driven formulation's test of the same (test_spiking_lif.py) runs by default
def test_spiking_copi_matches_rate_backend_and_teacher():
    spk = simulate(load_model("spiking_trace_teacher_student"))
    rate = simulate(load_model("spiking_trace_teacher_student", ["backend=rate"]))  # the same model file
    teacher = spk["teacher_weights"].values
    np.testing.assert_allclose(teacher, rate["teacher_weights"].values)
    w_spk = effective_weights(spk["W_input_output"].values[-1], spk["M_input"].values[-1], foldiak=True)
    w_rate = effective_weights(rate["W_input_output"].values[-1], rate["M_input"].values[-1], foldiak=True)
    r_teacher = np.corrcoef(w_spk.ravel(), teacher.ravel())[0, 1]
    r_rate = np.corrcoef(w_spk.ravel(), w_rate.ravel())[0, 1]
    slope = np.polyfit(teacher.ravel(), w_spk.ravel(), 1)[0]
    print(f"r(spiking, teacher) = {r_teacher:.3f}, slope {slope:.3f}, r(spiking, rate) = {r_rate:.3f}")
    assert r_teacher >= 0.9 and r_rate >= 0.9
    # the event-driven rule reads the trace before the spike's own jump, so shot noise does not
    # shrink the weights (measured r = 0.938, slope 0.84, r(spiking, rate) = 0.94; the clock-driven
    # rule on traces gives slope 0.31)
    assert abs(slope - 1.0) <= 0.2
    loss = spk["weights_test_loss"].values  # a regression task: the read-out of the learned weights
    assert loss[-1] < 0.7 * loss[0]
    assert spk["mean_spike_count_corr_input"].values[-1] < spk["mean_spike_count_corr_input"].values[1]


def test_spikes_stored_and_netcdf_round_trip(tmp_path):
    model = load_model("spiking_trace_teacher_student", ["protocol.presentations=30", "protocol.eval_every=10",
                                                  "recording.variables=['u', 'r']", "recording.trials=1"])
    ds = simulate(model)
    assert ds.attrs["backend"] == "spiking"
    for pop, n in (("input", 30), ("output", 5)):
        t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
        assert t.size > 0 and t.size == i.size and ds[f"spike_time_{pop}"].dims == (f"spike_{pop}",)
        assert 0.0 <= t.min() and t.max() < 3.0 and 0 <= i.min() and i.max() < n
        rate = ds[f"rate_{pop}"]
        assert rate.dims == ("time_bin", f"neuron_{pop}") and rate.attrs["units"] == "Hz"
        assert rate.values.sum() * 1.0 == pytest.approx(t.size)  # 1 s bins
    assert ds["W_input_output"].dims == ("t_weights", "neuron_output", "neuron_input")
    assert ds["M_input"].dims == ("t_weights", "neuron_input", "neuron_input_pre")
    assert ds["u_output"].dims == ("time", "trial", "neuron_output")
    assert list(ds["presentation"].values) == [0, 10, 20, 30]
    path = save_result(ds, tmp_path / "spk.nc")
    back = open_result(path)
    for name in ("spike_time_input", "spike_index_output", "rate_input", "W_input_output", "weights_test_loss"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)


def test_neo_conversion_works_with_elephant(tmp_path):
    import elephant.statistics as elephant_stats

    from copi_bio.analysis.correlations import to_neo

    ds = simulate(load_model("spiking_trace_teacher_student", ["protocol.presentations=20",
                                                        "protocol.eval_every=10"]))
    trains = to_neo(ds, "input")
    assert len(trains) == 30
    assert sum(len(st) for st in trains) == ds.sizes["spike_input"]
    rates = [float(elephant_stats.mean_firing_rate(st).rescale("Hz")) for st in trains]
    assert 20.0 < np.mean(rates) < 60.0


def test_lif_neurons_spike_and_learn_finitely():
    ds = simulate(load_model("spiking_trace_teacher_student", ["spiking.neuron=lif_rate", "protocol.presentations=30",
                                                        "protocol.eval_every=10"]))
    assert 10.0 < ds["mean_rate_output"].values[-1] < 120.0
    assert np.all(np.isfinite(ds["W_input_output"].values))


def test_hidden_layer_with_feedback_alignment_builds_and_runs():
    data, path = read_model_table("spiking_trace_teacher_student")
    data["populations"].insert(1, {"name": "hidden", "size": 6, "tau": "2 ms", "transfer": "tanh"})
    data["plasticity"]["init"] = "xavier"
    data["feedback"]["mode"] = "fa"
    data["protocol"].update(presentations=20, eval_every=10)
    ds = simulate(parse_model(data, str(path)))
    assert ds["W_input_hidden"].shape == (3, 6, 30) and ds["W_hidden_output"].shape == (3, 5, 6)
    assert np.all(np.isfinite(ds["weights_test_loss"].values))
    assert ds["mean_rate_hidden"].values[-1] > 1.0


@pytest.mark.slow
def test_cpp_standalone_device_runs(tmp_path):
    model = load_model("spiking_trace_teacher_student", ["spiking.device=cpp_standalone", "protocol.presentations=20",
                                                  "protocol.eval_every=10", f"spiking.build_dir='{tmp_path}'"])
    ds = simulate(model)
    assert ds.attrs["brian2_device"] == "cpp_standalone"
    assert np.all(np.isfinite(ds["W_input_output"].values))
    assert 20.0 < ds["mean_rate_input"].values[-1] < 60.0
    # runtime afterwards still works in the same process
    ds2 = simulate(load_model("spiking_trace_teacher_student", ["protocol.presentations=10", "protocol.eval_every=10"]))
    assert ds2.attrs["brian2_device"] == "runtime"


@pytest.mark.slow
def test_spiking_digits_learns():
    ds = simulate(load_model("spiking_trace_digits"))
    acc = ds["weights_test_accuracy"].values
    spikes = float(ds["test_accuracy"].values[-1])
    print(f"spiking digits accuracy of the weights {acc[0]:.3f} -> {acc[-1]:.3f}, from spikes {spikes:.3f}")
    assert acc[0] < 0.2 and acc[-1] > 0.8


@pytest.mark.slow
def test_spiking_digits_with_hidden_layer_learns():
    """The 64-100-10 network in the trace formulation: measured 0.675 after 200 s (accuracy still
    rising slowly; the 64-10 read-out reaches 0.89). The issue's 90 % target is asserted for the
    spike-driven formulation (tests/test_spiking_lif.py), which comes closer."""
    ds = simulate(load_model("spiking_trace_digits_hidden"))
    acc = ds["weights_test_accuracy"].values
    spikes = float(ds["test_accuracy"].values[-1])
    print(f"spiking digits 64-100-10 accuracy of the weights {acc[0]:.3f} -> {acc[-1]:.3f}, from spikes {spikes:.3f}")
    assert acc[0] < 0.2 and acc[-1] >= 0.6
