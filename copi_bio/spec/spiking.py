"""Spec object of the ``[spiking]`` table: how a model is simulated in spikes.

A chain model (:class:`~copi_bio.spec.Model`, ``backend = "spiking"``) reads
all of it: :class:`SpikingParams` says how the rate chain is turned into
spikes. An E/I network (:class:`~copi_bio.spec.NetworkModel`) reads its
device, threads and measurement windows. All quantities are SI floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ModelError
from .base import SpecBase
from .params import param

RENAMED_NEURONS = {
    "poisson": "'poisson_rate': the trace formulation was renamed (it is a rate model with spike noise); "
               "spike-driven synapses: 'lif_spike'",
    "lif": "'lif_rate': the trace formulation was renamed (it is a rate model with spike noise); "
           "spike-driven synapses and LIF neurons: 'lif_spike'",
}
"""Old ``spiking.neuron`` values and what to use instead (the old names meant the trace formulation)."""


@dataclass(frozen=True)
class SpikingParams(SpecBase):
    """Parameters of the spiking backend (the ``[spiking]`` table).

    ``neuron`` selects how a chain model spikes:

    * ``poisson_rate`` and ``lif_rate`` (the trace formulation) are rate
      models with spike noise: synapses pass low-pass filtered spike-trace
      fluctuations ``xi = (x - xbar) / rate_scale``, not spikes, and neurons
      spike as Poisson processes or as noisy LIF neurons at the rate of the
      rate model;
    * ``lif_spike`` (the spike-driven formulation) is a spiking network:
      Poisson input neurons and two-compartment LIF neurons (a somatic
      potential ``u`` that is not reset, the learning signal, and a
      threshold-reset spike-initiation zone with refractoriness); every
      forward and lateral synapse passes spikes as current jumps decaying
      with ``tau_syn``; forward and lateral weights learn at spikes from
      local traces (:mod:`copi_bio.spiking.chain.spike_driven`).

    Input values ``z`` become rates ``rate_offset + rate_scale * z`` (clipped
    to ``[0, max_rate]``; ``input_rate_offset`` and ``input_rate_scale``
    replace them for the input population). For a ``[network]`` model only
    ``count_window``, ``rate_bin``, ``record_spikes``, ``device``,
    ``codegen``, ``threads`` and ``build_dir`` apply.
    """

    _path = "spiking"

    neuron: str = param("choice", "poisson_rate", choices=("poisson_rate", "lif_rate", "lif_spike"),
                        doc="trace formulation (rate model with Poisson or noisy LIF spike noise) or "
                            "spike-driven formulation (two-compartment LIF, synapses pass spikes)")
    tau_trace: float = param("time", 20e-3, low=0, doc="presynaptic spike-trace time constant")
    tau_mean: float = param("time", 2.0, low=0, doc="running-mean time constant (centering)")
    rate_offset: float = param("rate", 10.0, low=0, strict=False, doc="rate at input value / f(u) = 0")
    rate_scale: float = param("rate", 5.0, low=0, doc="rate per unit input value / f(u)")
    max_rate: float = param("rate", 50.0, low=0, doc="upper clip of firing rates")
    input_rate_offset: float | None = param("rate", None, low=0, strict=False, optional=True,
                                            doc="rate_offset of the input population (default rate_offset)")
    input_rate_scale: float | None = param("rate", None, low=0, optional=True,
                                           doc="rate_scale of the input population (default rate_scale)")
    eta_lateral: float | None = param("float", None, low=0, strict=False, optional=True,
                                      doc="lateral learning rate (1/s; default 1 / lateral.tau)")
    eta_forward: float | None = param("float", None, low=0, strict=False, optional=True,
                                      doc="forward learning rate (1/s; default 1 / plasticity.tau)")
    forward_update: str = param("choice", "spike", choices=("spike", "clock"),
                                doc="apply the forward COPI rule at presynaptic spikes (unbiased) or every step")
    forward_centring: str = param("choice", "none", choices=("none", "mean_rate"),
                                  doc="lif_spike: 'mean_rate' adds to the forward rule a continuous term at the "
                                      "presynaptic slow mean rate, so the rule follows the centred spike train "
                                      "(its drift a covariance; docs/spiking.md)")
    dale: str = param("choice", "inhibitory", choices=("none", "inhibitory", "circuit"),
                      doc="lateral weights signed (none), kept M >= 0 between principal cells (inhibitory), or "
                          "Dale's law throughout (circuit, lif_spike): principal cells excite only, lateral "
                          "inhibition passes through plastic interneurons, forward weights are excitatory "
                          "with feedforward inhibition")
    interneurons: int = param("int", 0, low=0, strict=False,
                              doc="circuit: interneurons per decorrelated population (0: as many as its cells)")
    interneuron_fan_in: float = param("float", 0.5, low=0, high=0.95,
                                      doc="circuit: probability that a principal cell excites an interneuron")
    forward_offset: float = param("float", 0.5, low=0, strict=False,
                                  doc="circuit: weight c of the feedforward inhibition; an excitatory forward "
                                      "weight w acts as the signed weight w - c")
    mean_anneal: bool = param("bool", False,
                              doc="chains: the slow running means follow the learning rates' annealing, "
                                  "integrating over tau_mean (1 + p / protocol.anneal) after p presentations, "
                                  "so the means frozen for the test phase average over more of the training "
                                  "stream as learning slows")
    tau_lif: float = param("time", 10e-3, low=0, doc="lif_rate, lif_spike: LIF membrane time constant")
    lif_noise: float = param("float", 0.5, low=0, strict=False,
                             doc="lif_rate, lif_spike: membrane noise (threshold units)")
    refractory: float = param("time", 2e-3, low=0, strict=False, doc="lif_rate, lif_spike: refractory period")
    tau_syn: float = param("time", 5e-3, low=0, doc="lif_spike: decay time of the synaptic currents")
    summation_dt: float | None = param("time", None, low=0, optional=True,
                                       doc="lif_spike: interval at which the slow summed currents (balance current, "
                                           "bp top-down and adjoint currents) are recomputed (default: every dt)")
    test_images: int | None = param("int", None, low=0, strict=False, optional=True,
                                    doc="classification tasks: held-out images shown once each, plasticity off, "
                                        "after training, for the spike-read test_accuracy (default: the whole "
                                        "test set; 0: no test phase)")
    test_present: float | None = param("time", None, low=0, optional=True,
                                       doc="classification tasks: how long each held-out image is shown in the "
                                           "test phase, a whole multiple of protocol.t_present (default: "
                                           "t_present); spikes are counted from t_settle after onset")
    count_window: float = param("time", 0.1, low=0, doc="counting window of spike-count correlations")
    rate_bin: float = param("time", 0.1, low=0, doc="bin width of stored rates rate_<pop>")
    record_spikes: bool = param("bool", True, doc="store spike times and indices in the results")
    device: str = param("choice", "runtime", choices=("runtime", "cpp_standalone"),
                        doc="Brian2 device")
    codegen: str = param("choice", "numpy", choices=("numpy", "cython"),
                         doc="code generation target of the runtime device")
    threads: int = param("int", 0, low=0, strict=False, doc="OpenMP threads of cpp_standalone (0: off)")
    build_dir: str | None = param("str", None, optional=True,
                                  doc="cpp_standalone build folder (default: a per-user cache folder)")

    def rates(self, index: int) -> tuple[float, float]:
        """``(rate_offset, rate_scale)`` (Hz) of chain population ``index`` (0: the input)."""
        if index == 0:
            offset, scale = self.input_rate_offset, self.input_rate_scale
            return (self.rate_offset if offset is None else offset, self.rate_scale if scale is None else scale)
        return self.rate_offset, self.rate_scale

    @classmethod
    def from_mapping(cls, data: Any, path: str) -> "SpikingParams":
        """As :meth:`SpecBase.from_mapping`; old neuron names are refused with their new name."""
        if isinstance(data, Mapping) and isinstance(data.get("neuron"), str) and data["neuron"] in RENAMED_NEURONS:
            old = data["neuron"]
            raise ModelError(f"{path}.neuron", old, RENAMED_NEURONS[old])
        return super().from_mapping(data, path)
