"""Continuous-time rate network: parameters, state and one integration step.

Layout: activities are ``(trials, neurons)`` row blocks, so every product
is a matrix-matrix product over the parallel trials. Connection ``k`` maps
population ``k`` to ``k + 1``; its weights are ``W[k]`` with shape
``(n_{k+1}, n_k)`` and its lateral matrix ``L[k]`` (``R`` or ``M``) is
``(n_k, n_k)``.

Equations integrated (exponential Euler on every leak; see docs/equations.md):

* decorrelation ``x = z R^T`` (or ``tau_x dx/dt = -x + z R^T``), Foldiak
  ``tau_x dx/dt = -x + z - x M^T``;
* soma ``tau_u du/dt = -u + x W^T + b + delta``, ``r = f(u)``;
* output nudging ``delta_L = gamma (t - f(u_L)) f'(u_L)``, integrated
  semi-implicitly (leak ``1 + gamma f'^2``) when it has no own time constant;
* hidden feedback ``delta_k = f'(u_k) * (delta_{k+1} G_k)``;
* plasticity (batch means over trials): COPI ``dW = eta (<u x^T> - W diag<x^2>)``,
  delta rule ``dW = eta <delta x^T>``, ``dR = -eta offdiag<x x^T> R`` (copi),
  ``dR = -eta R offdiag<x x^T>`` (copi_bio), ``dM = eta offdiag<x x^T>`` (foldiak).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import Model
from ..transfer import transfer
from .linalg import gemm_update


@dataclass
class State:
    """Dynamic variables of a batch of trials.

    Lists are indexed by population (``u``, ``r``, ``delta``, ``ubar``) or by
    connection (``x``, ``xbar``, ``adjoint``); unused entries are ``None``.
    """

    u: list
    r: list
    delta: list
    x: list
    xbar: list
    ubar: list
    adjoint: list
    a_out: np.ndarray


class RateNetwork:
    """Parameters of a rate COPI network and its integration step.

    Parameters
    ----------
    model : Model
        Validated model.
    rng : numpy.random.Generator
        Source of initial weights and fixed feedback weights.
    """

    def __init__(self, model: Model, rng: np.random.Generator):
        self.model = model
        proto = model.protocol
        self.dtype = np.dtype(proto.dtype)
        self.dt = proto.dt
        self.sizes = [p.size for p in model.populations]
        self.n_layers = len(self.sizes) - 1
        lat, fb = model.lateral, model.feedback
        dt = self.dt
        f_pairs = [transfer(p.transfer, p.slope) for p in model.populations]
        self.f = [fp[0] for fp in f_pairs]
        self.fprime = [fp[1] for fp in f_pairs]
        self.decay_u = [float(np.exp(-dt / p.tau)) for p in model.populations]
        self.decay_x = None if lat.tau_x is None else float(np.exp(-dt / lat.tau_x))
        self.decay_d = None if fb.tau is None else float(np.exp(-dt / fb.tau))
        self.mean_rate = dt / lat.tau_mean
        self.centered = lat.statistics == "centered"
        self.gamma = fb.gamma
        self.decorrelated = [model.decorrelates(k) for k in range(self.n_layers)]
        self.W, self.L, self.b, self.G = [], [], [], []
        for k in range(self.n_layers):
            n_in, n_out = self.sizes[k], self.sizes[k + 1]
            if model.plasticity.init == "xavier":
                w = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))
            else:
                w = np.zeros((n_out, n_in))
            self.W.append(np.ascontiguousarray(w, dtype=self.dtype))
            if not self.decorrelated[k]:
                self.L.append(None)
            elif lat.rule == "foldiak":
                self.L.append(np.zeros((n_in, n_in), dtype=self.dtype))
            else:
                self.L.append(np.eye(n_in, dtype=self.dtype))
            bias = model.populations[k + 1].bias
            self.b.append(np.zeros(n_out, dtype=self.dtype) if bias else None)
        # fixed random feedback G[k] maps delta of the population above (fa) or
        # of the output (dfa) onto hidden population k (k = 1 .. L-1).
        self.G = [None] * (self.n_layers + 1)
        for k in range(1, self.n_layers):
            src = self.sizes[k + 1] if fb.mode == "fa" else self.sizes[-1]
            if fb.mode in ("fa", "dfa"):
                g = rng.standard_normal((src, self.sizes[k])) * fb.scale * np.sqrt(2.0 / (src + self.sizes[k]))
                self.G[k] = np.ascontiguousarray(g, dtype=self.dtype)

    # ------------------------------------------------------------------ state
    def new_state(self, trials: int) -> State:
        """Zero state for ``trials`` parallel trials."""
        z = lambda n: np.zeros((trials, n), dtype=self.dtype)  # noqa: E731
        pops = range(len(self.sizes))
        conns = range(self.n_layers)
        foldiak_bp = self.model.lateral.rule == "foldiak" and self.model.feedback.mode == "bp"
        return State(
            u=[None] + [z(self.sizes[i]) for i in pops if i > 0],
            r=[z(self.sizes[0])] + [z(self.sizes[i]) for i in pops if i > 0],
            delta=[None] + [z(self.sizes[i]) for i in pops if i > 0],
            x=[z(self.sizes[k]) for k in conns],
            xbar=[z(self.sizes[k]) if self.centered else None for k in conns],
            ubar=[None] + [z(self.sizes[i]) if self.centered else None for i in pops if i > 0],
            adjoint=[z(self.sizes[k]) if foldiak_bp and self.decorrelated[k] else None for k in conns],
            a_out=z(self.sizes[-1]),
        )

    def effective_weights(self, k: int) -> np.ndarray:
        """Map from population ``k``'s rates to the drive of ``k + 1`` (``W R`` or ``W (I+M)^-1``)."""
        w, lat = self.W[k], self.L[k]
        if lat is None:
            return w.astype(float)
        if self.model.lateral.rule == "foldiak":
            return np.linalg.solve((np.eye(len(lat)) + lat).T, w.T.astype(float)).T
        return w.astype(float) @ lat.astype(float)

    # ------------------------------------------------------------------- step
    def step(self, s: State, z: np.ndarray, target: np.ndarray | None, feedback: bool,
             eta_w: float, eta_l: float) -> None:
        """Advance the state by ``dt`` and apply plasticity.

        Parameters
        ----------
        s : State
            Updated in place.
        z : ndarray, shape (trials, n_0)
            Input rates.
        target : ndarray or None
            Output targets (nudging), ``None`` for no target.
        feedback : bool
            Whether top-down perturbations act (off for evaluation).
        eta_w, eta_l : float
            ``dt / tau`` of forward and lateral plasticity for this step (0: off).
        """
        s.r[0] = z
        last = self.n_layers
        nudge = feedback and target is not None and self.gamma > 0
        for k in range(self.n_layers):
            self._decorrelate(s, k)
            post = k + 1
            a = s.x[k] @ self.W[k].T
            if self.b[k] is not None:
                a += self.b[k]
            u, e = s.u[post], self.decay_u[post]
            if post == last:
                s.a_out = a
                if nudge:
                    self._nudge_output(s, a, target)
                else:
                    if not feedback:
                        s.delta[post][...] = 0.0
                    u *= e
                    u += (1.0 - e) * (a + s.delta[post])
            else:
                u *= e
                u += (1.0 - e) * (a + s.delta[post])
            s.r[post] = self.f[post](u)
            if self.centered:
                s.ubar[post] += self.mean_rate * (u - s.ubar[post])
            if eta_w or eta_l:
                self._plasticity(s, k, a, eta_w, eta_l)
        if feedback:
            self._feedback(s)

    def _decorrelate(self, s: State, k: int) -> None:
        z, lat = s.r[k], self.L[k]
        if lat is None:
            drive = z
        elif self.model.lateral.rule == "foldiak":
            drive = z - s.x[k] @ lat.T
        else:
            drive = z @ lat.T
        if self.decay_x is None or lat is None:
            s.x[k] = np.ascontiguousarray(drive, dtype=self.dtype)
        else:
            s.x[k] *= self.decay_x
            s.x[k] += (1.0 - self.decay_x) * drive
        if self.centered:
            s.xbar[k] += self.mean_rate * (s.x[k] - s.xbar[k])

    def _nudge_output(self, s: State, a: np.ndarray, target: np.ndarray) -> None:
        last = self.n_layers
        u, f, fp, gamma = s.u[last], self.f[last], self.fprime[last], self.gamma
        if self.decay_d is None:
            # semi-implicit: linearise f around u so the nudging leak is exact
            slope = fp(u)
            drive = a + gamma * (target - f(u)) * slope
            leak = 1.0 + gamma * slope * slope
            u_inf = u + (drive - u) / leak
            decay = np.exp(-leak * (self.dt / self.model.populations[last].tau))
            u[...] = u_inf + (u - u_inf) * decay
            s.delta[last][...] = gamma * (target - f(u)) * fp(u)
        else:
            d = s.delta[last]
            d *= self.decay_d
            d += (1.0 - self.decay_d) * gamma * (target - f(u)) * fp(u)
            e = self.decay_u[last]
            u *= e
            u += (1.0 - e) * (a + d)

    def _feedback(self, s: State) -> None:
        mode = self.model.feedback.mode
        last = self.n_layers
        for k in range(last - 1, 0, -1):
            if mode == "none":
                break
            if mode == "bp":
                g = s.delta[k + 1] @ self.W[k]
                g = self._lateral_transpose(s, k, g)
            elif mode == "fa":
                g = s.delta[k + 1] @ self.G[k]
            else:
                g = s.delta[last] @ self.G[k]
            target = self.fprime[k](s.u[k]) * g
            if self.decay_d is None:
                s.delta[k] = target
            else:
                s.delta[k] *= self.decay_d
                s.delta[k] += (1.0 - self.decay_d) * target

    def _lateral_transpose(self, s: State, k: int, g: np.ndarray) -> np.ndarray:
        """Backpropagate ``g`` (gradient w.r.t. x) through the lateral stage of connection k."""
        lat = self.L[k]
        if lat is None:
            return g
        if self.model.lateral.rule != "foldiak":
            return g @ lat
        # adjoint relaxation of x = (I + M)^-1 z, same time constant as x
        y = s.adjoint[k]
        y *= self.decay_x
        y += (1.0 - self.decay_x) * (g - y @ lat)
        return y

    def _plasticity(self, s: State, k: int, a: np.ndarray, eta_w: float, eta_l: float) -> None:
        post = k + 1
        trials = s.x[k].shape[0]
        xs = s.x[k] - s.xbar[k] if self.centered else s.x[k]
        if eta_w:
            rule = self.model.plasticity.rule
            w = self.W[k]
            if rule == "copi":
                us = s.u[post] - s.ubar[post] if self.centered else s.u[post]
                x_sq = np.einsum("bi,bi->i", xs, xs) / trials
                w *= 1.0 - eta_w * x_sq
                gemm_update(w, us.T, xs, eta_w / trials)
            elif rule == "delta":
                gemm_update(w, s.delta[post].T, xs, eta_w / trials)
            if self.b[k] is not None:
                self.b[k] += eta_w * (s.u[post] - a).mean(axis=0)
        lat = self.L[k]
        if eta_l and lat is not None:
            rule = self.model.lateral.rule
            x_sq = np.einsum("bi,bi->i", xs, xs) / trials
            if rule == "copi":  # R <- (I + eta diag<x^2>) R - eta <x x^T> R
                xr = xs @ lat
                lat *= (1.0 + eta_l * x_sq)[:, None]
                gemm_update(lat, xs.T, xr, -eta_l / trials)
            elif rule == "copi_bio":  # R <- R (I + eta diag<x^2>) - eta R <x x^T>
                xr = xs @ lat.T  # (trials, n) = (R x)^T
                lat *= (1.0 + eta_l * x_sq)[None, :]
                gemm_update(lat, xr.T, xs, -eta_l / trials)
            else:  # foldiak: M <- M + eta offdiag<x x^T>
                gemm_update(lat, xs.T, xs, eta_l / trials)
                np.fill_diagonal(lat, 0.0)
                if self.model.lateral.sign == "nonnegative":
                    np.maximum(lat, 0.0, out=lat)

