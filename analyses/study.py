"""Shared helpers of the analysis scripts: run a model once, reuse its result file."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Iterable

import numpy as np
import xarray as xr

import copi_bio
from copi_bio.analysis import features
from copi_bio.atomic import atomic_write
from copi_bio.modelfile import model_hash
from copi_bio.results import stored_identity
from copi_bio.tasks import TaskData, digits


def run_or_load(model: str, overrides: Iterable[str], out_dir: Path, tag: str) -> xr.Dataset:
    """Result of ``model`` with ``overrides``, simulated once and cached as ``out_dir/runs/tag.nc``.

    A cached file is reused only when it holds the result of the same resolved model (its
    ``model_hash``); after a change of the model file, or of the overrides, the model runs again
    and its new result replaces the file.
    """
    spec = copi_bio.load_model(model, list(overrides))
    path = out_dir / "runs" / f"{tag}.nc"
    if path.is_file():
        if stored_identity(path)[1] == model_hash(spec):
            return copi_bio.open_result(path)
        print(f"{path} holds the result of another version of {model} (model_hash differs); running it again",
              file=sys.stderr)
    ds = copi_bio.simulate(spec, progress=True)
    copi_bio.save_result(ds, path, overwrite=path.is_file())
    return ds


def write_table(rows: list[dict], path: Path) -> Path:
    """Write rows (dicts) as CSV, atomically; a key missing from a row leaves its cell empty."""
    fields = list(dict.fromkeys(key for row in rows for key in row))  # rows may lack some (left empty)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)


def parser(description: str) -> argparse.ArgumentParser:
    """Common arguments: ``--out DIR`` and ``--small`` (short runs for tests)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="figures", type=Path, help="output folder")
    p.add_argument("--small", action="store_true", help="short runs (smoke test)")
    return p


def trained_digits_network(model: str, small: bool, out_dir: Path
                           ) -> tuple[xr.Dataset, TaskData, list[features.Layer], np.ndarray]:
    """A trained digits model (run or cached): result, task data, stored layers, training inputs."""
    overrides = ["protocol.presentations=450"] if small else []  # small: ~17 epochs; else the model's 30
    ds = run_or_load(model, overrides, out_dir, f"{model}_{'small' if small else 'full'}")
    data = digits(features.model_of(ds).task)
    train, _ = data.batch(np.random.default_rng(0), data.n_train)
    return ds, data, features.layers_of(ds), train
