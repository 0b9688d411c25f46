"""Accuracy read from spikes: the test phase of a spiking chain on a classification task (real Brian2
runs on the runtime device)."""

from __future__ import annotations

import numpy as np
import pytest

from copi_bio import load_model, simulate

# 64-10 digits (trace formulation), 20 training presentations of 50 ms, then 40 held-out images
SHORT = ["protocol.presentations=20", "protocol.eval_every=10", "protocol.t_present=50 ms",
         "protocol.t_settle=20 ms", "spiking.count_window=50 ms", "spiking.rate_bin=50 ms",
         "spiking.device=runtime", "spiking.test_images=40"]


@pytest.fixture(scope="module")
def run():
    return simulate(load_model("spiking_trace_digits", SHORT))


def test_the_spike_read_accuracy_is_the_one_counted_by_hand_from_the_stored_spikes(run):
    """Output spikes of test image k counted in [T + k t_present + t_settle, T + (k + 1) t_present), T the
    end of training; the class is the cell with the most spikes (ties at random among the tied cells)."""
    ds = run
    t_present, t_settle, train_end = 0.05, 0.02, 20 * 0.05
    times, cells = ds["spike_time_output"].values, ds["spike_index_output"].values
    counts = np.zeros((40, 10))
    for k in range(40):
        start = train_end + k * t_present
        sel = (times >= start + t_settle - 1e-9) & (times < start + t_present - 1e-9)
        counts[k] = np.bincount(cells[sel], minlength=10)
    np.testing.assert_array_equal(ds["test_spike_counts"].values, counts)
    prediction, labels = ds["test_prediction"].values, ds["test_label"].values
    for k in range(40):
        assert counts[k, prediction[k]] == counts[k].max()  # a tie is broken among the tied cells only
    assert float(ds["test_accuracy"].values[-1]) == pytest.approx(np.mean(prediction == labels))
    decoded = (counts / (t_present - t_settle) - 5.0) / 80.0  # the file's rate_offset and rate_scale
    targets = np.eye(10)[labels]
    assert float(ds["test_loss"].values[-1]) == pytest.approx(np.mean((targets - decoded) ** 2))
    # only the end of the run has a spike-read accuracy; the weights' read-out is at every evaluation
    assert np.isnan(ds["test_accuracy"].values[:-1]).all() and np.isfinite(ds["weights_test_accuracy"].values).all()
    # the test phase follows the training: the stored stimuli and metrics end with the training
    assert ds.sizes["presentations"] == 20 and float(ds["t_eval"].values[-1]) == pytest.approx(train_end)
    assert ds.attrs["spike_duration"] == pytest.approx(train_end + 40 * t_present)


def test_the_test_phase_learns_nothing(run):
    """Plasticity is off in the test phase: the weights at its end are those at the end of training,
    which the last snapshot (at the end of training) holds."""
    again = simulate(load_model("spiking_trace_digits", [*SHORT[:-1], "spiking.test_images=0"]))
    np.testing.assert_array_equal(again["W_input_output"].values[-1], run["W_input_output"].values[-1])
    np.testing.assert_array_equal(again["M_input"].values[-1], run["M_input"].values[-1])
    assert "test_accuracy" not in again and "test_spike_counts" not in again


def test_random_weights_read_out_at_chance():
    """Forward weights drawn at random and never learned (learning starts after the run): the spikes of
    200 held-out images give chance (0.1; binomial SD 0.021)."""
    ds = simulate(load_model("spiking_trace_digits", [*SHORT[:-1], "spiking.test_images=200", "plasticity.init=xavier",
                                                "protocol.forward_onset=20"]))
    assert abs(float(ds["test_accuracy"].values[-1]) - 0.1) < 0.085
    assert float(ds["weights_test_accuracy"].values[-1]) < 0.25


def test_longer_test_presentations_count_longer_windows():
    """``spiking.test_present = 150 ms`` (3 x t_present): each held-out image is shown for 150 ms and its
    spikes counted over [onset + 20 ms, onset + 150 ms); a value that is no multiple of t_present is
    refused with the key, the value and what is allowed."""
    ds = simulate(load_model("spiking_trace_digits", [*SHORT[:-1], "spiking.test_images=10", "spiking.test_present=150 ms"]))
    times, cells = ds["spike_time_output"].values, ds["spike_index_output"].values
    for k in (0, 9):
        start = 1.0 + k * 0.15
        sel = (times >= start + 0.02 - 1e-9) & (times < start + 0.15 - 1e-9)
        np.testing.assert_array_equal(ds["test_spike_counts"].values[k], np.bincount(cells[sel], minlength=10))
    assert ds["test_spike_counts"].attrs["window_s"] == pytest.approx(0.13)
    assert ds.attrs["spike_duration"] == pytest.approx(1.0 + 10 * 0.15)
    from copi_bio.errors import ModelError
    with pytest.raises(ModelError) as info:
        load_model("spiking_trace_digits", [*SHORT, "spiking.test_present=120 ms"])
    assert info.value.key == "spiking.test_present" and "whole multiple of protocol.t_present" in info.value.allowed


def test_annealed_running_means():
    """``spiking.mean_anneal``: the slow running means integrate at the learning rates' annealing
    factor ``1 / (1 + p / anneal)`` in training presentation ``p`` (1 without it), so the means the
    test phase freezes average over more of the training stream; the factor reaches the network (the
    learned weights change with it)."""
    from copi_bio.spiking.chain.schedule import mean_rates

    plain = load_model("spiking_trace_digits", [*SHORT[:-1], "spiking.test_images=0", "protocol.anneal=5"])
    annealed = load_model("spiking_trace_digits", [*SHORT[:-1], "spiking.test_images=0", "protocol.anneal=5",
                                                   "spiking.mean_anneal=true"])
    np.testing.assert_array_equal(mean_rates(plain), np.ones(20))
    np.testing.assert_allclose(mean_rates(annealed), 1.0 / (1.0 + np.arange(20) / 5.0))
    w = [simulate(m)["W_input_output"].values[-1] for m in (plain, annealed)]
    assert np.max(np.abs(w[0] - w[1])) > 1e-6
