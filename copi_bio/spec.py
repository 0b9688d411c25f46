"""Validated model description: the spec objects a backend builds from.

A model is a chain of populations ``input -> hidden ... -> output``. Every
connection ``k`` (population ``k`` to ``k+1``) has a decorrelating lateral
stage acting on the presynaptic rates, plastic forward weights ``W_k`` and,
for hidden populations, a top-down feedback pathway. The objects here only
hold and check values; they never run anything. Time constants are stored as
SI floats in seconds.

Each spec class declares its keys with :func:`param`; ``from_mapping`` turns a
parsed TOML table into the object and raises :class:`~copi_bio.errors.ModelError`
naming the key, the value and what is allowed for unknown keys, wrong types
and out-of-range values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .errors import ModelError
from .units import DIMENSIONS, format_quantity, parse_quantity

_REQUIRED = dataclasses.MISSING


MAX_INT = 10 ** 12  # larger integers in a model file are refused before any use


def param(kind: str, default: Any = _REQUIRED, *, choices: tuple = (), low: float | None = None,
          high: float | None = None, strict: bool = True, optional: bool = False, doc: str = "") -> Any:
    """Declare a model-file key of a spec dataclass.

    Parameters
    ----------
    kind : {"time", "rate", "float", "int", "bool", "str", "choice", "str_list"}
        How the TOML value is checked and converted. ``"time"``, ``"rate"``
        and the other dimensions of :data:`copi_bio.units.DIMENSIONS`
        (``"voltage"``, ``"conductance"``, ``"capacitance"``, ``"current"``)
        take strings with units and are stored in SI units.
    default : object, optional
        Value used when the key is absent (already converted); required if omitted.
    choices : tuple of str
        Allowed values for ``kind="choice"`` (and entries of ``"str_list"``).
    low, high : float, optional
        Bounds for numbers; ``strict`` makes ``low`` exclusive.
    optional : bool
        ``None`` is a valid value (the key may be omitted to mean "off").
    doc : str
        One-line meaning, shown by ``copi-bio models --keys``.
    """
    meta = dict(kind=kind, choices=choices, low=low, high=high, strict=strict,
                optional=optional, doc=doc)
    return field(default=default, metadata=meta)


def _convert(meta: Mapping[str, Any], value: Any, key: str) -> Any:
    kind = meta["kind"]
    if value is None and meta["optional"]:
        return None
    if kind in DIMENSIONS:
        out = parse_quantity(value, kind, key)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelError(key, value, "a number")
        try:
            out = float(value)
        except OverflowError:
            raise ModelError(key, value, "a finite number") from None
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(key, value, "an integer")
        if abs(value) > MAX_INT:
            raise ModelError(key, value, f"an integer of magnitude at most {MAX_INT:.0e}")
        out = value
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ModelError(key, value, "true or false")
        return value
    elif kind == "str":
        if not isinstance(value, str):
            raise ModelError(key, value, "a string")
        return value
    elif kind == "choice":
        if value not in meta["choices"]:
            raise ModelError(key, value, "one of " + ", ".join(repr(c) for c in meta["choices"]))
        return value
    elif kind == "str_list":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ModelError(key, value, "a list of strings")
        bad = [v for v in value if meta["choices"] and v not in meta["choices"]]
        if bad:
            raise ModelError(key, value, "entries from " + ", ".join(repr(c) for c in meta["choices"]))
        return tuple(value)
    else:  # pragma: no cover - guarded by param()
        raise AssertionError(kind)
    if not math.isfinite(out):
        raise ModelError(key, value, "a finite number")
    low, high = meta["low"], meta["high"]
    if low is not None and (out <= low if meta["strict"] else out < low):
        raise ModelError(key, value, f"a value {'>' if meta['strict'] else '>='} {low:g}"
                         + (" (time constants must be positive)" if kind == "time" and low == 0 else ""))
    if high is not None and out > high:
        raise ModelError(key, value, f"a value <= {high:g}")
    return out


class SpecBase:
    """Mixin giving spec dataclasses TOML round-tripping with validation."""

    @classmethod
    def from_mapping(cls, data: Any, path: str) -> "SpecBase":
        """Build the spec object from a TOML table.

        Parameters
        ----------
        data : mapping
            The table, as parsed by :mod:`tomllib`.
        path : str
            Dotted location of the table in the model file (for messages).
        """
        if not isinstance(data, Mapping):
            raise ModelError(path, data, "a table")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ModelError(f"{path}.{unknown[0]}" if path else unknown[0], data[unknown[0]],
                             f"a known key of [{path or 'model'}]: " + ", ".join(sorted(fields)))
        values = {}
        for name, f in fields.items():
            key = f"{path}.{name}" if path else name
            if name in data:
                values[name] = _convert(f.metadata, data[name], key)
            elif f.default is _REQUIRED:
                raise ModelError(key, None, f"required key is missing ({f.metadata['doc']})")
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """Return the TOML table (units written back as text) of this object."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.metadata:
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata["kind"] in DIMENSIONS:
                value = format_quantity(value, f.metadata["kind"])
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


