"""Adam steps on a plastic drive (the non-local "BP + Adam" reference)."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma & Ba 2015) applied to a weight matrix's plastic drive.

    Each plastic step ``W += eta * m_hat / (sqrt(v_hat) + eps)``, where ``m``
    and ``v`` are running first and second moments of the drive (``<delta x^T>``
    for the delta rule) and ``eta = dt / tau`` (scaled by the annealing).

    Parameters
    ----------
    shape : tuple of int
        Shape of the weight matrix.
    dtype : numpy dtype
    beta1, beta2, eps : float
        The usual Adam constants.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.m = np.zeros(shape, dtype=dtype)
        self.v = np.zeros(shape, dtype=dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0

    def step(self, weights: np.ndarray, drive: np.ndarray, eta: float) -> None:
        """Update ``weights`` in place from one step's ``drive``."""
        self.t += 1
        self.m *= self.beta1
        self.m += (1.0 - self.beta1) * drive
        self.v *= self.beta2
        self.v += (1.0 - self.beta2) * drive * drive
        m_hat = self.m / (1.0 - self.beta1 ** self.t)
        v_hat = self.v / (1.0 - self.beta2 ** self.t)
        weights += eta * m_hat / (np.sqrt(v_hat) + self.eps)
