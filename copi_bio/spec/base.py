"""Base classes of the spec objects: validated construction, ``replace`` and key addressing.

The spec classes are frozen dataclasses whose keys are declared with
:func:`~copi_bio.spec.params.param`. Calling a class validates its keyword
arguments exactly as a model file's table is validated
(:class:`SpecType`); :meth:`Spec.replace` changes dotted keys as
``copi-bio run --set`` does (:func:`set_key`); whole models
(:class:`ModelBase`) validate themselves with their cross-key checks, so
that nothing here needs the TOML reader (:mod:`copi_bio.modelfile` reads
files into these objects and is the only module that parses TOML).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import numbers
import re
from typing import Any, Mapping, Self

from ..errors import ModelError
from .params import REQUIRED, convert, file_value

NAME_MAX = 100
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
NAME_RULE = (f"1 to {NAME_MAX} ASCII letters, digits, '_', '-' or '.', starting with a letter, digit or "
             "'_' and without '..' (the name becomes part of output file names)")


def check_name(key: str, value: Any) -> str:
    """Return ``value`` if it is a safe model (or sweep) name, else raise.

    A safe name is one path component that cannot climb out of a folder:
    letters, digits, ``_``, ``-`` and ``.`` only, no leading ``.`` or ``-``,
    no ``..``, at most :data:`NAME_MAX` characters.

    Raises
    ------
    ModelError
        Naming ``key`` and the value.
    """
    if (not isinstance(value, str) or len(value) > NAME_MAX or not _NAME.fullmatch(value)
            or ".." in value):
        raise ModelError(key, value, NAME_RULE)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _table(value: Any, where: str) -> Any:
    """A value given in Python as it stands in a model table at the dotted location ``where``.

    Spec objects become their tables (with the ``rule``/``kind`` key that
    selects their class) and must belong at ``where``; lists and tables are
    converted entry by entry; numpy numbers become Python numbers.
    """
    if isinstance(value, Spec):
        if value._path != where:
            raise ModelError(where, f"{type(value).__name__}(...)",
                             f"the [{where}] table or an object for it ({type(value).__name__} "
                             f"is for [{value._path or 'model'}])")
        table = value.to_mapping()
        return {value._selector: getattr(value, value._selector), **table} if value._selector else table
    if isinstance(value, (list, tuple)):
        return [_table(v, where) for v in value]
    if isinstance(value, Mapping):
        return {k: _table(v, _join(where, str(k))) for k, v in value.items()}
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        return float(value)
    return value


_UNSET: Any = object()


def _subclasses(cls: type) -> list[type]:
    """Every subclass of ``cls``, at any depth."""
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


class SpecType(type):
    """Metaclass of the spec classes: calling a class validates its arguments.

    ``Cls(**keys)`` takes the keys of the class's model-file table as keyword
    arguments, with values written as in a model file, and validates them on
    the TOML reader's path (``Cls._from_table``), so errors are the same.
    ``Cls._unchecked(...)`` constructs from values that have already been
    validated (SI floats); only the validation code itself uses it.
    """

    def __call__(cls, *args: Any, **keys: Any) -> Any:
        if args:
            raise TypeError(f"{cls.__name__}() takes the keys of its model-file table as keyword arguments, "
                            f"e.g. {cls.__name__}({', '.join(f'{n}=...' for n in cls.__signature__.parameters)})")
        return cls._from_table({key: _table(value, _join(cls._path, key)) for key, value in keys.items()})

    def _unchecked(cls, *args: Any, **fields: Any) -> Any:
        """Construct from already validated values (SI floats, spec objects): no checks."""
        return super().__call__(*args, **fields)

    @property
    def __signature__(cls) -> inspect.Signature:
        """Keyword-only parameters, one per field, defaults written as in a model file
        (for whole models: ``None``, the model file's default, except the required parts)."""
        if not dataclasses.is_dataclass(cls):
            raise AttributeError("__signature__")
        params = []
        for f in dataclasses.fields(cls):
            if cls._required is not None:
                default = inspect.Parameter.empty if f.name in cls._required else None
            elif f.default is dataclasses.MISSING:
                default = inspect.Parameter.empty
            else:
                default = file_value(f.metadata, f.default)
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default))
        return inspect.Signature(params)


