"""Spike-driven chain models (``spiking.neuron = "lif_spike"``; real Brian2, no mocks).

Poisson input neurons, two-compartment LIF neurons, synapses that pass
spikes, event-driven forward and lateral plasticity (docs/spiking.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import override_error
from copi_bio import SimulationError, load_model, simulate
from copi_bio.initial import effective_weights, seeded_generators
from copi_bio.modelfile import parse_model, read_model_table
from copi_bio.tasks import build_task

MODEL = "spiking_lif_teacher_student"


@pytest.fixture(scope="module")
def teacher_runs(tmp_path_factory):
    """The spike-driven teacher-student model on the spiking backend (200 s simulated,
    cpp_standalone) and the same file on the rate backend, integrated there at dt = 1 ms (its
    time constants are >= 2 ms; at the file's 0.1 ms it takes 10x longer for the same weights)."""
    build = tmp_path_factory.mktemp("lif_build")
    spk = simulate(load_model(MODEL, [f"spiking.build_dir='{build}'"]))
    rate = simulate(load_model(MODEL, ["backend=rate", "protocol.dt='1 ms'"]))
    return spk, rate


def _effective(ds) -> np.ndarray:
    return effective_weights(ds["W_input_output"].values[-1], ds["M_input"].values[-1], foldiak=True)


def test_spike_driven_copi_recovers_the_teacher_and_matches_the_rate_backend(teacher_runs):
    spk, rate = teacher_runs
    teacher = spk["teacher_weights"].values
    np.testing.assert_allclose(teacher, rate["teacher_weights"].values)
    w_spk, w_rate = _effective(spk), _effective(rate)
    r_teacher = np.corrcoef(w_spk.ravel(), teacher.ravel())[0, 1]
    slope = np.polyfit(teacher.ravel(), w_spk.ravel(), 1)[0]
    r_rate = np.corrcoef(w_spk.ravel(), w_rate.ravel())[0, 1]
    print(f"spike-driven: r(teacher) = {r_teacher:.3f}, slope {slope:.3f}, r(rate backend) = {r_rate:.3f}")
    # the Dataset's metrics at the last evaluation are the same numbers, computed from the final weights
    assert float(spk["teacher_r"][-1]) == pytest.approx(r_teacher, rel=1e-9)
    assert float(spk["teacher_slope"][-1]) == pytest.approx(slope, rel=1e-9)
    assert float(rate["teacher_r"][-1]) == pytest.approx(np.corrcoef(w_rate.ravel(), teacher.ravel())[0, 1], rel=1e-9)
    # issue targets; measured r = 0.954, slope 0.935, r(rate backend) = 0.952
    assert r_teacher >= 0.9 and r_rate >= 0.9
    assert abs(slope - 1.0) <= 0.2
    loss = spk["weights_test_loss"].values  # a regression task: the read-out of the learned weights
    assert loss[-1] < 0.3 * loss[0]


def test_spike_driven_lateral_inhibition_decorrelates_and_obeys_dale(teacher_runs):
    spk, _ = teacher_runs
    corr = spk["mean_spike_count_corr_input"].values  # 100 ms windows, per 40 s interval
    print(f"input r_sc per interval: {np.round(corr, 3)}")
    # inputs correlated at rho = 0.3: measured r_sc 0.057 in the first interval (M still growing), 0.017 at the end
    assert corr[-1] < 0.03 < corr[1]
    m = spk["M_input"].values
    assert m.min() >= 0.0 and m[-1].mean() > 0.0  # purely inhibitory lateral synapses
    # input neurons fire near rate_offset (40 Hz); LIF outputs near it too (their drive is f(u) = u ~ 0)
    assert 30.0 < spk["mean_rate_input"].values[-1] < 50.0
    assert 30.0 < spk["mean_rate_output"].values[-1] < 55.0


def _hidden_model(seed: int = 1):
    """The teacher task with a hidden LIF layer and fixed random feedback, 0.5 s on the runtime device."""
    data, path = read_model_table(MODEL)
    data["populations"].insert(1, {"name": "hidden", "size": 8, "tau": "5 ms", "transfer": "tanh"})
    data["plasticity"]["init"] = "xavier"
    data["feedback"]["mode"] = "fa"
    data["protocol"].update(presentations=5, eval_every=5)
    data["spiking"]["device"] = "runtime"
    data["seed"] = seed
    return parse_model(data, str(path))


def test_hidden_lif_layer_builds_runs_and_fires_at_its_rate():
    ds = simulate(_hidden_model())
    assert ds["W_input_hidden"].shape == (2, 8, 30) and ds["W_hidden_output"].shape == (2, 5, 8)
    assert np.all(np.isfinite(ds["weights_test_loss"].values))
    assert not np.allclose(ds["W_input_hidden"].values[-1], ds["W_input_hidden"].values[0])
    # tanh(u) ~ 0 at the start: the LIF spike-initiation zone fires near rate_offset = 40 Hz
    assert 25.0 < ds["mean_rate_hidden"].values[-1] < 60.0
    t = ds["spike_time_hidden"].values
    isi = np.diff(np.sort(t[ds["spike_index_hidden"].values == 0]))
    assert isi.min() >= 2e-3 - 1e-9  # refractoriness


def test_same_seed_same_spikes_and_weights():
    a, b, c = simulate(_hidden_model()), simulate(_hidden_model()), simulate(_hidden_model(seed=2))
    for name in ("spike_time_hidden", "spike_index_output", "W_input_hidden", "M_input"):
        assert np.array_equal(a[name].values, b[name].values), name
    assert not np.array_equal(a["spike_time_hidden"].values, c["spike_time_hidden"].values)


def _prediction_model(gamma: float):
    """The teacher task in the prediction formulation, plasticity off, 0.8 s on the runtime device.

    Outputs at 100 Hz + 20 Hz a, so that the recorded rate gives the forward prediction exactly
    where it is not clipped: ``a = (rate - 100 Hz) / 20 Hz`` (linear output, no lateral inhibition)."""
    data, path = read_model_table(MODEL)
    data["feedback"].update(perturbation="prediction", gamma=gamma)
    data["plasticity"].update(rule="none", init="xavier")
    data["lateral"]["rule"] = "none"
    data["protocol"].update(presentations=8, eval_every=8)
    data["recording"].update(variables=["u", "delta", "r"], trials=1, interval="1 ms")
    data["spiking"].update(device="runtime", rate_offset="100 Hz", rate_scale="20 Hz", max_rate="400 Hz",
                           input_rate_offset="40 Hz", input_rate_scale="25 Hz")
    return parse_model(data, str(path))


def test_prediction_perturbation_is_gamma_times_the_prediction_error():
    gamma, steps = 4.0, 100  # samples per presentation (1 ms)
    model = _prediction_model(gamma)
    ds = simulate(model)
    task_rng, _, data_rng = seeded_generators(model.seed)
    _, target = build_task(model.task, 30, 5, task_rng).batch(data_rng, 8)
    target = np.repeat(target, steps, axis=0)
    rate, u, delta = (ds[f"{v}_output"].values[:, 0] for v in ("r", "u", "delta"))
    a = (rate - 100.0) / 20.0
    inside = (rate > 0.0) & (rate < 400.0)
    assert inside.mean() > 0.9  # measured 0.966: spike noise (std of a ~2) crosses a = -5 now and then
    # the perturbation is computed from the prediction that sets the rate, with gain gamma (exact)
    np.testing.assert_allclose(delta[inside], gamma * (target - a)[inside], atol=1e-6)
    # the soma carries it: tau_u d(u - a)/dt = -(u - a) + delta. Averaged over the settled half of
    # each presentation (50 ms), u - a differs from delta by tau_u / 50 ms = 4 % of its change over the
    # window, while a itself fluctuates with spike noise (std ~2, tau_syn 5 ms)
    window = np.arange(len(a)) % steps >= steps // 2
    pres = np.arange(len(a)) // steps

    def means(v):
        return np.array([v[window & (pres == p)].mean(axis=0) for p in range(8)]).ravel()

    soma, error = means(u - a), means(target - a)
    slope = np.polyfit(error, soma, 1)[0]
    print(f"u - a against the prediction error: slope {slope:.3f} (gamma = {gamma}), "
          f"r = {np.corrcoef(error, soma)[0, 1]:.4f}")
    # measured slope 4.06, r 0.997; self-consistent nudging would give gamma / (1 + gamma) = 0.8
    assert abs(slope - gamma) <= 0.05 * gamma
    assert np.corrcoef(error, soma)[0, 1] > 0.98
    # the perturbation moves only the soma: without it the neurons emit the very same spikes
    plain = simulate(_prediction_model(0.0))
    for name in ("spike_time_output", "spike_index_output"):
        assert np.array_equal(ds[name].values, plain[name].values), name


def test_prediction_formulation_is_refused_by_the_trace_formulation():
    err = override_error(MODEL, ["spiking.neuron=poisson_rate", "feedback.perturbation=prediction"])
    assert err.key == "feedback.perturbation" and "lif_spike" in err.allowed


def test_prediction_formulation_needs_dt_within_the_somatic_time_constants():
    err = override_error(MODEL, ["feedback.perturbation=prediction", "populations.output.tau='0.05 ms'"])
    assert err.key == "protocol.dt" and "populations[1].tau = 0.05 ms" in err.allowed


@pytest.mark.parametrize("overrides, key, fragment", [
    (["protocol.dt='2 ms'"], "protocol.dt", "tau_syn / 5"),
    (["spiking.forward_update=clock"], "spiking.forward_update", "event-driven"),
    (["spiking.max_rate='600 Hz'"], "spiking.max_rate", "1 / spiking.refractory"),
    (["spiking.tau_syn='0 ms'"], "spiking.tau_syn", "positive"),
    (["spiking.input_rate_offset='200 Hz'"], "spiking.max_rate", "input_rate_offset"),
    (["spiking.neuron=lif"], "spiking.neuron", "'lif_spike'"),
    (["spiking.neuron=poisson_rate", "spiking.forward_centring=mean_rate"], "spiking.forward_centring",
     "spike-driven forward rule"),
])
def test_bad_spike_driven_values_name_key_value_and_allowed(overrides, key, fragment):
    err = override_error(MODEL, overrides)
    assert err.key == key
    assert fragment in err.allowed


@pytest.mark.slow
def test_spike_driven_digits_with_hidden_layer_reaches_90_percent(tmp_path):
    """The 64-100-10 network, spike-driven formulation with prediction-error perturbations (600 s
    simulated, ~4 min). Seeds 1-12 end at 0.922 +- 0.005 (0.911-0.931, docs/spiking.md); seed 1 (the
    file's) measured 0.108 -> 0.914, so a bound of 90 % leaves 0.014, about three seed-to-seed standard
    deviations, for other compilers' floating-point differences."""
    ds = simulate(load_model("spiking_lif_digits_prediction", [f"spiking.build_dir='{tmp_path}'"]))
    acc = ds["weights_test_accuracy"].values
    spikes = float(ds["test_accuracy"].values[-1])
    print(f"spike-driven digits 64-100-10: weights' read-out {acc[0]:.3f} -> {acc[-1]:.3f} (max {acc.max():.3f}), "
          f"from spikes {spikes:.3f}")
    assert acc[-1] >= 0.9  # the weights' read-out; from spikes over seeds 1-5: docs/spiking.md


COPIES = "spiking_lif_digits_copies"


@pytest.mark.slow  # 65 s; shared tables are covered by tests/test_shared_weights.py in the default run
def test_spiking_digits_with_parallel_copies_learns_in_a_short_run(tmp_path):
    """The 16-copy digits model, reduced to 4 copies and 20 s (80 copy-seconds of samples). Its
    ``gamma = 50`` needs the centred forward rule: without it the weights run away within a second
    (the slow test below)."""
    ds = simulate(load_model(COPIES, ["protocol.trials=4", "protocol.presentations=200", "protocol.eval_every=100",
                                      "protocol.anneal=100", "spiking.test_present='100 ms'",
                                      f"spiking.build_dir='{tmp_path}'"]))
    acc = ds["weights_test_accuracy"].values
    spikes = float(ds["test_accuracy"].values[-1])
    print(f"4 copies, 20 s: weights' read-out {np.round(acc, 3)}, from spikes {spikes:.3f}")
    assert ds.attrs["trials"] == 4 and ds["W_input_hidden"].shape[1:] == (100, 64)
    # the first copy's stimuli are stored, one 8x8 image (pixels in [0, 1]) per presentation
    shown = ds["stimulus_input"].values
    assert shown.shape == (200, 64) and shown.min() >= 0.0 and shown.max() == 1.0
    assert ds["stimulus_input"].attrs["t_present"] == pytest.approx(0.1)
    assert len(np.unique(shown, axis=0)) > 150  # epoch-wise shuffling of 1437 training images
    # measured: the weights' read-out 0.100 -> 0.811 (10 s) -> 0.883 (20 s); from the network's spikes in
    # the test phase (360 held-out images, 50 ms counting windows) 0.683; chance is 0.1
    assert acc[-1] > 0.75 and spikes > 0.55


@pytest.mark.slow
def test_uncentred_forward_rule_runs_away_at_the_digits_models_gamma(tmp_path):
    """``gamma = 50`` without ``forward_centring``: the spike train's mean rate times the cell's own
    response makes the weights run away within a second of learning (docs/spiking.md, "Centring the
    forward rule"); the shipped, centred file learns with the same 4 copies (the test above; 2 copies
    run away even centred, from the per-spike noise)."""
    with pytest.raises(SimulationError) as info:
        simulate(load_model(COPIES, ["protocol.trials=4", "protocol.presentations=30", "protocol.eval_every=5",
                                     "spiking.forward_centring=none", f"spiking.build_dir='{tmp_path}'"]))
    assert info.value.variable == "W" and info.value.time <= 1.0
    assert "spiking.forward_centring = 'mean_rate'" in str(info.value)  # the remedy is named


@pytest.fixture(scope="module")
def copies_run(tmp_path_factory):
    """The shipped 16-copy digits model (200 s simulated, ~6 min), run once for the slow tests."""
    return simulate(load_model(COPIES, [f"spiking.build_dir='{tmp_path_factory.mktemp('copies')}'"]))


@pytest.mark.slow
def test_spiking_digits_reach_97_percent(copies_run):
    """The weights' read-out of seeds 1-5 ends at 0.975, 0.975, 0.967, 0.978, 0.978 (mean 0.974) and the
    network's spikes at 0.961, 0.942, 0.950, 0.964, 0.958 (mean 0.955; docs/spiking.md). Seed 1 (the
    file's): 0.975 and 0.961; the bounds leave 0.005, about one seed-to-seed standard deviation, for
    other compilers' floating-point differences. (A spike-read mean of 0.965 over seeds is not reached.)"""
    acc = copies_run["weights_test_accuracy"].values
    spikes = float(copies_run["test_accuracy"].values[-1])
    print(f"16 copies: weights' read-out {acc[0]:.3f} -> {acc[-1]:.3f} (max {acc.max():.3f}), from spikes {spikes:.3f}")
    assert acc[-1] >= 0.97
    assert spikes >= 0.955
    # bounded weights: measured largest |W| 1.71 (input -> hidden) and 0.53; a runaway passes 1e8 in a second
    for name in ("W_input_hidden", "W_hidden_output"):
        assert np.abs(copies_run[name].values).max() < 5.0


@pytest.mark.slow
def test_one_network_reads_out_at_95_percent_from_its_spikes(tmp_path):
    """spiking_lif_digits: one network, no copies, 64 000 training samples (6400 s simulated, about 12
    min alone on 2 cores), then 360 held-out images for 1 s each. Seed 1 (the file's) measured 0.958 from
    its spikes and 0.967 from its weights (docs/spiking.md); 0.95 leaves 0.008, about one seed-to-seed
    standard deviation."""
    ds = simulate(load_model("spiking_lif_digits", [f"spiking.build_dir='{tmp_path}'"]))
    spikes = float(ds["test_accuracy"].values[-1])
    print(f"one network: from spikes {spikes:.3f}, weights' read-out {float(ds['weights_test_accuracy'][-1]):.3f}")
    assert ds.attrs["trials"] == 1
    assert spikes >= 0.95
