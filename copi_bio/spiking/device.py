"""Selection of the Brian2 device and code-generation target.

``cpp_standalone`` runs build their C++ project in a folder of the per-user
cache (``$COPI_BIO_CACHE``, else ``$XDG_CACHE_HOME/copi_bio``, else
``~/.cache/copi_bio``): ``brian2_standalone/<structure digest>/<slot>``. The
digest names the network structure, the copi_bio version and the Brian2
version, so that a change of any rebuilds; runs of the same structure reuse a
folder, and ``make`` recompiles only what changed. A process holds its slot
with an exclusive lock for the whole run, so concurrent runs (sweep
workers) never write one folder: each takes the first free slot. A folder
named by ``spiking.build_dir`` is locked the same way; a second process
waits for it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import brian2 as b2

from ..spec import SpikingParams

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one folder per process instead of locked slots
    fcntl = None

_LOCKS: list[int] = []
"""Open lock files of the folders this process holds (released by :func:`release`)."""


def cache_dir() -> Path:
    """Per-user cache folder (``$COPI_BIO_CACHE`` or ``~/.cache/copi_bio``)."""
    root = os.environ.get("COPI_BIO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "copi_bio"
    return Path(root)


def standalone_dir(params: SpikingParams, key: str) -> Path:
    """Build folder of a ``cpp_standalone`` run, reused between runs of the same network shape.

    Parameters
    ----------
    params : SpikingParams
    key : str
        Text identifying the network structure (sizes, options); runs with
        the same key share a folder so that ``make`` only recompiles changed files.
    """
    if params.build_dir:
        return Path(params.build_dir).expanduser()
    versions = f"copi_bio {importlib.metadata.version('copi_bio')}|brian2 {b2.__version__}"
    digest = hashlib.sha1(f"{key}|{versions}".encode()).hexdigest()[:12]
    return cache_dir() / "brian2_standalone" / digest


def _lock(path: Path, wait: bool) -> bool:
    """Take the exclusive lock file ``path`` (kept open until :func:`release`); False if it is held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return False
    _LOCKS.append(fd)
    return True


def claim_folder(params: SpikingParams, key: str) -> Path:
    """The build folder of a run, locked for this process (see the module docstring)."""
    base = standalone_dir(params, key)
    if params.build_dir:
        base.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            _lock(base.parent / f".{base.name}.lock", wait=True)
        return base
    base.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        return base / f"pid{os.getpid()}"
    slot = 0
    while not _lock(base / f"{slot}.lock", wait=False):
        slot += 1
    return base / str(slot)


def activate(params: SpikingParams, key: str) -> Path | None:
    """Switch Brian2 to the device of ``params``; return the standalone folder (or None)."""
    if params.device == "cpp_standalone":
        directory = claim_folder(params, key)
        directory.mkdir(parents=True, exist_ok=True)
        b2.set_device("cpp_standalone", directory=str(directory), build_on_run=True, clean=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = params.threads
        return directory
    b2.set_device("runtime")
    b2.prefs.codegen.target = params.codegen
    return None


def release(params: SpikingParams) -> None:
    """Return Brian2 to a clean runtime device after a run and give up the build folder."""
    if params.device == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
    while _LOCKS:
        os.close(_LOCKS.pop())  # closing the file releases its lock
