"""The cheaper estimate of the decorrelation update (``lateral.sample_fraction`` / ``sample_count`` /
``update_every``; docs/equations.md, "A cheaper decorrelation update").

The full update of plastic step ``n`` is ``dR = -eta offdiag(C) R`` with ``C = (1/B) sum_b x_b x_b^T``
over the ``B`` trials of the step. The cheaper one is

``dR_n = -(k eta) offdiag(C_S) R`` if ``n % k == 0``, else 0, with ``C_S = (1/b) sum_{b in S_n} x_b x_b^T``

where ``S_n`` is a uniform random subset of ``b`` of the ``B`` trials, drawn without replacement. Its
expectation over ``S_n`` is the full update of that step (each trial is in ``S_n`` with probability
``b / B``), and over ``k`` consecutive steps of slowly changing activity its mean is the mean of the
full updates. The subsets are drawn from ``(seed, step)`` alone, so a run resumed from a checkpoint
draws the same ones. With ``b = B`` and ``k = 1`` the update is the full one, bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..spec.chain import LateralInhibition

SAMPLE_STREAM = 7919
"""Stream of the seed sequence the subsets are drawn from (apart from the task's, the weights'
and the stimuli's)."""


def lateral_schedule(lateral: LateralInhibition, seed: int, step: int,
                     trials: int) -> tuple[float, np.ndarray | None]:
    """Rate factor and trials of the decorrelation update at plastic step ``step``.

    Parameters
    ----------
    lateral : LateralInhibition
        The model's lateral stage.
    seed : int
        The model's seed.
    step : int
        Index of the plastic step (0 for the first step with plasticity on).
    trials : int
        Trials of the step (``protocol.trials``).

    Returns
    -------
    factor : float
        Multiplies the update's rate: ``k`` on every ``k``-th step, else 0.
    rows : ndarray of int or None
        Sorted trial indices the update is estimated on; ``None`` for all trials.
    """
    k = lateral.update_every
    if step % k:
        return 0.0, None
    size = lateral.sample_size(trials)
    if size >= trials:
        return float(k), None
    rng = np.random.default_rng((seed, SAMPLE_STREAM, step))
    return float(k), np.sort(rng.choice(trials, size, replace=False))
