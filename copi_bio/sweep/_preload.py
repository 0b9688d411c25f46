"""The one module preloaded by the process that LocalCluster workers fork from
(:func:`copi_bio.sweep.cluster.start_worker_server`); not for import elsewhere.

Importing it imports both backends (copi_bio's rate backend and its Brian2
backend), then moves every object of the importing process out of the
garbage collector's scans (:func:`gc.freeze`): workers forked afterwards
share those memory pages instead of copying them as the collector touches
them, and the collection a ``cpp_standalone`` run starts with
(:func:`copi_bio.spiking.device.activate`) scans only the objects a worker
made itself (milliseconds instead of a tenth of a second).

A backend that fails to import here (a broken Brian2 preference file, say)
is left out with a warning on the server's stderr; workers then import it on
their first task, where the error is recorded with the run as before. The
Ctrl+C handler that Brian2 installs on import is replaced by the one the
process had before, so that workers handle Ctrl+C as spawned workers do.
"""

import gc
import importlib
import signal
import warnings

_handler = signal.getsignal(signal.SIGINT)
for _name in ("copi_bio.rate.simulate", "copi_bio.spiking"):
    try:
        importlib.import_module(_name)
    except Exception as err:  # noqa: BLE001 - anything: the run reports it again, with its model
        warnings.warn(f"copi_bio sweep workers start without {_name} imported: {type(err).__name__}: {err}",
                      stacklevel=1)
signal.signal(signal.SIGINT, _handler)
gc.freeze()
