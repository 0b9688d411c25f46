"""Parallel copies of a spike-driven chain sharing one weight table (real Brian2, runtime device)."""

from __future__ import annotations

import brian2 as b2
import numpy as np
import pytest

from conftest import override_error
from copi_bio import load_model, simulate
from copi_bio.initial import effective_weights
from copi_bio.metrics import teacher_agreement
from copi_bio.spiking import plasticity
from copi_bio.spiking.chain import shared_weights


@pytest.fixture()
def runtime_device():
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    yield
    b2.start_scope()


def test_copies_transmit_through_one_table_and_learn_its_mean_update(runtime_device):
    """Two copies of a 2 -> 3 connection; spikes at known times; the rule ``w += u_q / copies``."""
    copies, n_pre, n_post, dt = 2, 2, 3, 1e-4
    # copy 0 cell 0 at 1 ms and again at 3 ms; copy 1 cell 0 at 1 ms, copy 1 cell 1 at 2 ms
    pre = b2.SpikeGeneratorGroup(copies * n_pre, [0, 2, 3, 0], [1, 1, 2, 3] * b2.ms, dt=dt * b2.second)
    post = b2.NeuronGroup(copies * n_post, "u : 1\nI : 1", dt=dt * b2.second)
    u = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])  # (copy, cell)
    post.u = u.ravel()
    table = shared_weights.table_group("table", "w", np.zeros(n_pre * n_post), dt)
    pairs = shared_weights.copy_pairs(copies, n_pre, n_post)
    tx = shared_weights.transmission(pre, post, table, "w", "I_post += w", pairs, {}, dt, "tx")
    learn = shared_weights.learning(pre, table, {"u_q": (post, "u", "1")}, pairs[0], pairs[2], pairs[1],
                                    "w_post += u_q / copies", {"copies": copies}, dt, "learn")
    b2.Network(pre, post, table, tx, learn).run(5 * b2.ms)
    w = shared_weights.SharedTable(table, n_pre, n_post, []).matrix(table.w[:])
    # cell 0: three spikes (copy 0 twice, copy 1 once); cell 1: one spike of copy 1
    np.testing.assert_allclose(w[:, 0], (2 * u[0] + u[1]) / copies)
    np.testing.assert_allclose(w[:, 1], u[1] / copies)
    # transmission reads the table before the same step's update: the spikes at 1 and 2 ms pass w = 0,
    # the second spike of copy 0 passes the mean update of the first three; copy 1 receives nothing
    np.testing.assert_allclose(post.I[:].reshape(copies, n_post), [(u[0] + u[1]) / copies, np.zeros(n_post)])


@pytest.mark.parametrize("dale", [False, True])
def test_centring_subtracts_the_rule_at_the_presynaptic_mean_rate(runtime_device, dale):
    """``forward_centring = "mean_rate"``, no spikes: every ``summation_dt`` a table element moves by
    ``-eta_w gate step / copies sum_c rate_bar_c / rs ((u_c - ubar_c) - w_s activity_c)``, with
    ``w_s = w`` (or ``w - w_offset``, then clipped at ``w >= 0``: the Dale circuit), integrated here by
    hand step by step; the gate is 1 for 4 ms, then 0.5."""
    copies, n_pre, n_post, dt, step, eta, rs, offset = 2, 2, 3, 1e-4, 1e-3, 2.0, 50.0, 0.3
    pre = b2.NeuronGroup(copies * n_pre, "rate_bar : Hz\nactivity : 1", threshold="False", dt=dt * b2.second)
    rate_bar = np.array([[40.0, 80.0], [20.0, 60.0]])  # (copy, cell), Hz
    activity = np.array([[0.5, -1.0], [1.5, 0.25]])
    pre.rate_bar, pre.activity = rate_bar.ravel() * b2.Hz, activity.ravel()
    post = b2.NeuronGroup(copies * n_post, "u : 1\nubar : 1", dt=dt * b2.second)
    u = np.array([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]])
    post.u, post.ubar = u.ravel(), 0.25
    w0 = np.array([[0.1, 0.6], [0.02, -0.2], [0.4, 0.01]])  # (post, pre)
    table = shared_weights.table_group("table", "w", w0.T.ravel(), dt, centring=True)
    pairs = shared_weights.copy_pairs(copies, n_pre, n_post)
    ns = {"eta_w": eta * b2.Hz, "gate_w": b2.TimedArray([1.0, 0.5], dt=4 * b2.ms), "copies": copies,
          "rs": rs * b2.Hz, "w_offset": offset}
    rule = plasticity.copi_forward_dale(centred=True) if dale else plasticity.copi_forward(centred=True)
    reads = {"u_q": (post, "u", "1"), "ubar_q": (post, "ubar", "1")}
    syn = shared_weights.centring_synapses(pre, table, reads, pairs, rule, ns, step, "centre")
    b2.Network(pre, post, table, syn).run(10 * b2.ms)
    w = w0.copy()
    for k in range(10):
        signed = w - offset if dale else w
        drift = sum(np.outer(u[c] - 0.25, np.ones(n_pre)) * (rate_bar[c] / rs)[None, :]
                    - signed * (rate_bar[c] * activity[c] / rs)[None, :] for c in range(copies)) / copies
        w = w - eta * (1.0 if k < 4 else 0.5) * step * drift
        if dale:
            w = np.clip(w, 0.0, None)
    got = shared_weights.SharedTable(table, n_pre, n_post, []).matrix(table.w[:])
    np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12)
    if dale:
        assert (got == 0.0).any()  # the clip acted
    assert syn.clock.dt == step * b2.second


