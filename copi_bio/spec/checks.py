"""Cross-key checks of a chain model, run when it is validated.

Each key is checked on its own where it is declared
(:func:`~copi_bio.spec.params.param`); what involves several keys is
checked here: population sizes against the task, time steps against time
constants, memory before anything is allocated, the stability criteria
(:mod:`copi_bio.spec.stability`) and what only the spiking backend allows.
:class:`ChainChecks` is a base of :class:`~copi_bio.spec.Model`.
"""

from __future__ import annotations

import math

from ..errors import ModelError
from ..units import format_quantity
from .stability import StabilityCriteria

MAX_ELEMENTS = 250_000_000  # ~2 GB of float64: larger models are refused before anything is allocated


class ChainChecks(StabilityCriteria):
    """The cross-key checks of a chain model, as methods (a base of :class:`~copi_bio.spec.Model`)."""

    def check(self) -> None:
        """Cross-key checks: shapes against the task, time steps against time constants."""
        pops, proto, task = self.populations, self.protocol, self.task
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
        test = self.spiking.test_present
        if test is not None and (abs(test / proto.t_present - round(test / proto.t_present)) > 1e-6
                                 or round(test / proto.t_present) < 1):
            raise ModelError("spiking.test_present", f"{test * 1e3:g} ms",
                             f"a positive whole multiple of protocol.t_present = {proto.t_present * 1e3:g} ms")
        if self.spiking.mean_anneal and not proto.anneal:
            raise ModelError("spiking.mean_anneal", "true", "false when protocol.anneal = 0 (the means follow "
                             "the learning rates' annealing; there is none)")
        # Exponential Euler integrates each leak exactly. With self-consistent
        # nudging the somata feed back on themselves through the perturbation (an
        # explicit coupling that needs dt <= tau); in the prediction formulation a
        # step is a feedforward sweep without loops (bottom-up predictions,
        # top-down perturbations, somata), stable at any dt.
        neuronal = [(f"populations[{i}].tau", p.tau) for i, p in enumerate(pops)
                    if i > 0 and self.feedback.perturbation == "nudging"]
        if self.lateral.tau_x is not None:
            neuronal.append(("lateral.tau_x", self.lateral.tau_x))
        if self.feedback.tau is not None and self.feedback.perturbation == "nudging":
            neuronal.append(("feedback.tau", self.feedback.tau))
        _dt_at_most(proto.dt, neuronal, "at most the smallest neuronal time constant ({key} = {tau:g} ms) "
                    "for a stable explicit coupling")
        for key, tau in (("plasticity.tau", self.plasticity.tau), ("lateral.tau", self.lateral.tau)):
            if proto.dt > 0.1 * tau:
                raise ModelError(key, f"{tau * 1e3:g} ms",
                                 f"at least 10 dt = {10 * proto.dt * 1e3:g} ms for a stable plasticity update")
        if self.lateral.rule == "foldiak":
            if self.lateral.tau_x is None:
                raise ModelError("lateral.tau_x", None, "a time constant such as '5 ms' (foldiak x is dynamic)")
            # explicit x <- e x + (1-e)(z - M x) is stable while eig(M) < (1+e)/(1-e); at
            # dt = tau_x/4 that allows eig(M) < 8, enough for the inhibition decorrelation needs
            if proto.dt > self.lateral.tau_x / 4 * (1 + 1e-9):
                raise ModelError("protocol.dt", f"{proto.dt * 1e3:g} ms",
                                 f"at most lateral.tau_x / 4 = {self.lateral.tau_x / 4 * 1e3:g} ms for foldiak "
                                 "(the lateral inhibition M x is integrated explicitly)")
        if self.recording.trials > proto.trials:
            raise ModelError("recording.trials", self.recording.trials,
                             f"at most protocol.trials = {proto.trials}")
        if self.recording.interval is not None:
            ratio = self.recording.interval / proto.dt
            if abs(ratio - round(ratio)) > 1e-6:
                raise ModelError("recording.interval", f"{self.recording.interval * 1e3:g} ms",
                                 f"a whole multiple of dt = {proto.dt * 1e3:g} ms")
        self.check_lateral_estimate()
        self.check_sizes()
        self.check_stability()
        if self.backend == "spiking":
            self.check_spiking()
        if self.backend == "rate" and pops[0].bias:
            raise ModelError("populations[0].bias", True, "false: the input population has no soma")

    def check_lateral_estimate(self) -> None:
        """The cheaper decorrelation update: one subsample key, at most the trials, rate backend only."""
        lat = self.lateral
        if not lat.cheaper:
            return
        key = ("lateral.sample_count" if lat.sample_count is not None else
               "lateral.sample_fraction" if lat.sample_fraction is not None else "lateral.update_every")
        value = getattr(lat, key.split(".")[1])
        if lat.sample_count is not None and lat.sample_fraction is not None:
            raise ModelError("lateral.sample_count", lat.sample_count,
                             f"omitted when lateral.sample_fraction = {lat.sample_fraction:g} is given "
                             "(one of the two sets the subsample)")
        if self.backend != "rate":
            raise ModelError(key, value, f"omitted with backend = {self.backend!r} (a subsampled or "
                             "intermittent decorrelation update is a rate-backend device; spiking lateral "
                             "synapses learn at every spike)")
        if lat.rule == "none":
            raise ModelError(key, value, "omitted with lateral.rule = 'none' (there is no decorrelation update)")
        if lat.sample_count is not None and lat.sample_count > self.protocol.trials:
            raise ModelError("lateral.sample_count", lat.sample_count,
                             f"at most protocol.trials = {self.protocol.trials}")

    def check_sizes(self) -> None:
        """Refuse models whose arrays would not fit in memory, before allocating anything.

        Counts the plastic matrices (``W``, ``R``/``M``, Adam moments), the
        per-trial state, the test set, and the recorded state samples.
        """
        sizes = [p.size for p in self.populations]
        proto, rec = self.protocol, self.recording
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * 3 + sum(n * n for n in sizes[:-1])
        if weights > MAX_ELEMENTS:
            raise ModelError("populations.size", sizes,
                             f"sizes whose weight matrices hold at most {MAX_ELEMENTS:.2e} values "
                             f"(these need {weights:.3g})")
        state = proto.trials * sum(sizes) * 8
        if state > MAX_ELEMENTS:
            raise ModelError("protocol.trials", proto.trials,
                             f"at most {MAX_ELEMENTS // max(1, 8 * sum(sizes))} for populations of sizes {sizes}")
        test = getattr(self.task, "test_size", 0) * (sizes[0] + sizes[-1])
        if test > MAX_ELEMENTS:
            raise ModelError("task.test_size", self.task.test_size,
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
        if self.backend == "spiking":  # schedules: stimuli and targets per presentation, two learning-rate gates
            per = 2 * proto.steps_per_presentation // math.gcd(proto.steps_per_presentation, proto.settle_steps) \
                + sizes[0] + sizes[-1]
            if proto.presentations * per > MAX_ELEMENTS:
                raise ModelError("protocol.presentations", proto.presentations,
                                 f"at most {MAX_ELEMENTS // per:.3g} with backend = 'spiking' (its schedules hold "
                                 f"{per} values per presentation; split it into shorter runs)")
        hidden = getattr(self.task, "teacher_hidden", 0)
        if hidden * (sizes[0] + sizes[-1]) > MAX_ELEMENTS:
            raise ModelError("task.teacher_hidden", hidden, "a teacher that fits in memory")

    def check_spiking(self) -> None:
        """Checks that only concern the spiking backend."""
        spk, proto = self.spiking, self.protocol
        if self.recording.statistics_every != 1:
            raise ModelError("recording.statistics_every", self.recording.statistics_every,
                             "1 (omitted) with backend = 'spiking' (its correlations are counted from every "
                             "spike; the key thins the rate backend's connection statistics)")
        if self.feedback.perturbation != "nudging" and spk.neuron != "lif_spike":
            raise ModelError("feedback.perturbation", self.feedback.perturbation,
                             f"'nudging' with spiking.neuron = {spk.neuron!r} (the trace formulation nudges the "
                             "output through the somatic potential; the prediction formulation needs "
                             "spiking.neuron = 'lif_spike' or backend = 'rate')")
        if self.lateral.rule not in ("foldiak", "none"):
            raise ModelError("lateral.rule", self.lateral.rule,
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
        if spk.dale == "circuit" and spk.neuron != "lif_spike":
            raise ModelError("spiking.dale", spk.dale,
                             f"'none' or 'inhibitory' with spiking.neuron = {spk.neuron!r} (the Dale circuit, "
                             "with interneurons and feedforward inhibition, is built for spiking.neuron = "
                             "'lif_spike')")
        if spk.forward_centring != "none" and spk.neuron != "lif_spike":
            raise ModelError("spiking.forward_centring", spk.forward_centring,
                             f"'none' with spiking.neuron = {spk.neuron!r} (the centring term belongs to the "
                             "spike-driven forward rule of 'lif_spike')")
        if spk.neuron == "lif_spike":
            self.check_spike_driven()

    def check_spike_driven(self) -> None:
        """Checks of the spike-driven formulation (``spiking.neuron = "lif_spike"``)."""
        spk, proto = self.spiking, self.protocol
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
                                                   for i, p in enumerate(self.populations) if i > 0]
            if self.lateral.tau_x is not None:
                taus.append(("lateral.tau_x", self.lateral.tau_x))
            if spk.forward_centring != "none":  # the centring term reads the presynaptic activity
                taus.append(("spiking.tau_trace", spk.tau_trace))
            key, tau = min(taus, key=lambda kv: kv[1])
            if spk.summation_dt > tau / 10 * (1 + 1e-9):
                raise ModelError("spiking.summation_dt", format_quantity(spk.summation_dt, "time"),
                                 f"at most {key} / 10 = {tau * 100:g} ms (the summed currents must follow the "
                                 "variables they sum)")
        if self.feedback.perturbation == "prediction":  # check() leaves these to the rate backend's exact leak
            taus = [(f"populations[{i}].tau", p.tau) for i, p in enumerate(self.populations) if i > 0]
            if self.feedback.tau is not None:
                taus.append(("feedback.tau", self.feedback.tau))
            _dt_at_most(proto.dt, taus, "at most {key} = {tau:g} ms with spiking.neuron = 'lif_spike' "
                        "(its somata, predictions and perturbations are integrated explicitly)")


def _dt_at_most(dt: float, taus: list[tuple[str, float]], allowed: str) -> None:
    """Refuse ``protocol.dt`` above any of the ``(key, tau)`` time constants (seconds); ``allowed``
    is formatted with the offending ``key`` and ``tau`` (ms)."""
    for key, tau in taus:
        if dt > tau * (1 + 1e-9):
            raise ModelError("protocol.dt", f"{dt * 1e3:g} ms", allowed.format(key=key, tau=tau * 1e3))
