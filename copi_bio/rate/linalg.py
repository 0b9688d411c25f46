"""In-place matrix updates through BLAS ``gemm``.

The plasticity updates have the form ``C <- beta C + alpha A @ B``. Doing
them with one ``gemm`` call that writes into ``C`` avoids the temporaries of
``C += alpha * (A @ B)``; for the large square lateral matrices that halves
the memory traffic of a step.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import numpy as np
from scipy.linalg import blas
from threadpoolctl import threadpool_limits


_GEMM = {np.dtype(np.float64): blas.dgemm, np.dtype(np.float32): blas.sgemm}


def _fortran_operand(m: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(array, trans)`` with ``op(array) = m.T`` and ``array`` Fortran-ordered, or None (would copy)."""
    if m.flags.c_contiguous:
        return m.T, 0
    if m.flags.f_contiguous:
        return m, 1
    return None


def matmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = a @ b`` through the same BLAS (scipy's) as :func:`gemm_update`.

    Keeping every product of a step on one BLAS library keeps one pool of
    BLAS threads busy instead of two pools competing for the cores. Falls
    back to :func:`numpy.matmul` where the operands do not suit ``gemm``.
    """
    gemm = _GEMM.get(out.dtype)
    if gemm is not None and out.flags.c_contiguous and a.dtype == out.dtype and b.dtype == out.dtype:
        bb, aa = _fortran_operand(b), _fortran_operand(a)
        if bb is not None and aa is not None and out.size:
            # out^T = b^T a^T, written into the Fortran-ordered view out.T
            res = gemm(1.0, bb[0], aa[0], beta=0.0, c=out.T, trans_a=bb[1], trans_b=aa[1], overwrite_c=1)
            if res.ctypes.data == out.ctypes.data:
                return out
    return np.matmul(a, b, out=out)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in a new array, through the BLAS of :func:`matmul_into`."""
    return matmul_into(a, b, np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b)))


def gemm_update(c: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float, beta: float = 1.0) -> None:
    """Compute ``c[...] = beta * c + alpha * (a @ b)`` in place.

    Parameters
    ----------
    c : ndarray, C-contiguous, float32 or float64
    a, b : ndarray
        Any memory order; same dtype as ``c``.
    alpha, beta : float
    """
    if c.dtype not in _GEMM or not c.flags.c_contiguous or a.dtype != c.dtype or b.dtype != c.dtype:
        c *= beta
        c += alpha * (a @ b)
        return
    # c^T = beta c^T + alpha b^T a^T, and c^T is a Fortran-ordered view of c.
    bb, tb = _fortran_operand(b) or (np.ascontiguousarray(b).T, 0)
    aa, ta = _fortran_operand(a) or (np.ascontiguousarray(a).T, 0)
    out = _GEMM[c.dtype](alpha, bb, aa, beta=beta, c=c.T, trans_a=tb, trans_b=ta, overwrite_c=1)
    if not np.shares_memory(out, c):  # pragma: no cover - BLAS refused to write in place
        c[...] = out.T


SMALL_PRODUCT = 4_000_000
"""Multiply-adds below which a product runs faster on one BLAS thread than on several."""


def blas_threads(sizes: list[int], trials: int) -> ContextManager:
    """Limit BLAS to one thread for networks whose largest product is small.

    The products of a small network (e.g. 64-100-10 with 50 trials) take
    microseconds; waking and synchronising BLAS worker threads costs more than
    they save, and on a busy machine much more. Larger networks keep the
    threads BLAS was configured with.
    """
    largest = max(max(a * b for a, b in zip(sizes[:-1], sizes[1:])),
                  max(n * n for n in sizes[:-1])) * trials
    return threadpool_limits(1) if largest < SMALL_PRODUCT else contextlib.nullcontext()
