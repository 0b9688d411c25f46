"""Stability criteria of the rate backend (copi_bio/spec/stability.py, docs/equations.md "Stability").

Every combination of learning rates, gains, time constants, time steps,
rules, pathways and onsets that validation accepts must run without
divergence; every combination it refuses must raise a ModelError naming a
key, not crash.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

import copi_bio
from copi_bio.errors import ModelError, SimulationError

AXES = {
    "plasticity.tau": ['"20 ms"', '"100 ms"', '"500 ms"', '"2 s"', '"5 s"', '"20 s"'],
    "lateral.tau": ['"100 ms"', '"1 s"', '"5 s"'],
    "feedback.gamma": [1.0, 30.0, 1000.0],
    "feedback.perturbation": ['"prediction"', '"nudging"'],
    "feedback.mode": ['"bp"', '"fa"'],
    "plasticity.rule": ['"copi"', '"delta"'],
    "protocol.dt": ['"1 ms"', '"5 ms"'],
    "protocol.forward_onset": [0, 27],
}
GRID = [dict(zip(AXES, values)) for values in itertools.product(*AXES.values())]
SHORT = ["protocol.presentations=300", "protocol.eval_every=300"]


def outcome(setting: dict) -> str:
    """'refused', 'finite' or 'diverged' for one grid point of digits_bp (test fraction 0.25)."""
    overrides = [f"{k}={v}" for k, v in setting.items()] + SHORT
    try:
        model = copi_bio.load_model("digits_bp", overrides)
    except ModelError as err:
        assert err.key in str(err) and "invalid" in str(err)
        return "refused"
    try:
        ds = copi_bio.simulate(model)
    except SimulationError:
        return "diverged"
    assert np.isfinite(ds["test_loss"].values[-1])
    return "finite"


def check(points: list[dict]) -> dict[str, int]:
    counts = {"refused": 0, "finite": 0, "diverged": 0}
    diverged = []
    for setting in points:
        result = outcome(setting)
        counts[result] += 1
        if result == "diverged":
            diverged.append(setting)
    assert not diverged, diverged
    return counts


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_accepted_parameters_never_diverge_sample():
    """A fixed random sample of the grid (the whole grid: -m slow); 22 of its 60 points are accepted."""
    points = random.Random(0).sample(GRID, 60)
    counts = check(points)
    # the sample reaches both sides of the criteria
    assert counts["finite"] >= 20 and counts["refused"] >= 25, counts


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_accepted_parameters_never_diverge_full_grid():
    counts = check(GRID)
    assert counts["finite"] >= 200, counts


@pytest.mark.parametrize("overrides, key, criterion", [
    # the case: COPI with tau_W = 20 ms diverged (hidden u 3e9)
    (['plasticity.tau="20 ms"', "feedback.gamma=1.0"], "plasticity.tau", "criterion L"),
    (['plasticity.tau="100 ms"'], "plasticity.tau", "criterion S"),  # gamma 1000: step 10
    (['protocol.forward_onset=0', 'protocol.dt="5 ms"'], "plasticity.tau", "halved"),
    (['lateral.tau="20 ms"'], "lateral.tau", "criterion R"),
    (['lateral.rule="none"'], "plasticity.rule", "criterion D"),
    (['feedback.perturbation="nudging"'], "protocol.dt", "criterion N"),  # gamma 1000, leaky output
    (['lateral.layers="input"', 'feedback.gamma=0.5'], "feedback.gamma", "criterion D"),
])
def test_refused_parameters_name_key_and_bound(overrides, key, criterion):
    with pytest.raises(ModelError) as info:
        copi_bio.load_model("digits_bp", overrides)
    assert info.value.key == key and criterion in str(info.value)


def test_lag_bound_depends_on_the_number_of_inputs():
    """Criterion L: tau_R / tau_W <= 2 ln(30) / ln(n); 1.48 for the 100 hidden
    inputs of the output, so with plasticity.tau = 5 s lateral.tau = 7.3 s
    passes and 7.5 s fails; with only the input decorrelated (64 inputs, 1.64)
    8 s passes."""
    copi_bio.load_model("digits_bp", ['lateral.tau="7.3 s"'])
    with pytest.raises(ModelError, match="1.48"):
        copi_bio.load_model("digits_bp", ['lateral.tau="7.5 s"'])
    copi_bio.load_model("digits_bp", ['lateral.tau="8 s"', 'lateral.layers="input"'])


def test_foldiak_explicit_step_bound():
    """Criterion F: with 100 inputs the lateral weights reach sqrt(100) - 1 = 9,
    beyond the explicit step's limit 8 at dt = tau_x / 4."""
    base = ["populations.input.size=100", 'protocol.dt="1 ms"']
    with pytest.raises(ModelError, match="criterion F"):
        copi_bio.load_model("decorrelation_foldiak", base + ['lateral.tau_x="4 ms"'])
    copi_bio.load_model("decorrelation_foldiak", base + ['lateral.tau_x="5 ms"'])
