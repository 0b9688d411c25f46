"""Spec objects of an excitatory/inhibitory network model (a model file with a ``[network]`` table).

Typed populations of conductance-based LIF neurons, projections with a
connection probability and plastic inhibition, a shared input, and the
model that holds them (:class:`NetworkModel`). The objects only hold and
check values; :mod:`copi_bio.spiking` builds them. All quantities are SI
floats (s, Hz, V, S, F, A).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ModelError
from ..units import format_quantity
from .base import ModelBase, Spec, SpecBase
from .ei_plasticity import PLASTICITY_RULES, PlasticityRule
from .chain import MAX_POPULATION
from .params import param
from .spiking import SpikingParams
from .stimulus import Stimulus

CELL_TYPES = ("excitatory", "inhibitory")
NEURON_MODELS = ("lif", "poisson")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _without(data: Any, path: str, key: str) -> tuple[dict, Any]:
    """A copy of the table ``data`` without ``key``, and the value of ``key`` (None if absent)."""
    if not isinstance(data, Mapping):
        raise ModelError(path, data, "a table")
    data = dict(data)
    return data, data.pop(key, None)


@dataclass(frozen=True)
class NetworkPopulation(SpecBase):
    """A population of conductance-based leaky integrate-and-fire neurons (``model = "lif"``), or of
    Poisson spike sources (``model = "poisson"``: input populations, such as a thalamic input).

    LIF: ``C dV/dt = g_leak (E_leak - V) + g_exc (E_exc - V) + g_inh (E_inh - V) + I_bg + I_common(t)``,
    ``dg_exc/dt = -g_exc / tau_exc``, ``dg_inh/dt = -g_inh / tau_inh``;
    a spike at ``V > V_th`` resets ``V`` to ``V_reset`` for ``refractory``.
    Poisson: each cell fires independently at ``rate`` (its spontaneous rate) plus, where it receives
    the stimulus, its tuned stimulus rate (:mod:`copi_bio.spec.stimulus`); it receives no synapses.
    ``type`` fixes the sign of every synapse the population makes (Dale's law).
    """

    _path = "network.populations"

    name: str = param("str", doc="population name")
    size: int = param("int", low=1, strict=False, high=MAX_POPULATION, doc="number of neurons")
    type: str = param("choice", choices=CELL_TYPES, doc="excitatory or inhibitory (sign of its synapses)")
    model: str = param("choice", "lif", choices=NEURON_MODELS,
                       doc="lif (conductance-based LIF) or poisson (spike sources, no synapses onto them)")
    rate: float = param("rate", 0.0, low=0, strict=False, doc="poisson: spontaneous firing rate")
    C: float = param("capacitance", 200e-12, low=0, doc="membrane capacitance")
    g_leak: float = param("conductance", 10e-9, low=0, doc="leak conductance")
    E_leak: float = param("voltage", -60e-3, doc="leak reversal (resting) potential")
    V_th: float = param("voltage", -50e-3, doc="spike threshold")
    V_reset: float = param("voltage", -60e-3, doc="reset potential")
    refractory: float = param("time", 5e-3, low=0, strict=False, doc="absolute refractory period")
    E_exc: float = param("voltage", 0.0, doc="excitatory reversal potential")
    E_inh: float = param("voltage", -80e-3, doc="inhibitory reversal potential")
    tau_exc: float = param("time", 5e-3, low=0, doc="excitatory conductance time constant")
    tau_inh: float = param("time", 10e-3, low=0, doc="inhibitory conductance time constant")
    I_bg: float = param("current", 0.0, doc="constant background current")

    @property
    def tau_m(self) -> float:
        """Membrane time constant ``C / g_leak`` (s)."""
        return self.C / self.g_leak



@dataclass(frozen=True)
class Projection(SpecBase):
    """Random synapses from ``pre`` to ``post`` with probability ``probability``.

    Each presynaptic spike raises the postsynaptic conductance of the
    receptor of ``pre``'s type by ``weight`` (excitatory: ``g_exc``,
    inhibitory: ``g_inh``). Inside a population there are no autapses.
    """

    _path = "network.projections"

    pre: str = param("str", doc="presynaptic population")
    post: str = param("str", doc="postsynaptic population")
    probability: float = param("float", doc="connection probability (0, 1]", low=0, high=1)
    weight: float = param("conductance", doc="conductance increment per spike", low=0, strict=False)
    delay: float = param("time", 0.0, low=0, strict=False, doc="synaptic delay")
    name: str | None = param("str", None, optional=True,
                             doc="projection name (default '<pre>_<post>'); --set network.projections.NAME.KEY=...")
    plasticity: PlasticityRule | None = None

    @classmethod
    def from_mapping(cls, data: Any, path: str) -> "Projection":
        """Build the projection; an optional ``plasticity`` table with a ``rule`` key selects the rule."""
        data, rule_table = _without(data, path, "plasticity")
        proj = super().from_mapping(data, path)
        if rule_table is None:
            return proj
        if not isinstance(rule_table, Mapping):
            raise ModelError(f"{path}.plasticity", rule_table, "a table with a 'rule' key")
        rule_table = dict(rule_table)
        rule = rule_table.pop("rule", None)
        if rule not in PLASTICITY_RULES:
            raise ModelError(f"{path}.plasticity.rule", rule, "one of " + ", ".join(map(repr, PLASTICITY_RULES)))
        return proj._unchecked_replace(plasticity=PLASTICITY_RULES[rule].from_mapping(rule_table,
                                                                                      f"{path}.plasticity"))

    def to_mapping(self) -> dict[str, Any]:
        """The TOML table, with the plasticity sub-table."""
        out = super().to_mapping()
        if self.plasticity is not None:
            out["plasticity"] = {"rule": self.plasticity.rule, **self.plasticity.to_mapping()}
        return out

    @property
    def label(self) -> str:
        """``name`` or ``"<pre>_<post>"``: the suffix of this projection's result variables."""
        return self.name or f"{self.pre}_{self.post}"


