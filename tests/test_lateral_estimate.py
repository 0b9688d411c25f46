"""The cheaper decorrelation update (``lateral.sample_fraction`` / ``sample_count`` / ``update_every``).

Its expectation over the drawn subsets is the full update; with a subsample of every trial it is the
full update bit for bit; a run with it still decorrelates; bad values get one-line errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import copi_bio
from copi_bio.errors import ModelError
from copi_bio.rate.lateral_estimate import lateral_schedule
from copi_bio.rate.network import RateNetwork

TRIALS = 50


def _one_update(model, rows, eta=1e-3):
    """The change of R_input over one plastic step on fixed activity (fresh network, same weights)."""
    net = RateNetwork(model, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    net.L[0][...] = np.eye(64) + 0.05 * rng.standard_normal((64, 64))  # away from the identity
    before = net.L[0].copy()
    state = net.new_state(TRIALS)
    z = np.random.default_rng(5).random((TRIALS, 64))
    net.step(state, z, None, False, 0.0, eta, rows)
    return net.lateral_weights(0) - before


def test_subsampled_update_is_unbiased():
    """The mean of the update over 400 draws of 10 of 50 trials equals the full update: every entry within
    4 standard errors of the draws' mean (the error scale of a Monte-Carlo mean), and the whole matrix
    within 5 % in norm (measured 1.3 %, as expected from one draw's 25-28 % over sqrt(400))."""
    model = copi_bio.load_model("digits_bp", ["lateral.sample_count=10"])
    full = _one_update(model, None)
    draws = np.array([_one_update(model, lateral_schedule(model.lateral, 1, n, TRIALS)[1])
                      for n in range(400)])
    mean, sem = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    off = ~np.eye(64, dtype=bool)
    assert np.all(np.abs(mean - full)[off] <= 4 * sem[off] + 1e-15)
    assert np.linalg.norm(mean - full) <= 0.05 * np.linalg.norm(full)
    # one draw alone is far from the full update: the test can tell an estimate from the full update
    assert np.linalg.norm(draws[0] - full) > 0.15 * np.linalg.norm(full)


def test_a_subsample_of_every_trial_is_the_full_update_bit_for_bit():
    model = copi_bio.load_model("digits_bp")
    assert np.array_equal(_one_update(model, np.arange(TRIALS)), _one_update(model, None))
    every = copi_bio.load_model("digits_bp", ["lateral.sample_fraction=1.0"])
    assert lateral_schedule(every.lateral, 1, 7, TRIALS) == (1.0, None)
    a = copi_bio.simulate(copi_bio.load_model("digits_bp", ["protocol.presentations=54"]))
    b = copi_bio.simulate(copi_bio.load_model("digits_bp", ["protocol.presentations=54",
                                                            "lateral.sample_count=50"]))
    for name in a.data_vars:
        if name != "wall_time":
            assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_schedule_draws_the_declared_subsets():
    """Every k-th plastic step with k times the rate; subsets of the declared size, sorted, without
    repeats, reproducible from (seed, step) and different between steps."""
    lat = copi_bio.load_model("digits_bp", ["lateral.sample_fraction=0.2", "lateral.update_every=3"]).lateral
    factors = [lateral_schedule(lat, 1, n, TRIALS)[0] for n in range(9)]
    assert factors == [3.0, 0, 0, 3.0, 0, 0, 3.0, 0, 0]
    rows = lateral_schedule(lat, 1, 3, TRIALS)[1]
    assert len(rows) == 10 and len(set(rows)) == 10 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, lateral_schedule(lat, 1, 3, TRIALS)[1])
    assert not np.array_equal(rows, lateral_schedule(lat, 1, 6, TRIALS)[1])
    assert not np.array_equal(rows, lateral_schedule(lat, 2, 3, TRIALS)[1])


def test_a_run_with_the_cheaper_update_decorrelates_as_the_full_one():
    """digits_bp, 810 presentations: the fall of the input's decorrelation index (its off-diagonal
    second moments against the diagonal) with the update on 10 of 50 trials every 2nd step is within
    10 % of the full update's (measured: 0.311 against 0.311), and the test accuracy within 2 points."""
    sets = ["protocol.presentations=810"]
    full = copi_bio.simulate(copi_bio.load_model("digits_bp", sets))
    cheap = copi_bio.simulate(copi_bio.load_model("digits_bp", sets + ["lateral.sample_count=10",
                                                                       "lateral.update_every=2"]))
    fall_full, fall_cheap = (float(ds["decorrelation_index_input"].values[1] - ds["decorrelation_index_input"][-1])
                             for ds in (full, cheap))
    assert fall_full > 0.25
    assert abs(fall_cheap - fall_full) <= 0.1 * fall_full, (fall_cheap, fall_full)
    assert float(cheap["test_accuracy"].values[-1]) >= float(full["test_accuracy"].values[-1]) - 0.02


@pytest.mark.parametrize("sets, message", [
    (["lateral.sample_fraction=0.0"], "lateral.sample_fraction = 0.0 is invalid: a value > 0"),
    (["lateral.sample_fraction=1.5"], "lateral.sample_fraction = 1.5 is invalid: a value <= 1"),
    (["lateral.sample_count=51"], "lateral.sample_count = 51 is invalid: at most protocol.trials = 50"),
    (["lateral.update_every=0"], "lateral.update_every = 0 is invalid: a value >= 1"),
    (["lateral.sample_count=5", "lateral.sample_fraction=0.5"], "lateral.sample_count = 5 is invalid: omitted"),
    (["lateral.rule='none'", "lateral.update_every=2"], "with lateral.rule = 'none'"),
    (["recording.statistics_every=0"], "recording.statistics_every = 0 is invalid: a value >= 1"),
])
def test_bad_values_get_one_line_errors(sets, message):
    with pytest.raises(ModelError) as err:
        copi_bio.load_model("digits_bp", sets)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_spiking_backend_refuses_the_cheaper_update():
    with pytest.raises(ModelError, match="lateral.update_every = 2 is invalid: omitted with backend = 'spiking'"):
        copi_bio.load_model("spiking_trace_digits", ["lateral.update_every=2"])
    with pytest.raises(ModelError, match="recording.statistics_every = 5 is invalid: 1"):
        copi_bio.load_model("spiking_trace_digits", ["recording.statistics_every=5"])
