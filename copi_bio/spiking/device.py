"""Selection of the Brian2 device and code-generation target."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import brian2 as b2

from ..spec import SpikingParams


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
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir() / "brian2_standalone" / digest


def activate(params: SpikingParams, key: str) -> Path | None:
    """Switch Brian2 to the device of ``params``; return the standalone folder (or None)."""
    if params.device == "cpp_standalone":
        directory = standalone_dir(params, key)
        directory.mkdir(parents=True, exist_ok=True)
        b2.set_device("cpp_standalone", directory=str(directory), build_on_run=True, clean=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = params.threads
        return directory
    b2.set_device("runtime")
    b2.prefs.codegen.target = params.codegen
    return None


def release(params: SpikingParams) -> None:
    """Return Brian2 to a clean runtime device after a run."""
    if params.device == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
