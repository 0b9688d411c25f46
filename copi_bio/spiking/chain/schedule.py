"""What a spiking chain is shown and when it learns: the schedules of a run.

The training stimuli of every copy, the learning-rate gates (settle, onset,
annealing), the rate of the slow running means, and the test phase's plan
(which held-out image each copy shows, and for how long). All are arrays
that :func:`copi_bio.spiking.chain.run.build` turns into
:class:`brian2.TimedArray` schedules.
"""

from __future__ import annotations

import math

import numpy as np

from ...spec import Model
from ...tasks import TaskData


def anneal_factors(model: Model) -> np.ndarray:
    """The learning rates' annealing factor in each training presentation ``p``:
    ``1 / (1 + p / protocol.anneal)``, or 1 without annealing."""
    proto = model.protocol
    p = np.arange(proto.presentations)
    return 1.0 / (1.0 + p / proto.anneal) if proto.anneal else np.ones(len(p))


def gates(model: Model, test_presentations: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Factors of the forward and lateral learning rates (settle, onset, anneal) and their time step;
    0 during the ``test_presentations`` after the training presentations.

    The factors change only at presentation onsets and at the end of
    ``t_settle``, so they are sampled every ``gcd(t_present, t_settle)``
    (in steps of ``dt``) rather than every step.
    """
    proto = model.protocol
    steps, settle = proto.steps_per_presentation, proto.settle_steps
    block = math.gcd(steps, settle)
    p = np.arange(proto.presentations)
    scale = anneal_factors(model)
    within = (np.arange(0, steps, block) >= settle).astype(float)
    lat = (scale[:, None] * within[None, :]).ravel()
    fwd = ((scale * (p >= proto.forward_onset))[:, None] * within[None, :]).ravel()
    if model.plasticity.rule == "none":
        fwd[:] = 0.0
    if model.lateral.rule == "none":
        lat[:] = 0.0
    off = np.zeros(test_presentations * (steps // block))
    return np.concatenate([fwd, off]), np.concatenate([lat, off]), block * proto.dt


def mean_rates(model: Model) -> np.ndarray:
    """Rate factor of the slow running means in each training presentation: 1, or with
    ``spiking.mean_anneal`` the learning rates' annealing factor ``1 / (1 + p / protocol.anneal)``."""
    if model.spiking.mean_anneal:
        return anneal_factors(model)
    return np.ones(model.protocol.presentations)


def test_hold(model: Model) -> int:
    """How many ``t_present`` each held-out image is shown for (``spiking.test_present``)."""
    test = model.spiking.test_present
    return 1 if test is None else int(round(test / model.protocol.t_present))


def test_plan(model: Model, task: TaskData) -> np.ndarray:
    """The held-out image each copy is shown in each test presentation, ``(presentations, copies)``:
    copy ``c`` shows images ``c T ... (c + 1) T - 1``; -1 pads the last copy. Empty (no test phase) for
    tasks without classes or with ``spiking.test_images = 0``."""
    n = len(task.test_inputs) if task.classification else 0
    if model.spiking.test_images is not None:
        n = min(n, model.spiking.test_images)
    copies = model.protocol.trials
    per_copy = math.ceil(n / copies)
    plan = np.full(per_copy * copies, -1, dtype=np.int64)
    plan[:n] = np.arange(n)
    return plan.reshape(copies, per_copy).T


def stimuli(task: TaskData, model: Model, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Input values and targets of every presentation, ``(presentations, trials * n)``: each copy of the
    network (``protocol.trials``) is shown its own stimuli, copy ``c`` in columns ``c * n ...``."""
    proto = model.protocol
    z, t = task.batch(rng, proto.presentations * proto.trials)
    z = np.asarray(z, dtype=float).reshape(proto.presentations, -1)
    return z, (np.asarray(t, dtype=float).reshape(proto.presentations, -1) if task.n_out else None)
