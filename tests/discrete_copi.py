"""The paper's discrete COPI algorithm, written independently of the backends.

Ahmad, Schrader & van Gerven (2023), minibatch form (see COPI_SPEC.md, section 2)::

    x_l = R_l z_l,  a_l = W_l x_l,  z_{l+1} = f(a_l),  y = f_L(a_{L-1})
    delta_out = gamma (t - y) f'(a_{L-1})
    delta_l   = f'(a_l) * B_l delta_{l+1},   B_l = (W_{l+1} R_{l+1})^T (bp) or fixed random (fa)
    dW_l = eta (<(a_l + delta_l) x_l^T> - W_l diag<x_l^2>)
    dR_l = -eta offdiag(<x_l x_l^T>) R_l

Used by the discrete-limit tests and by ``benchmarks/bench_learning.py``; it
imports nothing from ``copi_bio``.
"""

from __future__ import annotations

import numpy as np


def leaky_relu(a: np.ndarray, slope: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(f(a), f'(a))`` of the leaky ReLU."""
    d = np.where(a > 0, 1.0, slope).astype(a.dtype)
    return a * d, d


class DiscreteCopi:
    """COPI network ``n_0 - n_1 - ... - n_L``: leaky-ReLU hidden layers, linear output.

    Parameters
    ----------
    weights : list of ndarray
        Initial forward weights ``W_l`` (``n_{l+1} x n_l``); copied.
    eta, gamma : float
        Learning rate per minibatch and loss multiplier.
    feedback : {"bp", "fa"}
    fa_weights : list of ndarray, optional
        Fixed random ``B_l`` (``n_{l+1} x n_l``, applied as ``delta_{l+1} B_l``) for ``fa``.
    decorrelate : bool
        Learn ``R_l`` (else ``R_l = I``).
    rule : {"copi", "delta"}
        Forward rule: COPI, or the delta rule ``eta <delta x^T>`` (BP).
    dtype : numpy dtype
        Precision of weights and arithmetic (inputs are cast to it).
    """

    def __init__(self, weights, eta: float = 1e-3, gamma: float = 1000.0, feedback: str = "bp",
                 fa_weights=None, decorrelate: bool = True, rule: str = "copi", slope: float = 0.1, output: str = "linear",
                 dtype=np.float64):
        self.dtype = np.dtype(dtype)
        self.W = [np.array(w, dtype=self.dtype) for w in weights]
        self.R = [np.eye(w.shape[1], dtype=self.dtype) for w in self.W]
        self.eta, self.gamma, self.feedback = eta, gamma, feedback
        self.B = fa_weights
        self.decorrelate, self.rule, self.slope, self.output = decorrelate, rule, slope, output

    def forward(self, z: np.ndarray) -> tuple[list, list, list]:
        """Decorrelated inputs ``x_l``, drives ``a_l`` and slopes ``f'(a_l)`` of a batch (rows)."""
        xs, acts, slopes = [], [], []
        z = np.asarray(z, dtype=self.dtype)
        last = len(self.W) - 1
        for l, (w, r) in enumerate(zip(self.W, self.R)):
            x = z @ r.T
            a = x @ w.T
            xs.append(x)
            acts.append(a)
            z, d = leaky_relu(a, self.slope)
            if l == last and self.output == "linear":
                z, d = a, np.ones_like(a)
            slopes.append(d)
        return xs, acts, slopes

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Output ``y`` of a batch."""
        xs, acts, slopes = self.forward(z)
        return acts[-1] if self.output != "leaky_relu" else leaky_relu(acts[-1], self.slope)[0]

    def train_batch(self, z: np.ndarray, t: np.ndarray, learn_forward: bool = True) -> None:
        """One minibatch update of every ``R_l`` and (if ``learn_forward``) every ``W_l``."""
        xs, acts, slopes = self.forward(z)
        t = np.asarray(t, dtype=self.dtype)
        n = len(z)
        deltas = [None] * len(self.W)
        y = acts[-1] if self.output != "leaky_relu" else leaky_relu(acts[-1], self.slope)[0]
        deltas[-1] = self.gamma * (t - y) * slopes[-1]
        for l in range(len(self.W) - 2, -1, -1):
            back = self.W[l + 1] @ self.R[l + 1] if self.feedback == "bp" else self.B[l + 1]
            deltas[l] = slopes[l] * (deltas[l + 1] @ back)
        for l, (x, a, d) in enumerate(zip(xs, acts, deltas)):
            x_sq = np.mean(x * x, axis=0)
            if learn_forward:
                if self.rule == "copi":
                    self.W[l] += self.eta * ((a + d).T @ x / n - self.W[l] * x_sq)
                else:
                    self.W[l] += self.eta * (d.T @ x / n)
            if self.decorrelate:
                cov = x.T @ x / n
                np.fill_diagonal(cov, 0.0)
                self.R[l] -= self.eta * cov @ self.R[l]
