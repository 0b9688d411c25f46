"""Checkpoints of long rate-backend runs, stored as data only (no pickle).

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
  classes of :func:`storable_classes` (by name, rebuilt field by field; no
  other class is ever looked up from the file).
* ``b0.npy``, ``b1.npy``, ... -- one flat array per dtype holding the bytes
  of all arrays of that dtype; read with ``allow_pickle=False`` and only for
  numeric, boolean or fixed-width text dtypes.

Objects are walked generically (dataclass fields, lists, dicts), so a field
added to :class:`~copi_bio.rate.network.State` or an array attribute added
to :class:`~copi_bio.rate.network.RateNetwork` is saved with no change
here; a new *class* inside them must be added to :func:`storable_classes`.

A checkpoint is refused (one-line :class:`CheckpointError` naming the file)
when it is not such an archive, has another format version, was written by
another copi_bio version or for another resolved model, or does not match
the model's network layout. Checkpoints are written atomically (temporary
file in the same folder, then :func:`os.replace`): a run killed while
writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .bounded import InputTooLarge, read_npy_member
from .errors import CopiBioError
from .modelfile import model_hash
from .spec import Model

FORMAT = "copi_bio-checkpoint"
VERSION = 2
_MAX_JSON = 256 * 2 ** 20          # bytes of tree.json accepted (header.json: 64 KiB)
_KINDS = "biufcSU"                # dtype kinds stored: bool, integers, floats, complex, text

__all__ = ["CheckpointError", "array_state", "checkpoint_path", "load_checkpoint", "model_hash",
           "read_header", "remove_checkpoint", "restore_array_state", "save_checkpoint", "storable_classes"]


class CheckpointError(CopiBioError):
    """A checkpoint cannot be used (other model, other format, unreadable)."""


@functools.lru_cache(maxsize=None)
def storable_classes() -> dict[str, type]:
    """The classes whose instances a checkpoint stores, by name.

    The list lives here, in code: a file only names one of them, it never
    makes copi_bio import or build anything else.
    """
    from .rate.adam import Adam
    from .rate.network import State
    from .record import ConnectionStats, RunRecord

    return {cls.__name__: cls for cls in (Adam, State, ConnectionStats, RunRecord)}


def _is_storable(value: Any) -> bool:
    return storable_classes().get(type(value).__name__) is type(value)


def checkpoint_path(out_dir: str | Path, model: Model) -> Path:
    """Where ``copi-bio run`` keeps the checkpoint of a model's run in ``out_dir``."""
    return Path(out_dir) / f"{model.name}_seed{model.seed}.ckpt"


# ------------------------------------------------------------------ encoding


