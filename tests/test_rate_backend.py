"""Behaviour of the rate backend: fixed points, decorrelation, learning,
agreement with an accurate ODE solver and determinism."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import copi_bio
from conftest import MODELS, small_model, small_table
from copi_bio import metrics as m
from copi_bio.rate.network import RateNetwork


def simulate_table(table: dict):
    return copi_bio.simulate(copi_bio.parse_model(table))


# --------------------------------------------------------------- fixed point
N_IN, N_OUT, GAMMA, RHO = 5, 3, 4.0, 0.3


def fixed_point_table(seed: int, rule: str = "copi", perturbation: str = "nudging") -> dict:
    return small_table(
        seed=seed,
        populations=[{"name": "input", "size": N_IN},
                     {"name": "output", "size": N_OUT, "tau": "2 ms", "transfer": "linear"}],
        lateral={"rule": "none"}, plasticity={"rule": rule, "tau": "100 ms"},
        feedback={"mode": "bp", "gamma": GAMMA, "perturbation": perturbation},
        task={"kind": "teacher_student", "correlation": RHO, "test_size": 64},
        protocol={"dt": "1 ms", "t_present": "20 ms", "t_settle": "10 ms", "presentations": 2000,
                  "trials": 64, "eval_every": 100, "anneal": 100},
        recording={"variables": [], "trials": 0})


def analytic_fixed_point(w_teacher: np.ndarray, perturbation: str = "nudging") -> np.ndarray:
    """Fixed point of the COPI rule on correlated inputs C (diagonal D).

    Nudging: the linear soma settles at u = (W x + gamma W_T x) / (1 + gamma);
    the rule stops when <u x^T> = W D, i.e. W C + gamma W_T C = (1 + gamma) W D,
    so W* = gamma W_T C ((1 + gamma) D - C)^-1 (stable: 1 + gamma = 5 >
    lambda_max(C) = 1 + 4 rho = 2.2).

    Prediction: u = W x + gamma (W_T x - W x), so W C + gamma (W_T - W) C = W D
    and W* = gamma W_T C (D + (gamma - 1) C)^-1 (stable for gamma >= 1).
    Both equal W_T when C = D."""
    c = (1 - RHO) * np.eye(N_IN) + RHO * np.ones((N_IN, N_IN))
    d = np.diag(np.diag(c))
    m_ = (1 + GAMMA) * d - c if perturbation == "nudging" else d + (GAMMA - 1) * c
    assert np.all(np.linalg.eigvalsh(m_) > 0)
    return GAMMA * w_teacher @ c @ np.linalg.inv(m_)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("perturbation", ["nudging", "prediction"])
def test_copi_forward_rule_reaches_analytic_fixed_point(seed, perturbation):
    ds = simulate_table(fixed_point_table(seed, perturbation=perturbation))
    w_star = analytic_fixed_point(ds["teacher_weights"].values, perturbation)
    w_final = ds["W_input_output"].values[-1]
    # W* is away from the teacher with correlated inputs (not the least-squares
    # solution; 0.10-0.11 for prediction, whose larger perturbation outweighs the
    # correlation term more), so the 3 % comparison below is discriminating.
    assert m.relative_error(w_star, ds["teacher_weights"].values) > (0.2 if perturbation == "nudging" else 0.07)
    assert m.relative_error(ds["W_input_output"].values[0], w_star) > 0.2
    # 3 %: the annealed rate (1/(1 + p/100)) leaves a stochastic-approximation
    # error of 0.3-1.6 % (seeds 1-4) with 64 trials x 10 plastic steps per
    # presentation; it shrinks like 1/sqrt(presentations x trials).
    assert m.relative_error(w_final, w_star) < 0.03
    # the online fixed-point measure (<u x^T> diag<x^2>^-1 estimated from
    # 6400 end-of-presentation samples) has 1-3 % sampling error
    assert ds["inference_error_fixed_point_input_output"].values[-1] < 0.08


def test_fixed_point_metric_is_large_away_from_fixed_point():
    """Control: with frozen (Xavier-random) weights the same measure is large."""
    table = fixed_point_table(1, rule="none")
    table["protocol"]["presentations"] = 200
    # with plasticity "none" the backend does not report the measure, so it is
    # recomputed offline from recorded end-of-presentation u and x
    table["recording"] = {"variables": ["u", "x"], "trials": 64}
    ds = simulate_table(table)
    x = ds["x_input"].values.reshape(-1, N_IN)
    u = ds["u_output"].values.reshape(-1, N_OUT)
    fixed = m.copi_fixed_point(u.T @ x / len(x), np.mean(x * x, axis=0))
    assert m.relative_error(ds["W_input_output"].values[-1], fixed) > 0.3


# ------------------------------------------------------------- decorrelation
DECORRELATION_CASES = [
    ("copi", "raw", "free", 0.0),
    ("copi", "centered", "free", 1.0),
    ("copi_bio", "raw", "free", 0.0),
    ("copi_bio", "centered", "free", 1.0),
    ("foldiak", "raw", "free", 0.0),
    ("foldiak", "raw", "nonnegative", 0.0),
    ("foldiak", "centered", "free", 1.0),
    ("foldiak", "centered", "nonnegative", 1.0),
]


def decorrelation_table(rule: str, statistics: str, sign: str, mean: float) -> dict:
    lateral = {"rule": rule, "tau": "100 ms", "statistics": statistics, "sign": sign,
               "tau_mean": "200 ms"}
    if rule == "foldiak":
        lateral["tau_x"] = "5 ms"
    return small_table(
        seed=3,
        populations=[{"name": "input", "size": 10}, {"name": "output", "size": 2, "tau": "2 ms"}],
        lateral=lateral, plasticity={"rule": "none"}, feedback={"gamma": 0.0},
        task={"kind": "decorrelation", "correlation": 0.3, "mean": mean},
        protocol={"dt": "1 ms", "t_present": "20 ms", "t_settle": "10 ms", "presentations": 1000,
                  "trials": 32, "eval_every": 100},
        recording={"variables": ["x"], "trials": 32})


def recorded_mean_abs_corr(ds, last: int = 200) -> float:
    x = ds["x_input"].values[-last:].reshape(-1, ds.sizes["neuron_input"])
    return m.mean_abs_offdiag(np.corrcoef(x.T))


@pytest.mark.parametrize("rule,statistics,sign,mean", DECORRELATION_CASES)
def test_lateral_rules_decorrelate(rule, statistics, sign, mean):
    ds = simulate_table(decorrelation_table(rule, statistics, sign, mean))
    # the stream has rho = 0.3, so at the start mean |r| of x = z is ~0.3
    first = recorded_mean_abs_corr(ds.isel(time=slice(0, 1)), last=1)
    assert first > 0.15
    # 0.05: six times below the input correlation; the estimate from
    # 200 x 32 samples has sampling noise ~0.01
    assert ds["mean_abs_corr_input"].values[-1] < 0.05
    assert recorded_mean_abs_corr(ds) < 0.05
    if rule == "foldiak" and sign == "nonnegative":
        assert ds["M_input"].values.min() >= 0.0
    if rule == "foldiak":
        assert np.all(np.diag(ds["M_input"].values[-1]) == 0.0)


def test_without_lateral_rule_inputs_stay_correlated():
    """Control for the decorrelation tests: rule "none" leaves mean |r| ~ 0.3."""
    table = decorrelation_table("copi", "raw", "free", 0.0)
    table["lateral"] = {"rule": "none"}
    table["protocol"]["presentations"] = 200
    ds = simulate_table(table)
    assert ds["mean_abs_corr_input"].values[-1] > 0.25
    assert recorded_mean_abs_corr(ds) > 0.25


# ----------------------------------------------------------- teacher-student
def test_teacher_student_default_model_learns_teacher():
    model = copi_bio.load_model(MODELS / "teacher_student.toml")
    start = time.perf_counter()
    ds = copi_bio.simulate(model)
    wall = time.perf_counter() - start
    err = ds["inference_error_teacher"].values
    assert err[0] > 0.5  # random start
    assert err[-1] < 0.02  # spec: recovered to ~0.3 % in the prototype
    assert ds["mean_abs_corr_input"].values[-1] < 0.05
    assert wall < 60.0
    assert ds.attrs["status"] == "complete"


# -------------------------------------------------------------------- digits
@pytest.mark.parametrize("test_fraction", [0.25, 0.2])
@pytest.mark.parametrize("name,threshold", [("digits_bp", 0.98), ("digits_fa", 0.975)])
def test_digits_accuracy_in_the_paper_setting(name, threshold, test_fraction):
    """The shipped digits models (64-100-10, gamma 1000, lr 1e-3 per
    presentation, 30 epochs) reach the paper's discrete algorithm's accuracy
    (98.3 % BP, 97.9 % FA on this task). Measured over seeds 1-5 and both
    splits: 98.1-99.1 % (BP), 97.8-98.9 % (FA); seed 1, used here, 98.4-98.9 %.
    The thresholds are the targets of the issue."""
    path = MODELS / f"{name}.toml"
    ds = copi_bio.simulate(copi_bio.load_model(path, [f"task.test_fraction={test_fraction}"]))
    acc = ds["test_accuracy"].values
    assert acc[0] < 0.3  # untrained network is near chance (0.1)
    assert acc[-1] >= threshold
    assert ds.attrs["wall_time_s"] < 60.0  # about 1.5 s on 2 idle cores


@pytest.mark.parametrize("perturbation, factor", [("prediction", 1.0), ("nudging", None)])
def test_output_perturbation_is_gamma_times_the_prediction_error(perturbation, factor):
    """Linear output, fixed weights, one stimulus held: the settled output
    perturbation is gamma (t - W x) with the prediction error and
    gamma / (1 + gamma) (t - W x) with self-consistent nudging (it can never
    exceed the error)."""
    gamma = 50.0
    model = small_model(feedback={"perturbation": perturbation, "gamma": gamma},
                        lateral={"rule": "none"}, plasticity={"rule": "none"})
    net = RateNetwork(model, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    s = net.new_state(8)
    for _ in range(100):  # dt = tau / 2: residual e^-50
        net.step(s, z, t, True, 0.0, 0.0)
    error = t - z @ net.forward_weights(0).T
    expected = gamma * error if factor else gamma / (1 + gamma) * error
    np.testing.assert_allclose(s.delta[1], expected, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------- ODE agreement
TAU_U, GAMMA_ODE = 2e-3, 3.0


def ode_run(dt_ms: float, feedback_tau: str | None, transfer: str = "linear", perturbation: str = "nudging"):
    """Backend trajectory of u (one trial, one presentation, no plasticity) and
    the solve_ivp reference of the same ODE, on the recorded time grid."""
    feedback = {"mode": "bp", "gamma": GAMMA_ODE, "perturbation": perturbation}
    if feedback_tau:
        feedback["tau"] = feedback_tau
    table = small_table(
        populations=[{"name": "input", "size": 3},
                     {"name": "output", "size": 2, "tau": "2 ms", "transfer": transfer}],
        lateral={"rule": "none"}, plasticity={"rule": "none"}, feedback=feedback,
        protocol={"dt": f"{dt_ms} ms", "t_present": "10 ms", "t_settle": "0 ms",
                  "presentations": 1, "trials": 1, "eval_every": 1},
        recording={"variables": ["r", "u"], "trials": 1, "interval": f"{dt_ms} ms"})
    ds = simulate_table(table)
    z = ds["r_input"].values[0, 0]
    a = ds["W_input_output"].values[0] @ z
    target = ds["teacher_weights"].values @ z
    f, fp = {"linear": (lambda u: u, lambda u: np.ones_like(u)),
             "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2)}[transfer]
    if perturbation == "prediction":  # y = (a, u): tau da/dt = -a + W z, tau du/dt = -u + W z + delta(a)
        def rhs(_t, y):
            pred = y[:2]
            return np.concatenate([(-pred + a) / TAU_U,
                                   (-y[2:] + a + GAMMA_ODE * (target - f(pred)) * fp(pred)) / TAU_U])
        y0 = np.zeros(4)
    elif feedback_tau:
        tau_d = copi_bio.parse_model(table).feedback.tau

        def rhs(_t, y):
            u, d = y[:2], y[2:]
            return np.concatenate([(-u + a + d) / TAU_U, (-d + GAMMA_ODE * (target - f(u)) * fp(u)) / tau_d])
        y0 = np.zeros(4)
    else:
        def rhs(_t, y):
            return (-y + a + GAMMA_ODE * (target - f(y)) * fp(y)) / TAU_U
        y0 = np.zeros(2)
    times = ds["time"].values
    np.testing.assert_allclose(np.diff(times), dt_ms * 1e-3, rtol=1e-9)
    sol = solve_ivp(rhs, (0.0, times[-1]), y0, t_eval=times, rtol=1e-10, atol=1e-12, method="DOP853")
    assert sol.success
    u_ref = sol.y[2:].T if perturbation == "prediction" else sol.y[:2].T
    u_sim = ds["u_output"].values[:, 0, :]
    return np.max(np.abs(u_sim - u_ref)), np.max(np.abs(u_ref))


def test_linear_nudged_soma_is_integrated_exactly():
    """Without a feedback time constant the linear output's nudging is part of
    the leak (1 + gamma), so exponential Euler is exact for a held stimulus:
    only the reference solver's tolerance (rtol 1e-10) remains."""
    err, scale = ode_run(1.0, None)
    assert scale > 0.3
    assert err < 1e-8 * scale


