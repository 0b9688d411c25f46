"""Checkpoints of long rate-backend runs.

A checkpoint is a pickle of everything the run loop of
:func:`copi_bio.rate.simulate.run_rate` needs to continue bit-identically:
network parameters (``W``, ``R``/``M``, ``b``, fixed feedback ``G``, Adam
moments), the dynamic state of all trials, the bit-generator state of the
stimulus stream, the task sampler's state (the rest of the current epoch),
the :class:`~copi_bio.record.RunRecord` so far, the running loss sums and
connection statistics, and the presentation index. It is tagged with a
SHA-256 of the resolved model file so that a checkpoint of another model (or
of the same model with other settings) is refused.

Checkpoints are written atomically (temporary file in the same folder, then
:func:`os.replace`): a run killed while writing leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

from .atomic import atomic_write
from .errors import CopiBioError
from .spec import Model

FORMAT = 1


class CheckpointError(CopiBioError):
    """A checkpoint cannot be used (other model, other format, unreadable)."""


def model_hash(model: Model) -> str:
    """SHA-256 of the resolved model file (what the run depends on)."""
    from .modelfile import dumps_model

    return hashlib.sha256(dumps_model(model).encode()).hexdigest()


def checkpoint_path(out_dir: str | Path, model: Model) -> Path:
    """Where ``copi-bio run`` keeps the checkpoint of a model's run in ``out_dir``."""
    return Path(out_dir) / f"{model.name}_seed{model.seed}.ckpt"


def save_checkpoint(path: str | Path, model: Model, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically to ``path`` (temporary file + ``os.replace``)."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)
    blob = {"format": FORMAT, "model_hash": model_hash(model), "backend": model.backend,
            "payload": payload}

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            pickle.dump(blob, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def remove_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint and any temporary file a killed write left next to it."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, model: Model) -> dict[str, Any]:
    """Read a checkpoint written for ``model``.

    Raises
    ------
    CheckpointError
        If the file is unreadable, of another format, or was written for a
        different resolved model.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            blob = pickle.load(fh)
    except Exception as err:  # truncated or foreign file
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); "
                              "delete it to start the run from the beginning") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} has an unknown format; delete it to start over")
    if blob.get("model_hash") != model_hash(model):
        raise CheckpointError(
            f"checkpoint {path} was written for a different model (the resolved model file, "
            "including --set overrides and seed, must be identical to resume); delete it or "
            "use another --out folder")
    return blob["payload"]
