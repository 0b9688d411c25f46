"""Chain models on the spiking backend (``[[populations]]`` input -> hidden ...
-> output, :class:`~copi_bio.spec.Model`), in two formulations chosen by
``spiking.neuron``:

* trace formulation (``"poisson_rate"``, ``"lif_rate"``;
  :mod:`copi_bio.spiking.chain.trace`): a rate model with spike noise, whose
  synapses read and learn on spike traces;
* spike-driven formulation (``"lif_spike"``;
  :mod:`copi_bio.spiking.chain.spike_driven`): Poisson inputs and
  two-compartment LIF neurons, synapses that pass spikes and learn at spikes,
  with parallel copies sharing weight tables
  (:mod:`copi_bio.spiking.chain.shared_weights`).

Both have the same builder interface and share the pieces in
:mod:`copi_bio.spiking.chain.common`; :mod:`copi_bio.spiking.chain.run`
holds the run protocol and read-out of both.
"""
