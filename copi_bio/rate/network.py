"""Continuous-time rate network: one integration step.

Equations integrated (exponential Euler on every leak; see docs/equations.md):

* decorrelation ``x = z R^T`` (or ``tau_x dx/dt = -x + z R^T``), Foldiak
  ``tau_x dx/dt = -x + z - x M^T``;
* ``feedback.perturbation = "prediction"`` (the paper's algorithm in the
  adiabatic limit): forward prediction ``tau_u da/dt = -a + x W^T + b``,
  transmitted rate ``r = f(a)``, soma ``tau_u du/dt = -u + x W^T + b + delta``,
  output perturbation ``delta_L = gamma (t - f(a_L)) f'(a_L)``, hidden
  ``delta_k = f'(a_k) * (delta_{k+1} G_k)``. A step is one sweep: predictions
  bottom-up, perturbations top-down, somata, then plasticity;
* ``feedback.perturbation = "nudging"`` (self-consistent): soma
  ``tau_u du/dt = -u + x W^T + b + delta``, ``r = f(u)``, output nudging
  ``delta_L = gamma (t - f(u_L)) f'(u_L)``, integrated semi-implicitly (leak
  ``1 + gamma f'^2``) when it has no own time constant, hidden feedback
  ``delta_k = f'(u_k) * (delta_{k+1} G_k)`` from the previous step;
* plasticity (batch means over trials): COPI ``dW = eta (<u x^T> - W diag<x^2>)``,
  delta rule ``dW = eta <delta x^T>``, ``dR = -eta offdiag<x x^T> R`` (copi),
  ``dR = -eta R offdiag<x x^T>`` (copi_bio), ``dM = eta offdiag<x x^T>`` (foldiak); the lateral
  ``<.>`` optionally over a subsample of the trials (:mod:`~copi_bio.rate.lateral_estimate`).

Implementation: a step costs its matrix products and little else
(``benchmarks/bench_rate.py`` compares it with that bound). Every product
goes through one BLAS library (scipy's ``?gemm``: :func:`~.linalg.matmul_into`
and :func:`~.linalg.gemm_update`) so that a single BLAS thread pool runs;
products write into arrays of the state (``x``, ``a``, ``delta``, ``r``)
or into scratch arrays kept in ``State.work``; the plasticity updates
accumulate inside ``gemm`` (``offdiag<x x^T> R`` as ``x^T (x R)``, O(N^2 B));
``f'(u)`` of rectifying units is computed once with ``r = u f'(u)`` and reused
by the feedback; ``<x^2>`` is computed once per connection; the COPI
rules' diagonal rescalings of ``W`` and ``R`` act on O(N) scale vectors
(``w_scale``, ``l_scale``, see :mod:`~copi_bio.rate.parameters`), which the
products apply to their O(N B) operands, so no step passes over every element
of a matrix outside ``gemm``.
"""

from __future__ import annotations

import numpy as np

from .linalg import gemm_update, matmul, matmul_into
from .parameters import RateParameters, State


