"""Parameters of a rate network and the zero state of its trials.

Layout: activities are ``(trials, neurons)`` row blocks, so every product
is a matrix-matrix product over the parallel trials. Connection ``k`` maps
population ``k`` to ``k + 1``; its weights are ``W[k]`` with shape
``(n_{k+1}, n_k)`` and its lateral matrix ``L[k]`` (``R`` or ``M``) is
``(n_k, n_k)``.

Diagonal scales: the COPI rules rescale whole columns of ``W`` (``W <- W
diag(1 - eta <x^2>)``) and whole rows of ``R`` (``R <- diag(1 + eta <x^2>)
R``; columns for ``copi_bio``) on every step. Rather than pass over every
element of the matrices for that, the step keeps them as a stored matrix
and a vector of scales, ``W = W[k] diag(w_scale[k])``, ``R = diag(l_scale[k])
L[k]`` (``L[k] diag(l_scale[k])`` for ``copi_bio``), updates the O(N) scale
and folds it into the matrix only when it leaves [1/2, 2]. The matrices the
network means are :meth:`RateParameters.forward_weights` and
:meth:`RateParameters.lateral_weights`; ``w_scale[k]`` / ``l_scale[k]`` are
``None`` where the rule has no such rescaling (delta rule, Adam, Foldiak).

:class:`RateParameters` builds, from a validated model, everything the
integration step (:class:`~copi_bio.rate.network.RateNetwork`) reads: weights
``W``, lateral matrices ``L``, biases ``b``, fixed feedback weights ``G``,
Adam moments, transfer functions and the per-step decay factors. Every
array of the network is an attribute of the instance, so checkpoints
(:mod:`copi_bio.rate.checkpoint`) find them without a list kept here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..initial import effective_weights, initial_weights
from ..spec import Model
from ..transfer import transfer
from .adam import Adam


@dataclass
class State:
    """Dynamic variables of a batch of trials.

    Lists are indexed by population (``u``, ``a``, ``r``, ``delta``, ``ubar``)
    or by connection (``x``, ``xbar``, ``adjoint``); unused entries are
    ``None``. ``a`` is the forward prediction: the low-pass filtered drive
    ``W x + b`` (``perturbation = "prediction"``) or the drive itself
    (``"nudging"``).
    """

    u: list
    a: list
    r: list
    delta: list
    x: list
    xbar: list
    ubar: list
    adjoint: list
    work: dict = field(default_factory=dict, repr=False)
    """Scratch arrays of the step, reused between steps (``(name, index) -> array``)."""


class RateParameters:
    """Parameters of a rate COPI network (the step is :class:`~copi_bio.rate.network.RateNetwork`).

    Parameters
    ----------
    model : Model
        Validated model.
    rng : numpy.random.Generator
        Source of initial weights and fixed feedback weights.
    """

    def __init__(self, model: Model, rng: np.random.Generator):
        self.model = model
        proto = model.protocol
        self.dtype = np.dtype(proto.dtype)
        self.dt = proto.dt
        self.sizes = [p.size for p in model.populations]
        self.n_layers = len(self.sizes) - 1
        lat, fb = model.lateral, model.feedback
        dt = self.dt
        f_pairs = [transfer(p.transfer, p.slope) for p in model.populations]
        self.f = [fp[0] for fp in f_pairs]
        self.fprime = [fp[1] for fp in f_pairs]
        # transfer functions the step evaluates in place: ("linear", 1) or
        # ("rect", negative-side slope); None means call f / fprime
        self._kind = []
        for p in model.populations:
            if p.transfer == "linear":
                self._kind.append(("linear", 1.0))
            elif p.transfer in ("leaky_relu", "relu"):
                self._kind.append(("rect", p.slope if p.transfer == "leaky_relu" else 0.0))
            else:
                self._kind.append(None)
        self.decay_u = [float(np.exp(-dt / p.tau)) for p in model.populations]
        # the prediction shares the somatic time constant; with nudging a = W x + b has no dynamics
        self.decay_a = self.decay_u if fb.perturbation == "prediction" else [0.0] * len(self.decay_u)
        self.decay_x = None if lat.tau_x is None else float(np.exp(-dt / lat.tau_x))
        self.decay_d = None if fb.tau is None else float(np.exp(-dt / fb.tau))
        self.mean_rate = dt / lat.tau_mean
        self.centered = lat.statistics == "centered"
        self.gamma = fb.gamma
        self.prediction = fb.perturbation == "prediction"
        self.decorrelated = [model.decorrelates(k) for k in range(self.n_layers)]
        self.W, self.L, self.b, self.G = [], [], [], []
        for k, w in enumerate(initial_weights(model, rng)):
            n_in, n_out = self.sizes[k], self.sizes[k + 1]
            self.W.append(np.ascontiguousarray(w, dtype=self.dtype))
            if not self.decorrelated[k]:
                self.L.append(None)
            elif lat.rule == "foldiak":
                self.L.append(np.zeros((n_in, n_in), dtype=self.dtype))
            else:
                self.L.append(np.eye(n_in, dtype=self.dtype))
            bias = model.populations[k + 1].bias
            self.b.append(np.zeros(n_out, dtype=self.dtype) if bias else None)
        adam = model.plasticity.optimizer == "adam"
        self.adam = [Adam(w.shape, self.dtype) if adam else None for w in self.W]
        copi_w = model.plasticity.rule == "copi" and not adam
        self.w_scale = [np.ones(n, dtype=self.dtype) if copi_w else None for n in self.sizes[:-1]]
        self.l_scale = [np.ones(len(m), dtype=self.dtype) if m is not None and lat.rule in ("copi", "copi_bio")
                        else None for m in self.L]
        # fixed random feedback G[k] maps delta of the population above (fa) or
        # of the output (dfa) onto hidden population k (k = 1 .. L-1).
        self.G = [None] * (self.n_layers + 1)
        for k in range(1, self.n_layers):
            src = self.sizes[k + 1] if fb.mode == "fa" else self.sizes[-1]
            if fb.mode in ("fa", "dfa"):
                g = rng.standard_normal((src, self.sizes[k])) * fb.scale * np.sqrt(2.0 / (src + self.sizes[k]))
                self.G[k] = np.ascontiguousarray(g, dtype=self.dtype)

    # ------------------------------------------------------------------ state
    def new_state(self, trials: int) -> State:
        """Zero state for ``trials`` parallel trials."""
        z = lambda n: np.zeros((trials, n), dtype=self.dtype)  # noqa: E731
        pops = range(len(self.sizes))
        conns = range(self.n_layers)
        foldiak_bp = self.model.lateral.rule == "foldiak" and self.model.feedback.mode == "bp"
        return State(
            u=[None] + [z(self.sizes[i]) for i in pops if i > 0],
            a=[None] + [z(self.sizes[i]) for i in pops if i > 0],
            r=[z(self.sizes[0])] + [z(self.sizes[i]) for i in pops if i > 0],
            delta=[None] + [z(self.sizes[i]) for i in pops if i > 0],
            x=[z(self.sizes[k]) for k in conns],
            xbar=[z(self.sizes[k]) if self.centered else None for k in conns],
            ubar=[None] + [z(self.sizes[i]) if self.centered else None for i in pops if i > 0],
            adjoint=[z(self.sizes[k]) if foldiak_bp and self.decorrelated[k] else None for k in conns],
        )

    def forward_weights(self, k: int) -> np.ndarray:
        """The forward weights of connection ``k``, ``(n_{k+1}, n_k)``, with their scale folded in
        (a new array where a scale is kept, else ``W[k]`` itself)."""
        scale = self.w_scale[k]
        return self.W[k] if scale is None else self.W[k] * scale[None, :]

    def _lateral_scale(self, k: int) -> np.ndarray:
        """``l_scale[k]`` shaped to multiply ``L[k]``: over rows (``copi``) or columns (``copi_bio``)."""
        scale = self.l_scale[k]
        return scale[:, None] if self.model.lateral.rule == "copi" else scale[None, :]

    def lateral_weights(self, k: int) -> np.ndarray | None:
        """The lateral matrix (``R`` or ``M``) of connection ``k``, with its scale folded in, or ``None``."""
        lat = self.L[k]
        return lat if lat is None or self.l_scale[k] is None else lat * self._lateral_scale(k)

    def fold_scale(self, k: int, lateral: bool) -> None:
        """Fold the scale of ``W[k]`` (or of ``L[k]``) into the stored matrix and reset it to 1."""
        if lateral:
            self.L[k] *= self._lateral_scale(k)
            self.l_scale[k].fill(1.0)
        else:
            self.W[k] *= self.w_scale[k][None, :]
            self.w_scale[k].fill(1.0)

    def effective_weights(self, k: int) -> np.ndarray:
        """Map from population ``k``'s rates to the drive of ``k + 1`` (``W R`` or ``W (I+M)^-1``)."""
        return effective_weights(self.forward_weights(k), self.lateral_weights(k),
                                 self.model.lateral.rule == "foldiak")
