"""Model files: TOML text -> validated :class:`~copi_bio.spec.Model` (or
:class:`~copi_bio.spec.NetworkModel`), and back.

This is the only module that reads TOML: it finds model files (the library
and paths), applies ``--set`` overrides to the raw table and hands it to
the spec objects, which validate themselves. Nothing in :mod:`copi_bio.spec`
imports it; backends receive spec objects.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

import tomli_w

from .errors import ModelError
from .library import About, split_about
from .spec import Model, NetworkModel, set_key

DEFAULT_MODEL = "teacher_student"


def library_dirs() -> list[Path]:
    """Folders searched for model names: the installed library, then the
    source tree's ``models/`` (when running from a checkout), then ``./models``."""
    here = Path(__file__).resolve().parent
    dirs = [here / "model_library", here.parent / "models"]
    dirs.append(Path.cwd() / "models")
    seen, out = set(), []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            out.append(d)
    return out


def available_models() -> dict[str, Path]:
    """Map model name -> file for every model file in :func:`library_dirs`."""
    found: dict[str, Path] = {}
    for d in library_dirs():
        for f in sorted(d.glob("*.toml")):
            found.setdefault(f.stem, f)
    return found


def resolve_model_path(model: str | Path | None) -> Path:
    """Turn a path or a library model name into an existing file path."""
    if model is None:
        model = DEFAULT_MODEL
    path = Path(model)
    if path.is_file():
        return path
    library = available_models()
    if str(model) in library:
        return library[str(model)]
    text = str(model)
    if path.suffix == ".toml" or len(path.parts) > 1:
        what = "a directory" if path.is_dir() else "not found"
        raise ModelError("MODEL", text, f"an existing model file ({text} is {what})")
    close = difflib.get_close_matches(text, library, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ModelError("MODEL", text, f"{hint}a model file path or a library model name "
                     "(copi-bio models lists them)")


def parse_override(text: str, source: str = "--set") -> tuple[list[str], Any]:
    """Parse ``key.path=value`` (value in TOML syntax; bare words are strings); ``source`` names
    where the text came from in errors (``--set`` on the command line, ``overrides`` in Python)."""
    if "=" not in text:
        raise ModelError(source, text, "KEY=VALUE, e.g. protocol.presentations=500")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ModelError(source, text, "a dotted key such as feedback.gamma")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


Overrides = Mapping[str, Any] | Iterable[str] | str | None
"""Model-file keys to change: a mapping ``{"protocol.trials": 64}``, ``"key=value"`` texts (as
``copi-bio run --set`` takes them), or one such text."""


def override_items(overrides: Overrides, source: str = "--set") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` pairs of ``overrides`` (see :data:`Overrides`), in order."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(key), value) for key, value in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    items = []
    for text in overrides:
        if not isinstance(text, str):
            raise ModelError(source, text, "'key=value' texts or a mapping of dotted keys to values")
        parts, value = parse_override(text, source)
        items.append((".".join(parts), value))
    return items


def apply_overrides(data: dict[str, Any], overrides: Overrides, source: str = "--set") -> dict[str, Any]:
    """Return a copy of the raw model table with ``overrides`` (:data:`Overrides`) applied.

    Populations are addressed by name: ``populations.hidden.size=50``.
    """
    data = copy.deepcopy(data)
    for key, value in override_items(overrides, source):
        set_key(data, key, value)
    return data


def parse_model(data: Mapping[str, Any], source: str = "<memory>") -> Model | NetworkModel:
    """Validate a parsed model table into a :class:`~copi_bio.spec.Model`, or a
    :class:`~copi_bio.spec.NetworkModel` when it has a ``[network]`` table.

    Raises
    ------
    ModelError
        Naming the key, the value and what is allowed.
    """
    data, _ = split_about(data, source)  # the file's description, not part of the model
    return (NetworkModel if "network" in data else Model).parse(data, source)


def parse_model_text(text: str, source: str = "<result>") -> Model | NetworkModel:
    """Validate a model file's text, such as the resolved model a result stores in ``model_toml``.

    Raises
    ------
    ModelError
        For text that is not TOML, naming ``source``, or for an invalid model.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ModelError("(file)", source, f"valid TOML ({err})", source) from None
    return parse_model(data, source)


def read_model_table(model: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Read the raw TOML table of a model file or library name."""
    path = resolve_model_path(model)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ModelError("(file)", str(path), f"valid TOML ({err})", str(path)) from None
    except UnicodeDecodeError as err:
        raise ModelError("(file)", str(path), f"a UTF-8 text file ({err.reason} at byte {err.start})",
                         str(path)) from None
    except OSError as err:
        raise ModelError("(file)", str(path), f"a readable file ({err.strerror})", str(path)) from None
    return data, path


def load_model(model: str | Path | None = None, overrides: Overrides = None, /, **keys: Any) -> Model:
    """Load and validate a model file.

    Parameters
    ----------
    model : str or Path, optional
        A ``.toml`` path or a library model name (see :func:`available_models`);
        ``None`` loads the embedded default (``teacher_student``).
    overrides : mapping or iterable of str, optional
        Keys changed before validation: ``{"protocol.trials": 64}`` (values as in a model file),
        or ``"key.path=value"`` texts as ``copi-bio run --set`` takes them.
    **keys
        More keys, a double underscore for each dot: ``protocol__trials=64``.

    Returns
    -------
    Model

    Examples
    --------
    >>> m = load_model("teacher_student", {"protocol.presentations": 10})
    >>> m.protocol.presentations
    10
    >>> load_model("teacher_student", protocol__presentations=20).protocol.presentations
    20
    """
    data, path = read_model_table(model)
    data = apply_overrides(data, overrides, source="overrides")
    data = apply_overrides(data, {key.replace("__", "."): value for key, value in keys.items()}, source="keys")
    return parse_model(data, str(path))


def model_about(model: str | Path) -> About | None:
    """The checked ``[about]`` table of a model file or library name (None where it has none)."""
    data, path = read_model_table(model)
    return split_about(data, str(path))[1]


def load_model_cli(model: str | None, settings: Iterable[str]) -> Model:
    """:func:`load_model` for the command line: ``settings`` are ``--set`` texts, and errors in them
    say ``--set``."""
    data, path = read_model_table(model)
    return parse_model(apply_overrides(data, settings, source="--set"), str(path))


def dumps_model(model: Model) -> str:
    """The resolved model as TOML text (stored in result attributes)."""
    return tomli_w.dumps(model.to_mapping())


def model_hash(model: Model) -> str:
    """SHA-256 (hex) of the resolved model file: identifies what a run depends on.

    Stored in result files (``model_hash`` attribute) and checkpoints; two
    runs with the same hash give bit-identical results (rate backend).
    """
    return toml_hash(dumps_model(model))


def toml_hash(text: str) -> str:
    """SHA-256 (hex) of a resolved model file's text (:func:`dumps_model`), as :func:`model_hash`."""
    return hashlib.sha256(text.encode()).hexdigest()
