"""Measures of decorrelation, inference and alignment (pure numpy).

Used by the backends while they run (on accumulated statistics) and by
:mod:`copi_bio.analysis` on recorded results.
"""

from __future__ import annotations

import numpy as np


def offdiag(matrix: np.ndarray) -> np.ndarray:
    """Copy of a square matrix with its diagonal set to zero."""
    out = np.array(matrix, dtype=float, copy=True)
    np.fill_diagonal(out, 0.0)
    return out


def correlation_from_covariance(cov: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix; units with zero variance give NaN rows."""
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.outer(sd, sd)


def upper_pairs(matrix: np.ndarray) -> np.ndarray:
    """Values above the diagonal, one per unordered pair (NaN pairs dropped)."""
    vals = matrix[np.triu_indices(matrix.shape[0], 1)]
    return vals[np.isfinite(vals)]


def mean_abs_offdiag(corr: np.ndarray) -> float:
    """Mean of ``|C_ij|`` over pairs ``i < j`` (NaN pairs ignored)."""
    vals = np.abs(upper_pairs(corr))
    return float(vals.mean()) if vals.size else float("nan")


def decorrelation_index(cov: np.ndarray) -> float:
    """``||offdiag(C)||_F / ||diag(C)||_F`` of a covariance (0 = decorrelated)."""
    d = np.linalg.norm(np.diag(cov))
    return float(np.linalg.norm(offdiag(cov)) / d) if d > 0 else float("nan")


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    """``||estimate - reference||_F / ||reference||_F``."""
    ref = np.linalg.norm(reference)
    return float(np.linalg.norm(estimate - reference) / ref) if ref > 0 else float("nan")


def teacher_agreement(estimate: np.ndarray, teacher: np.ndarray) -> dict[str, float]:
    """How well a learned map agrees with the teacher, element by element.

    Returns ``teacher_r``, the Pearson correlation of the elements of
    ``estimate`` and ``teacher``, and ``teacher_slope``, the least-squares
    slope of ``estimate`` regressed on ``teacher`` (1 when the scale is
    right; with a constant teacher both are NaN).
    """
    e, t = np.ravel(estimate).astype(float), np.ravel(teacher).astype(float)
    tc, ec = t - t.mean(), e - e.mean()
    var_t, var_e = float(tc @ tc), float(ec @ ec)
    if var_t == 0.0:
        return {"teacher_r": float("nan"), "teacher_slope": float("nan")}
    r = float(tc @ ec / np.sqrt(var_t * var_e)) if var_e > 0 else 0.0
    return {"teacher_r": r, "teacher_slope": float(tc @ ec / var_t)}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two arrays seen as flat vectors."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(np.vdot(a, b) / (na * nb)) if na > 0 and nb > 0 else float("nan")


def copi_update(u_x: np.ndarray, x_sq: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """COPI forward update direction ``<u x^T> - W diag(<x^2>)``."""
    return u_x - weights * x_sq[None, :]


def copi_fixed_point(u_x: np.ndarray, x_sq: np.ndarray) -> np.ndarray:
    """Fixed point of the COPI forward rule, ``<u x^T> diag(<x^2>)^-1``.

    Inputs with zero second moment get zero weights.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x_sq[None, :] > 0, u_x / x_sq[None, :], 0.0)
