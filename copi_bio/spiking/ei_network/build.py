"""Brian2 objects of an E/I network model, built from spec objects only.

One :class:`brian2.NeuronGroup` per population
(:func:`~copi_bio.spiking.neurons.conductance_lif`, or
:func:`~copi_bio.spiking.neurons.poisson_source` for input populations), one
:class:`brian2.Synapses` per projection, connected at random with the
projection's probability (no autapses inside a population). Static
projections share one weight constant; plastic ones carry a weight per
synapse and their rule's statements (:mod:`copi_bio.spiking.plasticity`).
Every constant is a shared variable set when the run starts
(:mod:`copi_bio.spiking.parameters`), so that the generated code depends on
the network's structure only.
The shared input current is one Ornstein-Uhlenbeck trajectory
(:func:`common_input_trace`) replayed by a :class:`brian2.TimedArray`; a
stimulus protocol (:mod:`copi_bio.spec.stimulus`) is two more, its gain and its
orientation over time (:func:`stimulus_traces`), read by the receiving
populations' stimulus current (:data:`~copi_bio.spiking.neurons.STIMULUS_CURRENT`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np
from brian2 import Hz, amp, second, siemens, volt

from ...spec import CommonInput, NetworkModel, Stimulus
from ...spec.stimulus import STEP
from .. import neurons, plasticity, synapses
from ..parameters import RunParameters, declare


def common_input_trace(spec: CommonInput, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Samples (A) of the shared current every ``spec.resolution`` over ``duration``.

    An exact discretisation of ``tau dc/dt = -c + sqrt(2 tau) xi``, started
    from its stationary distribution, times ``spec.std``.
    """
    n = int(np.ceil(duration / spec.resolution)) + 1
    a = np.exp(-spec.resolution / spec.tau)
    noise = rng.standard_normal(n) * np.sqrt(1.0 - a * a)
    c = np.empty(n)
    c[0] = rng.standard_normal()
    for k in range(1, n):
        c[k] = a * c[k - 1] + noise[k]
    return spec.std * c


STIMULUS_STREAM = 7
"""The trial order and gains are drawn from ``default_rng((seed, STIMULUS_STREAM))``, apart from the
wiring's draws, so that a network with and without a stimulus protocol has the same connections."""


@dataclass(frozen=True)
class Trials:
    """The trials of a run: ``onsets`` (s), ``conditions`` (index), shared ``gains`` and ``test`` (True
    for the test phase's trials), in time order."""

    onsets: np.ndarray
    conditions: np.ndarray
    gains: np.ndarray
    test: np.ndarray


