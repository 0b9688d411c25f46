"""The E/I network's stimulus protocol ([network.stimulus]): its keys, its trial schedule and current,
and a real (runtime-device) Brian2 run that stores trial counts measured by the recording code."""

from __future__ import annotations

import numpy as np
import pytest

from copi_bio import load_model, save_result, simulate
from copi_bio.cli import main
from copi_bio.analysis import recording_statistics as st
from copi_bio.errors import ModelError
from copi_bio.spiking.ei_network.build import STIMULUS_STREAM, Trials, stimulus_traces
from copi_bio.trials import from_result

TINY = ["spiking.device=runtime", "network.populations.E.size=80", "network.populations.I.size=20",
        "protocol.duration='2.2 s'", "protocol.eval_every='1.1 s'", "spiking.count_window='100 ms'"]
STIM = ["network.stimulus.start='0.1 s'", "network.stimulus.spontaneous='200 ms'",
        "network.stimulus.duration='300 ms'", "network.stimulus.orientations=2", "network.stimulus.contrasts=[1.0]",
        "network.stimulus.repeats=2", "network.stimulus.amplitude='300 pA'", "network.stimulus.kappa=4.0"]


@pytest.mark.parametrize("override, key, fragment", [
    ("network.stimulus.duration='505 ms'", "network.stimulus.duration", "whole multiple of 10 ms"),
    ("network.stimulus.repeats=100", "network.stimulus.repeats", "end by protocol.duration"),
    ("network.stimulus.populations=['X']", "network.stimulus.populations", "a population name: E, I"),
    ("network.stimulus.contrasts=[1.0, -0.5]", "network.stimulus.contrasts", ">= 0"),
    ("network.stimulus.contrasts=[]", "network.stimulus.contrasts", "a non-empty list of numbers"),
    ("network.stimulus.contrasts=['high']", "network.stimulus.contrasts", "a number"),
    ("network.stimulus.kappa=-1", "network.stimulus.kappa", ">= 0"),
    ("network.stimulus.flicker=1", "network.stimulus.flicker", "a known key of [network.stimulus]"),
])
def test_bad_stimulus_values_name_key_value_and_allowed(override, key, fragment):
    with pytest.raises(ModelError) as info:
        load_model("spiking_ei_small", [override])
    assert info.value.key == key and fragment in info.value.allowed


def test_the_schedule_shows_every_condition_repeats_times_in_random_order():
    stim = load_model("spiking_ei_small", ["network.stimulus.orientations=4", "network.stimulus.contrasts=[0.5, 1]",
                                           "network.stimulus.repeats=3", "network.stimulus.start='1 s'",
                                           "network.stimulus.shared_gain=0.2"]).network.stimulus
    onsets, cond, gains, test = stim.schedule(np.random.default_rng((1, STIMULUS_STREAM)))
    assert stim.n_conditions == 8 and stim.n_trials == 24 and stim.end == pytest.approx(1 + 24 * 0.7)
    assert test.all() and stim.freeze is None  # no learning phase, plasticity on
    np.testing.assert_allclose(onsets, 1.2 + 0.7 * np.arange(24))
    assert np.all(np.bincount(cond) == 3) and not np.all(np.diff(cond) >= 0)
    assert gains.mean() == pytest.approx(1.0, abs=0.15) and gains.std() == pytest.approx(0.2, abs=0.1)
    orientation, contrast = stim.condition_values()
    np.testing.assert_allclose(orientation, [0, 0, 45, 45, 90, 90, 135, 135])
    np.testing.assert_allclose(contrast, [0.5, 1, 0.5, 1, 0.5, 1, 0.5, 1])
    # the current's time courses: contrast x gain during each stimulus epoch, 0 elsewhere
    gain, theta = stimulus_traces(stim, Trials(onsets, cond, gains, test), 20.0)
    k = int(round(onsets[5] / 0.01))
    assert np.all(gain[k:k + 50] == pytest.approx(contrast[cond[5]] * gains[5]))
    assert gain[k - 1] == 0 and gain[k + 50] == 0 and gain[:120].sum() == 0
    assert np.all(theta[k:k + 50] == pytest.approx(np.deg2rad(orientation[cond[5]])))
    assert np.count_nonzero(gain) == 24 * 50


