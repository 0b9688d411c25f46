"""The validation suite (``copi-bio validate``): published phenomena against shipped models
(real Brian2 runs, real netCDF-free Datasets; docs/validation.md)."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import xarray as xr

from copi_bio.analysis import tuning, validation
from copi_bio.cli import main
from copi_bio.errors import CopiBioError
from copi_bio.trials import make_trial_counts


def _doubly_stochastic(path, seed: int = 0, n: int = 30, duration: float = 60.0, dt: float = 1e-3) -> None:
    """A recording as a user would bring one (.npz of times and indices): Poisson cells at 5-25 Hz whose
    rates share one slow (0.5 s) fluctuation, so r_sc grows with the window and with the rate."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration, dt)
    shared = np.convolve(rng.standard_normal(t.size), np.ones(500) / np.sqrt(500), "same")
    trains = [t[rng.random(t.size) < np.clip((5 + 20 * rng.random()) * (1 + 0.3 * shared), 0, None) * dt]
              for _ in range(n)]
    np.savez(path, times=np.concatenate(trains), indices=np.repeat(np.arange(n), [len(x) for x in trains]),
             t_start=0.0, t_stop=duration, n_neurons=n)


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    _doubly_stochastic(out.parent / "recording.npz")
    start = time.perf_counter()
    code = main(["validate", "--small", "--out", str(out), "--recording", str(out.parent / "recording.npz")])
    return code, out, time.perf_counter() - start


def test_validate_small_reports_every_phenomenon_and_writes_table_and_figures(small_suite, capsys):
    code, out, seconds = small_suite
    assert code == 0
    assert seconds < 300  # the budget for --small on 2 cores (measured: 60 s with a warm build cache)
    with (out / "validation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["phenomenon"] for r in rows] == ["window", "rate", "training", "spontaneous_vs_evoked", "tuning",
                                               "pattern_decorrelation"]
    for row in rows:
        assert (out / f"validation_{row['phenomenon']}.png").stat().st_size > 5000
        assert row["observation"] and row["prediction"] and row["mechanism"]


def test_small_models_show_each_published_direction(small_suite):
    """Verdicts of the small runs (measured, seed 1): r_sc grows with the window (ratio 1.57) and with the
    pair's rate (Spearman rho 0.86, interval from a bootstrap over cells); COPI learning lowers the noise
    correlations at repeated images (0.019 naive -> -0.002) while the rate falls 47 -> 34 Hz (reported,
    not scored); the mechanism column says which passes COPI produces."""
    _, out, _ = small_suite
    with (out / "validation.csv").open() as fh:
        rows = {r["phenomenon"]: r for r in csv.DictReader(fh)}
    assert float(rows["window"]["score"]) > 1.0 and rows["window"]["passed"] == "True"
    assert float(rows["rate"]["score"]) > 0.5 and rows["rate"]["passed"] == "True"
    assert float(rows["training"]["score"]) < 0.5 and rows["training"]["passed"] == "True"
    # reported as failing, not dropped: in one E/I network with plastic inhibition, noise correlations are
    # lower before onset than 300-500 ms after (ratio 0.38 measured) where recordings show about 2
    assert float(rows["spontaneous_vs_evoked"]["score"]) < 1.0 and rows["spontaneous_vs_evoked"]["passed"] == "False"
    # reported as failing: COPI decorrelation of the hidden layer leaves similarly and dissimilarly tuned pairs
    # almost equally (un)correlated (difference 0.013, interval including 0; MT shows +0.10); without it the
    # same network shows +0.28
    assert abs(float(rows["tuning"]["score"])) < 0.03 and rows["tuning"]["passed"] == "False"
    # patterns of similar stimuli lose most of their similarity within 20 ms of onset (ratio 0.02 small, 0.49 full)
    assert float(rows["pattern_decorrelation"]["score"]) < 0.7 and rows["pattern_decorrelation"]["passed"] == "True"
    assert {k: r["by_copi"] for k, r in rows.items()} == {
        "window": "no", "rate": "no", "training": "yes", "spontaneous_vs_evoked": "no", "tuning": "yes",
        "pattern_decorrelation": "yes"}


def test_a_users_recording_is_scored_where_spike_trains_suffice(small_suite, capsys):
    """The doubly stochastic recording: its r_sc grows with the window and with the rate (both scored and
    passing); the phenomena that need conditions a plain recording lacks say so."""
    _, out, _ = small_suite
    with (out / "validation.csv").open() as fh:
        rows = {r["phenomenon"]: r for r in csv.DictReader(fh)}
    assert rows["window"]["recording"].endswith("(PASS)") and float(rows["window"]["recording"].split()[0]) > 1.2
    assert rows["rate"]["recording"].endswith("(PASS)")
    for name in ("training", "spontaneous_vs_evoked", "tuning", "pattern_decorrelation"):
        assert rows[name]["recording"].startswith("not scored: needs ")


