"""The grid of a sweep: ``--grid`` and ``--seeds`` parsing, checks of the swept
keys and values, and the runs (one per combination and seed) with their names.

A run's name is one path component (letters, digits and ``.=+-``, never
``..``) ending in a digest of the model name and every override, so two
different runs never share a result file; :mod:`copi_bio.sweep` keeps every
file inside the output folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import tomli_w

from ..errors import ModelError
from ..modelfile import parse_override
from ..spec import Model

__all__ = ["Run", "check_key", "parse_grid", "parse_seeds", "run_name", "toml_value"]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside quotes or brackets."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """Parse ``key=v1,v2,...`` (each value in TOML syntax, as for ``--set``).

    >>> parse_grid("feedback.gamma=1,4")
    ('feedback.gamma', [1, 4])
    >>> parse_grid('lateral.tau="50 ms","100 ms"')
    ('lateral.tau', ['50 ms', '100 ms'])
    """
    if "=" not in text:
        raise ModelError("--grid", text, "KEY=V1,V2,..., e.g. feedback.gamma=1,4")
    key, raw = text.split("=", 1)
    key = key.strip()
    values = []
    for part in _split_top_level(raw):
        if not part:
            raise ModelError("--grid", text, "a comma-separated list of non-empty values")
        parts, value = parse_override(f"{key}={part}")
        values.append(value)
    check_key(key, values, text)
    return key, values


def check_key(key: str, values: Sequence[Any], where: Any) -> None:
    """Refuse a malformed dotted key, ``seed`` as a swept key, no values or repeated values."""
    if not key or any(not p for p in key.split(".")):
        raise ModelError("--grid", where, "a dotted key such as feedback.gamma")
    if key == "seed":
        raise ModelError("--grid", where, "a model key other than seed (use --seeds)")
    if len(values) == 0:
        raise ModelError("--grid", where, "at least one value")
    seen = [toml_value(v) for v in values]
    if len(set(seen)) != len(seen):
        raise ModelError("--grid", where, "distinct values")


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"1-5"`` -> ``[1, 2, 3, 4, 5]``; ``"1,3,7"``; mixed ``"1-3,10"``."""
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        seeds = []
        for part in text.split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo:
                    raise ModelError("--seeds", text, "ranges LOW-HIGH with LOW <= HIGH")
                seeds.extend(range(lo, hi + 1))
            elif re.fullmatch(r"\d+", part):
                seeds.append(int(part))
            else:
                raise ModelError("--seeds", text, "non-negative integers: 1-5, 1,3,7 or 1-3,10")
    if not seeds:
        raise ModelError("--seeds", text, "at least one seed")
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ModelError("--seeds", text, "distinct non-negative seeds")
    return seeds


def toml_value(value: Any) -> str:
    """A Python value in TOML syntax (the right-hand side of ``--set``)."""
    try:
        return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
    except TypeError:
        raise ModelError("--grid", value, "a TOML value (number, string, boolean, array)") from None


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    """One combination of the sweep."""

    index: tuple[int, ...]          # position along the swept keys
    seed: int
    overrides: tuple[str, ...]      # base overrides + grid values + seed
    name: str
    model: Model = field(repr=False, compare=False)


def run_name(model_name: str, values: Mapping[str, Any], seed: int, overrides: Sequence[str]) -> str:
    """File name stem of a run: its swept values and seed, readable, plus a digest of every override."""
    readable = "_".join(f"{k}={toml_value(v)}" for k, v in values.items())
    readable = re.sub(r"[^A-Za-z0-9.=+-]+", "-", f"{model_name}_{readable}_seed{seed}").strip("-")[:120]
    readable = re.sub(r"\.{2,}", ".", readable)  # one path component, never '..'
    digest = hashlib.sha1("\n".join([model_name, *overrides]).encode()).hexdigest()[:8]
    return f"{readable}-{digest}"