@pytest.mark.slow  # 55 s; the digits copies test in the default run covers shared tables
def test_parallel_copies_of_the_teacher_model_share_weights_and_average_noise(tmp_path):
    """4 copies against 1 on 40 s of the spike-driven teacher-student model: the same table shapes,
    and the mean update of 4 copies agrees better with the teacher (less spike and sample noise)."""
    runs = {}
    for copies in (1, 4):
        model = load_model("spiking_lif_teacher_student",
                           [f"protocol.trials={copies}", "protocol.presentations=400", "protocol.eval_every=200",
                            f"spiking.build_dir='{tmp_path / str(copies)}'"])
        runs[copies] = simulate(model)
    one, four = runs[1], runs[4]
    assert four["W_input_output"].shape == one["W_input_output"].shape == (3, 5, 30)
    assert four["M_input"].shape == (3, 30, 30) and float(four["M_input"].min()) >= 0.0
    assert np.all(np.diag(four["M_input"].values[-1]) == 0.0)  # no self-inhibition
    r1, r4 = float(one["teacher_r"][-1]), float(four["teacher_r"][-1])
    print(f"teacher r after 40 s: 1 copy {r1:.3f}, 4 copies {r4:.3f}")
    # measured: 1 copy 0.83, 4 copies 0.89 (the same learning rate; the mean of 4 updates is less noisy)
    assert r4 > r1 + 0.02
    assert r4 > 0.85


def test_teacher_metrics_equal_a_direct_computation_from_the_saved_weights():
    ds = simulate(load_model("teacher_student", ["protocol.presentations=300", "protocol.eval_every=100"]))
    lateral = "M_input" if "M_input" in ds else "R_input"
    for s in range(ds.sizes["t_eval"]):
        t = float(ds.t_eval[s])
        at = {"t_weights": t}
        w_eff = effective_weights(ds["W_input_output"].sel(at).values, ds[lateral].sel(at).values,
                                  foldiak=lateral.startswith("M"))
        teacher = ds["teacher_weights"].values
        r = np.corrcoef(w_eff.ravel(), teacher.ravel())[0, 1]
        slope = np.polyfit(teacher.ravel(), w_eff.ravel(), 1)[0]
        assert float(ds.teacher_r[s]) == pytest.approx(r, rel=1e-9, abs=1e-12)
        assert float(ds.teacher_slope[s]) == pytest.approx(slope, rel=1e-9, abs=1e-12)
    assert ds.teacher_r.values[-1] > 0.95


def test_teacher_agreement_of_a_scaled_map():
    teacher = np.arange(12.0).reshape(3, 4)
    out = teacher_agreement(0.5 * teacher + 1.0, teacher)
    assert out["teacher_r"] == pytest.approx(1.0) and out["teacher_slope"] == pytest.approx(0.5)
    assert np.isnan(teacher_agreement(teacher, np.ones((3, 4)))["teacher_r"])


def test_parallel_copies_need_the_spike_driven_formulation():
    err = override_error("spiking_trace_teacher_student", ["protocol.trials=2"])
    assert err.key == "protocol.trials" and "lif_spike" in str(err)
