"""Shared helpers of the rate-backend test suite.

The repository root is put first on ``sys.path`` so the tests exercise the
checkout, not a (possibly stale) installed copy of ``copi_bio``.
"""

from __future__ import annotations

import copy
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path or sys.path.index(str(ROOT)) != 0:
    sys.path.insert(0, str(ROOT))

import copi_bio  # noqa: E402

MODELS = ROOT / "models"


def model_table(name: str = "teacher_student") -> dict:
    """Raw TOML table of a model file in ``models/``."""
    return tomllib.loads((MODELS / f"{name}.toml").read_text())


def small_table(**sections) -> dict:
    """A small, fast rate model (4 inputs -> 3 linear outputs) as a raw table;
    keyword arguments update top-level tables (``task`` is replaced) or set keys."""
    table = {
        "name": "small", "backend": "rate", "seed": 7,
        "populations": [{"name": "input", "size": 4},
                        {"name": "output", "size": 3, "tau": "2 ms", "transfer": "linear"}],
        "lateral": {"rule": "copi", "tau": "100 ms"},
        "plasticity": {"rule": "copi", "tau": "100 ms"},
        "feedback": {"mode": "bp", "gamma": 2.0},
        "task": {"kind": "teacher_student", "correlation": 0.3, "test_size": 64},
        "protocol": {"dt": "1 ms", "t_present": "10 ms", "t_settle": "5 ms", "presentations": 40,
                     "trials": 8, "eval_every": 10},
        "recording": {"variables": ["r", "u", "delta", "x"], "trials": 2},
    }
    for key, value in sections.items():
        if key != "task" and isinstance(value, dict) and isinstance(table.get(key), dict):
            table[key] = {**table[key], **value}
        else:
            table[key] = value
    return copy.deepcopy(table)


def override_error(model: str, overrides: list[str]) -> "copi_bio.ModelError":
    """The :class:`~copi_bio.ModelError` that loading a shipped model with ``--set`` overrides raises."""
    with pytest.raises(copi_bio.ModelError) as info:
        copi_bio.load_model(model, overrides)
    return info.value


def small_model(**sections) -> "copi_bio.Model":
    return copi_bio.parse_model(small_table(**sections))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
