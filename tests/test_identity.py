"""The key COPI identity (spec section 2):

    <u x^T> - W diag<x^2>  =  <delta x^T> + W (<x x^T> - diag<x^2>)   for u = W x + delta,

so with decorrelated inputs (``<x x^T>`` diagonal) the local COPI update equals
the delta-rule / backprop update ``<delta x^T>`` exactly (up to rounding), and
with correlated inputs it does not.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import small_model
from copi_bio import metrics as m
from copi_bio.rate.network import RateNetwork

N_SAMPLES, N_IN, N_OUT = 64, 6, 4
# Rounding bound: every quantity is O(1) and the averages are over 64 samples,
# so double-precision sums agree to ~1e-15; 1e-12 leaves three decades.
EXACT = 1e-12


def orthogonal_inputs(rng: np.random.Generator) -> np.ndarray:
    """Samples (rows) whose columns are exactly orthogonal: ``X^T X`` is diagonal."""
    q, _ = np.linalg.qr(rng.standard_normal((N_SAMPLES, N_SAMPLES)))
    scales = rng.uniform(0.5, 3.0, N_IN) * np.sqrt(N_SAMPLES)
    return q[:, :N_IN] * scales


def correlated_inputs(rng: np.random.Generator, rho: float = 0.5) -> np.ndarray:
    common = rng.standard_normal((N_SAMPLES, 1))
    return np.sqrt(1 - rho) * rng.standard_normal((N_SAMPLES, N_IN)) + np.sqrt(rho) * common


def copi_and_delta(x: np.ndarray, w: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = x @ w.T + delta
    n = len(x)
    copi = m.copi_update(u.T @ x / n, np.mean(x * x, axis=0), w)
    return copi, delta.T @ x / n


def test_orthogonal_inputs_have_diagonal_second_moment(rng):
    x = orthogonal_inputs(rng)
    second = x.T @ x / len(x)
    off = second - np.diag(np.diag(second))
    assert np.max(np.abs(off)) < EXACT * np.max(np.diag(second))


def test_copi_update_equals_delta_update_for_decorrelated_inputs(rng):
    x = orthogonal_inputs(rng)
    w = rng.standard_normal((N_OUT, N_IN))
    delta = rng.standard_normal((N_SAMPLES, N_OUT))
    copi, bp = copi_and_delta(x, w, delta)
    assert np.max(np.abs(bp)) > 0.05  # the identity is not trivially 0 == 0
    np.testing.assert_allclose(copi, bp, rtol=0, atol=EXACT)


def test_copi_update_differs_for_correlated_inputs(rng):
    x = correlated_inputs(rng)
    w = rng.standard_normal((N_OUT, N_IN))
    delta = rng.standard_normal((N_SAMPLES, N_OUT))
    copi, bp = copi_and_delta(x, w, delta)
    # the gap is exactly W offdiag(<x x^T>), which for rho = 0.5 is O(1)
    second = x.T @ x / len(x)
    np.testing.assert_allclose(copi - bp, w @ m.offdiag(second), atol=EXACT)
    assert m.relative_error(copi, bp) > 0.3


def test_copi_fixed_point_recovers_map_for_decorrelated_inputs(rng):
    """With u = W_T x and <x x^T> diagonal, <u x^T> diag<x^2>^-1 is W_T exactly."""
    x = orthogonal_inputs(rng)
    w_t = rng.standard_normal((N_OUT, N_IN))
    u = x @ w_t.T
    fixed = m.copi_fixed_point(u.T @ x / len(x), np.mean(x * x, axis=0))
    np.testing.assert_allclose(fixed, w_t, atol=EXACT)
    xc = correlated_inputs(rng)
    uc = xc @ w_t.T
    fixed_c = m.copi_fixed_point(uc.T @ xc / len(xc), np.mean(xc * xc, axis=0))
    assert m.relative_error(fixed_c, w_t) > 0.3


def _network(rule: str, w0: np.ndarray, gamma: float = 2.0) -> RateNetwork:
    model = small_model(
        populations=[{"name": "input", "size": N_IN},
                     {"name": "output", "size": N_OUT, "tau": "1 ms", "transfer": "linear"}],
        lateral={"rule": "none"}, plasticity={"rule": rule, "tau": "100 ms"},
        feedback={"mode": "bp", "gamma": gamma, "perturbation": "prediction"},
        protocol={"dt": "1 ms", "t_present": "10 ms", "t_settle": "0 ms", "trials": N_SAMPLES})
    net = RateNetwork(model, np.random.default_rng(0))
    net.W[0][...] = w0
    return net


@pytest.mark.parametrize("decorrelated", [True, False])
def test_one_network_step_copi_vs_delta_rule(rng, decorrelated):
    """Settle the perturbed linear output (plasticity off) until u = W x + delta,
    then take one plastic step with the COPI rule and with the delta rule."""
    x = orthogonal_inputs(rng) if decorrelated else correlated_inputs(rng)
    w0 = rng.standard_normal((N_OUT, N_IN)) / np.sqrt(N_IN)
    target = x @ rng.standard_normal((N_OUT, N_IN)).T / np.sqrt(N_IN)
    eta = 0.01
    changes = {}
    for rule in ("copi", "delta"):
        net = _network(rule, w0, gamma=1.0)  # perturbation = prediction error, as large as W offdiag(C) x
        s = net.new_state(N_SAMPLES)
        # 50 steps of dt = tau: residual e^-50.
        for _ in range(50):
            net.step(s, x, target, True, 0.0, 0.0)
        np.testing.assert_allclose(s.u[1], x @ w0.T + s.delta[1], atol=1e-12)
        net.step(s, x, target, True, eta, 0.0)
        changes[rule] = (net.forward_weights(0) - w0) / eta
    expected = s.delta[1].T @ x / N_SAMPLES
    assert np.max(np.abs(expected)) > 0.05
    # the delta rule is implemented exactly (relative rounding ~1e-16 / eta)
    np.testing.assert_allclose(changes["delta"], expected, atol=1e-11)
    if decorrelated:
        np.testing.assert_allclose(changes["copi"], changes["delta"], atol=1e-11)
    else:
        assert m.relative_error(changes["copi"], changes["delta"]) > 0.3


def test_network_plasticity_copi_matches_formula(rng):
    """``_plasticity`` with the COPI rule applies eta (<u x^T> - W diag<x^2>)
    for arbitrary (unsettled) states."""
    x = correlated_inputs(rng)
    w0 = rng.standard_normal((N_OUT, N_IN))
    net = _network("copi", w0)
    s = net.new_state(N_SAMPLES)
    s.x[0] = x.copy()
    s.u[1] = rng.standard_normal((N_SAMPLES, N_OUT))
    eta = 0.02
    net._plasticity(s, 0, x @ w0.T, eta, 0.0)
    expected = w0 + eta * m.copi_update(s.u[1].T @ x / N_SAMPLES, np.mean(x * x, axis=0), w0)
    np.testing.assert_allclose(net.forward_weights(0), expected, atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(n_out=st.integers(1, 6), n_in=st.integers(1, 8), extra=st.integers(0, 20),
       seed=st.integers(0, 2**32 - 1))
def test_identity_holds_for_any_shape(n_out, n_in, extra, seed):
    """Property version: any sizes, any W and delta, exactly orthogonal inputs
    (n_samples >= n_in). Tolerance relative to the update's scale."""
    rng = np.random.default_rng(seed)
    n = n_in + extra
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    x = q[:, :n_in] * rng.uniform(0.1, 10.0, n_in) * np.sqrt(n)
    w = rng.standard_normal((n_out, n_in))
    delta = rng.standard_normal((n, n_out))
    u = x @ w.T + delta
    copi = m.copi_update(u.T @ x / n, np.mean(x * x, axis=0), w)
    bp = delta.T @ x / n
    scale = np.max(np.abs(w)) * np.max(np.mean(x * x, axis=0)) + np.max(np.abs(bp))
    assert np.max(np.abs(copi - bp)) <= 1e-12 * scale
