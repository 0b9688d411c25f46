"""Checkpoint files of long rate-backend runs, stored as data only (no pickle).

A checkpoint holds everything the run loop of
:func:`copi_bio.rate.simulate.run_rate` needs to continue bit-identically:
the network's arrays (``W``, ``R``/``M``, ``b``, fixed feedback ``G``, Adam
moments, and any other attribute that holds arrays), the dynamic state of
all trials, the bit-generator state of the stimulus stream, the task
sampler's state (the rest of the current epoch), the
:class:`~copi_bio.record.RunRecord` so far, the running loss sums and
connection statistics, and the presentation index.

File format (version 2): a zip archive in NumPy's ``.npz`` layout, so
``numpy.load(path, allow_pickle=False)`` opens it:

* ``header.json`` -- plain UTF-8 JSON: ``format`` (``"copi_bio-checkpoint"``),
  ``version``, ``copi_bio`` (package version), ``backend``, ``model_hash``
  (SHA-256 of the resolved model file), ``presentation`` and ``time_s``
  reached, ``created``. It is read and checked before anything else.
* ``tree.json`` -- the saved objects as JSON: numbers, strings, lists,
  tuples, dicts, ``None``, references to arrays, and instances of the few
  classes of :func:`~copi_bio.rate.checkpoint_state.storable_classes` (by
  name, rebuilt field by field; no other class is ever looked up from the
  file).
* ``b0.npy``, ``b1.npy``, ... -- one flat array per dtype holding the bytes
  of all arrays of that dtype; read with ``allow_pickle=False`` and only for
  numeric, boolean or fixed-width text dtypes.

A checkpoint is refused (one-line :class:`CheckpointError` naming the file)
when it is not such an archive, has another format version, was written by
another copi_bio version or for another resolved model, or does not match
the model's network layout. Checkpoints are written atomically (temporary
file in the same folder, then :func:`os.replace`): a run killed while
writing leaves the previous checkpoint intact.

The stored objects are walked, encoded and rebuilt by
:mod:`copi_bio.rate.checkpoint_state`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..bounded import InputTooLarge, read_npy_member
from ..errors import CheckpointError
from ..modelfile import model_hash
from ..spec import Model
from ..version import __version__
from .checkpoint_state import STORED_KINDS, Decoder, Encoder

FORMAT = "copi_bio-checkpoint"
VERSION = 2
_MAX_JSON = 256 * 2 ** 20          # bytes of tree.json accepted (header.json: 64 KiB)

__all__ = ["CheckpointError", "checkpoint_path", "load_checkpoint", "model_hash", "read_header",
           "remove_checkpoint", "save_checkpoint"]


def checkpoint_path(out_dir: str | Path, model: Model) -> Path:
    """Where ``copi-bio run`` keeps the checkpoint of a model's run in ``out_dir``."""
    return Path(out_dir) / f"{model.name}_seed{model.seed}.ckpt"


# ------------------------------------------------------------------ writing


def save_checkpoint(path: str | Path, model: Model, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically to ``path`` (temporary file + ``os.replace``).

    ``payload["presentation"]`` (presentations done), when present, goes
    into the header with the simulated time it corresponds to.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)
    enc = Encoder()
    tree = {"payload": enc.encode(payload, "payload"), "arrays": enc.arrays,
            "buffers": list(enc.buffers)}
    presentation = payload.get("presentation")
    header = {
        "format": FORMAT, "version": VERSION, "copi_bio": __version__,
        "backend": model.backend, "model_name": model.name, "seed": model.seed,
        "model_hash": model_hash(model),
        "presentation": presentation,
        "time_s": None if presentation is None else presentation * model.protocol.t_present,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                zf.writestr("header.json", json.dumps(header, indent=1))
                zf.writestr("tree.json", json.dumps(tree))
                for i, (key, parts) in enumerate(enc.buffers.items()):
                    with zf.open(f"b{i}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array_header_2_0(member, {
                            "descr": np.lib.format.dtype_to_descr(np.dtype(key)),
                            "fortran_order": False, "shape": (enc.sizes[key],)})
                        for part in parts:
                            member.write(part.tobytes())
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def remove_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint and any temporary file a killed write left next to it."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


# ------------------------------------------------------------------ reading


def _read_json(zf: zipfile.ZipFile, name: str, limit: int, path: Path) -> Any:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"checkpoint {path} has no {name}; it is not a copi_bio checkpoint "
                              "(delete it to start the run from the beginning)") from None
    if info.file_size > limit:
        raise CheckpointError(f"checkpoint {path}: {name} is {info.file_size} bytes, more than "
                              f"the {limit} allowed")
    try:
        return json.loads(zf.read(info).decode("utf-8"))
    except (ValueError, RecursionError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"checkpoint {path}: {name} is not valid JSON ({err})") from None


