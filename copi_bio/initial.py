"""What both backends share when they set up a run: seeded generators,
initial forward weights, and the effective map of a connection."""

from __future__ import annotations

import numpy as np

from .spec import Model


def seeded_generators(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for the task, the initial weights and the stimulus stream."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))


def initial_weights(model: Model, rng: np.random.Generator) -> list[np.ndarray]:
    """Forward weights ``W_k`` (``n_{k+1} x n_k``): Xavier-normal, std ``sqrt(2/(n_in+n_out))``, or zero."""
    sizes = [p.size for p in model.populations]
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if model.plasticity.init == "xavier":
            out.append(rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out)))
        else:
            out.append(np.zeros((n_out, n_in)))
    return out


def effective_weights(w: np.ndarray, lateral: np.ndarray | None, foldiak: bool) -> np.ndarray:
    """Map from presynaptic rates to the postsynaptic drive: ``W R``, or ``W (I + M)^-1`` (Foldiak)."""
    w = np.asarray(w, dtype=float)
    if lateral is None:
        return w
    lateral = np.asarray(lateral, dtype=float)
    if foldiak:
        return np.linalg.solve((np.eye(len(lateral)) + lateral).T, w.T).T
    return w @ lateral