class _Encoder:
    """Turns a payload into JSON-able data plus one flat byte buffer per dtype."""

    def __init__(self):
        self.arrays: list[list] = []          # [buffer, offset, shape, order] per array
        self.seen: dict[int, int] = {}        # id(array) -> index: shared arrays stay shared
        self.keep: list[np.ndarray] = []      # keeps ids valid while encoding
        self.buffers: dict[str, list[np.ndarray]] = {}
        self.sizes: dict[str, int] = {}

    def array(self, arr: np.ndarray, where: str) -> dict:
        if id(arr) in self.seen:
            return {"@a": self.seen[id(arr)]}
        if arr.dtype.kind not in _KINDS or arr.dtype.fields is not None:
            raise CheckpointError(f"cannot store {where}: arrays of dtype {arr.dtype} are not plain data")
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
        key = arr.dtype.str
        flat = np.ravel(arr, order=order)
        self.buffers.setdefault(key, []).append(flat)
        offset = self.sizes.get(key, 0)
        self.sizes[key] = offset + flat.size
        self.seen[id(arr)] = len(self.arrays)
        self.keep.append(arr)
        self.arrays.append([key, offset, list(arr.shape), order])
        return {"@a": self.seen[id(arr)]}

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, np.generic):
            return {"@s": self.array(np.asarray(value), where)["@a"]}
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"@t": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return {"@d": [[self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                           for k, v in value.items()]}
        if isinstance(value, Model):
            return {"@model": None}
        if _is_storable(value):
            return {"@o": type(value).__name__,
                    "f": {k: self.encode(v, f"{where}.{k}") for k, v in vars(value).items()}}
        raise CheckpointError(f"cannot store {where} of type {type(value).__qualname__} in a checkpoint "
                              "(plain data, arrays and copi_bio.checkpoint.storable_classes() only)")


def _holds_arrays(value: Any) -> tuple[bool, bool]:
    """``(is plain data, contains an array or a storable object)``."""
    if isinstance(value, np.ndarray):
        return True, True
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return True, False
    if isinstance(value, (list, tuple)):
        items = [_holds_arrays(v) for v in value]
    elif isinstance(value, dict):
        items = [_holds_arrays(v) for v in (*value, *value.values())]
    elif _is_storable(value):
        return True, True
    else:
        return False, False
    return all(d for d, _ in items), any(a for _, a in items)


def array_state(obj: Any) -> dict[str, Any]:
    """The attributes of ``obj`` that hold its arrays.

    Every attribute whose value is plain data (arrays, numbers, strings,
    ``None``, storable objects, and lists/tuples/dicts of these) and contains
    at least one array or storable object. Functions, the model and derived
    constants are left out; they are rebuilt from the model.
    """
    out = {}
    for name, value in vars(obj).items():
        data, arrays = _holds_arrays(value)
        if data and arrays:
            out[name] = value
    return out


def restore_array_state(obj: Any, saved: dict[str, Any], where: str = "network") -> None:
    """Set the attributes saved by :func:`array_state` on a freshly built ``obj``.

    Raises
    ------
    CheckpointError
        If an attribute is unknown or not plain data in ``obj``, or an array
        has another shape or dtype than the freshly built one.
    """
    if not isinstance(saved, dict):
        raise CheckpointError(f"{where} is not a table of attributes")
    current = vars(obj)
    for name, value in saved.items():
        if name not in current or not _holds_arrays(current[name])[0]:
            raise CheckpointError(f"{where} has no array attribute {name!r} in this copi_bio version")
        _check_layout(value, current[name], f"{where}.{name}")
    for name, value in saved.items():
        setattr(obj, name, value)


def _check_layout(saved: Any, fresh: Any, where: str) -> None:
    """Arrays where ``fresh`` has arrays (same shape and dtype), same container lengths."""
    if fresh is None:
        return
    if isinstance(fresh, np.ndarray):
        if not isinstance(saved, np.ndarray) or saved.shape != fresh.shape or saved.dtype != fresh.dtype:
            got = f"{saved.dtype}{list(saved.shape)}" if isinstance(saved, np.ndarray) else type(saved).__name__
            raise CheckpointError(f"{where} is {got}, the model needs {fresh.dtype}{list(fresh.shape)}")
    elif isinstance(fresh, (list, tuple)):
        if type(saved) is not type(fresh) or len(saved) != len(fresh):
            raise CheckpointError(f"{where} does not match the model's layout")
        for i, (s, f) in enumerate(zip(saved, fresh)):
            _check_layout(s, f, f"{where}[{i}]")
    elif isinstance(fresh, dict) or _is_storable(fresh):
        if type(saved) is not type(fresh):
            raise CheckpointError(f"{where} does not match the model's layout")
        s_items, f_items = (saved, fresh) if isinstance(fresh, dict) else (vars(saved), vars(fresh))
        if set(s_items) != set(f_items):
            raise CheckpointError(f"{where} does not match the model's layout")
        for key, f in f_items.items():
            _check_layout(s_items[key], f, f"{where}.{key}")


# ------------------------------------------------------------------ writing


def save_checkpoint(path: str | Path, model: Model, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically to ``path`` (temporary file + ``os.replace``).

    ``payload["presentation"]`` (presentations done), when present, goes
    into the header with the simulated time it corresponds to.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)
    enc = _Encoder()
    tree = {"payload": enc.encode(payload, "payload"), "arrays": enc.arrays,
            "buffers": list(enc.buffers)}
    presentation = payload.get("presentation")
    header = {
        "format": FORMAT, "version": VERSION, "copi_bio": _package_version(),
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


def _package_version() -> str:
    from . import __version__

    return __version__


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
    if header.get("copi_bio") != _package_version():
        raise CheckpointError(f"checkpoint {path} was written by copi_bio {header.get('copi_bio')!r}, "
                              f"this is {_package_version()}; resume it with that version or delete it")
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
    for the classes of :func:`storable_classes`; ``Model`` references become
    ``model``.

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
        payload = _Decoder(tree["arrays"], buffers, model).decode(tree["payload"])
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
        if arr.dtype.str != descr or arr.ndim != 1 or arr.dtype.kind not in _KINDS:
            raise CheckpointError(f"checkpoint {path}: {name} holds {arr.dtype}{list(arr.shape)}, "
                                  f"not the flat {descr!r} buffer tree.json names")
        out.append(arr)
    return out


class _Decoder:
    def __init__(self, arrays: list, buffers: list[np.ndarray], model: Model):
        self.table, self.model = arrays, model
        self.buffers = {b.dtype.str: b for b in buffers}
        self.made: dict[int, np.ndarray] = {}
        self.classes = storable_classes()

    def array(self, index: int) -> np.ndarray:
        if index not in self.made:
            key, offset, shape, order = self.table[index]
            buf = self.buffers[key]
            shape = tuple(int(n) for n in shape)
            size = int(np.prod(shape, dtype=np.int64))
            if not (isinstance(offset, int) and 0 <= offset and offset + size <= buf.size
                    and all(n >= 0 for n in shape) and order in ("C", "F")):
                raise ValueError(f"array {index} lies outside its buffer")
            self.made[index] = buf[offset:offset + size].reshape(shape, order=order).copy(order=order)
        return self.made[index]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise ValueError(f"unexpected node {str(node)[:60]}")
        if "@a" in node:
            return self.array(node["@a"])
        if "@s" in node:
            return self.array(node["@s"])[()]
        if "@t" in node:
            return tuple(self.decode(v) for v in node["@t"])
        if "@d" in node:
            out = {}
            for key, value in node["@d"]:
                key = self.decode(key)
                if isinstance(key, list):
                    raise ValueError("a list as a dict key")
                out[key] = self.decode(value)
            return out
        if "@model" in node:
            return self.model
        if "@o" in node:
            return self.instance(node["@o"], node["f"])
        raise ValueError(f"unexpected node {str(node)[:60]}")

    def instance(self, name: str, fields: dict) -> Any:
        cls = self.classes.get(name) if isinstance(name, str) else None
        if cls is None or not isinstance(fields, dict):
            raise CheckpointError(f"holds an object of class {name!r}, which checkpoints do not store")
        if dataclasses.is_dataclass(cls):
            expected = {f.name for f in dataclasses.fields(cls)}
            if set(fields) != expected:
                raise CheckpointError(
                    f"holds a {name} with fields {sorted(fields)}; this copi_bio version's {name} has "
                    f"{sorted(expected)}; delete it to start the run from the beginning")
        obj = cls.__new__(cls)
        for key, value in fields.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"{name} attribute {key!r}")
            obj.__dict__[key] = self.decode(value)
        return obj
