"""Output folders: checked for writability before a run, every written path kept inside.

``copi-bio run`` and ``copi-bio sweep`` call :func:`prepare_output_folder`
before simulating, so a folder that cannot be written (permissions, a
read-only file system, a path that is a file or a device such as
``/dev/full``) fails at once instead of after the whole run. Every file name
derived from a model or run name goes through :func:`output_path`, which
resolves it and refuses anything that would land outside the folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import CopiBioError


class OutputError(CopiBioError, OSError):
    """An output file or folder cannot be written (one line: what, where, why).

    Also an :class:`OSError`, with the ``errno`` of the underlying error when
    there is one.
    """

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


def os_error_text(err: OSError) -> str:
    """``strerror`` of an OS error, with a hint for a full disk."""
    text = err.strerror or str(err)
    return text + (" (the disk is full)" if err.errno == 28 else "")


def free_space_text(path: str | Path) -> str:
    """``"N MB free"`` on the file system of ``path`` (its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return f"{shutil.disk_usage(path).free / 1e6:.3g} MB free there"
    except OSError:
        return "free space unknown"


def prepare_output_folder(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and prove it writable with a probe file.

    Folders created here are removed again if the probe fails, so a failed
    check leaves nothing behind.

    Returns
    -------
    Path
        ``out_dir`` (as given, not resolved).

    Raises
    ------
    OutputError
        If the folder cannot be created or written, naming the path and the
        reason.
    """
    out = Path(out_dir)
    created = []
    missing = out
    while not missing.exists() and not missing.is_symlink() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent

    def failure(what: str, err: OSError) -> OutputError:
        _remove_empty(created)
        return OutputError(f"{what} {str(out)!r}: {os_error_text(err)}", err.errno)

    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"output folder {str(out)!r} exists and is not a folder") from None
    except OSError as err:
        raise failure("cannot create output folder", err) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".copi-bio-probe.", suffix=".tmp", dir=out)
        try:
            os.write(fd, b"copi_bio write probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            Path(probe).unlink(missing_ok=True)
    except OSError as err:
        raise failure("cannot write to output folder", err) from None
    return out


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            return


def output_path(out_dir: str | Path, *parts: str) -> Path:
    """``out_dir / parts...``, refused unless it resolves to a place inside ``out_dir``.

    Symbolic links are followed, so a name (or a planted link) that points
    elsewhere is refused too.

    Raises
    ------
    OutputError
        If the resolved path is ``out_dir`` itself or outside it.
    """
    out = Path(out_dir)
    path = out.joinpath(*parts)
    root, target = out.resolve(), path.resolve()
    if root not in target.parents:
        raise OutputError(f"output file {str(path)!r} resolves to {str(target)!r}, outside the output "
                          f"folder {str(root)!r}; refusing to write it")
    return path