def read_header(path: str | Path, model: Model) -> dict[str, Any]:
    """Read and check a checkpoint's header (no array is read).

    Returns
    -------
    dict
        The header.

    Raises
    ------
    CheckpointError
        If the file is not a copi_bio checkpoint, has another format version,
        comes from another copi_bio version or backend, or was written for a
        different resolved model.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            header = _read_json(zf, "header.json", 2 ** 16, path)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be read as a copi_bio checkpoint ({type(err).__name__}: {err}); "
            "it must be an .npz archive with a header.json (pickled checkpoints of older versions are "
            "never read); delete it to start the run from the beginning"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a copi_bio checkpoint (header.json lacks "
                              f"format = {FORMAT!r}); delete it to start the run from the beginning")
    if header.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {header.get('version')!r}; this "
                              f"copi_bio reads version {VERSION}; delete it to start over")
    if header.get("copi_bio") != __version__:
        raise CheckpointError(f"checkpoint {path} was written by copi_bio {header.get('copi_bio')!r}, "
                              f"this is {__version__}; resume it with that version or delete it")
    if header.get("backend") != model.backend or header.get("model_hash") != model_hash(model):
        raise CheckpointError(
            f"checkpoint {path} was written for a different model (the resolved model file, "
            "including --set overrides and seed, must be identical to resume); delete it or "
            "use another --out folder")
    p = header.get("presentation")
    if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= model.protocol.presentations:
        raise CheckpointError(f"checkpoint {path}: presentation = {p!r} is not in "
                              f"0..{model.protocol.presentations}")
    return header


def load_checkpoint(path: str | Path, model: Model) -> dict[str, Any]:
    """Read a checkpoint written for ``model``: header first, then the arrays.

    Arrays are read with ``allow_pickle=False``; objects are rebuilt only
    for the classes of :func:`~copi_bio.rate.checkpoint_state.storable_classes`;
    ``Model`` references become ``model``.

    Raises
    ------
    CheckpointError
        See :func:`read_header`; also for a damaged or inconsistent archive.
    """
    path = Path(path)
    header = read_header(path, model)
    try:
        with zipfile.ZipFile(path) as zf:
            tree = _read_json(zf, "tree.json", _MAX_JSON, path)
            buffers = _read_buffers(zf, tree, path, model)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); "
                              "delete it to start the run from the beginning") from None
    try:
        payload = Decoder(tree["arrays"], buffers, model).decode(tree["payload"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as err:
        raise CheckpointError(f"checkpoint {path} is damaged ({type(err).__name__}: {err}); "
                              "delete it to start the run from the beginning") from None
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {path}: {err}") from None
    if not isinstance(payload, dict) or payload.get("presentation") != header["presentation"]:
        raise CheckpointError(f"checkpoint {path} is damaged (its payload does not match its header)")
    return payload


def _state_bytes(model: Model) -> int:
    """Generous upper bound on the bytes of a run state of ``model`` (weights, lateral matrices and
    their optimiser and running statistics, per-trial activities), refusing absurd archives."""
    sizes = [p.size for p in model.populations]
    elements = (sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(n * n for n in sizes)
                + model.protocol.trials * sum(sizes))
    return 64 * 8 * elements + 64 * 2 ** 20


def _buffer_sizes(tree: Any, path: Path, model: Model) -> dict[str, int]:
    """Elements each flat buffer must hold for the arrays tree.json lists, checked against the model."""
    need: dict[str, int] = {}
    total = 0
    try:
        for key, offset, shape, _ in tree["arrays"]:
            size = int(np.prod([int(n) for n in shape], dtype=np.int64))
            dtype = np.dtype(key)
            need[key] = max(need.get(key, 0), int(offset) + size)
            total += size * dtype.itemsize
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} is damaged (tree.json arrays: {err})") from None
    limit = _state_bytes(model)
    if total > limit:
        raise CheckpointError(f"checkpoint {path}: tree.json declares {total} bytes of arrays, more than the "
                              f"{limit} bytes a run of this model can hold; refused before decompressing")
    return need


def _read_buffers(zf: zipfile.ZipFile, tree: Any, path: Path, model: Model) -> list[np.ndarray]:
    if not isinstance(tree, dict) or not isinstance(tree.get("buffers"), list):
        raise CheckpointError(f"checkpoint {path} is damaged (tree.json has no buffer list)")
    need = _buffer_sizes(tree, path, model)
    out = []
    for i, descr in enumerate(tree["buffers"]):
        name = f"b{i}.npy"
        if not isinstance(descr, str) or descr not in need:
            raise CheckpointError(f"checkpoint {path}: {name} is not a buffer that tree.json's arrays use")
        try:
            arr = read_npy_member(zf, name, need[descr] * np.dtype(descr).itemsize, str(path))
        except InputTooLarge as err:
            raise CheckpointError(str(err)) from None
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"checkpoint {path}: {name} is not a plain-data array ({err})") from None
        if arr.dtype.str != descr or arr.ndim != 1 or arr.dtype.kind not in STORED_KINDS:
            raise CheckpointError(f"checkpoint {path}: {name} holds {arr.dtype}{list(arr.shape)}, "
                                  f"not the flat {descr!r} buffer tree.json names")
        out.append(arr)
    return out
