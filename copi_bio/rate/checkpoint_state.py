"""The run state inside a checkpoint, as plain data.

What :mod:`copi_bio.rate.checkpoint` writes and reads besides its header:
which objects a checkpoint stores (:func:`storable_classes`), which
attributes of an object are its arrays (:func:`array_state`), the encoding of
a payload as JSON plus one flat buffer per dtype (:class:`Encoder`) and back
(:class:`Decoder`, which only rebuilds the classes listed here), and setting
saved arrays on a freshly built network after checking their layout
(:func:`restore_array_state`).

Objects are walked generically (dataclass fields, lists, dicts), so a field
added to :class:`~copi_bio.rate.parameters.State` or an array attribute added
to :class:`~copi_bio.rate.network.RateNetwork` is saved with no change
here; a new *class* inside them must be added to :func:`storable_classes`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..record import ConnectionStats, RunRecord
from ..spec import Model
from .adam import Adam
from .parameters import State

STORED_KINDS = "biufcSU"          # dtype kinds stored: bool, integers, floats, complex, text

__all__ = ["Decoder", "Encoder", "STORED_KINDS", "array_state", "restore_array_state", "storable_classes"]

_STORABLE = {cls.__name__: cls for cls in (Adam, State, ConnectionStats, RunRecord)}


def storable_classes() -> dict[str, type]:
    """The classes whose instances a checkpoint stores, by name.

    The list lives here, in code: a file only names one of them, it never
    makes copi_bio import or build anything else.
    """
    return _STORABLE


def _is_storable(value: Any) -> bool:
    return storable_classes().get(type(value).__name__) is type(value)


# ------------------------------------------------------------------ encoding


class Encoder:
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
        if arr.dtype.kind not in STORED_KINDS or arr.dtype.fields is not None:
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
                              "(plain data, arrays and copi_bio.rate.checkpoint_state.storable_classes() only)")


# ------------------------------------------------------------------ array attributes


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


# ------------------------------------------------------------------ decoding


class Decoder:
    """Rebuilds a payload from ``tree.json`` and the flat buffers: arrays are checked to lie inside
    their buffer, and objects are built only for the classes of :func:`storable_classes`."""

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