def test_a_run_with_a_stimulus_stores_trial_counts_the_recording_code_measures():
    """80 excitatory cells, 2 orientations x 2 repeats of 300 ms after 200 ms without stimulus, a tuned
    current of 300 pA at the preferred orientation: the cells preferring the shown orientation fire
    more during its stimulus epoch than before onset and than the cells preferring the other (the
    recurrent excitation of this small network spreads some of the drive to the others)."""
    ds = simulate(load_model("spiking_ei_small", TINY + STIM))
    assert list(ds["trial_condition"].values) != [] and ds.sizes["trial"] == 4
    np.testing.assert_allclose(ds["trial_onset"].values, 0.3 + 0.5 * np.arange(4))
    counts = from_result(ds, "E")
    assert counts.dims == ("unit", "condition", "repeat", "time") and counts.shape == (80, 2, 2, 50)
    np.testing.assert_allclose(counts["orientation"].values, [0.0, 90.0])
    np.testing.assert_allclose(counts["time"].values[[0, -1]], [-0.195, 0.295])
    # every spike of a recorded E cell inside a trial window is counted once
    t, i = ds["spike_time_E"].values, ds["spike_index_E"].values
    inside = np.zeros(t.size, bool)
    for onset in ds["trial_onset"].values:
        inside |= (t >= onset - 0.2 - 1e-9) & (t < onset + 0.3 - 1e-9)
    assert np.nansum(counts.values) == inside.sum() > 0
    # tuning: cells 0-19 prefer 0-45 deg, 40-59 prefer 90-135 deg (preferred angles spread evenly)
    evoked = counts.sel(time=slice(0, 0.3)).sum("time").mean("repeat")
    before = counts.sel(time=slice(-0.2, 0)).sum("time").mean("repeat") * 1.5  # to 300 ms
    # measured: 22.8 and 23.0 spikes preferred, 14.4 and 13.6 orthogonal, 9.3 before onset (per 300 ms)
    assert float(evoked[:20, 0].mean()) > 1.3 * float(evoked[40:60, 0].mean())
    assert float(evoked[40:60, 1].mean()) > 1.3 * float(evoked[:20, 1].mean())
    assert float(evoked[:20, 0].mean()) > 2 * float(before[:20, 0].mean())
    stats = st.statistics(counts, n_boot=20)
    assert {"rsc_spontaneous", "rsc_evoked", "fano_before_onset", "fano_after_onset"} <= set(stats)
    assert "trial_gain" in ds and np.all(ds["trial_gain"].values == 1.0)
    # the same network without the protocol has the same wiring and no trials
    plain = simulate(load_model("spiking_ei_small", TINY))
    assert "trial_onset" not in plain and not [v for v in plain.data_vars if str(v).startswith("trial_counts")]
    np.testing.assert_array_equal(plain["synapse_pre_I_E"].values, ds["synapse_pre_I_E"].values)
    np.testing.assert_array_equal(plain["synapse_post_I_E"].values, ds["synapse_post_I_E"].values)


