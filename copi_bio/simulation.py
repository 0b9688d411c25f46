"""Backend dispatch: a validated :class:`~copi_bio.spec.Model` in, a Dataset out."""

from __future__ import annotations

import xarray as xr

from .errors import SimulationError
from .record import RunRecord
from .results import to_dataset
from .spec import Model


def run_backend(model: Model, progress: bool = False) -> RunRecord:
    """Run the backend named by ``model.backend`` and return its raw record."""
    if model.backend == "rate":
        from .rate.simulate import run_rate
        return run_rate(model, progress=progress)
    from .spiking import run_spiking  # imported lazily: Brian2 is slow to import
    return run_spiking(model, progress=progress)


def simulate(model: Model, progress: bool = False) -> xr.Dataset:
    """Simulate a model and return its results as an :class:`xarray.Dataset`.

    Parameters
    ----------
    model : Model
        From :func:`copi_bio.load_model`.
    progress : bool
        Show a progress bar with live metrics on stderr.

    Raises
    ------
    SimulationError
        If the run diverges; its ``partial`` attribute holds the Dataset of
        everything recorded up to the failure.
    """
    try:
        record = run_backend(model, progress=progress)
    except SimulationError as err:
        record = getattr(err, "record", None)
        err.partial = to_dataset(record) if record is not None else None
        raise
    return to_dataset(record)