def test_a_missing_recording_is_refused_before_any_simulation(tmp_path, capsys):
    assert main(["validate", "--small", "--out", str(tmp_path / "v"), "--recording", str(tmp_path / "no.npz")]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def _poisson_result(seed: int, n: int = 20, rate: float = 20.0, duration: float = 20.0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * duration, n)
    times = np.concatenate([np.sort(rng.uniform(0, duration, c)) for c in counts])
    index = np.repeat(np.arange(n), counts)
    return xr.Dataset({"spike_time_E": ("spike_E", times), "spike_index_E": ("spike_E", index)},
                      coords={"neuron_E": np.arange(n)}, attrs={"spike_duration": duration})


def _trial_counts(seed: int, shared: float = 0.0, common: float = 0.0, cells: int = 12, stimuli: int = 8,
                  repeats: int = 30, t_present: float = 0.1):
    """Trial counts (one session, 10 ms bins over 100 ms presentations) of cells tuned to ``stimuli``
    patterns whose trial-to-trial noise is shared in proportion to their tuning similarity (``shared``:
    the noise's weight), as feedforward convergence gives, and a gain of SD ``common`` shared by all
    cells; both 0: independent Poisson cells."""
    rng = np.random.default_rng(seed)
    tuning_vectors = rng.standard_normal((cells, 4))
    patterns = rng.random((stimuli, 4))
    rates = 30 + 15 * (patterns - 0.5) @ tuning_vectors.T  # (stimuli, cells) Hz
    gain = np.exp(shared * np.einsum("srk,ck->csr", rng.standard_normal((stimuli, repeats, 4)), tuning_vectors) / 4)
    gain = gain * np.exp(common * rng.standard_normal((1, stimuli, repeats)))
    lam = np.clip(rates.T, 0, None)[:, :, None, None] * gain[..., None] * 0.01  # per 10 ms bin
    counts = rng.poisson(np.broadcast_to(lam, (cells, stimuli, repeats, int(round(t_present / 0.01)))))
    times = np.arange(counts.shape[-1]) * 0.01 + 0.005
    return make_trial_counts(counts, times, 0.01, ["run"] * cells, {"stimulus": np.arange(stimuli)},
                             attrs={"population": "hidden"})


def test_a_model_without_the_effect_fails():
    """The scores can fail: independent Poisson cells show no rate dependence, and a 'learned' network
    identical to the naive one has a noise-correlation ratio of exactly 1."""
    ds = _poisson_result(1)
    rate = validation.rate_dependence(ds, "E", 0.0, 20.0)
    assert not rate.passed
    counts = _trial_counts(2, common=0.3)
    same = validation.training_decorrelation(counts, counts, n_boot=200)
    assert same.score == pytest.approx(1.0) and not same.passed
    assert "FAIL" in same.line()
    lower = validation.training_decorrelation(_trial_counts(2), counts, n_boot=200)
    assert lower.score < 0.5 and lower.passed and lower.row()["by_copi"] == "yes"


def test_tuning_score_passes_with_tuned_noise_and_fails_without():
    """Shared noise along the tuning vectors gives similar pairs a higher r_sc: the score passes; with
    independent noise it is near 0 and fails. The group sizes are reported."""
    tuned = validation.tuning_dependence(_trial_counts(3, shared=0.6), n_boot=300)
    flat = validation.tuning_dependence(_trial_counts(3, shared=0.0), n_boot=300)
    assert tuned.passed and tuned.score > 0.1  # measured 0.20
    assert not flat.passed and abs(flat.score) < 0.1
    assert " similar (signal r > 0.5)" in tuned.prediction and " dissimilar (< 0)" in tuned.prediction


def test_spontaneous_against_evoked_reads_one_run_before_and_after_onset(tmp_path):
    """Counts from 200 ms before to 500 ms after onset with a gain shared by the cells, of SD 0.3 before
    onset and 0.15 after: noise correlations 0.27 spontaneous and 0.08 evoked (r = mu s^2 / (1 + mu s^2),
    mean count mu = 4 in both 200 ms epochs), in the same trials; with the same gain throughout, equal."""
    rng = np.random.default_rng(5)
    gain = np.ones((20, 1, 40, 70))
    gain[..., :20] = rng.gamma(1 / 0.09, 0.09, (1, 1, 40, 1))
    gain[..., 20:] = rng.gamma(1 / 0.0225, 0.0225, (1, 1, 40, 1))
    counts = rng.poisson(20.0 * 0.01 * gain)
    da = make_trial_counts(counts, np.arange(-0.2, 0.5, 0.01) + 0.005, 0.01, ["run"] * 20,
                           {"orientation": [0.0]})
    out = validation.spontaneous_vs_evoked(da, n_boot=200)
    assert out.passed and 2 < out.score < 5 and out.row()["by_copi"] == "no"
    flat = np.broadcast_to(gain[..., 20:21], gain.shape)
    same = make_trial_counts(rng.poisson(20.0 * 0.01 * flat), da["time"].values, 0.01, ["run"] * 20,
                             {"orientation": [0.0]})
    assert not validation.spontaneous_vs_evoked(same, n_boot=200).passed
    with pytest.raises(CopiBioError, match="200 ms before onset"):
        validation.spontaneous_vs_evoked(da.isel(time=slice(20, None)), n_boot=10)


def _repeated_stimuli(shared: float, seed: int = 3, cells: int = 12, stimuli: int = 8, repeats: int = 30,
                      t_present: float = 0.1) -> xr.Dataset:
    """A chain-like result with repeated stimuli whose cells share trial-to-trial noise in proportion to
    their tuning similarity (``shared``: the noise's weight), as feedforward convergence gives."""
    rng = np.random.default_rng(seed)
    tuning_vectors = rng.standard_normal((cells, 4))
    patterns = rng.random((stimuli, 4))
    order = np.tile(np.arange(stimuli), repeats)
    rates = 30 + 15 * (patterns[order] - 0.5) @ tuning_vectors.T  # (presentations, cells) in Hz
    rates *= np.exp(shared * rng.standard_normal((order.size, 4)) @ tuning_vectors.T / 4)
    counts = rng.poisson(np.clip(rates, 0, None) * t_present)
    times = np.concatenate([k * t_present + np.sort(rng.uniform(0, t_present, c)) for k, row in enumerate(counts)
                            for c in row])
    index = np.concatenate([np.full(c, j) for row in counts for j, c in enumerate(row)])
    stim = xr.DataArray(patterns[order], dims=("presentations", "neuron_input"), attrs={"t_present": t_present})
    return xr.Dataset({"stimulus_input": stim, "spike_time_hidden": ("spike_hidden", times),
                       "spike_index_hidden": ("spike_hidden", index)},
                      coords={"neuron_hidden": np.arange(cells)}, attrs={"spike_duration": order.size * t_present})


def test_pattern_statistics_recover_repeats_and_refuse_unknown_stimuli():
    ds = _repeated_stimuli(shared=0.0)
    ids, t_present = tuning.stimulus_ids(ds)
    assert t_present == 0.1 and list(ids[:9]) == [0, 1, 2, 3, 4, 5, 6, 7, 0]  # numbered by first appearance
    with pytest.raises(CopiBioError, match="no 'stimulus_output'"):
        tuning.stimulus_ids(ds, "output")
    bins = np.arange(0.0, 0.1001, 0.01)
    similarity = tuning.pattern_similarity(ds, "hidden", 40, bins, np.array([[0, 1], [2, 5]]))
    assert similarity.shape == (10, 2) and np.all(np.abs(similarity) <= 1)
    with pytest.raises(CopiBioError, match=r"stimuli \[99\] are not shown from presentation 40 on"):
        tuning.pattern_similarity(ds, "hidden", 40, bins, np.array([[0, 99]]))
    with pytest.raises(CopiBioError, match="not inside a presentation"):
        tuning.pattern_similarity(ds, "hidden", 40, np.array([0.05, 0.15]), np.array([[0, 1]]))


@pytest.mark.slow
def test_full_suite_reproduces_the_documented_table(tmp_path):
    """The full suite (about 2.5 min on 2 cores) gives the verdicts and scores of docs/validation/validation.csv,
    the table the docs page shows (same seeds: the scores agree to rounding)."""
    from pathlib import Path

    from copi_bio.validate import run_validation

    outcomes = run_validation(tmp_path)
    with (Path(__file__).parents[1] / "docs" / "validation" / "validation.csv").open() as fh:
        documented = {r["phenomenon"]: r for r in csv.DictReader(fh)}
    assert [o.phenomenon for o in outcomes] == list(documented)
    for outcome in outcomes:
        row = documented[outcome.phenomenon]
        assert str(outcome.passed) == row["passed"], outcome.line()
        assert outcome.score == pytest.approx(float(row["score"]), rel=1e-6, abs=1e-9), outcome.line()