@pytest.mark.parametrize("feedback_tau,transfer,dts,perturbation", [
    ("2 ms", "linear", (0.5, 0.25, 0.125), "nudging"),
    ("2 ms", "tanh", (0.5, 0.25, 0.125), "nudging"),
    (None, "tanh", (0.25, 0.125, 0.0625), "nudging"),
    (None, "linear", (0.5, 0.25, 0.125), "prediction"),
    (None, "tanh", (0.5, 0.25, 0.125), "prediction"),
])
def test_explicit_coupling_converges_first_order(feedback_tau, transfer, dts, perturbation):
    """With filtered feedback (explicit u-delta coupling), a nonlinear output
    (linearised nudging) or the prediction formulation (the soma sees the
    perturbation of the prediction held over a step) the scheme is first order:
    the maximal error over the 10 ms presentation is O(dt) and halves when dt
    halves (ratio 2 +- 15 %)."""
    errs = []
    for dt in dts:
        err, scale = ode_run(dt, feedback_tau, transfer, perturbation)
        errs.append(err / scale)
    # O(dt) bound: error <= 0.4 * dt / tau_u relative to the solution scale
    for dt, e in zip(dts, errs):
        assert e < 0.4 * dt * 1e-3 / TAU_U
    ratios = [errs[i] / errs[i + 1] for i in range(len(errs) - 1)]
    assert all(1.7 < r < 2.3 for r in ratios), ratios


