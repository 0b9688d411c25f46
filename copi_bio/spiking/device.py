"""Selection of the Brian2 device and code-generation target.

``cpp_standalone`` runs build their C++ project in a folder of the per-user
cache (``$COPI_BIO_CACHE``, else ``$XDG_CACHE_HOME/copi_bio``, else
``~/.cache/copi_bio``): ``brian2_standalone/<structure digest>/<slot>``. The
digest names the network structure, the copi_bio version and the Brian2
version, so that a change of any rebuilds. A process holds its slot with an
exclusive lock for the whole run, so concurrent runs (sweep workers) never
write one folder: each takes the first free slot. A folder named by
``spiking.build_dir`` is locked the same way; a second process waits for it.

One build per structure: the code generated for a structure does not depend
on the seed or on the values of the constants declared by
:mod:`copi_bio.spiking.parameters` (both are handed to the compiled binary as
``run_args``; data such as connectivity, initial states and weights are
files, not code). Values Brian2 still compiles in (refractory periods,
``dt``, the duration, the chain models' constants) recompile the files that
use them. Compilation happens under the structure's
``build.lock``; a slot that has never been built first copies a built sibling
(file times kept), so ``make`` finds nothing to do. A sweep over seeds and
values therefore compiles once, whatever the number of workers.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import brian2 as b2

from ..errors import ModelError
from ..spec import SpikingParams
from .parameters import RunParameters

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one folder per process instead of locked slots
    fcntl = None

_LOCKS: list[int] = []
"""Open lock files of the folders this process holds (released by :func:`release`)."""

BUILT = ".built"
"""Marker file of a slot whose project compiled (a donor for new slots of the structure)."""

MAX_STANDALONE_SEED = 2 ** 31 - 256
"""Seeds a standalone binary accepts: a 32-bit run argument, plus one per OpenMP thread."""


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


def _flock(path: Path, wait: bool) -> int | None:
    """Open and exclusively lock the file ``path``; the open descriptor, or None if another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _lock(path: Path, wait: bool) -> bool:
    """Take the exclusive lock file ``path`` (kept open until :func:`release`); False if it is held."""
    fd = _flock(path, wait)
    if fd is not None:
        _LOCKS.append(fd)
    return fd is not None


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


