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

Models from Python take the same path: calling a spec class,
``Population(name="hidden", size=100, tau="1 ms")``, passes its keyword
arguments, written as in a model file, to ``from_mapping``; calling
:class:`Model` (or :class:`~copi_bio.spec_spiking.NetworkModel`) turns its
parts back into a model table and validates it with
:func:`~copi_bio.modelfile.parse_model`, cross-key and stability checks
included. Quantities are strings with units from Python too: a plain float
for a time is refused with the model file's message, so a value is never
read in the wrong unit. ``replace("plasticity.tau", "2 s")`` changes keys
of a validated object through the same route as ``copi-bio run --set``.
The stored values are SI floats; ``Cls._unchecked(...)`` is the internal
constructor for values that have already passed these checks.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Self

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


def _file_value(meta: Mapping[str, Any], value: Any) -> Any:
    """An SI value of a key as a model file writes it (quantities as text, lists for tuples)."""
    if value is not None and meta.get("kind") in DIMENSIONS:
        return format_quantity(value, meta["kind"])
    return list(value) if isinstance(value, tuple) else value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _table(value: Any, where: str) -> Any:
    """A value given in Python as it stands in a model table at the dotted location ``where``.

    Spec objects become their tables (with the ``rule``/``kind`` key that
    selects their class) and must belong at ``where``; lists and tables are
    converted entry by entry; numpy numbers become Python numbers.
    """
    if isinstance(value, Spec):
        if value._path != where:
            raise ModelError(where, f"{type(value).__name__}(...)",
                             f"the [{where}] table or an object for it ({type(value).__name__} "
                             f"is for [{value._path or 'model'}])")
        table = value.to_mapping()
        return {value._selector: getattr(value, value._selector), **table} if value._selector else table
    if isinstance(value, (list, tuple)):
        return [_table(v, where) for v in value]
    if isinstance(value, Mapping):
        return {k: _table(v, _join(where, str(k))) for k, v in value.items()}
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        return float(value)
    return value


_UNSET: Any = object()


class SpecType(type):
    """Metaclass of the spec classes: calling a class validates its arguments.

    ``Cls(**keys)`` takes the keys of the class's model-file table as keyword
    arguments, with values written as in a model file, and validates them on
    the TOML reader's path (``Cls._from_table``), so errors are the same.
    ``Cls._unchecked(...)`` constructs from values that have already been
    validated (SI floats); only the validation code itself uses it.
    """

    def __call__(cls, *args: Any, **keys: Any) -> Any:
        if args:
            raise TypeError(f"{cls.__name__}() takes the keys of its model-file table as keyword arguments, "
                            f"e.g. {cls.__name__}({', '.join(f'{n}=...' for n in cls.__signature__.parameters)})")
        return cls._from_table({key: _table(value, _join(cls._path, key)) for key, value in keys.items()})

    def _unchecked(cls, *args: Any, **fields: Any) -> Any:
        """Construct from already validated values (SI floats, spec objects): no checks."""
        return super().__call__(*args, **fields)

    @property
    def __signature__(cls) -> inspect.Signature:
        """Keyword-only parameters, one per field, defaults written as in a model file
        (for whole models: ``None``, the model file's default, except the required parts)."""
        if not dataclasses.is_dataclass(cls):
            raise AttributeError("__signature__")
        params = []
        for f in dataclasses.fields(cls):
            if cls._required is not None:
                default = inspect.Parameter.empty if f.name in cls._required else None
            elif f.default is dataclasses.MISSING:
                default = inspect.Parameter.empty
            else:
                default = _file_value(f.metadata, f.default)
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default))
        return inspect.Signature(params)


