"""Spiking backend on Brian2 (``backend = "spiking"``).

Map of the package (each model kind in its own subpackage; the modules at
the top level are shared by both kinds):

* :mod:`.run`: the one entry point, :func:`run_spiking`, which sends a model
  to the run protocol of its kind.
* :mod:`.ei_network`: E/I network models (a ``[network]`` table,
  :class:`~copi_bio.spec.NetworkModel`).

  - :mod:`.ei_network.build`: the Brian2 objects of a network, built from
    the spec;
  - :mod:`.ei_network.run`: its run protocol and measures
    (:func:`~copi_bio.spiking.ei_network.run.run_network`).

* :mod:`.chain`: chain models (``[[populations]]`` input -> hidden ... ->
  output, :class:`~copi_bio.spec.Model`), in two formulations.

  - :mod:`.chain.trace`: the trace formulation (``neuron = "poisson_rate"``
    or ``"lif_rate"``, a rate model with spike noise), with the equations;
  - :mod:`.chain.spike_driven`: the spike-driven formulation
    (``neuron = "lif_spike"``);
  - :mod:`.chain.shared_weights`: the weight tables that parallel copies
    of a spike-driven chain share (``protocol.trials``);
  - :mod:`.chain.common`: pieces both formulations share (network
    container, structure key, ``f``/``f'`` and ``delta`` equations);
  - :mod:`.chain.run`: the run protocol and read-out of both formulations
    (:func:`~copi_bio.spiking.chain.run.run_chain`).

* Shared by both kinds: :mod:`.neurons` (equation strings of every neuron
  model), :mod:`.synapses` (conductance and current synapses, Dale's law),
  :mod:`.plasticity` (rule objects), :mod:`.parameters` (constants handed to
  the run as shared variables), :mod:`.device` (Brian2 device, locked
  ``cpp_standalone`` build folders) and :mod:`.measures` (spike counts,
  r_sc, ISI CV).

The backend reads spec objects only, never TOML.
"""

from .run import run_spiking

__all__ = ["run_spiking"]