def test_a_learning_phase_then_a_test_phase_with_plasticity_frozen(tmp_path, capsys):
    """2 orientations: 1 learning repeat, then 3 test repeats with every plastic synapse frozen. The
    learning phase changes the I->E weights; the test phase leaves every one as it was (snapshots after
    the freeze equal the final weights, to the bit); only the test trials are counted."""
    frozen = ["network.stimulus.learning_repeats=1", "network.stimulus.repeats=3",
              "network.stimulus.plasticity=frozen", "network.projections.I_E.plasticity.onset='0.1 s'",
              "protocol.duration='4.4 s'", "protocol.eval_every='1.1 s'"]
    model = load_model("spiking_ei_small", TINY + STIM + frozen)
    stim = model.network.stimulus
    assert stim.n_trials == 8 and stim.test_start == pytest.approx(0.1 + 2 * 0.5) == stim.freeze
    onsets, cond, _, test = stim.schedule(np.random.default_rng((model.seed, STIMULUS_STREAM)))
    assert np.all(np.bincount(cond[~test]) == 1) and np.all(np.bincount(cond[test]) == 3)
    assert np.all(onsets[test] >= stim.test_start + stim.spontaneous - 1e-12)
    ds = simulate(model)
    w, times = ds["w_I_E"].values, ds["t_weights"].values  # snapshots at 0, 1.1, 2.2, 3.3 s and the end
    np.testing.assert_allclose(times, [0.0, 1.1, 2.2, 3.3, 4.4])
    assert np.abs(w[1] - w[0]).max() > 0.01  # nS: learned between 0.1 s and the freeze at 1.1 s
    np.testing.assert_array_equal(w[2], w[-1])  # frozen from 1.1 s to the end
    np.testing.assert_array_equal(w[3], w[-1])
    counts = from_result(ds, "E")
    assert counts.sizes["condition"] == 2 and counts.sizes["repeat"] == 3  # the test trials only
    np.testing.assert_allclose(np.sort(ds["trial_onset"].values), np.sort(onsets[test]))
    # the export path: an NWB file with the test trials as its trials table
    result = save_result(ds, tmp_path / "frozen.nc")
    assert main(["export", str(result), "--nwb", str(tmp_path / "frozen.nwb")]) == 0
    assert "with a trials table of 6 trials: trial counts of E, I" in capsys.readouterr().out


REDUCED_V1 = ["network.stimulus.orientations=2", "network.stimulus.contrasts=[1.0]",
              "network.stimulus.learning_repeats=10", "network.stimulus.repeats=10", "protocol.duration='28 s'",
              "protocol.eval_every='7 s'", "recording.neurons=200"]


def test_a_reduced_v1_circuit_decorrelates_with_learning(tmp_path):
    """v1_gratings (all 2000 cells) with 2 orientations, 10 learning repeats (14 s of learning instead
    of 56 s) and 10 test repeats, plasticity frozen in the test: its test trials' rsc_mean is below 0.6
    of the same network's with static I->E synapses, which is at 0.05 or more (measured 0.024 against
    0.096; one build, then about 10 s per run)."""
    build = [f"spiking.build_dir='{tmp_path}'"]  # one build: the control differs in a constant only
    learned = simulate(load_model("v1_gratings", REDUCED_V1 + build))
    control = simulate(load_model("v1_gratings", REDUCED_V1 + build
                                  + ["network.projections.I_E.plasticity.onset='30 s'"]))
    rsc = {name: st.statistics(from_result(ds, "E"), n_boot=10)["rsc_mean"].value
           for name, ds in (("learned", learned), ("control", control))}
    assert rsc["control"] >= 0.05 and rsc["learned"] < 0.6 * rsc["control"], rsc


@pytest.mark.slow
def test_the_v1_circuit_decorrelates_its_test_trials_below_its_static_control(tmp_path):
    """models/v1_gratings.toml, seed 1 (about 3-6 min per run), against the same network with static I->E
    synapses, measured with the recording's code (docs/v1_circuit.md): rsc_mean 0.0125 against 0.10, the
    window and tuning dependence in the recording's direction, spontaneous 0.004 against evoked 0.011,
    2.3 Hz. Not reached, so not asserted: a Fano factor falling at onset (1.01)."""
    learned = simulate(load_model("v1_gratings", [f"spiking.build_dir='{tmp_path / 'a'}'"]))
    control = simulate(load_model("v1_gratings", [f"spiking.build_dir='{tmp_path / 'b'}'",
                                                  "network.projections.I_E.plasticity.onset='400 s'"]))
    got = {name: {key: est.value for key, est in st.statistics(from_result(ds, "E"), n_boot=10).items()}
           for name, ds in (("learned", learned), ("control", control))}
    print(got)
    assert got["control"]["rsc_mean"] >= 0.05 and 0 <= got["learned"]["rsc_mean"] <= 0.02
    assert got["learned"]["rsc_window_500"] > got["learned"]["rsc_window_10"]
    assert abs(got["learned"]["rsc_spontaneous"] - got["learned"]["rsc_evoked"]) <= 0.01
    assert 0 < got["learned"]["rsc_similar"] - got["learned"]["rsc_dissimilar"] <= 0.03
    assert 2.0 <= got["learned"]["rate_mean"] <= 15.0


