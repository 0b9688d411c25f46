"""E/I network models on the spiking backend (a ``[network]`` table,
:class:`~copi_bio.spec.NetworkModel`): :mod:`copi_bio.spiking.ei_network.build`
builds the Brian2 objects from the spec, :mod:`copi_bio.spiking.ei_network.run`
runs them and computes the measures.
"""
