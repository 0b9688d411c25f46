"""Spec of an E/I network's stimulus protocol (``[network.stimulus]``): trials of a spontaneous epoch
and a stimulus epoch, with oriented stimuli (gratings) as a tuned input current.

Trial ``j`` starts at ``start + j (spontaneous + duration)``; its stimulus comes on ``spontaneous``
later (the onset) and lasts ``duration``. Conditions are every orientation ``theta_o = 180 o /
orientations`` deg with every contrast ``c``. A *learning phase* of ``learning_repeats`` repeats of
every condition (in random order) comes first, then the *test phase*: ``repeats`` repeats of every
condition, in random order. With ``plasticity = "frozen"`` every plastic synapse stops learning at the
start of the first test trial (:attr:`Stimulus.test_start`) and keeps its weight to the end of the run;
the run's trial counts hold the test trials only. During the stimulus epoch of a trial, neuron ``i`` of a receiving population (preferred
orientation ``phi_i = 180 i / N`` deg, spread evenly) gets

``I_stim,i = c g_j (untuned + amplitude exp(kappa (cos 2(theta - phi_i) - 1)))``

(a von Mises tuning curve over the orientation's doubled angle, peak ``amplitude`` at the preferred
orientation and contrast 1); ``g_j`` is the trial's gain, shared by every receiving neuron: 1, or a
gamma-distributed value of mean 1 and standard deviation ``shared_gain`` (shared input fluctuations
whose size the user sets). Outside stimulus epochs ``I_stim = 0``.

A receiving population of Poisson sources (``model = "poisson"``, an input population) gets the same
tuning as a rate on top of its spontaneous rate ``r_spont`` (the population's ``rate``):

``r_i(t) = r_spont + c g_j (untuned_rate + peak_rate exp(kappa (cos 2(theta - phi_i) - 1)))``

so its cells are independent given the stimulus and the trial's gain; shared fluctuations come from
``shared_gain``, from a shared input current (``[network.common_input]``) or from a Poisson population
that projects onto many cells (a shared Poisson source).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..units import format_quantity
from .base import SpecBase
from .params import param

STEP = 0.01
"""Time grid (s) of the stimulus epochs: trial counts are binned in 10 ms, so epochs are whole bins."""


@dataclass(frozen=True)
class Stimulus(SpecBase):
    """Trials of oriented stimuli given to an E/I network (see the module docstring for the equations)."""

    _path = "network.stimulus"

    start: float = param("time", 0.0, low=0, strict=False, doc="start of the first trial (its spontaneous epoch)")
    spontaneous: float = param("time", 0.2, low=0, strict=False, doc="epoch without stimulus before each onset")
    duration: float = param("time", 0.5, low=0, doc="stimulus epoch after each onset")
    orientations: int = param("int", 8, low=1, strict=False, high=360, doc="orientations, evenly over 180 deg")
    contrasts: tuple[float, ...] = param("float_list", (1.0,), low=0, strict=False,
                                         doc="contrast levels (factors of the stimulus current)")
    repeats: int = param("int", 10, low=1, strict=False, high=100_000,
                         doc="repeats of every condition in the test phase (the trials whose counts are stored)")
    learning_repeats: int = param("int", 0, low=0, strict=False, high=100_000,
                                  doc="repeats of every condition in the learning phase before the test phase")
    plasticity: str = param("choice", "on", choices=("on", "frozen"),
                            doc="plasticity during the test phase: on, or frozen from its first trial on")
    amplitude: float = param("current", 0.0, low=0, strict=False,
                             doc="tuned current at the preferred orientation and contrast 1")
    untuned: float = param("current", 0.0, doc="current every receiving neuron gets at contrast 1")
    peak_rate: float = param("rate", 0.0, low=0, strict=False,
                             doc="Poisson receivers: tuned rate at the preferred orientation and contrast 1")
    untuned_rate: float = param("rate", 0.0, low=0, strict=False,
                                doc="Poisson receivers: rate every cell adds at contrast 1")
    kappa: float = param("float", 2.0, low=0, strict=False, doc="von Mises concentration of the tuning")
    shared_gain: float = param("float", 0.0, low=0, strict=False,
                               doc="standard deviation of the trial gain (mean 1) shared by all neurons")
    populations: tuple[str, ...] | None = param("str_list", None, optional=True,
                                                doc="populations that receive the stimulus (default: the "
                                                    "excitatory ones)")

    @property
    def n_conditions(self) -> int:
        """Orientations times contrasts."""
        return self.orientations * len(self.contrasts)

    @property
    def n_trials(self) -> int:
        """Trials of both phases: conditions times (learning repeats + repeats)."""
        return self.n_conditions * (self.learning_repeats + self.repeats)

    @property
    def test_start(self) -> float:
        """Start (s) of the first test trial (its spontaneous epoch)."""
        return self.start + self.n_conditions * self.learning_repeats * (self.spontaneous + self.duration)

    @property
    def freeze(self) -> float | None:
        """Time (s) from which every plasticity is off (``plasticity = "frozen"``), else None."""
        return self.test_start if self.plasticity == "frozen" else None

    @property
    def end(self) -> float:
        """End (s) of the last trial."""
        return self.start + self.n_trials * (self.spontaneous + self.duration)

    def condition_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Orientation (deg) and contrast of every condition (orientation-major)."""
        orientation = np.repeat(np.arange(self.orientations) * 180.0 / self.orientations, len(self.contrasts))
        contrast = np.tile(np.asarray(self.contrasts, float), self.orientations)
        return orientation, contrast

    def schedule(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Onset (s), condition, shared gain and phase (True: test) of every trial in time order; the
        learning trials first, each phase in random order."""
        conditions = np.concatenate([
            rng.permutation(np.repeat(np.arange(self.n_conditions), self.learning_repeats)),
            rng.permutation(np.repeat(np.arange(self.n_conditions), self.repeats))])
        test = np.arange(self.n_trials) >= self.n_conditions * self.learning_repeats
        onsets = self.start + np.arange(self.n_trials) * (self.spontaneous + self.duration) + self.spontaneous
        if self.shared_gain > 0:
            k = 1.0 / self.shared_gain ** 2
            gains = rng.gamma(k, 1.0 / k, self.n_trials)
        else:
            gains = np.ones(self.n_trials)
        return onsets, conditions, gains, test

    def receivers(self, populations: dict[str, str]) -> tuple[str, ...]:
        """Names of the receiving populations, given every population's type (name -> type)."""
        if self.populations is not None:
            return self.populations
        return tuple(name for name, kind in populations.items() if kind == "excitatory")

    def check(self, populations: dict[str, str], duration: float, path: str = "network.stimulus",
              poisson: set[str] = frozenset()) -> None:
        """Cross checks against the network (population name -> type; the names of its Poisson
        populations) and the run's duration."""
        for key in ("start", "spontaneous", "duration"):
            value = getattr(self, key)
            if abs(value / STEP - round(value / STEP)) > 1e-6:
                raise ModelError(f"{path}.{key}", format_quantity(value, "time"),
                                 f"a whole multiple of {STEP * 1e3:g} ms (the bins of the trial counts)")
        for name in self.populations or ():
            if name not in populations:
                raise ModelError(f"{path}.populations", name, "a population name: " + ", ".join(populations))
        receivers = self.receivers(populations)
        if not receivers:
            raise ModelError(f"{path}.populations", None, "at least one receiving population (the network has "
                             "no excitatory one; name them)")
        if any(name in poisson for name in receivers) and self.peak_rate == 0 and self.untuned_rate == 0:
            raise ModelError(f"{path}.peak_rate", "0 Hz", "a rate above 0 Hz (or untuned_rate): the stimulus "
                             "reaches the Poisson population(s) " + ", ".join(n for n in receivers if n in poisson)
                             + " as a rate")
        if not any(name not in poisson for name in receivers) and (self.amplitude or self.untuned):
            key = "amplitude" if self.amplitude else "untuned"
            raise ModelError(f"{path}.{key}", format_quantity(getattr(self, key), "current"),
                             "omitted: every receiving population is a Poisson one, which takes peak_rate and "
                             "untuned_rate instead of currents")
        if self.end > duration * (1 + 1e-9):
            raise ModelError(f"{path}.repeats", self.repeats,
                             f"few enough that the {self.n_trials} trials end by protocol.duration = "
                             f"{duration:g} s (they end at {self.end:g} s)")