@dataclass(frozen=True)
class CommonInput(SpecBase):
    """A fluctuating current shared by every neuron (an Ornstein-Uhlenbeck process).

    ``I_common(t) = std * c(t)``, ``tau dc/dt = -c + sqrt(2 tau) xi(t)``, sampled
    every ``resolution`` and held (the same trajectory for every neuron, so
    the same realisation can be replayed in another simulator).
    """

    _path = "network.common_input"

    std: float = param("current", 0.0, low=0, strict=False, doc="standard deviation of the shared current")
    tau: float = param("time", 0.1, low=0, doc="correlation time")
    resolution: float = param("time", 1e-3, low=0, doc="sampling interval of the trajectory")


@dataclass(frozen=True)
class NetworkProtocol(SpecBase):
    """Time stepping of a network run."""

    _path = "protocol"

    duration: float = param("time", low=0, doc="simulated time")
    dt: float = param("time", 1e-4, low=0, doc="integration step")
    eval_every: float = param("time", 1.0, low=0, doc="interval of the rate / correlation / weight metrics")
    method: str = param("choice", "euler", choices=("euler", "exponential_euler", "rk2"),
                        doc="Brian2 integration method of the membrane equations")


@dataclass(frozen=True)
class NetworkRecording(SpecBase):
    """Which neurons' spikes are stored.

    ``neurons`` is a number ``N`` (the first ``N`` neurons of every recorded
    population; with random connectivity a random sample) or a list of
    indices; omitted: all neurons.
    """

    _path = "recording"

    populations: tuple[str, ...] | None = param("str_list", None, optional=True,
                                                doc="populations whose spikes are stored (default all)")
    neurons: int | tuple[int, ...] | None = None

    @classmethod
    def from_mapping(cls, data: Any, path: str) -> "NetworkRecording":
        """Build the recording spec; ``neurons`` is an integer or a list of integers."""
        data, neurons = _without(data, path, "neurons")
        key = f"{path}.neurons"
        if neurons is not None:
            if isinstance(neurons, bool) or not isinstance(neurons, (int, list, tuple)):
                raise ModelError(key, neurons, "a number of neurons or a list of neuron indices")
            if isinstance(neurons, int):
                if neurons < 1:
                    raise ModelError(key, neurons, "at least 1")
            else:
                if not neurons or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in neurons):
                    raise ModelError(key, neurons, "a non-empty list of non-negative integer indices")
                if len(set(neurons)) != len(neurons):
                    raise ModelError(key, neurons, "a list without repeated indices")
                neurons = tuple(sorted(neurons))
        return super().from_mapping(data, path)._unchecked_replace(neurons=neurons)

    def to_mapping(self) -> dict[str, Any]:
        """The TOML table."""
        out = super().to_mapping()
        if self.neurons is not None:
            out["neurons"] = self.neurons if isinstance(self.neurons, int) else list(self.neurons)
        return out

    def indices(self, size: int) -> list[int]:
        """Indices of the recorded neurons of a population of ``size``."""
        if self.neurons is None:
            return list(range(size))
        if isinstance(self.neurons, int):
            return list(range(min(size, self.neurons)))
        return [i for i in self.neurons if i < size]


