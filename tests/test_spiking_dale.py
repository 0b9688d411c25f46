"""The Dale circuit (``spiking.dale = "circuit"``): principal cells that only excite, decorrelated by
plastic interneurons, excitatory forward weights with feedforward inhibition (real Brian2, no mocks;
docs/spiking.md, "A Dale circuit")."""

from __future__ import annotations

import numpy as np
import pytest

from copi_bio import load_model, simulate
from copi_bio.errors import ModelError
from copi_bio.initial import effective_weights
from copi_bio.spiking.chain import dale

MODEL = "spiking_dale_teacher_student"
SHORT = ["protocol.presentations=1600", "protocol.eval_every=400", "protocol.forward_onset=400",
         "protocol.anneal=0"]


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory):
    """160 s of the shipped circuit, and the same run with the interneuron synapses frozen at 0
    (nothing decorrelates): the reference for the input's spike-count correlation."""
    build = tmp_path_factory.mktemp("dale_build")
    where = [f"spiking.build_dir='{build}'"]
    learn = simulate(load_model(MODEL, SHORT + where))
    frozen = simulate(load_model(MODEL, SHORT + where + ["spiking.eta_lateral=0"]))
    return learn, frozen


def test_interneurons_decorrelate_the_input_by_more_than_half(short_runs):
    learn, frozen = short_runs
    before = float(frozen["mean_spike_count_corr_input"][-1])
    after = float(learn["mean_spike_count_corr_input"][-1])
    # Gaussian inputs with rho = 0.3 at 40 +- 25 Hz give r_sc(100 ms) of about 0.17 without inhibition
    assert 0.1 < before < 0.25
    assert after < 0.5 * before


def test_no_synapse_changes_sign_and_the_lateral_matrix_is_a_loop_free_cone(short_runs):
    learn, _ = short_runs
    c = load_model(MODEL).spiking.forward_offset
    w_signed = learn["W_input_output"].values  # w - c at every snapshot
    assert np.all(w_signed >= -c - 1e-12)  # excitatory weights w = (w - c) + c stay >= 0
    assert np.all(w_signed[-1] > -c)  # and none sits at the clip after learning
    m = learn["M_input"].values[-1]  # V A
    assert np.all(m >= 0) and m.max() > 0.02
    np.testing.assert_allclose(np.diag(m), 0.0, atol=1e-12)  # no interneuron inhibits a cell it receives from


def test_the_circuit_learns_toward_the_teacher_and_needs_decorrelation(short_runs):
    learn, frozen = short_runs
    w_eff = effective_weights(learn["W_input_output"].values[-1], learn["M_input"].values[-1], foldiak=True)
    teacher = learn["teacher_weights"].values
    r = np.corrcoef(w_eff.ravel(), teacher.ravel())[0, 1]
    assert r == pytest.approx(float(learn["teacher_r"][-1]), abs=1e-9)
    assert r > 0.6  # 0.77 (seed 1) after 120 s of forward learning at 0.015 /s, unannealed (frozen: 0.36)
    # without decorrelation the COPI rule's common mode runs off the teacher (criterion D)
    assert float(frozen["teacher_r"][-1]) < r - 0.2


def test_interneuron_stage_reads_out_v_times_a():
    stage = dale.InterneuronStage(table=None, n_pre=2, n_post=3, objects=[],
                                  fan_in=np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    v = np.array([[0.5, 0.0, 0.0], [0.0, 0.2, 0.3]])  # (n_I, n): interneuron-major table
    np.testing.assert_allclose(stage.matrix(v.ravel()), v.T @ stage.fan_in)


def test_the_circuit_needs_the_spike_driven_formulation():
    with pytest.raises(ModelError, match="spiking.dale = 'circuit' is invalid"):
        load_model(MODEL, ["spiking.neuron='lif_rate'", "feedback.perturbation='nudging'",
                           "protocol.dt='1 ms'", "spiking.tau_trace='20 ms'"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_shipped_dale_teacher_model(seed):
    """The shipped model (90 interneurons, 2000 s simulated with annealed plasticity, about 75 s): r 0.964
    / 0.924 for seeds 1 / 2 (seeds 3-5: 0.908, 0.977, 0.925, docs/spiking.md), slope within 20 %, no
    forward synapse at its clip, and the input's r_sc (100 ms) below 0.02 (0.17 without decorrelation)."""
    ds = simulate(load_model(MODEL, [f"seed={seed}"]))
    assert float(ds["teacher_r"][-1]) >= 0.9
    assert abs(float(ds["teacher_slope"][-1]) - 1.0) < 0.2
    c = load_model(MODEL).spiking.forward_offset
    assert np.all(ds["W_input_output"].values > -c)
    assert float(ds["mean_spike_count_corr_input"][-1]) < 0.02


@pytest.mark.slow
def test_digits_dale_circuit_runs_with_two_interneuron_stages(tmp_path):
    """The digits variant (input and hidden layers decorrelated by interneurons, two excitatory forward
    connections with feedforward inhibition) builds and learns for 30 s of simulated time (about 65 s
    with its build, so it is kept out of the default suite; the teacher tests above cover the circuit)."""
    ds = simulate(load_model("spiking_dale_digits", [
        "protocol.presentations=300", "protocol.eval_every=150", "protocol.forward_onset=150",
        f"spiking.build_dir='{tmp_path}'"]))
    for name in ("M_input", "M_hidden"):
        m = ds[name].values[-1]
        assert m.shape[0] == m.shape[1] and np.all(m >= 0) and m.max() > 0
        np.testing.assert_allclose(np.diag(m), 0.0, atol=1e-12)
    assert np.all(ds["W_input_hidden"].values[-1] >= -0.5 - 1e-12)
    # the hidden layer's r_sc (100 ms) is 0.75 at 30 s with the interneuron synapses frozen (measured;
    # the input's is near 0 either way: most pixels never change)
    assert float(ds["mean_spike_count_corr_hidden"][-1]) < 0.5 * 0.75
    assert 0.0 <= float(ds["test_accuracy"][-1]) <= 1.0
