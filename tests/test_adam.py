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
