"""Atomic file writes: nothing half-written is ever left under the target name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable

from .outdir import OutputError, os_error_text


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(tmp)`` into a temporary file beside it, then rename.

    Parameters
    ----------
    path : str or Path
        Target file; parent folders are created.
    write : callable
        Writes the complete content to the temporary path it is given.

    Returns
    -------
    Path
        The written file. It gets the usual permissions of a new file (the
        umask's). On any error (in ``write``, when the file is closed or
        renamed) the temporary file is removed and an existing file at
        ``path`` is left as it was.

    Raises
    ------
    OutputError
        For an OS error (permission, disk full, read-only file system),
        naming ``path``; other errors of ``write`` propagate unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise _cannot_write(path, err) from err
    try:
        write(Path(tmp))
        umask = os.umask(0)  # mkstemp creates the file 0600
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise _cannot_write(path, err) from err
        raise
    return path


def _cannot_write(path: Path, err: OSError) -> OutputError:
    """The one-line error of an OS error while writing ``path``."""
    return OutputError(f"cannot write {str(path)!r}: {os_error_text(err)}", err.errno)
