"""Spike-driven E/I networks (real Brian2, cpp_standalone): decorrelation by plastic inhibition."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import override_error
from copi_bio import load_model, simulate
from copi_bio.modelfile import dumps_model, parse_model, read_model_table
from copi_bio.results import open_result, save_result
from copi_bio.spec import CopiLateralRule, CovarianceRule, NetworkModel, VogelsSprekelerRule
from copi_bio.spiking.measures import isi_cv, spike_counts

BEFORE = (1.0, 5.0)  # plasticity starts at 5 s; the first second is the onset transient


def pair_correlations(ds, pop: str, start: float, stop: float, window: float = 0.1):
    """Spike-count correlation of every pair of recorded neurons that fired, their geometric-mean
    rate (Hz) and the rate of every recorded neuron, in ``window`` bins of ``[start, stop)``."""
    t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
    idx = ds[f"neuron_{pop}"].values
    sel = (t >= start) & (t < stop)
    counts = spike_counts(t[sel], np.searchsorted(idx, i[sel]), len(idx), start, stop, window)
    rates = counts.sum(axis=0) / (stop - start)
    active = counts.std(axis=0) > 0
    corr = np.corrcoef(counts[:, active].T)
    upper = np.triu_indices(int(active.sum()), 1)
    geo = np.sqrt(np.outer(rates[active], rates[active]))[upper]
    return corr[upper], geo, rates


def _isi_cv(ds, pop: str, start: float, stop: float) -> float:
    t, i = ds[f"spike_time_{pop}"].values, ds[f"spike_index_{pop}"].values
    sel = (t >= start) & (t < stop)
    return isi_cv(t[sel], i[sel])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One run of the small E/I model: 5 s without plasticity, then 30 s of Vogels-Sprekeler plasticity."""
    build = tmp_path_factory.mktemp("ei_build")
    model = load_model("spiking_ei_small", [f"spiking.build_dir='{build}'"])
    return simulate(model)


def test_model_files_parse_round_trip_and_match_vogels_scale():
    big, small = load_model("spiking_ei_decorrelation"), load_model("spiking_ei_small")
    assert isinstance(big, NetworkModel)
    assert [(p.name, p.size, p.type) for p in big.populations] == [("E", 8000, "excitatory"),
                                                                  ("I", 2000, "inhibitory")]
    assert {p.probability for p in big.network.projections} == {0.02}
    assert big.protocol.dt == pytest.approx(1e-4)
    e = big.network.population("E")
    assert (e.C, e.g_leak, e.V_th, e.E_inh, e.tau_exc, e.tau_inh) == pytest.approx(
        (200e-12, 10e-9, -50e-3, -80e-3, 5e-3, 10e-3))
    rule = big.network.projections[3].plasticity
    assert isinstance(rule, VogelsSprekelerRule) and rule.alpha == pytest.approx(2 * 0.02 * 3.0)
    # same in-degree (160 E + 40 I inputs per neuron) in the small variant
    for model in (big, small):
        n_e, n_i = model.network.population("E").size, model.network.population("I").size
        p = model.network.projections[0].probability
        assert (n_e * p, n_i * p) == pytest.approx((160, 40))
    again = parse_model(__import__("tomllib").loads(dumps_model(small)))
    assert (again.network, again.protocol, again.recording, again.spiking) == (
        small.network, small.protocol, small.recording, small.spiking)


@pytest.mark.parametrize("override, key, fragment", [
    ("network.populations.E.C='200'", "network.populations[0].C", "capacitance unit"),
    ("network.populations.E.g_leak='10 mV'", "network.populations[0].g_leak", "conductance unit"),
    ("network.populations.E.type='modulatory'", "network.populations[0].type", "'excitatory', 'inhibitory'"),
    ("network.populations.E.V_reset='-40 mV'", "network.populations[0].V_reset", "below V_th"),
    ("network.projections.I_E.weight='-1 nS'", "network.projections[3].weight", ">= 0"),
    ("network.projections.I_E.probability=1.5", "network.projections[3].probability", "<= 1"),
    ("network.projections.I_E.pre='X'", "network.projections[3].pre", "a population name"),
    ("network.projections.I_E.plasticity.rule='bcm'", "network.projections[3].plasticity.rule", "'covariance'"),
    ("network.projections.I_E.plasticity.target_rate='3'", "network.projections[3].plasticity.target_rate",
     "rate unit"),
    ("protocol.dt='2 ms'", "protocol.dt", "a fifth of"),
    ("recording.neurons=0", "recording.neurons", "at least 1"),
    ("recording.neurons=[1, 1]", "recording.neurons", "without repeated"),
    ("recording.neurons=[5000]", "recording.neurons", "below the largest population size"),
    ("recording.populations=['X']", "recording.populations", "a population name"),
    ("network.bogus=1", "network.bogus", "a known key of [network]"),
])
def test_bad_network_values_name_key_value_and_allowed(override, key, fragment):
    err = override_error("spiking_ei_small", [override])
    assert err.key == key
    assert fragment in err.allowed