def _with_poisson_input(extra_stimulus: dict, lgn: dict | None = None) -> dict:
    """spiking_ei_small (TINY) with an input population LGN of 100 Poisson cells projecting onto E."""
    table = load_model("spiking_ei_small", TINY + STIM).to_mapping()
    table["network"]["populations"].append({"name": "LGN", "size": 100, "type": "excitatory", "model": "poisson",
                                            "rate": "5 Hz", **(lgn or {})})
    table["network"]["projections"].append({"pre": "LGN", "post": "E", "probability": 0.1, "weight": "3 nS"})
    table["network"]["stimulus"].update({"populations": ["LGN"], "amplitude": "0 pA", "repeats": 6,
                                         **extra_stimulus})
    table["protocol"]["duration"] = "6.2 s"
    return table


def test_poisson_input_rates_follow_the_declared_tuning_curve():
    """100 Poisson cells, 5 Hz spontaneous, a tuned rate of 40 Hz at the preferred orientation (kappa 4),
    2 orientations x 6 repeats: the mean count of each cell in each condition's 300 ms stimulus epoch is
    within Poisson error of ``(5 Hz + 40 Hz exp(4 (cos 2(theta - phi_i) - 1))) 0.3 s`` (the z-scores of
    the 200 cell-conditions have mean 0 +- 0.2 and SD 1 +- 0.2, as 200 draws of a unit normal would),
    and the 200 ms before onset at 5 Hz; the E cells they project onto (10 inputs of 3 nS each on
    average) fire more in their stimulus epochs."""
    from copi_bio import parse_model

    model = parse_model(_with_poisson_input({"peak_rate": "40 Hz"}))
    ds = simulate(model)
    counts = from_result(ds, "LGN")
    assert counts.shape == (100, 2, 6, 50)
    pref = np.pi * np.arange(100) / 100
    theta = np.deg2rad(counts["orientation"].values)
    rate = 5.0 + 40.0 * np.exp(4.0 * (np.cos(2 * (theta[None, :] - pref[:, None])) - 1))
    expected = rate * 0.3
    observed = counts.sel(time=slice(0, 0.3)).sum("time").mean("repeat").values
    z = (observed - expected) / np.sqrt(expected / 6)
    assert abs(z.mean()) < 0.2 and abs(z.std() - 1) < 0.2, (z.mean(), z.std())
    spont = counts.sel(time=slice(-0.2, 0)).sum("time").values
    assert spont.mean() == pytest.approx(5.0 * 0.2, rel=3 / np.sqrt(spont.size))  # 3 SD of a Poisson mean
    e = from_result(ds, "E")
    evoked, before = float(e.sel(time=slice(0, 0.3)).mean()), float(e.sel(time=slice(-0.2, 0)).mean())
    assert evoked > 1.2 * before, (evoked, before)  # measured 0.70 against 0.53 spikes per 10 ms bin and cell


@pytest.mark.parametrize("change, key, fragment", [
    ({"stimulus": {"peak_rate": "0 Hz"}}, "network.stimulus.peak_rate", "a rate above 0 Hz"),
    ({"stimulus": {"peak_rate": "20 Hz", "amplitude": "100 pA"}}, "network.stimulus.amplitude", "omitted"),
    ({"projection": {"pre": "E", "post": "LGN", "probability": 0.1, "weight": "1 nS"}},
     "network.projections[5].post", "a population of model = 'lif'"),
    ({"population": {"name": "X", "size": 3, "type": "excitatory", "rate": "3 Hz"}},
     "network.populations[3].rate", "omitted for model = 'lif'"),
])
def test_bad_poisson_inputs_name_key_value_and_allowed(change, key, fragment):
    from copi_bio import parse_model

    table = _with_poisson_input(change.get("stimulus", {"peak_rate": "20 Hz"}))
    if "projection" in change:
        table["network"]["projections"].append(change["projection"])
    if "population" in change:
        table["network"]["populations"].append(change["population"])
    with pytest.raises(ModelError) as info:
        parse_model(table)
    assert info.value.key == key and fragment in info.value.allowed, info.value
