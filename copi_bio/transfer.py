"""Transfer functions ``r = f(u)`` and their derivatives ``f'(u)``."""

from __future__ import annotations

from typing import Callable

import numpy as np

Array = np.ndarray


def transfer(name: str, slope: float = 0.1) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """Return ``(f, fprime)`` for a transfer-function name.

    Parameters
    ----------
    name : {"linear", "leaky_relu", "relu", "tanh", "sigmoid"}
    slope : float
        Slope for negative ``u`` of ``leaky_relu``.
    """
    if name == "linear":
        return (lambda u: u.copy()), (lambda u: np.ones_like(u))
    if name in ("leaky_relu", "relu"):
        s = slope if name == "leaky_relu" else 0.0
        return (lambda u: np.where(u > 0, u, s * u)), (lambda u: np.where(u > 0, 1.0, s).astype(u.dtype))
    if name == "tanh":
        return np.tanh, (lambda u: 1.0 - np.tanh(u) ** 2)
    if name == "sigmoid":
        def f(u: Array) -> Array:
            return 0.5 * (1.0 + np.tanh(0.5 * u))
        return f, (lambda u: f(u) * (1.0 - f(u)))
    raise ValueError(f"unknown transfer function {name!r}")