MAX_POPULATION = 1_000_000  # neurons per population; memory is checked separately (modelfile.check_sizes)

TRANSFER_FUNCTIONS = ("linear", "leaky_relu", "relu", "tanh", "sigmoid")


@dataclass(frozen=True)
class Population(SpecBase):
    """A population of rate (or spiking) neurons with a somatic potential ``u``.

    ``tau du/dt = -u + W x + b + delta`` and ``r = f(u)``; for the input
    population the rates are the stimulus and ``tau``/``transfer`` are unused.
    """

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
    """

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


@dataclass(frozen=True)
class ForwardRule(SpecBase):
    """Base of the forward-weight learning rules (``rule`` key selects the class)."""

    rule: ClassVar[str] = ""
    tau: float = param("time", 0.2, low=0, doc="plasticity time constant tau_W")
    init: str = param("choice", "xavier", choices=("xavier", "zero"), doc="initial W")
    optimizer: str = param("choice", "plain", choices=("plain", "adam"),
                           doc="plain: dW = dt/tau * drive; adam: Adam steps of size dt/tau on the drive "
                               "(non-local reference for BP + Adam)")


@dataclass(frozen=True)
class CopiRule(ForwardRule):
    """COPI forward rule: ``tau_W dW/dt = <u x^T> - W diag(<x*x>)`` (local)."""

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
    """

    mode: str = param("choice", "bp", choices=("bp", "fa", "dfa", "none"), doc="hidden feedback")
    perturbation: str | None = param("choice", None, choices=("prediction", "nudging"), optional=True,
                                     doc="error of the forward prediction (the paper's algorithm; default "
                                         "of rate models) or of the perturbed soma (self-consistent "
                                         "nudging; default and only form of spiking models)")
    gamma: float = param("float", 1.0, low=0, strict=False, doc="output perturbation gain (loss multiplier)")
    tau: float | None = param("time", None, low=0, optional=True, doc="feedback time constant")
    scale: float = param("float", 1.0, low=0, doc="std multiplier of random fa/dfa weights")


@dataclass(frozen=True)
class Task(SpecBase):
    """Base of tasks; ``kind`` selects the class."""

    kind: ClassVar[str] = ""

    def input_second_moment_bound(self) -> float:
        """Upper bound on the second moment ``<z_j^2>`` of one input (stability checks)."""
        return 1.0


@dataclass(frozen=True)
class TeacherStudentTask(Task):
    """Correlated Gaussian inputs ``z ~ N(mean, C)``, ``C_ij = rho`` off-diagonal,
    unit variances, and a random teacher ``t = W_T z`` (``linear``) or
    ``t = tanh(W_T z)`` (``tanh``); with ``teacher_hidden > 0`` the teacher has
    a tanh hidden layer of that size."""

    kind: ClassVar[str] = "teacher_student"
    correlation: float = param("float", 0.3, low=-0.0, strict=False, high=0.95, doc="input correlation rho")
    mean: float = param("float", 0.0, doc="input mean")
    teacher: str = param("choice", "linear", choices=("linear", "tanh"), doc="teacher nonlinearity")
    teacher_hidden: int = param("int", 0, low=0, strict=False, doc="hidden units of the teacher")
    noise: float = param("float", 0.0, low=0, strict=False, doc="target noise std")
    test_size: int = param("int", 512, low=1, strict=False, doc="test samples")

    def input_second_moment_bound(self) -> float:
        """Unit variance plus the squared mean."""
        return 1.0 + self.mean ** 2