class RateNetwork(RateParameters):
    """Parameters of a rate COPI network and its integration step.

    Constructed as :class:`~copi_bio.rate.parameters.RateParameters` (``model``, ``rng``), which
    builds the parameters; this class adds the step.
    """

    # ------------------------------------------------------------------- step
    @staticmethod
    def _scratch(s: State, name: str, index: int, shape: tuple, dtype) -> np.ndarray:
        """A reusable scratch array of the state (allocated on first use or on a shape change)."""
        key = (name, index)
        buf = s.work.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = s.work[key] = np.empty(shape, dtype=dtype)
        return buf

    def _scaled(self, s: State, name: str, k: int, arr: np.ndarray, scale: np.ndarray,
                divide: bool = False) -> np.ndarray:
        """``arr * scale`` (or ``arr / scale``) over the columns of ``arr``, in a scratch array."""
        out = self._scratch(s, name, k, arr.shape, np.result_type(arr, scale))
        return (np.divide if divide else np.multiply)(arr, scale, out=out)

    def _writable(self, arr, shape: tuple) -> bool:
        """Whether a state array can be overwritten in place with a result of ``shape``."""
        return (isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == self.dtype
                and arr.flags.c_contiguous and arr.flags.writeable)

    def step(self, s: State, z: np.ndarray, target: np.ndarray | None, feedback: bool,
             eta_w: float, eta_l: float, lateral_rows: np.ndarray | None = None) -> None:
        """Advance the state by ``dt`` and apply plasticity.

        Parameters
        ----------
        s : State
            Updated in place.
        z : ndarray, shape (trials, n_0)
            Input rates.
        target : ndarray or None
            Output targets (perturbation toward them), ``None`` for no target.
        feedback : bool
            Whether top-down perturbations act (off for evaluation).
        eta_w, eta_l : float
            ``dt / tau`` of forward and lateral plasticity for this step (0: off).
        lateral_rows : ndarray of int, optional
            The trials the lateral update is estimated on (all when omitted; see
            :mod:`~copi_bio.rate.lateral_estimate`).
        """
        if self.prediction:
            self._step_prediction(s, z, target, feedback, eta_w, eta_l, lateral_rows)
        else:
            self._step_nudging(s, z, target, feedback, eta_w, eta_l, lateral_rows)

    def predict(self, s: State, z: np.ndarray) -> None:
        """Advance only the forward predictions by ``dt`` (no perturbation, no plasticity).

        With no perturbation the soma equals the prediction in both
        formulations, so this is the free-running network used for testing.
        """
        s.r[0] = z
        for k in range(self.n_layers):
            self._advance_prediction(s, k, want_slope=False)

    def _advance_prediction(self, s: State, k: int, want_slope: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Relax the prediction ``a`` of population ``k + 1`` toward the drive of connection ``k`` by
        one step and set its rates; returns the drive (scratch) and ``f'(a)`` (if ``want_slope``)."""
        drive = self._forward_drive(s, k)
        a, e = s.a[k + 1], self.decay_a[k + 1]
        a *= e
        a += (1.0 - e) * drive
        return drive, self._rates(s, k + 1, a, want_slope=want_slope)

    def _forward_drive(self, s: State, k: int) -> np.ndarray:
        """Decorrelate the input of connection ``k`` and return its drive ``x W^T + b`` (scratch)."""
        self._decorrelate(s, k)
        x, w = s.x[k], self.W[k]
        post = k + 1
        if self.w_scale[k] is not None:  # x W^T = (x diag(scale)) W_stored^T
            x = self._scaled(s, "xw", k, x, self.w_scale[k])
        drive = matmul_into(x, w.T, self._scratch(s, "a", post, (x.shape[0], self.sizes[post]),
                                                  np.result_type(x, w)))
        if self.b[k] is not None:
            drive += self.b[k]
        return drive

    def _step_prediction(self, s: State, z: np.ndarray, target: np.ndarray | None, feedback: bool,
                         eta_w: float, eta_l: float, lateral_rows: np.ndarray | None) -> None:
        """One sweep of the prediction formulation: predictions up, perturbations down, somata, plasticity."""
        s.r[0] = z
        last = self.n_layers
        drives = [None] * (last + 1)
        slopes = [None] * (last + 1)
        for k in range(last):
            drives[k + 1], slopes[k + 1] = self._advance_prediction(s, k, want_slope=feedback)
        if feedback:
            self._perturb_output(s, target, slopes[last])
            self._feedback(s, slopes)
        else:
            for d in s.delta[1:]:
                d.fill(0.0)
        for post in range(1, last + 1):
            self._leak(s, post, s.u[post], self.decay_u[post], drives[post])
            if self.centered:
                s.ubar[post] += self.mean_rate * (s.u[post] - s.ubar[post])
        if eta_w or eta_l:
            for k in range(last):
                self._plasticity(s, k, drives[k + 1], eta_w, eta_l, lateral_rows)

    def _perturb_output(self, s: State, target: np.ndarray | None, slope: np.ndarray | None) -> None:
        """``delta_L = gamma (t - f(a_L)) f'(a_L)`` (low-pass filtered with ``feedback.tau``)."""
        last = self.n_layers
        d = s.delta[last]
        if target is None or self.gamma == 0:
            d.fill(0.0)
            return
        a = s.a[last]
        err = self._scratch(s, "err", last, a.shape, np.result_type(target, a))
        np.subtract(target, s.r[last], out=err)
        if self._kind[last] != ("linear", 1.0):
            err *= slope if slope is not None else self.fprime[last](a)
        err *= self.gamma
        if self.decay_d is None:
            np.copyto(d, err)
        else:
            d *= self.decay_d
            err *= 1.0 - self.decay_d
            d += err

    def _step_nudging(self, s: State, z: np.ndarray, target: np.ndarray | None, feedback: bool,
                      eta_w: float, eta_l: float, lateral_rows: np.ndarray | None) -> None:
        """One step of the self-consistent nudging formulation (somata transmit ``f(u)``)."""
        s.r[0] = z
        last = self.n_layers
        nudge = feedback and target is not None and self.gamma > 0
        # f'(u) of hidden populations, evaluated with r = f(u) and reused by the feedback
        slopes = [None] * (last + 1)
        for k in range(self.n_layers):
            post = k + 1
            a = self._forward_drive(s, k)
            np.copyto(s.a[post], a)
            u, e = s.u[post], self.decay_u[post]
            if post == last and nudge:
                self._nudge_output(s, a, target)
            else:
                if post == last and not feedback:
                    s.delta[post][...] = 0.0
                self._leak(s, post, u, e, a)
            slopes[post] = self._rates(s, post, u, want_slope=feedback and post < last)
            if self.centered:
                s.ubar[post] += self.mean_rate * (u - s.ubar[post])
            if eta_w or eta_l:
                self._plasticity(s, k, a, eta_w, eta_l, lateral_rows)
        if feedback:
            self._feedback(s, slopes)

    def _leak(self, s: State, post: int, u: np.ndarray, e: float, a: np.ndarray) -> None:
        """``u <- e u + (1 - e) (a + delta)`` (exponential Euler of the soma)."""
        drive = self._scratch(s, "drive", post, a.shape, np.result_type(a, s.delta[post]))
        np.add(a, s.delta[post], out=drive)
        drive *= 1.0 - e
        u *= e
        u += drive

    def _rates(self, s: State, post: int, u: np.ndarray, want_slope: bool) -> np.ndarray | None:
        """Set ``r = f(u)``; return ``f'(u)`` when asked and cheap (else ``None``)."""
        kind = self._kind[post]
        r = s.r[post]
        if kind is None or not (isinstance(r, np.ndarray) and r.shape == u.shape and r.dtype == u.dtype
                                and r is not u and r.flags.writeable):
            s.r[post] = self.f[post](u)
            return None
        if kind[0] == "linear":
            np.copyto(r, u)
            return None
        # leaky / plain relu: f'(u) = 1 where u > 0 else slope, f(u) = u f'(u)
        # (bit-identical to where(u > 0, u, slope * u))
        slope = self._scratch(s, "slope", post, u.shape, u.dtype)
        mask = self._scratch(s, "mask", post, u.shape, np.bool_)
        np.greater(u, 0, out=mask)
        slope.fill(kind[1])
        np.copyto(slope, 1.0, where=mask)
        np.multiply(u, slope, out=r)
        return slope if want_slope else None

    def _decorrelate(self, s: State, k: int) -> None:
        z, lat, scale = s.r[k], self.L[k], self.l_scale[k]
        rule = self.model.lateral.rule
        if lat is None:
            s.x[k] = np.ascontiguousarray(z, dtype=self.dtype)
        else:
            x = s.x[k]
            shape = (z.shape[0], lat.shape[0])
            if scale is not None and rule == "copi_bio":  # z R^T = (z diag(scale)) L^T
                z = self._scaled(s, "zs", k, z, scale)
            if rule == "foldiak":
                drive = z - x @ lat.T
            elif z.dtype != lat.dtype:
                drive = z @ lat.T
            elif self.decay_x is None and self._writable(x, shape) and not np.may_share_memory(x, z):
                matmul_into(z, lat.T, x)  # x = z R^T, written in place
                if scale is not None and rule == "copi":  # z R^T = (z L^T) diag(scale)
                    x *= scale
                drive = None
            else:
                drive = matmul_into(z, lat.T, self._scratch(s, "xdrive", k, shape, lat.dtype))
            if drive is not None:
                if scale is not None and rule == "copi":
                    drive *= scale
                if self.decay_x is None:
                    s.x[k] = np.ascontiguousarray(drive, dtype=self.dtype)
                else:
                    x *= self.decay_x
                    x += (1.0 - self.decay_x) * drive
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

    def _feedback(self, s: State, slopes: list) -> None:
        """Hidden perturbations, top down; ``slopes[k]`` is f' (of ``a_k`` or ``u_k``) when the step has it."""
        mode = self.model.feedback.mode
        last = self.n_layers
        for k in range(last - 1, 0, -1):
            if mode == "none":
                break
            src = s.delta[k + 1] if mode != "dfa" else s.delta[last]
            mat = self.W[k] if mode == "bp" else self.G[k]
            shape = (src.shape[0], mat.shape[1])
            g = matmul_into(src, mat, self._scratch(s, "g", k, shape, np.result_type(src, mat)))
            if mode == "bp":
                if self.w_scale[k] is not None:  # delta W = (delta W_stored) diag(scale)
                    g *= self.w_scale[k]
                g = self._lateral_transpose(s, k, g)
            fpk = slopes[k] if slopes[k] is not None else self.fprime[k](s.a[k] if self.prediction else s.u[k])
            d = s.delta[k]
            if self.decay_d is None:
                if self._writable(d, g.shape) and g.dtype == d.dtype:
                    np.multiply(fpk, g, out=d)
                else:
                    s.delta[k] = fpk * g
            else:
                # g may be the adjoint state (foldiak): never overwrite it
                tgt = self._scratch(s, "fb", k, g.shape, np.result_type(fpk, g))
                np.multiply(fpk, g, out=tgt)
                tgt *= 1.0 - self.decay_d
                d *= self.decay_d
                d += tgt

    def _lateral_transpose(self, s: State, k: int, g: np.ndarray) -> np.ndarray:
        """Backpropagate ``g`` (gradient w.r.t. x) through the lateral stage of connection k."""
        lat, scale, rule = self.L[k], self.l_scale[k], self.model.lateral.rule
        if lat is None:
            return g
        if rule != "foldiak":
            if scale is not None and rule == "copi":  # g R = (g diag(scale)) L
                g *= scale
            if g.dtype != lat.dtype:
                out = g @ lat
            else:
                out = matmul_into(g, lat, self._scratch(s, "gl", k, g.shape, g.dtype))
            if scale is not None and rule == "copi_bio":  # g R = (g L) diag(scale)
                out *= scale
            return out
        # adjoint relaxation of x = (I + M)^-1 z, same time constant as x
        y = s.adjoint[k]
        y *= self.decay_x
        y += (1.0 - self.decay_x) * (g - y @ lat)
        return y

    def _plasticity(self, s: State, k: int, a: np.ndarray, eta_w: float, eta_l: float,
                    lateral_rows: np.ndarray | None = None) -> None:
        post = k + 1
        trials = s.x[k].shape[0]
        if self.centered:
            xs = np.subtract(s.x[k], s.xbar[k],
                             out=self._scratch(s, "xs", k, s.x[k].shape, np.result_type(s.x[k], s.xbar[k])))
        else:
            xs = s.x[k]
        lat = self.L[k]
        x_sq = None
        if eta_w or (eta_l and lat is not None and lateral_rows is None):
            x_sq = np.einsum("bi,bi->i", xs, xs) / trials
        if eta_w:
            rule = self.model.plasticity.rule
            w = self.W[k]
            if rule == "copi":
                if self.centered:
                    us = np.subtract(s.u[post], s.ubar[post], out=self._scratch(
                        s, "us", post, s.u[post].shape, np.result_type(s.u[post], s.ubar[post])))
                else:
                    us = s.u[post]
                if self.adam[k] is not None:
                    self.adam[k].step(w, matmul(us.T, xs) / trials - w * x_sq, eta_w)
                else:
                    # W diag(scale) <- W diag(scale') + eta <u x^T>, scale' = scale (1 - eta <x^2>):
                    # W <- W + eta <u (x / scale')^T>
                    scale = self.w_scale[k]
                    scale *= 1.0 - eta_w * x_sq
                    gemm_update(w, us.T, self._scaled(s, "xsw", k, xs, scale, divide=True), eta_w / trials)
                    if not 0.5 <= scale.min() <= scale.max() <= 2.0:
                        self.fold_scale(k, lateral=False)
            elif rule == "delta":
                if self.adam[k] is not None:
                    self.adam[k].step(w, matmul(s.delta[post].T, xs) / trials, eta_w)
                else:
                    gemm_update(w, s.delta[post].T, xs, eta_w / trials)
            if self.b[k] is not None:
                self.b[k] += eta_w * (s.u[post] - a).mean(axis=0)
        if eta_l and lat is not None:
            if lateral_rows is not None:  # the update estimated on a subsample of the trials
                xs = xs[lateral_rows]
                trials = len(lateral_rows)
                x_sq = np.einsum("bi,bi->i", xs, xs) / trials
            rule = self.model.lateral.rule
            if rule in ("copi", "copi_bio"):
                # copi:     R <- (I + eta diag<x^2>) R - eta <x x^T> R,  with (x R)
                # copi_bio: R <- R (I + eta diag<x^2>) - eta R <x x^T>,  with (R x)^T = x R^T
                # with R = diag(scale) L (copi) or L diag(scale) (copi_bio) and
                # scale' = scale (1 + eta <x^2>): L <- L - eta <(x / scale') (x R)^T> (copi),
                # L <- L - eta <(x R^T) (x / scale')^T> (copi_bio)
                scale = self.l_scale[k]
                op = lat if rule == "copi" else lat.T
                xin = self._scaled(s, "xsl", k, xs, scale)  # x R = (x diag(scale)) L; x R^T likewise
                if xin.dtype == lat.dtype:
                    xr = matmul_into(xin, op, self._scratch(s, "xr", k, xs.shape, lat.dtype))
                else:
                    xr = xin @ op
                scale *= 1.0 + eta_l * x_sq
                xdiv = self._scaled(s, "xsl", k, xs, scale, divide=True)
                if rule == "copi":
                    gemm_update(lat, xdiv.T, xr, -eta_l / trials)
                else:
                    gemm_update(lat, xr.T, xdiv, -eta_l / trials)
                if not 0.5 <= scale.min() <= scale.max() <= 2.0:
                    self.fold_scale(k, lateral=True)
            else:  # foldiak: M <- M + eta offdiag<x x^T>
                gemm_update(lat, xs.T, xs, eta_l / trials)
                np.fill_diagonal(lat, 0.0)
                if self.model.lateral.sign == "nonnegative":
                    np.maximum(lat, 0.0, out=lat)
