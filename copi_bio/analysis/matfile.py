"""Check a MATLAB v5 file's declared sizes before :mod:`scipy.io` reads it.

``scipy.io.loadmat`` trusts the sizes a file declares: a tag may declare more bytes than the file
holds, a compressed variable may inflate to gigabytes, and a cell or struct array may declare
billions of elements that are allocated before any of them is read. :func:`check_mat` walks the
file's element tags (inflating compressed variables up to a limit) and refuses such a file with a
one-line :class:`~copi_bio.errors.CopiBioError` naming it, so that ``loadmat`` only ever reads a file
whose every array fits in the bytes it holds.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ..errors import CopiBioError

MAX_INFLATED_BYTES = 2 ** 30
"""Most bytes the compressed variables of one file may inflate to, all together."""
MAX_DEPTH = 32
"""Deepest nesting of cells and structs read."""

_MATRIX, _COMPRESSED = 14, 15
_ITEM_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
"""Bytes per value of the numeric data types (miINT8 ... miUINT64)."""
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC = range(6, 16)
"""MATLAB classes double, single and the integer classes."""


class _Walk:
    """The state of one check: the file (for messages), its byte order and the bytes inflated."""

    def __init__(self, path: Path, order: str):
        self.path, self.order, self.inflated = path, order, 0

    def refuse(self, what: str) -> CopiBioError:
        return CopiBioError(f"{self.path}: {what}; refused before reading (MATLAB v5 file)")

    def elements(self, buf: bytes, pos: int, end: int, padded: bool) -> list[tuple[int, int, int]]:
        """``(type, start, length)`` of the data elements in ``buf[pos:end]``."""
        out = []
        while pos < end:
            if end - pos < 8:
                raise self.refuse(f"a data element at byte {pos} is cut off")
            tag, length = struct.unpack_from(self.order + "II", buf, pos)
            if tag >> 16:  # small element: type and length in the first 4 bytes, data in the next 4
                out.append((tag & 0xFFFF, pos + 4, tag >> 16))
                if tag >> 16 > 4:
                    raise self.refuse(f"a small data element at byte {pos} declares {tag >> 16} bytes")
                pos += 8
                continue
            if length > end - pos - 8:
                raise self.refuse(f"a data element at byte {pos} declares {length} bytes where {end - pos - 8} "
                                  "remain (truncated or corrupt)")
            out.append((tag, pos + 8, length))
            pos += 8 + (length + 7) // 8 * 8 if padded else 8 + length
        return out

    def variable(self, buf: bytes, start: int, length: int, kind: int) -> None:
        """Check one top-level variable (a matrix, or a compressed stream holding one)."""
        if kind == _MATRIX:
            self.matrix(buf, start, start + length, 0)
            return
        if kind != _COMPRESSED:
            raise self.refuse(f"top-level element of type {kind}, not a variable")
        inflate = zlib.decompressobj()
        room = MAX_INFLATED_BYTES - self.inflated
        try:
            data = inflate.decompress(buf[start:start + length], room + 1)
        except zlib.error as err:
            raise self.refuse(f"a compressed variable is corrupt ({err})") from None
        self.inflated += len(data)
        if len(data) > room or inflate.unconsumed_tail:
            raise self.refuse(f"its compressed variables inflate to more than {MAX_INFLATED_BYTES} bytes")
        if not inflate.eof:
            raise self.refuse("a compressed variable is cut off")
        for kind_in, start_in, length_in in self.elements(data, 0, len(data), padded=False):
            if kind_in != _MATRIX:
                raise self.refuse(f"a compressed variable holds an element of type {kind_in}, not a matrix")
            self.matrix(data, start_in, start_in + length_in, 0)

    def matrix(self, buf: bytes, pos: int, end: int, depth: int) -> None:
        """Check a matrix element's contents ``buf[pos:end]`` and the matrices nested in it."""
        if pos == end:  # an empty matrix (an empty cell, for instance)
            return
        if depth > MAX_DEPTH:
            raise self.refuse(f"cells or structs nested more than {MAX_DEPTH} deep")
        parts = self.elements(buf, pos, end, padded=True)
        if len(parts) < 3 or parts[0][2] < 4 or parts[1][0] != 5 or parts[1][2] % 4:
            raise self.refuse("a matrix lacks its array flags, dimensions or name")
        kind = struct.unpack_from(self.order + "I", buf, parts[0][1])[0] & 0xFF
        dims = struct.unpack_from(f"{self.order}{parts[1][2] // 4}i", buf, parts[1][1])
        if min(dims, default=0) < 0:
            raise self.refuse(f"a matrix declares negative dimensions {list(dims)}")
        n = 1
        for d in dims:
            n *= d
        nested = [p for p in parts[3:] if p[0] == _MATRIX]
        for _, start, length in nested:
            self.matrix(buf, start, start + length, depth + 1)
        if kind == _CELL and n != len(nested):
            raise self.refuse(f"a cell array declares {list(dims)} elements and holds {len(nested)}")
        if kind in (_STRUCT, _OBJECT):
            names = parts[4:6] if kind == _OBJECT else parts[3:5]
            if len(names) < 2 or names[0][2] != 4:
                raise self.refuse("a struct array lacks its field names")
            width = struct.unpack_from(self.order + "i", buf, names[0][1])[0]
            fields = names[1][2] // width if width > 0 else 0
            if n * fields != len(nested) or (fields == 0 and n > 1):
                raise self.refuse(f"a struct array declares {list(dims)} elements of {fields} fields and holds "
                                  f"{len(nested)} values")
        if kind in _NUMERIC:
            if len(parts) < 4 or parts[3][0] not in _ITEM_BYTES:
                raise self.refuse(f"a numeric matrix of {list(dims)} values has no numeric data")
            held = parts[3][2] // _ITEM_BYTES[parts[3][0]]
            if held != n:
                raise self.refuse(f"a numeric matrix declares {list(dims)} values and holds {held}")
        elif kind not in (_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE):
            raise self.refuse(f"a matrix of MATLAB class {kind}, which is not read")


def check_mat(path: str | Path) -> None:
    """Refuse a file that is not a MATLAB v5 file whose declared sizes all fit in the bytes it holds.

    Reads the whole file (its size is the caller's to bound) and inflates its compressed variables, at
    most :data:`MAX_INFLATED_BYTES` together.

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file.

    Raises
    ------
    CopiBioError
        One line naming the file and what is wrong: not MATLAB v5 (v4 and the HDF5-based v7.3 are not
        read), a data element declaring more bytes than remain (a truncated file), compressed data that
        inflate past the limit, a cell or struct array declaring more elements than it holds, a numeric
        array whose dimensions do not match its data, or nesting deeper than :data:`MAX_DEPTH`.
    """
    path = Path(path)
    buf = path.read_bytes()
    if len(buf) < 128 or buf[126:128] not in (b"IM", b"MI"):
        raise CopiBioError(f"{path}: not a MATLAB v5 file (no v5 header)")
    order = "<" if buf[126:128] == b"IM" else ">"
    version = struct.unpack_from(order + "H", buf, 124)[0]
    if version != 0x0100:
        raise CopiBioError(f"{path}: MATLAB file version {version:#06x} is not read (save it with -v7 or "
                           "earlier, not -v7.3)")
    walk = _Walk(path, order)
    for kind, start, length in walk.elements(buf, 128, len(buf), padded=False):
        walk.variable(buf, start, length, kind)