@dataclass(frozen=True)
class NetworkSpec(Spec):
    """Typed populations, projections, the shared input and the stimulus protocol of an E/I network."""

    _path = "network"
    _required = ("populations",)

    populations: tuple[NetworkPopulation, ...]
    projections: tuple[Projection, ...]
    common_input: CommonInput = field(default_factory=CommonInput)
    stimulus: Stimulus | None = None

    def population(self, name: str) -> NetworkPopulation:
        """The population called ``name``."""
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise KeyError(name)

    @classmethod
    def from_mapping(cls, data: Any, path: str = "network") -> "NetworkSpec":
        """Build and cross-check the ``[network]`` table."""
        if not isinstance(data, Mapping):
            raise ModelError(path, data, "a table with [[network.populations]] and [[network.projections]]")
        unknown = sorted(set(data) - {"populations", "projections", "common_input", "stimulus"})
        if unknown:
            raise ModelError(f"{path}.{unknown[0]}", data[unknown[0]],
                             f"a known key of [{path}]: common_input, populations, projections, stimulus")
        pops_raw, projs_raw = data.get("populations"), data.get("projections", [])
        if not isinstance(pops_raw, list) or not pops_raw:
            raise ModelError(f"{path}.populations", pops_raw, "a non-empty array of tables [[network.populations]]")
        if not isinstance(projs_raw, list):
            raise ModelError(f"{path}.projections", projs_raw, "an array of tables [[network.projections]]")
        pops = tuple(NetworkPopulation.from_mapping(p, f"{path}.populations[{i}]") for i, p in enumerate(pops_raw))
        projs = tuple(Projection.from_mapping(p, f"{path}.projections[{i}]") for i, p in enumerate(projs_raw))
        common = CommonInput.from_mapping(data.get("common_input", {}), f"{path}.common_input")
        stimulus = Stimulus.from_mapping(data["stimulus"], f"{path}.stimulus") if "stimulus" in data else None
        net = cls._unchecked(pops, projs, common, stimulus)
        net.check(path)
        return net

    def check(self, path: str = "network") -> None:
        """Cross-key checks: unique names, known endpoints, one projection per pair, sane voltages."""
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise ModelError(f"{path}.populations.name", names, "unique population names")
        labels = [p.label for p in self.projections]
        if len(set(labels)) != len(labels):
            raise ModelError(f"{path}.projections.name", labels, "unique projection names")
        for key, name in [(f"{path}.populations[{i}].name", n) for i, n in enumerate(names)] + \
                         [(f"{path}.projections[{i}].name", n) for i, n in enumerate(labels)]:
            if not _IDENTIFIER.match(name):
                raise ModelError(key, name, "letters, digits and '_', starting with a letter")
        for i, pop in enumerate(self.populations):
            key = f"{path}.populations[{i}]"
            if pop.model == "lif" and pop.rate != 0:
                raise ModelError(f"{key}.rate", format_quantity(pop.rate, "rate"),
                                 "omitted for model = 'lif' (a LIF population's rate follows from its inputs; "
                                 "model = 'poisson' makes spike sources with this rate)")
            if not pop.V_reset < pop.V_th:
                raise ModelError(f"{key}.V_reset", format_quantity(pop.V_reset, "voltage"),
                                 f"below V_th = {format_quantity(pop.V_th, 'voltage')}")
            if not pop.E_inh < pop.V_reset:
                raise ModelError(f"{key}.E_inh", format_quantity(pop.E_inh, "voltage"),
                                 f"below V_reset = {format_quantity(pop.V_reset, 'voltage')} (inhibition hyperpolarises)")
            if not pop.E_exc > pop.V_th:
                raise ModelError(f"{key}.E_exc", format_quantity(pop.E_exc, "voltage"),
                                 f"above V_th = {format_quantity(pop.V_th, 'voltage')} (excitation depolarises)")
        seen = set()
        for i, proj in enumerate(self.projections):
            key = f"{path}.projections[{i}]"
            for end in ("pre", "post"):
                if getattr(proj, end) not in names:
                    raise ModelError(f"{key}.{end}", getattr(proj, end), "a population name: " + ", ".join(names))
            if self.population(proj.post).model == "poisson":
                raise ModelError(f"{key}.post", proj.post, "a population of model = 'lif' (a Poisson source "
                                 "has no membrane to receive synapses)")
            if (proj.pre, proj.post) in seen:
                raise ModelError(key, f"{proj.pre}->{proj.post}", "one projection per (pre, post) pair")
            seen.add((proj.pre, proj.post))
            rule = proj.plasticity
            if rule is not None and proj.weight > rule.w_max:
                raise ModelError(f"{key}.weight", format_quantity(proj.weight, "conductance"),
                                 f"at most plasticity.w_max = {format_quantity(rule.w_max, 'conductance')}")

    def to_mapping(self) -> dict[str, Any]:
        """The ``[network]`` TOML table."""
        out = {"populations": [p.to_mapping() for p in self.populations],
               "projections": [p.to_mapping() for p in self.projections],
               "common_input": self.common_input.to_mapping()}
        if self.stimulus is not None:
            out["stimulus"] = self.stimulus.to_mapping()
        return out