def activate(params: SpikingParams, key: str, seed: int) -> Path | None:
    """Switch Brian2 to the device of ``params``; return the standalone folder (or None).

    On the runtime device Brian2's random number generators are seeded here,
    before the network's initialisation draws from them; a standalone binary
    seeds them itself (:func:`simulate`).
    """
    if params.device == "cpp_standalone":
        if not 0 <= seed < MAX_STANDALONE_SEED:
            raise ModelError("seed", seed, f"an integer in [0, {MAX_STANDALONE_SEED}) for spiking.device = "
                             "'cpp_standalone' (the binary reads it as a 32-bit integer)")
        # Brian2 names code objects uniquely among the live objects: free those of an earlier run of this
        # process (they sit in reference cycles), or the names, and so the code, get a suffix
        gc.collect()
        directory = claim_folder(params, key)
        directory.mkdir(parents=True, exist_ok=True)
        b2.set_device("cpp_standalone", directory=str(directory), build_on_run=False, clean=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = params.threads
        return directory
    b2.set_device("runtime")
    b2.prefs.codegen.target = params.codegen
    b2.seed(seed)
    return None


@contextmanager
def _build_lock(directory: Path):
    """Hold the exclusive build lock of the structure folder of ``directory`` (blocking)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = _flock(directory.parent / "build.lock", wait=True)
    try:
        yield
    finally:
        os.close(fd)  # closing the file releases its lock


def _adopt_sibling(directory: Path) -> None:
    """Copy a compiled sibling slot into a slot that never compiled (call under the build lock)."""
    if (directory / BUILT).exists():
        return
    donor = next((p for p in sorted(directory.parent.iterdir())
                  if p.is_dir() and p != directory and (p / BUILT).exists()), None)
    if donor is not None:
        shutil.copytree(donor, directory, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns("results", "static_arrays", BUILT))


def _sort_runs(items: list, key) -> None:
    """Sort, in place, every run of consecutive items whose ``key`` is not None, by that key."""
    k = 0
    while k < len(items):
        end = k
        while end < len(items) and key(items[end]) is not None:
            end += 1
        items[k:end] = sorted(items[k:end], key=key)
        k = end + 1


def _clock_setting(item) -> str | None:
    return item[1][0] if item[0] == "set_by_single_value" and "clock" in item[1][0] else None


def _idle_clock(line) -> str | None:
    return line if isinstance(line, str) and line.endswith(", NULL);") else None


def _sort_clock_statements(dev) -> None:
    """Put the device's clock statements in name order.

    Brian2 queues the start of every clock (``<clock>_timestep[0] = ...``,
    ``<clock>_t[0] = ...``) and adds clocks without code to the network
    (``network.add(&<clock>, NULL)``) in the iteration order of a set of
    clocks, which differs between processes. The statements are
    independent; sorting them keeps ``main.cpp`` (and so the build) the same
    from run to run.
    """
    _sort_runs(dev.main_queue, _clock_setting)
    for func, args in dev.main_queue:
        if func == "run_network":
            _sort_runs(args[1], _idle_clock)


def _build(dev, directory: Path, progress: bool = False) -> int:
    """Write and compile the standalone project in ``directory``; return the files ``make`` wrote.
    With ``progress``, a line on stderr before (a first build takes 20-30 s) and after."""
    start = time.time()
    if progress:
        print(f"compiling the network with Brian2 cpp_standalone in {directory} (a new structure takes "
              "20-30 s; a reused build is checked in about a second) ...", file=sys.stderr, flush=True)
    dev.build(directory=str(directory), compile=True, run=False, with_output=False)
    compiled = sum(1 for f in [directory / "main", *directory.rglob("*.o")] if f.stat().st_mtime >= start)
    if progress:
        print(f"compiled {compiled} file(s) in {time.time() - start:.1f} s; simulating", file=sys.stderr, flush=True)
    return compiled


def simulate(net: b2.Network, duration: float, params: SpikingParams, seed: int, directory: Path | None,
             parameters: RunParameters | None = None, progress: bool = False) -> dict:
    """Run ``net`` for ``duration`` seconds on the active device.

    Parameters
    ----------
    net : brian2.Network
    duration : float
        Simulated time (s).
    params : SpikingParams
        The model's ``spiking`` table (device).
    seed : int
        Seed of Brian2's random number generators (``cpp_standalone``; the
        runtime device was seeded by :func:`activate`).
    directory : Path or None
        The standalone folder from :func:`activate` (None on the runtime device).
    parameters : RunParameters, optional
        Constants declared as shared variables (:mod:`copi_bio.spiking.parameters`).
    progress : bool
        Report Brian2's progress on stderr.

    Returns
    -------
    dict
        Run attributes of a ``cpp_standalone`` run (empty on the runtime
        device): ``standalone_dir``, ``standalone_compiled_files`` (object
        files and binary that this run's ``make`` wrote: 0 when the build was
        reused), ``standalone_build_time_s`` (writing and compiling the
        project, waiting for the structure's build lock included) and
        ``standalone_binary_time_s`` (the compiled simulation).
    """
    parameters = parameters or RunParameters()
    if directory is None:
        parameters.assign()
        net.run(duration * b2.second, report="text" if progress else None)
        return {}
    dev = b2.get_device()
    holder = b2.NeuronGroup(1, "rng_seed : integer (shared, constant)", name="rng_seed")
    net.add(holder)
    # the run arguments (the seed, the shared constants) are read first thing, before any initialisation
    # that draws random numbers; nothing assigns them later
    dev.apply_run_args()
    dev.main_queue.insert(0, dev.main_queue.pop())
    threads = max(1, b2.prefs.devices.cpp_standalone.openmp_threads)
    seed_array = dev.get_array_name(holder.variables["rng_seed"])
    dev.main_queue.insert(1, ("insert_code", f"for (int _i=0; _i<{threads}; _i++) "
                                             f"brian::_random_generators[_i].seed("
                                             f"(unsigned long){seed_array}[0] + _i);"))
    # a progress report is compiled into main.cpp (switching it recompiles that file); it is not always
    # compiled in, because the binary then reads the CPU clock before every object at every step
    net.run(duration * b2.second, report="text" if progress else None)
    _sort_clock_statements(dev)
    start = time.time()
    if params.build_dir:  # a folder of the user's, held by this process alone
        compiled = _build(dev, directory, progress)
    else:
        with _build_lock(directory):  # slots of the cache: siblings are builds of the same structure
            _adopt_sibling(directory)
            (directory / BUILT).unlink(missing_ok=True)  # a donor only once this build has succeeded
            compiled = _build(dev, directory, progress)
            (directory / BUILT).touch()
    build = time.time() - start
    dev.run(run_args={**parameters.run_args(), holder.rng_seed: seed})
    return {"standalone_dir": str(directory), "standalone_compiled_files": compiled,
            "standalone_build_time_s": build, "standalone_binary_time_s": float(dev.timers["run_binary"])}


def release(params: SpikingParams) -> None:
    """Return Brian2 to a clean runtime device after a run and give up the build folder."""
    if params.device == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
    while _LOCKS:
        os.close(_LOCKS.pop())  # closing the file releases its lock
