"""Adam steps on a plastic drive (the non-local "BP + Adam" reference)."""

from __future__ import annotations

import numpy as np

CHUNK = 32768
"""Elements per block of an Adam step: the block's arrays (weights, moments, drive, two scratch
arrays) stay in a core's cache through the ten operations of the step."""

_SCRATCH: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


class Adam:
    """Adam (Kingma & Ba 2015) applied to a weight matrix's plastic drive.

    Each plastic step ``W += eta * m_hat / (sqrt(v_hat) + eps)``, where ``m``
    and ``v`` are running first and second moments of the drive (``<delta x^T>``
    for the delta rule) and ``eta = dt / tau`` (scaled by the annealing).
    The step runs in place, block by block (:data:`CHUNK`), so that it costs
    about one pass over the weights and moments in memory, as a compiled
    optimizer does: it is the reference COPI's wall time is compared with
    (docs/mnist.md), so it must not be slowed by temporaries.

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
        """Update ``weights`` in place from one step's ``drive``.

        With the bias corrections folded into the step size (Kingma & Ba 2015, end of section 2):
        ``W += eta sqrt(c2) / c1 * m / (sqrt(v) + eps sqrt(c2))``, ``c1 = 1 - beta1^t``,
        ``c2 = 1 - beta2^t``, which is ``eta m_hat / (sqrt(v_hat) + eps)`` exactly.
        """
        self.t += 1
        c1, c2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        size, eps = eta * np.sqrt(c2) / c1, self.eps * np.sqrt(c2)
        w, g = weights.reshape(-1), np.ascontiguousarray(drive).reshape(-1)
        m, v = self.m.reshape(-1), self.v.reshape(-1)
        if not np.shares_memory(w, weights):
            raise ValueError("Adam.step needs C-contiguous weights (updated in place)")
        key = np.dtype(np.result_type(m, g))
        if key not in _SCRATCH:
            _SCRATCH[key] = (np.empty(CHUNK, dtype=key), np.empty(CHUNK, dtype=key))
        a_buf, b_buf = _SCRATCH[key]
        for start in range(0, w.size, CHUNK):
            stop = min(start + CHUNK, w.size)
            mm, vv, gg = m[start:stop], v[start:stop], g[start:stop]
            a, b = a_buf[:stop - start], b_buf[:stop - start]
            mm *= self.beta1
            np.multiply(gg, 1.0 - self.beta1, out=a)
            mm += a
            vv *= self.beta2
            np.multiply(gg, 1.0 - self.beta2, out=a)
            a *= gg
            vv += a
            np.sqrt(vv, out=a)
            a += eps
            np.divide(mm, a, out=b)
            b *= size
            w[start:stop] += b