class Spec(metaclass=SpecType):
    """Base of the spec classes: validated construction and :meth:`replace`.

    A subclass names the location of its table in a model file in ``_path``
    (``"plasticity"``, ``"network.populations"``); it prefixes the keys in
    the error messages of objects built from Python and says where an object
    may be used. ``_selector`` is the key of that table which selects the
    class (``"rule"``, ``"kind"``), if any. Classes whose keys are parts
    (whole models, the ``[network]`` table) list in ``_required`` the parts
    that may not be omitted; their other parts may be given as ``None``.
    """

    _path = ""
    _selector = ""
    _required: tuple[str, ...] | None = None  # tables of parts: the parts that may not be omitted

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        """Validate a table given from Python (the keyword arguments of the class); a part given
        as ``None`` is omitted."""
        return cls.from_mapping({key: value for key, value in table.items() if value is not None}, cls._path)

    def replace(self, key: str | Mapping[str, Any], value: Any = _UNSET) -> Self:
        """A new object with model-file keys changed, validated as ``copi-bio run --set`` is.

        The object's table (:meth:`to_mapping`) gets the new values and is
        validated again, cross-key and stability checks included; ``self``
        is unchanged.

        Parameters
        ----------
        key : str or mapping
            A dotted key as in ``--set`` (``"plasticity.tau"``; populations by
            name, ``"populations.hidden.size"``), or a mapping of such keys to
            values.
        value : object
            The new value, written as in a model file (``"2 s"``); a spec
            object replaces a whole table. Omitted when ``key`` is a mapping.

        Returns
        -------
        object of the same class

        Raises
        ------
        ModelError
            Naming the key, the value and what is allowed.

        Examples
        --------
        >>> import copi_bio
        >>> model = copi_bio.load_model("digits_bp")
        >>> faster = model.replace("plasticity.tau", "4 s")
        >>> faster.plasticity.tau, model.plasticity.tau
        (4.0, 5.0)
        >>> both = model.replace({"lateral.tau": "2 s", "plasticity.tau": "2 s", "populations.hidden.size": 50})
        >>> both.lateral.tau, both.populations[1].size
        (2.0, 50)
        >>> model.replace("plasticity.tau", 2.0)
        Traceback (most recent call last):
        ...
        copi_bio.errors.ModelError: ...plasticity.tau = 2.0 is invalid: a string with a time unit, ...
        """
        if value is _UNSET:
            if not isinstance(key, Mapping):
                raise TypeError("replace(key, value) or replace({key: value, ...})")
            changes = key
        else:
            changes = {key: value}
        table = copy.deepcopy(self.to_mapping())
        for dotted, new in changes.items():
            set_key(table, dotted, new)
        return self._rebuilt(table)

    def _rebuilt(self, table: dict[str, Any]) -> Self:
        return type(self)(**table)

    def _unchecked_replace(self, **fields: Any) -> Self:
        """A copy with ``fields`` set to already validated values (internal: no checks)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return type(self)._unchecked(**{**current, **fields})


class SpecBase(Spec):
    """Base of the spec classes of one model-file table: TOML round-tripping with validation."""

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        """As :meth:`Spec._from_table`; entries of arrays with a ``name`` are addressed by name."""
        name = table.get("name")
        named = "name" in cls.__dataclass_fields__ and isinstance(name, str) and name
        return cls.from_mapping(table, f"{cls._path}.{name}" if named else cls._path)

    @classmethod
    def from_mapping(cls, data: Any, path: str) -> "SpecBase":
        """Build the spec object from a TOML table.

        Parameters
        ----------
        data : mapping
            The table, as parsed by :mod:`tomllib`.
        path : str
            Dotted location of the table in the model file (for messages).
        """
        if not isinstance(data, Mapping):
            raise ModelError(path, data, "a table")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ModelError(f"{path}.{unknown[0]}" if path else unknown[0], data[unknown[0]],
                             cls._unknown_key_hint(unknown[0], sorted(fields), path))
        values = {}
        for name, f in fields.items():
            key = f"{path}.{name}" if path else name
            if name in data:
                values[name] = convert(f.metadata, data[name], key)
            elif f.default is REQUIRED:
                raise ModelError(key, None, f"required key is missing ({f.metadata['doc']})")
        return cls._unchecked(**values)

    @classmethod
    def _unknown_key_hint(cls, key: str, known: list[str], path: str) -> str:
        """What an unknown ``key`` of this table could have been: a close known key, or the
        selector value (``kind``, ``rule``) of the sibling class that takes the key."""
        where = path or "model"
        known_text = ", ".join(known)
        selector = cls._selector
        if selector and getattr(cls, selector, ""):
            base = next(c for c in cls.__mro__ if "_selector" in vars(c))
            owners = sorted(getattr(c, selector) for c in _subclasses(base)
                            if getattr(c, selector, "") and key in getattr(c, "__dataclass_fields__", {}))
            if owners:
                return (f"a key of {where}.{selector} = {' or '.join(map(repr, owners))}, not of "
                        f"{where}.{selector} = {getattr(cls, selector)!r}, which takes: {known_text}")
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        hint = f"did you mean {where}.{close[0]}? " if close else ""
        return f"{hint}a known key of [{where}]: {known_text}"

    def to_mapping(self) -> dict[str, Any]:
        """Return the TOML table (units written back as text) of this object."""
        return {f.name: file_value(f.metadata, getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.metadata and getattr(self, f.name) is not None}


class ModelBase(Spec):
    """Base of whole models (:class:`~copi_bio.spec.Model`, :class:`~copi_bio.spec.NetworkModel`).

    A model validates itself: :meth:`parse` turns a parsed model table into
    the object (``from_mapping`` of the subclass), cross-key and stability
    checks included. Built from Python, a model's parts become its model
    table again and take the same route, so the model-file validation is the
    only judge. ``source`` (where the model came from) is kept by
    :meth:`replace` and is not part of equality. A part given as ``None`` is
    omitted (its default).
    """

    _required: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any], source: str = "<memory>") -> Self:
        """Validate a parsed model table (as :mod:`tomllib` returns it) into this class.

        Raises
        ------
        ModelError
            Naming the key, the value and what is allowed; its ``source`` is ``source``.
        """
        try:
            if isinstance(data.get("name"), str):
                check_name("name", data["name"])  # any kind of model: the name becomes output file names
            return cls.from_mapping(data, source)
        except ModelError as err:
            if err.source is None:
                raise ModelError(err.key, err.value, err.allowed, source) from None
            raise

    @classmethod
    def _from_table(cls, table: dict[str, Any]) -> Self:
        table = {key: value for key, value in table.items() if value is not None}
        source = table.pop("source", "<memory>")
        if not isinstance(source, str):
            raise ModelError("source", source, "a string naming where the model came from")
        network = "network" in cls.__dataclass_fields__
        if network and "network" not in table:
            raise ModelError("network", None, "required key is missing (the E/I network, a NetworkSpec)")
        if not network and "network" in table:
            raise ModelError("network", table["network"], "no [network] table in a Model (E/I networks "
                             "are NetworkModel objects)")
        return cls.parse(table, source)

    def _rebuilt(self, table: dict[str, Any]) -> Self:
        return type(self)(**table, source=self.source)


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` of a raw model table to ``value``, in place.

    The addressing of ``--set`` and of ``replace()``: missing tables are
    created, populations (and named projections) are addressed by name.

    Raises
    ------
    ModelError
        For a malformed key, an unknown population name, or a key below a value.
    """
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ModelError(str(key), value, "a dotted key such as feedback.gamma")
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            match = [p for p in node if isinstance(p, dict) and p.get("name") == part]
            if not match:
                names = [p.get("name") for p in node if isinstance(p, dict)]
                raise ModelError(".".join(parts[: i + 1]), part, f"a population name: {names}")
            node = match[0]
        else:
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ModelError(".".join(parts[: i + 1]), node, "a table")
    if not isinstance(node, dict):
        raise ModelError(".".join(parts), value,
                         "a key inside a table; address populations by name, e.g. populations.hidden.size")
    node[parts[-1]] = value
