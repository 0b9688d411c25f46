"""Model files: TOML text -> validated :class:`~copi_bio.spec.Model`.

This is the only module that reads TOML. Backends receive spec objects.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

import tomli_w

from .errors import ModelError
from .stability import check_stability
from .units import format_quantity
from .spec import (FORWARD_RULES, TASKS, FeedbackPathway, LateralInhibition, Model, NetworkModel, Population,
                   Protocol, Recording, SpikingParams)

DEFAULT_MODEL = "teacher_student"
_TOP_KEYS = ("name", "description", "backend", "seed", "populations", "lateral", "plasticity",
             "feedback", "task", "protocol", "recording", "spiking")
NAME_MAX = 100
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
NAME_RULE = (f"1 to {NAME_MAX} ASCII letters, digits, '_', '-' or '.', starting with a letter, digit or "
             "'_' and without '..' (the name becomes part of output file names)")


def check_name(key: str, value: Any) -> str:
    """Return ``value`` if it is a safe model (or sweep) name, else raise.

    A safe name is one path component that cannot climb out of a folder:
    letters, digits, ``_``, ``-`` and ``.`` only, no leading ``.`` or ``-``,
    no ``..``, at most :data:`NAME_MAX` characters.

    Raises
    ------
    ModelError
        Naming ``key`` and the value.
    """
    if (not isinstance(value, str) or len(value) > NAME_MAX or not _NAME.fullmatch(value)
            or ".." in value):
        raise ModelError(key, value, NAME_RULE)
    return value


def _default_name(source: str) -> str:
    """A safe name from the model file's stem when the file sets none."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).stem)
    stem = re.sub(r"\.{2,}", ".", stem).lstrip(".-")[:NAME_MAX]
    return stem or "model"


def library_dirs() -> list[Path]:
    """Folders searched for model names: the installed library, then the
    source tree's ``models/`` (when running from a checkout), then ``./models``."""
    here = Path(__file__).resolve().parent
    dirs = [here / "model_library", here.parent / "models"]
    dirs.append(Path.cwd() / "models")
    seen, out = set(), []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            out.append(d)
    return out


def available_models() -> dict[str, Path]:
    """Map model name -> file for every model file in :func:`library_dirs`."""
    found: dict[str, Path] = {}
    for d in library_dirs():
        for f in sorted(d.glob("*.toml")):
            found.setdefault(f.stem, f)
    return found