@dataclass(frozen=True)
class DigitsTask(Task):
    """scikit-learn's bundled 8x8 handwritten digits, pixels scaled to [0, 1],
    one-hot targets; a fixed stratified split."""

    kind: ClassVar[str] = "digits"
    test_fraction: float = param("float", 0.2, low=0, high=0.9, doc="held-out fraction")


@dataclass(frozen=True)
class MnistTask(Task):
    """A user-supplied local MNIST: a folder of IDX files or an ``.npz`` with
    ``x_train, y_train, x_test, y_test``. Pixels scaled to [0, 1]."""

    kind: ClassVar[str] = "mnist"
    path: str = param("str", doc="folder of IDX files or .npz file")
    train_size: int | None = param("int", None, low=1, strict=False, optional=True,
                                   doc="use only the first N training images")


@dataclass(frozen=True)
class DecorrelationTask(Task):
    """Correlated input streams without targets: Gaussian rates with
    correlation ``rho`` and mean ``mean``, held for each presentation."""

    kind: ClassVar[str] = "decorrelation"
    correlation: float = param("float", 0.3, low=0, strict=False, high=0.95, doc="input correlation rho")
    mean: float = param("float", 0.0, doc="input mean")

    def input_second_moment_bound(self) -> float:
        """Unit variance plus the squared mean."""
        return 1.0 + self.mean ** 2


TASKS: dict[str, type[Task]] = {c.kind: c for c in (TeacherStudentTask, DigitsTask, MnistTask, DecorrelationTask)}


@dataclass(frozen=True)
class Protocol(SpecBase):
    """Time stepping and presentation schedule."""

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


from .spec_spiking import NetworkModel, SpikingParams  # noqa: E402  (spiking spec objects)


RECORDABLE = ("r", "u", "delta", "x")


@dataclass(frozen=True)
class Recording(SpecBase):
    """What is recorded: state variables of some trials at an interval."""

    variables: tuple[str, ...] = param("str_list", ("r",), choices=RECORDABLE, doc="state variables")
    interval: float | None = param("time", None, low=0, optional=True,
                                   doc="sampling interval (default: once per presentation)")
    trials: int = param("int", 1, low=0, strict=False, doc="how many trials are recorded")
    weights_every: int | None = param("int", None, low=1, strict=False, optional=True,
                                      doc="presentations between weight snapshots (default eval_every)")


@dataclass(frozen=True)
class Model:
    """A complete, validated model.

    Attributes
    ----------
    name, description : str
    backend : {"rate", "spiking"}
    seed : int
    populations : tuple of Population
        Ordered input -> output.
    lateral : LateralInhibition
    plasticity : ForwardRule
    feedback : FeedbackPathway
    task : Task
    protocol : Protocol
    recording : Recording
    spiking : SpikingParams
        Parameters of the spiking backend (defaults when absent).
    source : str
        Where the model came from (file path or ``"<embedded default>"``).
    """

    name: str
    description: str
    backend: str
    seed: int
    populations: tuple[Population, ...]
    lateral: LateralInhibition
    plasticity: ForwardRule
    feedback: FeedbackPathway
    task: Task
    protocol: Protocol
    recording: Recording
    source: str = "<memory>"
    spiking: SpikingParams = field(default_factory=SpikingParams)

    @property
    def connections(self) -> list[tuple[Population, Population]]:
        """``(pre, post)`` pairs of consecutive populations."""
        return list(zip(self.populations[:-1], self.populations[1:]))

    def decorrelates(self, k: int) -> bool:
        """Whether the input of connection ``k`` (presynaptic population ``k``) is decorrelated."""
        if self.lateral.rule == "none":
            return False
        if self.lateral.layers == "input":
            return k == 0
        if self.lateral.layers == "hidden":
            return k > 0
        return True

    def to_mapping(self) -> dict[str, Any]:
        """The model as a TOML-ready mapping (the resolved model file)."""
        plast = {"rule": self.plasticity.rule, **self.plasticity.to_mapping()}
        task = {"kind": self.task.kind, **self.task.to_mapping()}
        return {
            "name": self.name, "description": self.description, "backend": self.backend,
            "seed": self.seed,
            "populations": [p.to_mapping() for p in self.populations],
            "lateral": self.lateral.to_mapping(), "plasticity": plast,
            "feedback": self.feedback.to_mapping(), "task": task,
            "protocol": self.protocol.to_mapping(), "recording": self.recording.to_mapping(),
            **({"spiking": self.spiking.to_mapping()} if self.backend == "spiking" else {}),
        }