class Spec(metaclass=SpecType):
    """Base of the spec classes: validated construction and :meth:`replace`.

    A subclass names the location of its table in a model file in ``_path``
    (``"plasticity"``, ``"network.populations"``); it prefixes the keys in
    the error messages of objects built from Python and says where an object
    may be used. ``_selector`` is the key of that table which selects the
    class (``"rule"``, ``"kind"``), if any. Classes whose keys are parts
    (whole models, the ``[network]`` table) list in ``_required`` the parts
    that may not be omitted; their other parts may be given as ``None``.
    """

    _path = ""
    _selector = ""
    _required: tuple[str, ...] | None = None  # tables of parts: the parts that may not be omitted

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        """Validate a table given from Python (the keyword arguments of the class); a part given
        as ``None`` is omitted."""
        return cls.from_mapping({key: value for key, value in table.items() if value is not None}, cls._path)

    def replace(self, key: str | Mapping[str, Any], value: Any = _UNSET) -> Self:
        """A new object with model-file keys changed, validated as ``copi-bio run --set`` is.

        The object's table (:meth:`to_mapping`) gets the new values and is
        validated again, cross-key and stability checks included; ``self``
        is unchanged.

        Parameters
        ----------
        key : str or mapping
            A dotted key as in ``--set`` (``"plasticity.tau"``; populations by
            name, ``"populations.hidden.size"``), or a mapping of such keys to
            values.
        value : object
            The new value, written as in a model file (``"2 s"``); a spec
            object replaces a whole table. Omitted when ``key`` is a mapping.

        Returns
        -------
        object of the same class

        Raises
        ------
        ModelError
            Naming the key, the value and what is allowed.

        Examples
        --------
        >>> import copi_bio
        >>> model = copi_bio.load_model("digits_bp")
        >>> faster = model.replace("plasticity.tau", "4 s")
        >>> faster.plasticity.tau, model.plasticity.tau
        (4.0, 5.0)
        >>> both = model.replace({"lateral.tau": "2 s", "plasticity.tau": "2 s", "populations.hidden.size": 50})
        >>> both.lateral.tau, both.populations[1].size
        (2.0, 50)
        >>> model.replace("plasticity.tau", 2.0)
        Traceback (most recent call last):
        ...
        copi_bio.errors.ModelError: ...plasticity.tau = 2.0 is invalid: a string with a time unit, ...
        """
        from .modelfile import set_key  # the reader's key addressing (it imports this module)

        if value is _UNSET:
            if not isinstance(key, Mapping):
                raise TypeError("replace(key, value) or replace({key: value, ...})")
            changes = key
        else:
            changes = {key: value}
        table = copy.deepcopy(self.to_mapping())
        for dotted, new in changes.items():
            set_key(table, dotted, new)
        return self._rebuilt(table)

    def _rebuilt(self, table: dict[str, Any]) -> Self:
        return type(self)(**table)

    def _unchecked_replace(self, **fields: Any) -> Self:
        """A copy with ``fields`` set to already validated values (internal: no checks)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return type(self)._unchecked(**{**current, **fields})


class SpecBase(Spec):
    """Base of the spec classes of one model-file table: TOML round-tripping with validation."""

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        """As :meth:`Spec._from_table`; entries of arrays with a ``name`` are addressed by name."""
        name = table.get("name")
        named = "name" in cls.__dataclass_fields__ and isinstance(name, str) and name
        return cls.from_mapping(table, f"{cls._path}.{name}" if named else cls._path)

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
        return cls._unchecked(**values)

    def to_mapping(self) -> dict[str, Any]:
        """Return the TOML table (units written back as text) of this object."""
        return {f.name: _file_value(f.metadata, getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.metadata and getattr(self, f.name) is not None}


class ModelBase(Spec):
    """Base of whole models (:class:`Model`, :class:`~copi_bio.spec_spiking.NetworkModel`).

    Built from Python, a model's parts become its model table again and
    :func:`~copi_bio.modelfile.parse_model` validates it, cross-key and
    stability checks included: the model-file reader is the only judge.
    ``source`` (where the model came from) is kept by :meth:`replace` and is
    not part of equality. A part given as ``None`` is omitted (its default).
    """

    _required: tuple[str, ...] = ()

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        from .modelfile import parse_model  # the model-file reader (it imports this module)

        table = {key: value for key, value in table.items() if value is not None}
        source = table.pop("source", "<memory>")
        if not isinstance(source, str):
            raise ModelError("source", source, "a string naming where the model came from")
        network = "network" in cls.__dataclass_fields__
        if network and "network" not in table:
            raise ModelError("network", None, "required key is missing (the E/I network, a NetworkSpec)")
        if not network and "network" in table:
            raise ModelError("network", table["network"], "no [network] table in a Model (E/I networks "
                             "are NetworkModel objects)")
        return parse_model(table, source)

    def _rebuilt(self, table: dict[str, Any]) -> Self:
        return type(self)(**table, source=self.source)


MAX_POPULATION = 1_000_000  # neurons per population; memory is checked separately (modelfile.check_sizes)

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
    copi_bio.errors.ModelError: populations.hidden.tau = '-1 ms' is invalid: a value > 0 (time constants ...
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
class Task(SpecBase):
    """Base of tasks; ``kind`` selects the class."""

    _path = "task"
    _selector = "kind"
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


from .spec_spiking import NetworkModel, SpikingParams  # noqa: E402  (spiking spec objects)


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


@dataclass(frozen=True)
class Model(ModelBase):
    """A complete, validated model.

    Built by :func:`~copi_bio.modelfile.load_model` from a model file, or in
    Python by calling the class with the top-level keys of a model file as
    keyword arguments: the parts are spec objects (or their tables as
    dicts), values are written as in a model file, and the whole goes
    through the model-file validation (:func:`~copi_bio.modelfile.parse_model`),
    so a model built either way is the same object and an invalid one gets
    the same error. Only ``populations`` and ``task`` are required; omitted
    parts take the model file's defaults. ``source`` says where the model
    came from and is not compared by ``==``.

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
        Where the model came from (file path, or ``"<memory>"``).

    Examples
    --------
    The library model ``digits_bp`` written in Python:

    >>> import copi_bio
    >>> model = copi_bio.Model(
    ...     name="digits_bp", seed=1,
    ...     description="8x8 digits, 64-100-10, COPI with backprop-aligned perturbations (paper setting)",
    ...     populations=[
    ...         copi_bio.Population(name="input", size=64),
    ...         copi_bio.Population(name="hidden", size=100, tau="1 ms", transfer="leaky_relu", slope=0.1),
    ...         copi_bio.Population(name="output", size=10, tau="1 ms", transfer="leaky_relu", slope=0.1)],
    ...     lateral=copi_bio.LateralInhibition(rule="copi", tau="5 s", statistics="raw"),
    ...     plasticity=copi_bio.CopiRule(tau="5 s"),
    ...     feedback=copi_bio.FeedbackPathway(mode="bp", perturbation="prediction", gamma=1000.0),
    ...     task=copi_bio.DigitsTask(test_fraction=0.25),
    ...     protocol=copi_bio.Protocol(dt="1 ms", t_present="10 ms", t_settle="5 ms", presentations=810,
    ...                                trials=50, eval_every=27, forward_onset=27),
    ...     recording=copi_bio.Recording(variables=[], trials=0))
    >>> model == copi_bio.load_model("digits_bp")
    True

    Cross-key checks apply as to a model file (here the stability criterion S):

    >>> model.replace("plasticity.tau", "10 ms")
    Traceback (most recent call last):
    ...
    copi_bio.errors.ModelError: ...plasticity.tau = '10 ms' is invalid: at least 1 s (criterion S: ...
    """

    _required = ("populations", "task")

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
    source: str = field(default="<memory>", compare=False)
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
