"""The Adam reference optimiser (BP + Adam)."""

from __future__ import annotations

import numpy as np

import copi_bio
from copi_bio.rate.adam import Adam


def test_first_adam_step_has_size_eta_along_the_sign():
    # bias correction makes m_hat = g and v_hat = g^2 on the first step,
    # so the step is eta * g / (|g| + eps) = eta * sign(g) up to eps/|g| = 1e-8
    w = np.zeros((2, 3))
    g = np.array([[1.0, -2.0, 0.5], [3.0, -0.1, 4.0]])
    Adam(w.shape, w.dtype).step(w, g, 0.01)
    np.testing.assert_allclose(w, 0.01 * np.sign(g), rtol=1e-6)


def test_adam_minimises_a_quadratic():
    target = np.array([[1.0, -2.0], [0.5, 3.0]])
    w = np.zeros_like(target)
    opt = Adam(w.shape, w.dtype)
    for _ in range(3000):
        opt.step(w, target - w, 0.01)  # drive = negative gradient of 0.5 ||w - target||^2
    np.testing.assert_allclose(w, target, atol=0.02)


def test_digits_with_backprop_and_adam_learns():
    ds = copi_bio.simulate(copi_bio.load_model("digits_adam", ["protocol.presentations=900"]))
    assert float(ds["test_accuracy"][0]) < 0.3
    assert float(ds["test_accuracy"][-1]) >= 0.9  # measured 0.96 at 900 presentations (20 epochs)


def test_blocked_step_equals_the_textbook_formula_across_blocks():
    """Twenty steps on a matrix larger than one block (CHUNK) equal Adam written out with m_hat and
    v_hat (float64, to rounding: the folded bias correction reorders the arithmetic)."""
    from copi_bio.rate.adam import CHUNK

    rng = np.random.default_rng(0)
    shape = (3, CHUNK // 2 + 7)
    w, ref = np.zeros(shape), np.zeros(shape)
    m, v = np.zeros(shape), np.zeros(shape)
    opt = Adam(shape, w.dtype)
    for t in range(1, 21):
        g = rng.standard_normal(shape)
        opt.step(w, g, 1e-3)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref += 1e-3 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-15)
    assert np.abs(ref).max() > 1e-3  # the weights moved
