"""The README's examples run as written: every command and Python block of its "Examples" section
(the rate examples in the default run; the spiking run and the comparison with data are slow)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from copi_bio.cli import main

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT.parent / "shared" / "data" / "v1_gratings"


def _examples() -> list[tuple[str, str]]:
    """``(language, text)`` of the code blocks in the README's Examples section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Examples", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.S)


def _commands(block: str) -> list[list[str]]:
    """The ``copi-bio`` commands of a bash block as argument lists (continuation lines joined,
    comments dropped)."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line.split(" #")[0])[1:] for line in joined.splitlines() if line.startswith("copi-bio ")]


def test_the_readme_has_the_examples_it_promises():
    blocks = _examples()
    assert [lang for lang, _ in blocks] == ["bash", "python", "bash", "bash"]
    assert len(ROOT.joinpath("README.md").read_text().splitlines()) <= 150


def test_the_rate_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _examples()
    for args in _commands(blocks[0][1]):
        assert main(args) == 0, args
    assert (tmp_path / "figures" / "metrics.png").is_file()
    scope: dict = {}
    exec(compile(blocks[1][1].replace("progress=True", "progress=False"), "README.md", "exec"), scope)
    assert 0.9 < float(scope["ds"].test_accuracy[-1]) <= 1.0  # feedback alignment on digits: ~0.98


@pytest.mark.slow
def test_the_spiking_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in _commands(_examples()[2][1]):
        assert main(args) == 0, args
    assert {"raster.png", "spike_statistics.png"} <= {p.name for p in (tmp_path / "figures").iterdir()}


@pytest.mark.slow
@pytest.mark.skipif(not V1.is_dir(), reason="the V1 recordings are not beside the project (../shared/data)")
def test_the_comparison_with_data_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (args,) = _commands(_examples()[3][1])
    args = [str(V1 / a) if a == "data_v1_binned_static.mat" else a for a in args]
    assert main(args) == 0
    assert (tmp_path / "scores" / "scores.csv").is_file()
