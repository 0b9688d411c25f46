"""Reading compressed inputs without letting them exhaust memory.

A file from someone else can declare a small size and inflate to gigabytes
(a zip or gzip "bomb"), or declare an array shape far larger than its data.
The readers here check every size that a file declares against a limit
*before* decompressing or allocating, and read at most the declared bytes:

* :func:`read_npy_member`: one ``.npy`` member of a zip archive (``.npz``
  recordings, MNIST ``.npz`` files, checkpoints);
* :func:`read_npz`: named arrays of an ``.npz`` file;
* :func:`read_gzip`: a gzipped file, at most a given number of bytes;
* :func:`check_declared_bytes`: a netCDF file (result files), from its
  metadata: the variables' declared shapes bound the arrays a reader
  allocates (unwritten chunks read as fill values of the declared shape).
  A single HDF5 chunk whose compressed stream inflates past its declared
  size is not caught here: HDF5's deflate filter grows its buffer while
  decompressing that chunk.

A file that exceeds its limit is refused with :class:`InputTooLarge`, a
one-line message naming the file, the member, the declared size and the limit.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import netCDF4
import numpy as np

from .errors import CopiBioError

NPY_HEADER_MAX = 64 * 2 ** 10
"""Bytes allowed for the header of an ``.npy`` member (NumPy writes under 4 KiB)."""

PLAIN_KINDS = "biufcSU"
"""dtype kinds read: bool, integers, floats, complex, text (never objects)."""


class InputTooLarge(CopiBioError):
    """A compressed input declares (or inflates to) more data than allowed."""


def _refuse(where: str, what: str, size: int, limit: int) -> InputTooLarge:
    return InputTooLarge(f"{where}: {what} is {size} bytes, more than the {limit} bytes allowed; "
                         "refused before decompressing")


def read_npy_member(zf: zipfile.ZipFile, name: str, max_bytes: int, where: str) -> np.ndarray:
    """Read the ``.npy`` member ``name`` of an open zip archive.

    Parameters
    ----------
    max_bytes : int
        Largest array (data bytes) accepted.
    where : str
        The file, for messages.

    Raises
    ------
    KeyError
        No such member.
    InputTooLarge
        The member's uncompressed size or its header's shape exceeds ``max_bytes``.
    ValueError
        Not a plain-data ``.npy`` member, or its data are shorter than its header says.
    """
    info = zf.getinfo(name)
    if info.file_size > max_bytes + NPY_HEADER_MAX:
        raise _refuse(where, name, info.file_size, max_bytes)
    with zf.open(info) as fh:  # zipfile stops inflating at the member's declared file_size
        version = np.lib.format.read_magic(fh)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(fh, max_header_size=NPY_HEADER_MAX)
        if dtype.kind not in PLAIN_KINDS or dtype.fields is not None:
            raise ValueError(f"{name} holds {dtype}, not plain data")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes > max_bytes:
            raise _refuse(where, f"{name} (shape {list(shape)}, {dtype})", nbytes, max_bytes)
        data = fh.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{name} holds {len(data)} bytes of data, its header declares {nbytes}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def read_npz(path: str | Path, names: list[str], max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays ``names`` (those present) of the ``.npz`` file ``path``, each at most ``max_bytes``."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())
        for name in names:
            if f"{name}.npy" in members:
                out[name] = read_npy_member(zf, f"{name}.npy", max_bytes, str(path))
    return out


def read_gzip(path: str | Path, max_bytes: int) -> bytes:
    """The decompressed content of a gzipped file, refused if it inflates past ``max_bytes``."""
    with gzip.open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _refuse(str(path), "the decompressed content", len(data), max_bytes)
    return data


MAX_RESULT_BYTES = 2 * 2 ** 30
"""Bytes of data a result file may declare (all variables together)."""


def check_declared_bytes(path: str | Path, max_bytes: int) -> None:
    """Refuse a netCDF file whose variables declare more than ``max_bytes`` of data.

    Reads only the file's metadata (with netCDF4, before xarray, which loads
    the coordinate variables as it opens a file).

    Parameters
    ----------
    path : str or Path
    max_bytes : int

    Raises
    ------
    InputTooLarge
        The declared bytes exceed ``max_bytes``.
    OSError
        Not a readable netCDF/HDF5 file.
    """
    sizes: dict[str, int] = {}

    def walk(group) -> None:
        for name, var in group.variables.items():
            itemsize = var.dtype.itemsize if hasattr(var.dtype, "itemsize") else 8
            sizes[f"{group.path.rstrip('/')}/{name}".lstrip("/")] = int(np.prod(var.shape, dtype=np.int64)) * itemsize
        for child in group.groups.values():
            walk(child)

    with netCDF4.Dataset(path, "r") as nc:
        walk(nc)
    total = sum(sizes.values())
    if total > max_bytes:
        largest = max(sizes, key=sizes.get)
        raise _refuse(str(path), f"the data it declares (largest: {largest!r}, {sizes[largest]} bytes)",
                      total, max_bytes)