def stimulus_traces(spec: Stimulus, trials: Trials, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Gain (contrast times the trial's gain; 0 outside stimulus epochs) and orientation (rad) every
    :data:`~copi_bio.spec.stimulus.STEP` over ``duration``."""
    n = int(np.ceil(duration / STEP - 1e-9)) + 1
    gain, theta = np.zeros(n), np.zeros(n)
    orientation, contrast = spec.condition_values()
    length = int(round(spec.duration / STEP))
    for onset, c, g in zip(trials.onsets, trials.conditions, trials.gains):
        k = int(round(onset / STEP))
        gain[k:k + length] = contrast[c] * g
        theta[k:k + length] = np.deg2rad(orientation[c])
    return gain, theta


def random_pairs(n_pre: int, n_post: int, p: float, rng: np.random.Generator,
                 autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Random connections with probability ``p``: ``(pre, post)`` index arrays, sorted.

    Exactly ``round(p * n_pre * n_post)`` distinct pairs (one fewer post
    neuron per row with ``autapses=False``), drawn uniformly without
    replacement: NEST's ``fixed_total_number`` rule. Every pair is connected
    with probability ``p``, as with a coin flip per pair; only the total no
    longer varies from seed to seed (by about its square root, 0.2 % for
    250 000 synapses). A fixed count keeps the standalone code, which holds
    it, the same for every seed, so that runs over seeds share one build.
    Drawn here rather than by Brian2 so that the synapse count is known
    before the run (standalone monitors need it) and the wiring is the same
    on every device. ``autapses=False`` excludes ``i == j``.
    """
    targets = n_post if autapses else n_post - 1
    total = n_pre * targets
    count = int(round(p * total))
    if total <= 4_000_000 or p > 0.5:  # small or dense: a permutation of all pairs
        flat = np.sort(rng.permutation(total)[:count])
    else:  # large and sparse: draw pair numbers, redraw the few duplicates
        flat = np.zeros(0, dtype=np.int64)
        while flat.size < count:
            flat = np.unique(np.concatenate([flat, rng.integers(0, total, size=count - flat.size)]))
    pre, post = np.divmod(flat, targets)
    if not autapses:
        post += post >= pre  # skip the neuron itself
    return pre.astype(np.int32), post.astype(np.int32)


@dataclass
class EINetwork:
    """The Brian2 objects of an E/I network and how they map to the spec.

    Attributes
    ----------
    net : brian2.Network
    groups : dict
        Population name -> NeuronGroup.
    projections : dict
        Projection name ``pre_post`` -> Synapses.
    spikes : dict
        Population name -> SpikeMonitor of all its neurons.
    weights : dict
        Plastic projection name -> StateMonitor of ``w`` every ``eval_every``.
    parameters : RunParameters
        Values of the constants, set when the run starts.
    trials : Trials or None
        The stimulus protocol's trials, where the model has one.
    """

    net: b2.Network
    groups: dict
    projections: dict
    spikes: dict
    weights: dict = field(default_factory=dict)
    parameters: RunParameters = field(default_factory=RunParameters)
    trials: Trials | None = None


NEVER = 1e9
"""End (s) of plasticity where nothing freezes it: later than any run."""


def _plastic_rules(model: NetworkModel) -> dict:
    """Projection name -> rule object, for the plastic projections (learning until the stimulus
    protocol's test phase freezes them, if it does)."""
    stim = model.network.stimulus
    freeze = stim.freeze if stim is not None and stim.freeze is not None else NEVER
    return {p.label: plasticity.spike_timing_rule(p.plasticity, f"nu_{p.label}", freeze)
            for p in model.network.projections if p.plasticity is not None}


def build_network(model: NetworkModel, rng: np.random.Generator) -> EINetwork:
    """Create every Brian2 object of ``model`` (the device must already be active)."""
    spec, proto = model.network, model.protocol
    # named, so that the generated code does not depend on which Brian2 objects the process still holds
    common = b2.TimedArray(common_input_trace(spec.common_input, proto.duration, rng) * amp,
                           dt=spec.common_input.resolution * second, name="ta_common_input")
    rules = _plastic_rules(model)
    b2.defaultclock.dt = proto.dt * second  # one clock for every group and synapse (fast scheduling)
    params = RunParameters()
    groups = {}
    trials, receivers, stim_ns = None, (), {}
    if spec.stimulus is not None:
        trials = Trials(*spec.stimulus.schedule(np.random.default_rng((model.seed, STIMULUS_STREAM))))
        receivers = spec.stimulus.receivers({p.name: p.type for p in spec.populations})
        gain, theta = stimulus_traces(spec.stimulus, trials, proto.duration)
        stim_ns = {"stim_gain": b2.TimedArray(gain, dt=STEP * second, name="ta_stim_gain"),
                   "stim_theta": b2.TimedArray(theta, dt=STEP * second, name="ta_stim_theta"),
                   "kappa_stim": float(spec.stimulus.kappa)}
        stim_lif = {"I_untuned": spec.stimulus.untuned * amp, "I_tuned": spec.stimulus.amplitude * amp}
        stim_poisson = {"r_untuned": spec.stimulus.untuned_rate * Hz, "r_tuned": spec.stimulus.peak_rate * Hz}
    for pop in spec.populations:
        lif = pop.model == "lif"
        build = neurons.conductance_lif if lif else neurons.poisson_source
        eqs, ns, spiking = build(pop, stimulus=pop.name in receivers)
        if pop.name in receivers:
            ns.update(stim_ns, **(stim_lif if lif else stim_poisson))
        reset = [spiking.pop("reset")] if "reset" in spiking else []
        for proj in spec.projections:
            rule = rules.get(proj.label)
            if proj.post == pop.name and rule is not None and rule.post_equations:
                eqs += rule.post_equations
                reset.append(rule.post_reset)
                ns.update(rule.post_namespace)
            if proj.pre == pop.name and rule is not None and rule.pre_equations:
                eqs += rule.pre_equations
                ns.update(rule.pre_namespace)
        constants, values, ns = declare(ns)
        group = b2.NeuronGroup(pop.size, eqs + constants, method=proto.method, reset="\n".join(reset) or None,
                               namespace={**ns, "common_input": common}, name=f"pop_{pop.name}", **spiking)
        params.bind(group, values)
        if lif:
            group.v = (pop.V_reset + rng.uniform(size=pop.size) * (pop.V_th - pop.V_reset)) * volt
        if pop.name in receivers:
            group.pref = np.pi * np.arange(pop.size) / pop.size  # preferred orientations spread evenly
        groups[pop.name] = group
    projections, weights = {}, {}
    for proj in spec.projections:
        pre_type = spec.population(proj.pre).type
        rule = rules.get(proj.label)
        if rule is None:
            constants, values, ns = declare({"w_syn": proj.weight * siemens})
            syn = b2.Synapses(groups[proj.pre], groups[proj.post], model=constants,
                              on_pre=synapses.static_on_pre(pre_type), namespace=ns, name=f"syn_{proj.label}")
        else:
            constants, values, ns = declare(rule.namespace)
            syn = b2.Synapses(groups[proj.pre], groups[proj.post], model=rule.model + constants,
                              on_pre={"pre": synapses.plastic_on_pre(pre_type) + "\n" + rule.on_pre},
                              on_post=rule.on_post, namespace=ns, name=f"syn_{proj.label}")
        params.bind(syn, values)
        pre_idx, post_idx = random_pairs(spec.population(proj.pre).size, spec.population(proj.post).size,
                                         proj.probability, rng, autapses=proj.pre != proj.post)
        syn.connect(i=pre_idx, j=post_idx)
        # per-synapse arrays, so that the values are data files of a standalone build rather than code
        if proj.delay > 0:
            syn.delay = np.full(len(pre_idx), proj.delay) * second
        if rule is not None:
            syn.w = np.full(len(pre_idx), proj.weight) * siemens
            weights[proj.label] = b2.StateMonitor(syn, "w", record=np.arange(len(pre_idx)),
                                                 clock=b2.Clock(proto.eval_every * second, name=f"clock_w_{proj.label}"),
                                                 name=f"w_{proj.label}")
        projections[proj.label] = syn
    # every spike is monitored (the population rates need them; recording.neurons only limits what is stored)
    spikes = {pop.name: b2.SpikeMonitor(groups[pop.name], name=f"spikes_{pop.name}") for pop in spec.populations}
    net = b2.Network(*groups.values(), *projections.values(), *weights.values(), *spikes.values())
    return EINetwork(net, groups, projections, spikes, weights, params, trials)
