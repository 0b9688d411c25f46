"""The one entry point of the spiking backend: :func:`run_spiking` sends a
model to the run protocol of its kind (an E/I network model to
:mod:`copi_bio.spiking.ei_network.run`, a chain model to
:mod:`copi_bio.spiking.chain.run`)."""

from __future__ import annotations

from ..record import RunRecord
from ..spec import Model, NetworkModel
from .chain.run import run_chain
from .ei_network.run import run_network


def run_spiking(model: Model | NetworkModel, progress: bool = False) -> RunRecord:
    """Simulate a model with the Brian2 spiking backend.

    Parameters
    ----------
    model : Model or NetworkModel
        Validated model with ``backend = "spiking"``: an E/I network model goes
        to :func:`~copi_bio.spiking.ei_network.run.run_network`, a chain model to
        :func:`~copi_bio.spiking.chain.run.run_chain`; its ``spiking`` table
        selects neuron model, traces, rate mapping and Brian2 device. One
        network is simulated; in the spike-driven formulation, ``protocol.trials``
        copies of it share the weights (:mod:`~copi_bio.spiking.chain.shared_weights`).
    progress : bool
        Report Brian2's progress on stderr.

    Returns
    -------
    RunRecord
        Weight snapshots, metrics, spikes and recorded states.
    """
    if isinstance(model, NetworkModel):
        return run_network(model, progress=progress)
    return run_chain(model, progress=progress)
