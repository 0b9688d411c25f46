"""pyproject.toml and environment.yml declare the same dependencies."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def split_requirement(text: str) -> tuple[str, str]:
    """``"numpy>=1.26,<2.4"`` -> ``("numpy", ">=1.26,<2.4")`` (name lower-cased,
    ``_``/``.`` normalised to ``-`` as in PEP 503, spaces removed)."""
    match = _REQ.match(text)
    assert match, text
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    spec = ",".join(sorted(part.strip() for part in match.group(2).replace(" ", "").split(",") if part))
    return name, spec


def pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    reqs = data["project"]["dependencies"] + extras["test"] + extras["docs"]
    out = dict(split_requirement(r) for r in reqs)
    # an extra may repeat a package of another extra, with the same pin
    assert len(out) == len({split_requirement(r) for r in reqs}), "conflicting pins in pyproject.toml"
    return out


def environment_entries() -> tuple[list[str], list[str]]:
    """``(conda, pip)``: the entries of environment.yml's ``dependencies`` list
    and of its nested ``pip:`` list (editable installs ``-e`` excluded)."""
    conda, pip, inside, in_pip, pip_indent = [], [], False, False, 0
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        if re.match(r"^dependencies:\s*$", stripped):
            inside = True
            continue
        if not line.startswith(" ") and not line.startswith("-"):
            inside = False
        if not inside:
            continue
        m = re.match(r"^(\s*)-\s*(.+)$", stripped)
        assert m, f"unexpected line in environment.yml: {line!r}"
        indent, entry = len(m.group(1)), m.group(2).strip()
        if in_pip and indent > pip_indent:
            if not entry.startswith("-e"):
                pip.append(entry)
            continue
        in_pip = entry == "pip:"
        pip_indent = indent
        if not in_pip:
            conda.append(entry)
    return conda, pip


def test_environment_matches_pyproject():
    conda_entries, pip_entries = environment_entries()
    conda = dict(split_requirement(e) for e in conda_entries)
    assert conda.pop("python") == ">=3.11"
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires_python == ">=3.11"
    assert conda.pop("pip") == ""
    from_pip = dict(split_requirement(e) for e in pip_entries)
    assert not set(conda) & set(from_pip), "package listed both for conda and pip"
    env = {**conda, **from_pip}
    assert len(env) == len(conda_entries) - 2 + len(pip_entries), "duplicate entry in environment.yml"
    pip_side = pyproject_requirements()
    # netCDF4 (PyPI) is netcdf4 on conda-forge: names compare case-insensitively
    assert sorted(env) == sorted(pip_side)
    for name, spec in pip_side.items():
        assert env[name] == spec, (name, spec, env[name])


def test_numpy_pinned_below_2_4():
    spec = pyproject_requirements()["numpy"]
    assert "<2.4" in spec.split(",")
    conda, _ = environment_entries()
    assert "<2.4" in dict(split_requirement(e) for e in conda)["numpy"].split(",")


def test_split_requirement():
    assert split_requirement("netCDF4>=1.6") == split_requirement("netcdf4 >=1.6")
    assert split_requirement("numpy<2.4, >=1.26") == ("numpy", "<2.4,>=1.26")
    assert split_requirement("tomli_w>=1.0")[0] == "tomli-w"


def test_environment_parser_sees_every_entry():
    conda, pip = environment_entries()
    assert "pip" in conda and "pip:" not in conda
    assert any(e.startswith("python") for e in conda)
    assert any(e.startswith("numpy") for e in conda)
    assert not any(e.startswith("-e") for e in conda + pip)
