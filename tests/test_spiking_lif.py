"""Spike-driven chain models (``spiking.neuron = "lif_spike"``; real Brian2, no mocks).

Poisson input neurons, two-compartment LIF neurons, synapses that pass
spikes, event-driven forward and lateral plasticity (docs/spiking.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from copi_bio import load_model, simulate
from copi_bio.errors import ModelError
from copi_bio.initial import effective_weights
from copi_bio.modelfile import parse_model, read_model_table

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
    # issue targets; measured r = 0.954, slope 0.935, r(rate backend) = 0.952
    assert r_teacher >= 0.9 and r_rate >= 0.9
    assert abs(slope - 1.0) <= 0.2
    loss = spk["test_loss"].values
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
    assert np.all(np.isfinite(ds["test_loss"].values))
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


@pytest.mark.parametrize("override, key, fragment", [
    ("protocol.dt='2 ms'", "protocol.dt", "tau_syn / 5"),
    ("spiking.forward_update=clock", "spiking.forward_update", "event-driven"),
    ("spiking.max_rate='600 Hz'", "spiking.max_rate", "1 / spiking.refractory"),
    ("spiking.tau_syn='0 ms'", "spiking.tau_syn", "positive"),
    ("spiking.input_rate_offset='200 Hz'", "spiking.max_rate", "input_rate_offset"),
    ("spiking.neuron=lif", "spiking.neuron", "'lif_spike'"),
])
def test_bad_spike_driven_values_name_key_value_and_allowed(override, key, fragment):
    with pytest.raises(ModelError) as err:
        load_model(MODEL, [override])
    assert err.value.key == key
    assert fragment in err.value.allowed


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 10 target not reached yet: 0.858 measured (0.881 at best)")
def test_spike_driven_digits_with_hidden_layer_reaches_90_percent(tmp_path):
    """Issue target for the 64-100-10 network, spike-driven formulation. Not reached: measured
    0.108 -> 0.858 after 200 s (highest 0.881 at 160 s; the rate backend gets 0.90-0.94 from the
    same file); what was tried is listed in docs/spiking.md."""
    ds = simulate(load_model("spiking_lif_digits_hidden", [f"spiking.build_dir='{tmp_path}'"]))
    acc = ds["test_accuracy"].values
    print(f"spike-driven digits 64-100-10 accuracy {acc[0]:.3f} -> {acc[-1]:.3f} (max {acc.max():.3f})")
    assert acc[-1] >= 0.9
