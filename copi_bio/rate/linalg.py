"""In-place matrix updates through BLAS ``gemm``.

The plasticity updates have the form ``C <- beta C + alpha A @ B``. Doing
them with one ``gemm`` call that writes into ``C`` avoids the temporaries of
``C += alpha * (A @ B)``; for the large square lateral matrices that halves
the memory traffic of a step.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas


def _as_fortran_operand(m: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``(array, trans)`` with ``op(array) = m.T`` and ``array`` Fortran-ordered."""
    if m.flags.c_contiguous:
        return m.T, 0
    if m.flags.f_contiguous:
        return m, 1
    return np.ascontiguousarray(m).T, 0


def gemm_update(c: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float, beta: float = 1.0) -> None:
    """Compute ``c[...] = beta * c + alpha * (a @ b)`` in place.

    Parameters
    ----------
    c : ndarray, C-contiguous, float32 or float64
    a, b : ndarray
        Any memory order; same dtype as ``c``.
    alpha, beta : float
    """
    if not c.flags.c_contiguous or a.dtype != c.dtype or b.dtype != c.dtype:
        c *= beta
        c += alpha * (a @ b)
        return
    gemm = blas.dgemm if c.dtype == np.float64 else blas.sgemm
    # c^T = beta c^T + alpha b^T a^T, and c^T is a Fortran-ordered view of c.
    bb, tb = _as_fortran_operand(b)
    aa, ta = _as_fortran_operand(a)
    out = gemm(alpha, bb, aa, beta=beta, c=c.T, trans_a=tb, trans_b=ta, overwrite_c=1)
    if not np.shares_memory(out, c):  # pragma: no cover - BLAS refused to write in place
        c[...] = out.T