NETWORK_TOP_KEYS = ("name", "description", "backend", "seed", "network", "protocol", "recording", "spiking")


@dataclass(frozen=True)
class NetworkModel(ModelBase):
    """A complete, validated E/I network model (``backend = "spiking"``).

    Attributes
    ----------
    name, description : str
    backend : str
        Always ``"spiking"``.
    seed : int
    network : NetworkSpec
    protocol : NetworkProtocol
    recording : NetworkRecording
    spiking : SpikingParams
        Device, threads and measurement windows.
    source : str

    Built from Python as :class:`~copi_bio.spec.Model` is: ``NetworkModel(network=NetworkSpec(...),
    protocol=NetworkProtocol(duration="35 s"), ...)`` is validated like the model file.
    """

    _required = ("network", "protocol")

    name: str
    description: str
    seed: int
    network: NetworkSpec
    protocol: NetworkProtocol
    recording: NetworkRecording = field(default_factory=NetworkRecording)
    spiking: SpikingParams = field(default_factory=SpikingParams)
    source: str = field(default="<memory>", compare=False)
    backend: str = "spiking"

    @property
    def populations(self) -> tuple[NetworkPopulation, ...]:
        """The network's populations (each has ``name`` and ``size``)."""
        return self.network.populations

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<memory>") -> "NetworkModel":
        """Validate a parsed model table that has a ``[network]`` table."""
        unknown = sorted(set(data) - set(NETWORK_TOP_KEYS))
        if unknown:
            raise ModelError(unknown[0], data[unknown[0]],
                             "a top-level key of a [network] model: " + ", ".join(NETWORK_TOP_KEYS))
        for key in ("name", "description"):
            if not isinstance(data.get(key, ""), str):
                raise ModelError(key, data[key], "a string")
        if data.get("backend", "spiking") != "spiking":
            raise ModelError("backend", data["backend"], "'spiking' (a [network] model is a spiking network)")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2 ** 31:
            raise ModelError("seed", seed, "a non-negative integer below 2**31")
        model = cls._unchecked(
            name=data.get("name", "network"), description=data.get("description", ""), seed=seed,
            network=NetworkSpec.from_mapping(data["network"]),
            protocol=NetworkProtocol.from_mapping(data.get("protocol", {}), "protocol"),
            recording=NetworkRecording.from_mapping(data.get("recording", {}), "recording"),
            spiking=SpikingParams.from_mapping(data.get("spiking", {}), "spiking"), source=source)
        model.check()
        return model

    def check(self) -> None:
        """Cross-table checks: time step against time constants, recorded names and indices."""
        dt = self.protocol.dt
        for i, pop in enumerate(self.network.populations):
            for key in ("tau_exc", "tau_inh", "tau_m"):
                tau = getattr(pop, key)
                if dt > 0.2 * tau * (1 + 1e-9):
                    raise ModelError("protocol.dt", format_quantity(dt, "time"),
                                     f"at most a fifth of network.populations[{i}].{key} = "
                                     f"{tau * 1e3:g} ms for an accurate integration")
        for key in ("count_window", "rate_bin"):
            value = getattr(self.spiking, key)
            if value < dt * (1 - 1e-9):
                raise ModelError(f"spiking.{key}", format_quantity(value, "time"), f"at least dt = {dt * 1e3:g} ms")
        if self.protocol.eval_every < 3 * self.spiking.count_window:
            raise ModelError("protocol.eval_every", format_quantity(self.protocol.eval_every, "time"),
                             "at least 3 spiking.count_window (spike-count correlations need several windows)")
        duration = self.protocol.duration
        for proj in self.network.projections:
            rule = proj.plasticity
            if rule is not None and rule.onset >= duration:
                warnings.warn(f"network.projections.{proj.label}.plasticity.onset = "
                              f"{format_quantity(rule.onset, 'time')!r} is at or after the end of the run "
                              f"(protocol.duration = {format_quantity(duration, 'time')!r}): the {proj.label} "
                              "synapses stay static", UserWarning, stacklevel=2)
        names = [p.name for p in self.network.populations]
        if self.network.stimulus is not None:
            self.network.stimulus.check({p.name: p.type for p in self.network.populations}, self.protocol.duration,
                                        poisson={p.name for p in self.network.populations if p.model == "poisson"})
        for name in self.recording.populations or ():
            if name not in names:
                raise ModelError("recording.populations", name, "a population name: " + ", ".join(names))
        if isinstance(self.recording.neurons, tuple):
            biggest = max(p.size for p in self.network.populations)
            if self.recording.neurons[-1] >= biggest:
                raise ModelError("recording.neurons", self.recording.neurons[-1],
                                 f"indices below the largest population size {biggest}")

    def to_mapping(self) -> dict[str, Any]:
        """The model as a TOML-ready mapping (the resolved model file)."""
        return {"name": self.name, "description": self.description, "backend": "spiking", "seed": self.seed,
                "network": self.network.to_mapping(), "protocol": self.protocol.to_mapping(),
                "recording": self.recording.to_mapping(), "spiking": self.spiking.to_mapping()}

    @property
    def recorded(self) -> tuple[str, ...]:
        """Names of the populations whose spikes are stored."""
        return self.recording.populations or tuple(p.name for p in self.network.populations)