def test_old_neuron_names_point_to_the_new_ones():
    for old, new in (("poisson", "poisson_rate"), ("lif", "lif_rate")):
        err = override_error("spiking_trace_teacher_student", [f"spiking.neuron={old}"])
        assert err.key == "spiking.neuron" and err.allowed.startswith(repr(new))


def test_plastic_inhibition_decorrelates_the_correlated_state(small_run, tmp_path):
    ds = small_run
    end = float(ds.attrs["spike_duration"])
    corr, geo, rates = pair_correlations(ds, "E", *BEFORE)
    slope = np.polyfit(geo, corr, 1)[0]
    after, _, rates_after = pair_correlations(ds, "E", end - (end - 5.0) / 3, end)
    cv_after = _isi_cv(ds, "E", end - (end - 5.0) / 3, end)
    print(f"r_sc before {corr.mean():.3f} (slope {slope:.4f}/Hz, rate {rates.mean():.1f} Hz), "
          f"after {after.mean():.4f} (rate {rates_after.mean():.2f} Hz, CV {cv_after:.2f})")
    # the correlated state: shared input with weak inhibition (measured 0.267 at 36 Hz; seeds 1-5:
    # 0.196-0.352, test_correlated_state_is_robust_across_seeds)
    assert corr.mean() >= 0.15
    # de la Rocha et al. 2007: pairs that fire faster are more correlated (measured +0.016 per Hz)
    assert slope > 0.0
    # after plasticity (measured 0.022 at 3.8 Hz)
    assert after.mean() <= 0.03
    # rates with plastic inhibition (the weakly inhibited start fires at ~34 Hz, measured)
    plastic = ds["t_eval"].values > 5.0
    population_rates = ds["mean_rate_E"].values
    assert np.all((population_rates[plastic] >= 1.0) & (population_rates[plastic] <= 30.0)), population_rates
    assert population_rates[0] <= 40.0
    assert 0.7 <= cv_after <= 1.3
    assert np.all((ds["cv_isi_E"].values >= 0.7) & (ds["cv_isi_E"].values <= 1.3))
    # Dale's law: every I->E conductance stays in [0, w_max] at every snapshot; inhibition grew
    w = ds["w_I_E"].values
    assert w.min() >= 0.0 and w.max() <= 100.0
    assert ds["mean_w_I_E"].values[-1] > 1.05 * ds["mean_w_I_E"].values[0]
    # the stored metrics agree with the spikes
    assert ds["mean_spike_count_corr_E"].values[-1] < 0.05 < ds["mean_spike_count_corr_E"].values[0]
    # subset recording: 400 of 1600 neurons, indices kept, rates of those neurons only
    assert list(ds["neuron_E"].values) == list(range(400))
    assert ds["spike_index_E"].values.max() < 400 and ds["rate_E"].dims == ("time_bin", "neuron_E")
    assert ds.sizes["synapse_I_E"] == ds["synapse_pre_I_E"].size
    assert np.all(ds["synapse_pre_I_E"].values < 400) and np.all(ds["synapse_post_I_E"].values < 1600)
    path = save_result(ds, tmp_path / "ei.nc")
    back = open_result(path)
    np.testing.assert_array_equal(back["spike_time_E"].values, ds["spike_time_E"].values)
    np.testing.assert_array_equal(back["w_I_E"].values, ds["w_I_E"].values)


def test_covariance_rule_lowers_correlations_without_a_rate_target(tmp_path):
    """The COPI covariance rule (no homeostatic set point) on the same network.

    Measured: r_sc 0.234 -> 0.092 in the last 10 s at 11.7 Hz (the Vogels-Sprekeler
    rule reaches 0.019 by also lowering the rate to its 3 Hz target)."""
    data, path = read_model_table("spiking_ei_small")
    rule = data["network"]["projections"][3]["plasticity"]
    rule.pop("target_rate")
    rule.update(rule="covariance", eta=0.3, tau_rate="1 s")
    data["spiking"]["build_dir"] = str(tmp_path)
    model = parse_model(data, str(path))
    assert isinstance(model.network.projections[3].plasticity, CovarianceRule)
    ds = simulate(model)
    before = pair_correlations(ds, "E", *BEFORE)[0].mean()
    after, _, rates = pair_correlations(ds, "E", 25.0, 35.0)
    print(f"covariance rule: r_sc {before:.3f} -> {after.mean():.3f}, rate {rates.mean():.1f} Hz")
    assert before >= 0.15 and after.mean() <= 0.5 * before
    assert 1.0 <= rates.mean() <= 30.0
    assert ds["w_I_E"].values.min() >= 0.0


def _with_rule(tmp_path, rule: dict | None, duration: str):
    data, path = read_model_table("spiking_ei_small")
    if rule is None:
        data["network"]["projections"][3].pop("plasticity")
    else:
        data["network"]["projections"][3]["plasticity"] = {"onset": "5 s", **rule}
    data["protocol"].update(duration=duration)
    data["spiking"]["build_dir"] = str(tmp_path)
    return parse_model(data, str(path))


