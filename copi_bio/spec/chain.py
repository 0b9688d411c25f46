"""Spec objects of the parts of a chain model: populations, lateral inhibition, forward
rules, feedback pathways, the protocol and the recording.

A chain model is a chain of populations ``input -> hidden ... -> output``.
Every connection ``k`` (population ``k`` to ``k+1``) has a decorrelating
lateral stage acting on the presynaptic rates, plastic forward weights
``W_k`` and, for hidden populations, a top-down feedback pathway. The
objects only hold and check values; they never run anything. Time
constants are stored as SI floats in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import SpecBase
from .params import param

MAX_POPULATION = 1_000_000  # neurons per population; memory is checked separately (checks.ChainChecks.check_sizes)

TRANSFER_FUNCTIONS = ("linear", "leaky_relu", "relu", "tanh", "sigmoid")


@dataclass(frozen=True)
class Population(SpecBase):
    """A population of rate (or spiking) neurons with a somatic potential ``u``.

    ``tau du/dt = -u + W x + b + delta`` and ``r = f(u)``; for the input
    population the rates are the stimulus and ``tau``/``transfer`` are unused.

    Examples
    --------
    >>> import copi_bio
    >>> hidden = copi_bio.Population(name="hidden", size=100, tau="1 ms", transfer="leaky_relu")
    >>> hidden.tau
    0.001
    >>> copi_bio.Population(name="hidden", size=100, tau="-1 ms")
    Traceback (most recent call last):
    ...
    copi_bio.errors.ModelError: populations.hidden.tau = '-1 ms' is invalid: a value > 0 (times and time constants ...
    """

    _path = "populations"

    name: str = param("str", doc="population name")
    size: int = param("int", low=1, strict=False, high=MAX_POPULATION, doc="number of neurons")
    tau: float = param("time", 2e-3, low=0, doc="somatic time constant tau_u")
    transfer: str = param("choice", "linear", choices=TRANSFER_FUNCTIONS, doc="transfer function f")
    slope: float = param("float", 0.1, low=0, strict=False, doc="negative-side slope of leaky_relu")
    bias: bool = param("bool", False, doc="learn a bias b (tau_W db/dt = <u - W x - b>)")


@dataclass(frozen=True)
class LateralInhibition(SpecBase):
    """Plastic lateral stage that decorrelates the input ``z`` of each connection.

    * ``copi``: ``x = R z``, ``tau dR/dt = -offdiag(<x x^T>) R``
    * ``copi_bio``: ``x = R z``, ``tau dR/dt = -R offdiag(<x x^T>)``
    * ``foldiak``: ``tau_x dx/dt = -x + z - M x``, ``tau dM/dt = offdiag(<x x^T>)``
    * ``none``: ``x = z``

    With ``statistics = "centered"`` the second moments are taken of
    fluctuations around running means with time constant ``tau_mean``.

    A cheaper estimate of the update (rate backend): ``sample_fraction`` or
    ``sample_count`` estimates ``<x x^T>`` (and ``<x^2>``) on a uniform random
    subset of the trials of each plastic step, drawn without replacement
    (an unbiased estimate of the trial mean); ``update_every = k`` applies the
    update on every k-th plastic step only, with ``k`` times its rate. The
    decorrelating transform itself acts on every trial of every step
    (docs/equations.md, "A cheaper decorrelation update").
    """

    _path = "lateral"

    rule: str = param("choice", "copi", choices=("copi", "copi_bio", "foldiak", "none"),
                      doc="decorrelation rule")
    tau: float = param("time", 0.5, low=0, doc="plasticity time constant tau_R / tau_M")
    tau_x: float | None = param("time", None, low=0, optional=True,
                                doc="time constant of x (required for foldiak; omit for x = R z)")
    statistics: str = param("choice", "raw", choices=("raw", "centered"),
                            doc="decorrelate raw second moments or fluctuations")
    tau_mean: float = param("time", 1.0, low=0, doc="running-mean time constant (centered)")
    sign: str = param("choice", "free", choices=("free", "nonnegative"),
                      doc="foldiak: keep M >= 0 (purely inhibitory) or signed")
    layers: str = param("choice", "all", choices=("all", "input", "hidden"),
                        doc="which presynaptic populations are decorrelated")
    sample_fraction: float | None = param("float", None, low=0, high=1, optional=True,
                                          doc="estimate the update on this fraction of each step's trials "
                                              "(rate backend; omit: every trial)")
    sample_count: int | None = param("int", None, low=1, strict=False, optional=True,
                                     doc="estimate the update on this many of each step's trials "
                                         "(rate backend; at most protocol.trials)")
    update_every: int = param("int", 1, low=1, strict=False,
                              doc="apply the update every k-th plastic step with k times its rate "
                                  "(rate backend)")

    @property
    def cheaper(self) -> bool:
        """Whether the update is estimated on a subsample or applied every k steps."""
        return self.sample_fraction is not None or self.sample_count is not None or self.update_every != 1

    def sample_size(self, trials: int) -> int:
        """How many of ``trials`` trials each update is estimated on."""
        if self.sample_count is not None:
            return self.sample_count
        if self.sample_fraction is not None:
            return max(1, int(round(self.sample_fraction * trials)))
        return trials


@dataclass(frozen=True)
class ForwardRule(SpecBase):
    """Base of the forward-weight learning rules (``rule`` key selects the class)."""

    _path = "plasticity"
    _selector = "rule"
    rule: ClassVar[str] = ""
    tau: float = param("time", 0.2, low=0, doc="plasticity time constant tau_W")
    init: str = param("choice", "xavier", choices=("xavier", "zero"), doc="initial W")
    optimizer: str = param("choice", "plain", choices=("plain", "adam"),
                           doc="plain: dW = dt/tau * drive; adam: Adam steps of size dt/tau on the drive "
                               "(non-local reference for BP + Adam)")


@dataclass(frozen=True)
class CopiRule(ForwardRule):
    """COPI forward rule: ``tau_W dW/dt = <u x^T> - W diag(<x*x>)`` (local).

    Examples
    --------
    >>> import copi_bio
    >>> copi_bio.CopiRule(tau="5 s").tau
    5.0
    """

    rule: ClassVar[str] = "copi"


@dataclass(frozen=True)
class DeltaRule(ForwardRule):
    """Delta rule (backprop/SGD direction): ``tau_W dW/dt = <delta x^T>``."""

    rule: ClassVar[str] = "delta"


@dataclass(frozen=True)
class NoPlasticity(ForwardRule):
    """Fixed forward weights."""

    rule: ClassVar[str] = "none"


FORWARD_RULES: dict[str, type[ForwardRule]] = {c.rule: c for c in (CopiRule, DeltaRule, NoPlasticity)}


@dataclass(frozen=True)
class FeedbackPathway(SpecBase):
    """Top-down perturbation ``delta`` of somatic states.

    ``perturbation`` selects what the error is measured on:

    * ``"prediction"`` (the paper's algorithm as its adiabatic limit): every
      population keeps a forward prediction ``tau_u da/dt = -a + W x + b``
      and transmits ``r = f(a)``; the soma ``u`` relaxes to ``a + delta``.
      Output: ``delta_L = gamma (y_target - f(a_L)) f'(a_L)``, the error of
      the prediction (a dendritic prediction error); hidden:
      ``delta_k = f'(a_k) * B_k delta_{k+1}``.
    * ``"nudging"`` (self-consistent, conductance-like): populations transmit
      ``r = f(u)`` and the output error is taken from the perturbed soma,
      ``delta_L = gamma (y_target - f(u_L)) f'(u_L)``; for a linear output
      the steady state is ``delta = gamma/(1+gamma) (y_target - W x)``, so it
      never exceeds the error whatever ``gamma``.

    Hidden pathways: ``B_k = (W_k R_k)^T`` (``bp``), fixed random (``fa``),
    or ``delta_k = f' * D_k delta_L`` with fixed random ``D_k`` from the
    output (``dfa``). ``tau`` low-pass filters delta
    (``tau dδ/dt = -δ + ...``); omitted means instantaneous.

    An omitted ``perturbation`` stays ``None`` here and becomes the backend's
    default when the object is part of a :class:`Model`.
    """

    _path = "feedback"

    mode: str = param("choice", "bp", choices=("bp", "fa", "dfa", "none"), doc="hidden feedback")
    perturbation: str | None = param("choice", None, choices=("prediction", "nudging"), optional=True,
                                     doc="error of the forward prediction (the paper's algorithm; default "
                                         "of rate models) or of the perturbed soma (self-consistent "
                                         "nudging; default of spiking models, the only form of their "
                                         "trace formulation)")
    gamma: float = param("float", 1.0, low=0, strict=False, doc="output perturbation gain (loss multiplier)")
    tau: float | None = param("time", None, low=0, optional=True, doc="feedback time constant")
    scale: float = param("float", 1.0, low=0, doc="std multiplier of random fa/dfa weights")


@dataclass(frozen=True)
class Protocol(SpecBase):
    """Time stepping and presentation schedule."""

    _path = "protocol"

    dt: float = param("time", 1e-3, low=0, doc="integration step")
    t_present: float = param("time", 20e-3, low=0, doc="time each stimulus is held")
    t_settle: float = param("time", 0.0, low=0, strict=False,
                            doc="plasticity is off for this long after each stimulus onset")
    presentations: int = param("int", 1000, low=1, strict=False, doc="presentations per trial")
    trials: int = param("int", 32, low=1, strict=False, doc="parallel trials sharing weights")
    eval_every: int = param("int", 100, low=1, strict=False, doc="presentations between metrics")
    forward_onset: int = param("int", 0, low=0, strict=False,
                               doc="presentations before forward plasticity starts (decorrelation only)")
    anneal: int = param("int", 0, low=0, strict=False,
                        doc="plasticity rates scale as 1/(1 + p/anneal) at presentation p (0: constant)")
    dtype: str = param("choice", "float64", choices=("float64", "float32"), doc="floating-point type")

    @property
    def steps_per_presentation(self) -> int:
        """Integration steps per presentation."""
        return int(round(self.t_present / self.dt))

    @property
    def settle_steps(self) -> int:
        """Steps at the start of each presentation without plasticity."""
        return int(round(self.t_settle / self.dt))


RECORDABLE = ("r", "u", "delta", "x")


@dataclass(frozen=True)
class Recording(SpecBase):
    """What is recorded: state variables of some trials at an interval."""

    _path = "recording"

    variables: tuple[str, ...] = param("str_list", ("r",), choices=RECORDABLE, doc="state variables")
    interval: float | None = param("time", None, low=0, optional=True,
                                   doc="sampling interval (default: once per presentation)")
    trials: int = param("int", 1, low=0, strict=False, doc="how many trials are recorded")
    weights_every: int | None = param("int", None, low=1, strict=False, optional=True,
                                      doc="presentations between weight snapshots (default eval_every)")
    statistics_every: int = param("int", 1, low=1, strict=False,
                                  doc="rate backend: the connection statistics of the metrics (correlations, "
                                      "fixed-point and alignment measures) are taken from every this-many-th "
                                      "presentation")