def resolve_model_path(model: str | Path | None) -> Path:
    """Turn a path or a library model name into an existing file path."""
    if model is None:
        model = DEFAULT_MODEL
    path = Path(model)
    if path.is_file():
        return path
    library = available_models()
    if str(model) in library:
        return library[str(model)]
    raise ModelError("MODEL", str(model), "an existing .toml file or a library model name: "
                     + ", ".join(sorted(library)))


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value`` (value in TOML syntax; bare words are strings)."""
    if "=" not in text:
        raise ModelError("--set", text, "KEY=VALUE, e.g. protocol.presentations=500")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ModelError("--set", text, "a dotted key such as feedback.gamma")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of the raw model table with ``--set`` overrides applied.

    Populations are addressed by name: ``populations.hidden.size=50``.
    """
    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        set_key(data, ".".join(parts), value)
    return data


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` of a raw model table to ``value``, in place.

    The addressing of ``--set`` and of ``replace()``: missing tables are
    created, populations (and named projections) are addressed by name.

    Raises
    ------
    ModelError
        For a malformed key, an unknown population name, or a key below a value.
    """
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ModelError(str(key), value, "a dotted key such as feedback.gamma")
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            match = [p for p in node if isinstance(p, dict) and p.get("name") == part]
            if not match:
                names = [p.get("name") for p in node if isinstance(p, dict)]
                raise ModelError(".".join(parts[: i + 1]), part, f"a population name: {names}")
            node = match[0]
        else:
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ModelError(".".join(parts[: i + 1]), node, "a table")
    if not isinstance(node, dict):
        raise ModelError(".".join(parts), value,
                         "a key inside a table; address populations by name, e.g. populations.hidden.size")
    node[parts[-1]] = value


def parse_model(data: Mapping[str, Any], source: str = "<memory>") -> Model:
    """Validate a parsed model table into a :class:`Model`.

    Raises
    ------
    ModelError
        Naming the key, the value and what is allowed.
    """
    try:
        return _parse(data, source)
    except ModelError as err:
        if err.source is None:
            raise ModelError(err.key, err.value, err.allowed, source) from None
        raise


def _parse(data: Mapping[str, Any], source: str) -> Model | NetworkModel:
    if isinstance(data.get("name"), str):
        check_name("name", data["name"])  # any kind of model: the name becomes output file names
    if "network" in data:  # an E/I spiking network (typed populations and projections)
        return NetworkModel.from_mapping(data, source)
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ModelError(unknown[0], data[unknown[0]], "a top-level key: " + ", ".join(_TOP_KEYS))
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ModelError(key, data[key], "a string")
    name = data["name"] if "name" in data else _default_name(source)
    backend = data.get("backend", "rate")
    if not isinstance(backend, str) or backend not in ("rate", "spiking"):
        raise ModelError("backend", backend, "'rate' or 'spiking'")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2 ** 63:
        raise ModelError("seed", seed, "a non-negative integer below 2**63")

    pops_raw = data.get("populations")
    if not isinstance(pops_raw, list) or not pops_raw:
        raise ModelError("populations", pops_raw, "a non-empty array of tables [[populations]]")
    pops = tuple(Population.from_mapping(p, f"populations[{i}]") for i, p in enumerate(pops_raw))
    names = [p.name for p in pops]
    if len(set(names)) != len(names):
        raise ModelError("populations.name", names, "unique population names")

    plast_raw = data.get("plasticity", {})
    if not isinstance(plast_raw, Mapping):
        raise ModelError("plasticity", plast_raw, "a [plasticity] table")
    plast_raw = dict(plast_raw)
    rule = plast_raw.pop("rule", "copi")
    if not isinstance(rule, str) or rule not in FORWARD_RULES:
        raise ModelError("plasticity.rule", rule, "one of " + ", ".join(map(repr, FORWARD_RULES)))
    task_raw = data.get("task")
    if not isinstance(task_raw, Mapping):
        raise ModelError("task", task_raw, "a [task] table with a 'kind' key")
    task_raw = dict(task_raw)
    kind = task_raw.pop("kind", None)
    if not isinstance(kind, str) or kind not in TASKS:
        raise ModelError("task.kind", kind, "one of " + ", ".join(map(repr, TASKS)))

    model = Model._unchecked(
        name=name, description=data.get("description", ""),
        backend=backend, seed=seed, populations=pops,
        lateral=LateralInhibition.from_mapping(data.get("lateral", {}), "lateral"),
        plasticity=FORWARD_RULES[rule].from_mapping(plast_raw, "plasticity"),
        feedback=_feedback(data.get("feedback", {}), backend),
        task=TASKS[kind].from_mapping(task_raw, "task"),
        protocol=Protocol.from_mapping(data.get("protocol", {}), "protocol"),
        recording=Recording.from_mapping(data.get("recording", {}), "recording"),
        source=source,
        spiking=SpikingParams.from_mapping(data.get("spiking", {}), "spiking"),
    )
    check_model(model)
    return model


def _feedback(table: Any, backend: str) -> FeedbackPathway:
    """The [feedback] table; an omitted ``perturbation`` is the backend's own:
    ``"prediction"`` (the paper's algorithm) for rate models, ``"nudging"``
    (the only form of the spiking trace formulation; the spike-driven one
    also implements ``"prediction"``) for spiking ones."""
    if isinstance(table, Mapping) and "perturbation" not in table:
        table = {**table, "perturbation": "prediction" if backend == "rate" else "nudging"}
    return FeedbackPathway.from_mapping(table, "feedback")


def check_model(model: Model) -> None:
    """Cross-key checks: shapes against the task, time steps against time constants."""
    pops, proto, task = model.populations, model.protocol, model.task
    if len(pops) < 2:
        raise ModelError("populations", [p.name for p in pops],
                         "at least an input and an output population (decorrelation acts on "
                         "the input of each connection)")
    fixed = {"digits": (64, 10), "mnist": (784, 10)}.get(task.kind)
    if fixed is not None:
        if pops[0].size != fixed[0]:
            raise ModelError("populations[0].size", pops[0].size, f"{fixed[0]} for task {task.kind!r}")
        if pops[-1].size != fixed[1]:
            raise ModelError(f"populations[{len(pops) - 1}].size", pops[-1].size,
                             f"{fixed[1]} for task {task.kind!r}")
    steps = proto.t_present / proto.dt
    if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
        raise ModelError("protocol.t_present", f"{proto.t_present * 1e3:g} ms",
                         f"a positive whole multiple of dt = {proto.dt * 1e3:g} ms")
    if proto.t_settle >= proto.t_present:
        raise ModelError("protocol.t_settle", f"{proto.t_settle * 1e3:g} ms",
                         f"shorter than t_present = {proto.t_present * 1e3:g} ms")
    # Exponential Euler integrates each leak exactly. With self-consistent
    # nudging the somata feed back on themselves through the perturbation (an
    # explicit coupling that needs dt <= tau); in the prediction formulation a
    # step is a feedforward sweep without loops (bottom-up predictions,
    # top-down perturbations, somata), stable at any dt.
    neuronal = [(f"populations[{i}].tau", p.tau) for i, p in enumerate(pops)
                if i > 0 and model.feedback.perturbation == "nudging"]
    if model.lateral.tau_x is not None:
        neuronal.append(("lateral.tau_x", model.lateral.tau_x))
    if model.feedback.tau is not None and model.feedback.perturbation == "nudging":
        neuronal.append(("feedback.tau", model.feedback.tau))
    _dt_at_most(proto.dt, neuronal, "at most the smallest neuronal time constant ({key} = {tau:g} ms) "
                "for a stable explicit coupling")
    for key, tau in (("plasticity.tau", model.plasticity.tau), ("lateral.tau", model.lateral.tau)):
        if proto.dt > 0.1 * tau:
            raise ModelError(key, f"{tau * 1e3:g} ms",
                             f"at least 10 dt = {10 * proto.dt * 1e3:g} ms for a stable plasticity update")
    if model.lateral.rule == "foldiak":
        if model.lateral.tau_x is None:
            raise ModelError("lateral.tau_x", None, "a time constant such as '5 ms' (foldiak x is dynamic)")
        # explicit x <- e x + (1-e)(z - M x) is stable while eig(M) < (1+e)/(1-e); at
        # dt = tau_x/4 that allows eig(M) < 8, enough for the inhibition decorrelation needs
        if proto.dt > model.lateral.tau_x / 4 * (1 + 1e-9):
            raise ModelError("protocol.dt", f"{proto.dt * 1e3:g} ms",
                             f"at most lateral.tau_x / 4 = {model.lateral.tau_x / 4 * 1e3:g} ms for foldiak "
                             "(the lateral inhibition M x is integrated explicitly)")
    if model.recording.trials > proto.trials:
        raise ModelError("recording.trials", model.recording.trials,
                         f"at most protocol.trials = {proto.trials}")
    if model.recording.interval is not None:
        ratio = model.recording.interval / proto.dt
        if abs(ratio - round(ratio)) > 1e-6:
            raise ModelError("recording.interval", f"{model.recording.interval * 1e3:g} ms",
                             f"a whole multiple of dt = {proto.dt * 1e3:g} ms")
    check_sizes(model)
    check_stability(model)
    if model.backend == "spiking":
        check_spiking(model)
    if model.backend == "rate" and pops[0].bias:
        raise ModelError("populations[0].bias", True, "false: the input population has no soma")


MAX_ELEMENTS = 250_000_000  # ~2 GB of float64: larger models are refused before anything is allocated


def check_sizes(model: Model) -> None:
    """Refuse models whose arrays would not fit in memory, before allocating anything.

    Counts the plastic matrices (``W``, ``R``/``M``, Adam moments), the
    per-trial state, the test set, and the recorded state samples.
    """
    sizes = [p.size for p in model.populations]
    proto, rec = model.protocol, model.recording
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * 3 + sum(n * n for n in sizes[:-1])
    if weights > MAX_ELEMENTS:
        raise ModelError("populations.size", sizes,
                         f"sizes whose weight matrices hold at most {MAX_ELEMENTS:.2e} values "
                         f"(these need {weights:.3g})")
    state = proto.trials * sum(sizes) * 8
    if state > MAX_ELEMENTS:
        raise ModelError("protocol.trials", proto.trials,
                         f"at most {MAX_ELEMENTS // max(1, 8 * sum(sizes))} for populations of sizes {sizes}")
    test = getattr(model.task, "test_size", 0) * (sizes[0] + sizes[-1])
    if test > MAX_ELEMENTS:
        raise ModelError("task.test_size", model.task.test_size,
                         f"at most {MAX_ELEMENTS // (sizes[0] + sizes[-1])} for these population sizes")
    if rec.trials and rec.variables:
        interval = rec.interval or proto.t_present
        samples = proto.presentations * proto.t_present / interval
        recorded = samples * rec.trials * sum(sizes) * len(rec.variables)
        if recorded > MAX_ELEMENTS:
            raise ModelError("recording.interval", format_quantity(interval, "time"),
                             f"a sampling that records at most {MAX_ELEMENTS:.2e} values (this one records "
                             f"{recorded:.3g}: raise the interval, or lower recording.trials or "
                             "protocol.presentations)")
    if model.backend == "spiking":  # schedules: stimuli and targets per presentation, two learning-rate gates
        per = 2 * proto.steps_per_presentation // math.gcd(proto.steps_per_presentation, proto.settle_steps) \
            + sizes[0] + sizes[-1]
        if proto.presentations * per > MAX_ELEMENTS:
            raise ModelError("protocol.presentations", proto.presentations,
                             f"at most {MAX_ELEMENTS // per:.3g} with backend = 'spiking' (its schedules hold "
                             f"{per} values per presentation; split it into shorter runs)")
    hidden = getattr(model.task, "teacher_hidden", 0)
    if hidden * (sizes[0] + sizes[-1]) > MAX_ELEMENTS:
        raise ModelError("task.teacher_hidden", hidden, "a teacher that fits in memory")


def check_spiking(model: Model) -> None:
    """Checks that only concern the spiking backend."""
    spk, proto = model.spiking, model.protocol
    if model.feedback.perturbation != "nudging" and spk.neuron != "lif_spike":
        raise ModelError("feedback.perturbation", model.feedback.perturbation,
                         f"'nudging' with spiking.neuron = {spk.neuron!r} (the trace formulation nudges the "
                         "output through the somatic potential; the prediction formulation needs "
                         "spiking.neuron = 'lif_spike' or backend = 'rate')")
    if model.lateral.rule not in ("foldiak", "none"):
        raise ModelError("lateral.rule", model.lateral.rule,
                         "'foldiak' or 'none' with backend = 'spiking' (lateral synapses subtract M xi)")
    if proto.trials != 1 and spk.neuron != "lif_spike":
        raise ModelError("protocol.trials", proto.trials,
                         f"1 with spiking.neuron = {spk.neuron!r} (one spiking network is simulated; run seeds "
                         "for repeats; parallel copies that share weights need spiking.neuron = 'lif_spike')")
    for key in ("rate_offset", "input_rate_offset"):
        offset = getattr(spk, key)
        if offset is not None and spk.max_rate <= offset:
            raise ModelError("spiking.max_rate", format_quantity(spk.max_rate, "rate"),
                             f"above spiking.{key} = {format_quantity(offset, 'rate')}")
    if spk.max_rate * proto.dt > 0.5:
        raise ModelError("spiking.max_rate", format_quantity(spk.max_rate, "rate"),
                         f"at most 0.5 / dt = {0.5 / proto.dt:g} Hz (one spike per step)")
    for key in ("tau_trace", "tau_lif", "count_window", "rate_bin"):
        value = getattr(spk, key)
        if value < proto.dt * (1 - 1e-9):
            raise ModelError(f"spiking.{key}", format_quantity(value, "time"),
                             f"at least dt = {proto.dt * 1e3:g} ms")
    if spk.tau_mean <= spk.tau_trace:
        raise ModelError("spiking.tau_mean", format_quantity(spk.tau_mean, "time"),
                         f"longer than spiking.tau_trace = {format_quantity(spk.tau_trace, 'time')}")
    if spk.neuron == "lif_spike":
        check_spike_driven(model)


def check_spike_driven(model: Model) -> None:
    """Checks of the spike-driven formulation (``spiking.neuron = "lif_spike"``)."""
    spk, proto = model.spiking, model.protocol
    if spk.forward_update != "spike":
        raise ModelError("spiking.forward_update", spk.forward_update,
                         "'spike' with spiking.neuron = 'lif_spike' (its forward rule is event-driven; "
                         "'clock' belongs to the trace formulation)")
    _dt_at_most(proto.dt, [(f"spiking.{key} / 5", getattr(spk, key) / 5) for key in ("tau_syn", "tau_lif")],
                "at most {key} = {tau:g} ms with spiking.neuron = 'lif_spike' (spike-driven currents and LIF "
                "membranes; the shipped files use 0.1 ms)")
    if spk.max_rate * spk.refractory >= 1.0:
        raise ModelError("spiking.max_rate", format_quantity(spk.max_rate, "rate"),
                         f"below 1 / spiking.refractory = {1.0 / spk.refractory:g} Hz "
                         "(an LIF neuron cannot fire faster)")
    if spk.summation_dt is not None:
        if spk.summation_dt < proto.dt * (1 - 1e-9):
            raise ModelError("spiking.summation_dt", format_quantity(spk.summation_dt, "time"),
                             f"at least protocol.dt = {proto.dt * 1e3:g} ms")
        taus = [("tau_mean", spk.tau_mean)] + [(f"populations[{i}].tau", p.tau)
                                               for i, p in enumerate(model.populations) if i > 0]
        if model.lateral.tau_x is not None:
            taus.append(("lateral.tau_x", model.lateral.tau_x))
        key, tau = min(taus, key=lambda kv: kv[1])
        if spk.summation_dt > tau / 10 * (1 + 1e-9):
            raise ModelError("spiking.summation_dt", format_quantity(spk.summation_dt, "time"),
                             f"at most {key} / 10 = {tau * 100:g} ms (the summed currents must follow the "
                             "variables they sum)")
    if model.feedback.perturbation == "prediction":  # check_model leaves these to the rate backend's exact leak
        taus = [(f"populations[{i}].tau", p.tau) for i, p in enumerate(model.populations) if i > 0]
        if model.feedback.tau is not None:
            taus.append(("feedback.tau", model.feedback.tau))
        _dt_at_most(proto.dt, taus, "at most {key} = {tau:g} ms with spiking.neuron = 'lif_spike' "
                    "(its somata, predictions and perturbations are integrated explicitly)")


def _dt_at_most(dt: float, taus: list[tuple[str, float]], allowed: str) -> None:
    """Refuse ``protocol.dt`` above any of the ``(key, tau)`` time constants (seconds); ``allowed``
    is formatted with the offending ``key`` and ``tau`` (ms)."""
    for key, tau in taus:
        if dt > tau * (1 + 1e-9):
            raise ModelError("protocol.dt", f"{dt * 1e3:g} ms", allowed.format(key=key, tau=tau * 1e3))


def read_model_table(model: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Read the raw TOML table of a model file or library name."""
    path = resolve_model_path(model)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ModelError("(file)", str(path), f"valid TOML ({err})", str(path)) from None
    except UnicodeDecodeError as err:
        raise ModelError("(file)", str(path), f"a UTF-8 text file ({err.reason} at byte {err.start})",
                         str(path)) from None
    except OSError as err:
        raise ModelError("(file)", str(path), f"a readable file ({err.strerror})", str(path)) from None
    return data, path


def load_model(model: str | Path | None = None, overrides: Iterable[str] = ()) -> Model:
    """Load and validate a model file.

    Parameters
    ----------
    model : str or Path, optional
        A ``.toml`` path or a library model name (see :func:`available_models`);
        ``None`` loads the embedded default (``teacher_student``).
    overrides : iterable of str
        ``"key.path=value"`` settings applied before validation.

    Returns
    -------
    Model

    Examples
    --------
    >>> m = load_model("teacher_student", ["protocol.presentations=10"])
    >>> m.protocol.presentations
    10
    """
    data, path = read_model_table(model)
    return parse_model(apply_overrides(data, overrides), str(path))


def dumps_model(model: Model) -> str:
    """The resolved model as TOML text (stored in result attributes)."""
    return tomli_w.dumps(model.to_mapping())


def model_hash(model: Model) -> str:
    """SHA-256 (hex) of the resolved model file: identifies what a run depends on.

    Stored in result files (``model_hash`` attribute) and checkpoints; two
    runs with the same hash give bit-identical results (rate backend).
    """
    return toml_hash(dumps_model(model))


def toml_hash(text: str) -> str:
    """SHA-256 (hex) of a resolved model file's text (:func:`dumps_model`), as :func:`model_hash`."""
    return hashlib.sha256(text.encode()).hexdigest()
