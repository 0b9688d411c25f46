"""The chain model: its parts, its validation from a model table, and what it can say of itself.

:class:`Model` is built by :meth:`Model.parse` from a parsed model file (by
:func:`~copi_bio.modelfile.load_model`), or in Python by calling the class;
both take the same route (:meth:`Model.from_mapping`, then the cross-key
checks of :class:`~copi_bio.spec.checks.ChainChecks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ModelError
from .base import NAME_MAX, ModelBase
from .chain import (FORWARD_RULES, FeedbackPathway, ForwardRule, LateralInhibition, Population, Protocol,
                    Recording)
from .checks import ChainChecks
from .spiking import SpikingParams
from .tasks import TASKS, Task

TOP_KEYS = ("name", "description", "backend", "seed", "populations", "lateral", "plasticity",
            "feedback", "task", "protocol", "recording", "spiking")
"""The top-level keys of a chain model's file."""


def _default_name(source: str) -> str:
    """A safe name from the model file's stem when the file sets none."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).stem)
    stem = re.sub(r"\.{2,}", ".", stem).lstrip(".-")[:NAME_MAX]
    return stem or "model"


def _feedback(table: Any, backend: str) -> FeedbackPathway:
    """The [feedback] table; an omitted ``perturbation`` is the backend's own:
    ``"prediction"`` (the paper's algorithm) for rate models, ``"nudging"``
    (the only form of the spiking trace formulation; the spike-driven one
    also implements ``"prediction"``) for spiking ones."""
    if isinstance(table, Mapping) and "perturbation" not in table:
        table = {**table, "perturbation": "prediction" if backend == "rate" else "nudging"}
    return FeedbackPathway.from_mapping(table, "feedback")


@dataclass(frozen=True)
class Model(ChainChecks, ModelBase):
    """A complete, validated model.

    Built by :func:`~copi_bio.modelfile.load_model` from a model file, or in
    Python by calling the class with the top-level keys of a model file as
    keyword arguments: the parts are spec objects (or their tables as
    dicts), values are written as in a model file, and the whole goes
    through the model-file validation (:meth:`Model.parse`),
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

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<memory>") -> Model:
        """Validate a parsed model table of a chain model, cross-key and stability checks included
        (:meth:`~copi_bio.spec.base.ModelBase.parse` adds the name check and the source to errors)."""
        unknown = sorted(set(data) - set(TOP_KEYS))
        if unknown:
            raise ModelError(unknown[0], data[unknown[0]], "a top-level key: " + ", ".join(TOP_KEYS))
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

        model = cls._unchecked(
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
        model.check()
        return model

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