def test_copi_lateral_rule_removes_a_planted_excitatory_covariance_and_the_control_keeps_it(tmp_path):
    """COPI's rule through interneurons (rule = "copi": at an E spike, w += eta (g_exc_pre - gbar_pre)) on
    the correlated state of spiking_ei_small (shared current, weak inhibition), against the same network
    with static I->E synapses, 10 s. Measured: r_sc 0.28 (1-5 s) -> 0.026 at 2.8 Hz (7-10 s) with the rule,
    0.29 without it (in 35 s runs, over 25-35 s: 0.012 at eta 0.2, 0.013 at 0.05, against 0.23 at 26 Hz)."""
    model = _with_rule(tmp_path / "copi", {"rule": "copi", "eta": 0.2, "tau_mean": "1 s"}, "10 s")
    assert isinstance(model.network.projections[3].plasticity, CopiLateralRule)
    learned = simulate(model)
    control = simulate(_with_rule(tmp_path / "static", None, "10 s"))
    before = pair_correlations(learned, "E", *BEFORE)[0].mean()
    after, _, rates = pair_correlations(learned, "E", 7.0, 10.0)
    kept = pair_correlations(control, "E", 7.0, 10.0)[0].mean()
    print(f"copi rule: r_sc {before:.3f} -> {after.mean():.3f} at {rates.mean():.1f} Hz; control {kept:.3f}")
    assert before >= 0.15 and kept >= 0.15  # the planted covariance, kept without plasticity
    assert after.mean() <= 0.05
    assert learned["w_I_E"].values.min() >= 0.0 and learned["w_I_E"].values[-1].mean() > 2.5  # inhibition grew


def test_runtime_device_runs_the_same_network():
    """The runtime device (numpy) builds and runs the network too: 250 neurons for 0.4 s."""
    ds = simulate(load_model("spiking_ei_small", [
        "spiking.device=runtime", "network.populations.E.size=200", "network.populations.I.size=50",
        "protocol.duration='0.4 s'", "protocol.eval_every='0.4 s'", "recording.neurons=[0, 5, 199]",
        "network.projections.I_E.plasticity.onset='0.1 s'", "network.projections.I_E.plasticity.eta=5.0"]))
    assert ds.attrs["brian2_device"] == "runtime"
    assert list(ds["neuron_E"].values) == [0, 5, 199]
    assert set(np.unique(ds["spike_index_E"].values)) <= {0, 5, 199} and ds.sizes["spike_E"] > 0
    assert 1.0 < ds["mean_rate_E"].values[0] < 200.0 and 1.0 < ds["mean_rate_I"].values[0] < 200.0
    w = ds["w_I_E"].values
    assert np.allclose(w[0], 2.5) and not np.allclose(w[-1], 2.5)  # plastic after the onset
    assert w.min() >= 0.0 and w.max() <= 100.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_correlated_state_is_robust_across_seeds(seed, tmp_path):
    """Other wiring and shared-input realisations (seed 1 is the default test above).

    Measured (seeds 1-5): r_sc before 0.267, 0.352, 0.209, 0.237, 0.196 at 28-36 Hz;
    after 0.022, 0.019, 0.026, 0.021, 0.019 at 3.5-3.8 Hz."""
    ds = simulate(load_model("spiking_ei_small", [f"seed={seed}", f"spiking.build_dir='{tmp_path}'"]))
    end = float(ds.attrs["spike_duration"])
    corr, geo, _ = pair_correlations(ds, "E", *BEFORE)
    after, _, rates = pair_correlations(ds, "E", end - (end - 5.0) / 3, end)
    print(f"seed {seed}: r_sc {corr.mean():.3f} -> {after.mean():.4f}, rate {rates.mean():.2f} Hz")
    assert corr.mean() >= 0.15 and np.polyfit(geo, corr, 1)[0] > 0
    assert after.mean() <= 0.03
    assert 1.0 <= rates.mean() <= 30.0
    assert 0.7 <= _isi_cv(ds, "E", end - (end - 5.0) / 3, end) <= 1.3


@pytest.mark.slow
def test_vogels_sized_network_decorrelates(tmp_path):
    """The shipped 10 000-neuron model (35 s simulated)."""
    ds = simulate(load_model("spiking_ei_decorrelation", ["spiking.threads=2", f"spiking.build_dir='{tmp_path}'"]))
    end = float(ds.attrs["spike_duration"])
    corr, geo, _ = pair_correlations(ds, "E", *BEFORE)
    after, _, rates = pair_correlations(ds, "E", end - 10.0, end)
    print(f"10k network: r_sc {corr.mean():.3f} -> {after.mean():.4f}, rate {rates.mean():.2f} Hz")
    assert corr.mean() >= 0.15 and np.polyfit(geo, corr, 1)[0] > 0
    assert after.mean() <= 0.03
    assert np.all((ds["mean_rate_E"].values >= 1.0) & (ds["mean_rate_E"].values <= 30.0))
    assert 0.7 <= _isi_cv(ds, "E", end - 10.0, end) <= 1.3
    assert ds["w_I_E"].values.min() >= 0.0
