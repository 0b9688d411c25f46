"""Backend dispatch: a validated :class:`~copi_bio.spec.Model` in, a Dataset out."""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import warnings
from pathlib import Path

import xarray as xr

from .errors import SimulationError
from .record import RunRecord
from .results import to_dataset
from .spec import Model


def run_backend(model: Model, progress: bool = False, checkpoint: str | Path | None = None,
                checkpoint_every: int | None = None) -> RunRecord:
    """Run the backend named by ``model.backend`` and return its raw record."""
    if model.backend == "rate":
        from .rate.simulate import run_rate
        return run_rate(model, progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    if checkpoint_every is not None:
        warnings.warn("the spiking backend does not write checkpoints: a killed spiking run restarts "
                      "from the beginning (same seed, same result; see docs/spiking.md)", stacklevel=3)
    return _spiking_backend().run_spiking(model, progress=progress)


def _spiking_backend():
    """The spiking backend module, imported on first use (Brian2 is slow to import).

    Importing Brian2 installs a Ctrl+C handler, which Python allows only in
    the main thread. In any other thread (a dask worker's task thread, for
    example) the module is imported without that handler: there is no
    interactive interrupt to handle there.
    """
    if "brian2" not in sys.modules and threading.current_thread() is not threading.main_thread():
        install = signal.signal
        signal.signal = lambda signum, handler: signal.getsignal(signum)  # noqa: ARG005
        try:
            importlib.import_module("brian2")
        finally:
            signal.signal = install
    return importlib.import_module("copi_bio.spiking")


def simulate(model: Model, progress: bool = False, checkpoint: str | Path | None = None,
             checkpoint_every: int | None = None) -> xr.Dataset:
    """Simulate a model and return its results as an :class:`xarray.Dataset`.

    Parameters
    ----------
    model : Model
        From :func:`copi_bio.load_model`.
    progress : bool
        Show a progress bar with live metrics on stderr.
    checkpoint : path, optional
        Rate backend: checkpoint file; if it exists the run resumes from it
        and ends bit-identical to an uninterrupted run. Refused with
        :class:`~copi_bio.errors.CheckpointError` if it belongs to another
        model. The file is not deleted here (``copi-bio run`` deletes it).
    checkpoint_every : int, optional
        Rate backend: write ``checkpoint`` every this many presentations.
        The spiking backend writes no checkpoints (a warning is issued).

    Raises
    ------
    SimulationError
        If the run diverges; its ``partial`` attribute holds the Dataset of
        everything recorded up to the failure.
    """
    try:
        record = run_backend(model, progress=progress, checkpoint=checkpoint,
                             checkpoint_every=checkpoint_every)
    except SimulationError as err:
        record = getattr(err, "record", None)
        err.partial = to_dataset(record) if record is not None else None
        raise
    return to_dataset(record)
