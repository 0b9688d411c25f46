"""Backend-neutral collection of what a run produced.

Backends fill a :class:`RunRecord` while they run; :mod:`copi_bio.results`
turns it into an :class:`xarray.Dataset`. Keeping this step separate lets a
failed run still hand over everything recorded up to the failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import metrics as m
from .spec import Model


@dataclass
class ConnectionStats:
    """Running sums of the statistics a connection's rules see.

    ``x`` is the (decorrelated, possibly centered) presynaptic activity,
    ``u`` the postsynaptic somatic potential and ``d`` the perturbation.
    """

    n_pre: int
    n_post: int
    count: int = 0
    sx: np.ndarray = field(init=False)
    sxx: np.ndarray = field(init=False)
    sux: np.ndarray = field(init=False)
    sdx: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new averaging window."""
        self.count = 0
        self.sx = np.zeros(self.n_pre)
        self.sxx = np.zeros((self.n_pre, self.n_pre))
        self.sux = np.zeros((self.n_post, self.n_pre))
        self.sdx = np.zeros((self.n_post, self.n_pre))

    def add(self, x: np.ndarray, u: np.ndarray, d: np.ndarray,
            matmul: Callable[[np.ndarray, np.ndarray], np.ndarray] = np.matmul) -> None:
        """Add a block of samples, shapes ``(samples, n)``.

        The block's products are formed in the samples' own precision (float32
        for ``protocol.dtype = "float32"``: a block is one minibatch, so its
        sums hold few terms) and accumulated in float64. ``matmul`` forms them:
        a backend passes the product its own steps use, so that one pool of
        BLAS threads does all the work (two pools take turns spinning on the
        same cores, which made a MNIST run 4x slower).
        """
        self.count += len(x)
        self.sx += x.sum(axis=0)
        self.sxx += matmul(x.T, x)
        self.sux += matmul(u.T, x)
        self.sdx += matmul(d.T, x)

    def summary(self, weights: np.ndarray) -> dict[str, float]:
        """Decorrelation, fixed-point and alignment measures over the window."""
        if self.count < 2:
            return {}
        n = self.count
        mean = self.sx / n
        cov = self.sxx / n - np.outer(mean, mean)
        second = self.sxx / n
        x_sq = np.diag(second).copy()
        u_x, d_x = self.sux / n, self.sdx / n
        fixed = m.copi_fixed_point(u_x, x_sq)
        return {
            "mean_abs_corr": m.mean_abs_offdiag(m.correlation_from_covariance(cov)),
            "decorrelation_index": m.decorrelation_index(cov),
            "inference_error_fixed_point": m.relative_error(weights, fixed),
            "copi_bp_cosine": m.cosine(m.copi_update(u_x, x_sq, weights), d_x),
        }


@dataclass
class RunRecord:
    """Everything a backend recorded during a run.

    Attributes
    ----------
    model : Model
    time : list of float
        Sampling times (s) of recorded state variables.
    states : dict
        ``(variable, population) -> list`` of ``(trials, neurons)`` samples.
    weight_time : list of float
        Snapshot times (s) of plastic matrices.
    weights : dict
        ``name -> (dims, list of arrays)``.
    metric_time : list of float
        Times (s) at which metrics were computed.
    presentation : list of int
        Presentation count at each metric time.
    metrics : dict
        ``name -> list of float``.
    teacher : ndarray or None
        Teacher weights, stored with the results when known.
    spikes : dict
        Spiking backend only: ``population -> (times_s, indices)`` arrays.
    spike_duration : float
        Simulated time (s) covered by ``spikes`` (for binned rates).
    rate_bin : float
        Bin width (s) of the stored binned rates.
    spike_neurons : dict
        ``population -> indices`` of the neurons whose spikes were recorded,
        when only a subset was (binned rates then cover those neurons only).
    variables : dict
        Further data variables ``name -> (dims, array, attrs)`` stored as they are.
    coords : dict
        Further coordinates ``name -> (dims, array, attrs)`` of those variables.
    attrs : dict
        Extra provenance attributes set by the backend.
    """

    model: Model
    time: list = field(default_factory=list)
    states: dict = field(default_factory=dict)
    weight_time: list = field(default_factory=list)
    weights: dict = field(default_factory=dict)
    metric_time: list = field(default_factory=list)
    presentation: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    teacher: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    spike_duration: float = 0.0
    rate_bin: float = 0.1
    spike_neurons: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    coords: dict = field(default_factory=dict)

    def add_metrics(self, t: float, presentation: int, values: dict[str, float]) -> None:
        """Append one row of metrics; names missing in this row become NaN."""
        row = len(self.metric_time)
        self.metric_time.append(t)
        self.presentation.append(presentation)
        for name, value in values.items():
            self.metrics.setdefault(name, [float("nan")] * row).append(float(value))
        for series in self.metrics.values():
            if len(series) < row + 1:
                series.append(float("nan"))

    def add_weights(self, t: float, mats: dict[str, tuple[tuple[str, str], np.ndarray]]) -> None:
        """Append one snapshot of plastic matrices ``name -> (dims, array)``."""
        self.weight_time.append(t)
        for name, (dims, arr) in mats.items():
            self.weights.setdefault(name, (dims, []))[1].append(np.array(arr, dtype=float))