# --------------------------------------------------------------- determinism
def _data(ds):
    return {k: v.values for k, v in ds.data_vars.items()}


def test_same_seed_is_bit_identical_and_other_seed_differs():
    table = small_table()
    a, b = _data(simulate_table(table)), _data(simulate_table(table))
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    table["seed"] = 8
    c = _data(simulate_table(table))
    for k in ("r_input", "W_input_output", "teacher_weights", "u_output"):
        assert not np.array_equal(a[k], c[k]), k



@pytest.mark.parametrize("lateral_rule", ["copi", "copi_bio"])
@pytest.mark.parametrize("perturbation", ["prediction", "nudging"])
def test_diagonal_scales_apply_the_copi_updates(lateral_rule, perturbation):
    """The step keeps the COPI rules' diagonal rescalings as O(N) scales, folded into the stored
    matrices only when they leave [1/2, 2]. Over 300 steps, each step's change of the matrices
    the network means must be the rules written out on that step's activity,
    ``W <- W diag(1 - eta <x^2>) + eta <u x^T>``, ``R <- diag(1 + eta <x^2>) R - eta <x x^T> R``
    (copi_bio: ``R <- R diag(1 + eta <x^2>) - eta R <x x^T>``), to float64 rounding; with
    eta <x^2> of about 0.01 per step the scales leave [1/2, 2], so folds happen in between."""
    table = small_table(populations=[{"name": "input", "size": 6},
                                     {"name": "hidden", "size": 5, "tau": "2 ms", "transfer": "leaky_relu"},
                                     {"name": "output", "size": 3, "tau": "2 ms", "transfer": "linear"}],
                        lateral={"rule": lateral_rule, "tau": "100 ms", "layers": "all"},
                        feedback={"mode": "bp", "gamma": 1.0, "perturbation": perturbation})
    net = RateNetwork(copi_bio.parse_model(table), np.random.default_rng(0))
    s = net.new_state(8)
    rng = np.random.default_rng(1)
    eta, folds, kept = 0.01, 0, 0
    for _ in range(300):
        z, t = rng.standard_normal((8, 6)), rng.standard_normal((8, 3))
        w0 = [net.forward_weights(k) for k in range(2)]
        r0 = [net.lateral_weights(k) for k in range(2)]
        net.step(s, z, t, True, eta, eta)
        for k in range(2):
            xs = s.x[k] - s.xbar[k] if net.centered else s.x[k]
            us = s.u[k + 1] - s.ubar[k + 1] if net.centered else s.u[k + 1]
            x_sq, cov = np.mean(xs * xs, axis=0), xs.T @ xs / len(xs)
            w1 = w0[k] * (1 - eta * x_sq) + eta * us.T @ xs / len(xs)
            if lateral_rule == "copi":
                r1 = (1 + eta * x_sq)[:, None] * r0[k] - eta * cov @ r0[k]
            else:
                r1 = r0[k] * (1 + eta * x_sq)[None, :] - eta * r0[k] @ cov
            np.testing.assert_allclose(net.forward_weights(k), w1, rtol=1e-9, atol=1e-11)
            np.testing.assert_allclose(net.lateral_weights(k), r1, rtol=1e-9, atol=1e-11)
            for scale in (net.w_scale[k], net.l_scale[k]):
                folds += bool(np.all(scale == 1.0))
                kept += bool(np.any(scale != 1.0))
    assert folds > 0 and kept > 0  # scales were kept, and folded at least once
