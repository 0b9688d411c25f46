"""The validation suite (``copi-bio validate``): published phenomena against shipped models
(real Brian2 runs, real netCDF-free Datasets; docs/validation.md)."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import xarray as xr

from copi_bio.analysis import validation
from copi_bio.cli import main


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    start = time.perf_counter()
    code = main(["validate", "--small", "--out", str(out)])
    return code, out, time.perf_counter() - start


def test_validate_small_reports_every_phenomenon_and_writes_table_and_figures(small_suite, capsys):
    code, out, seconds = small_suite
    assert code == 0
    assert seconds < 300  # the budget for --small on 2 cores (measured: about 25 s)
    with (out / "validation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["phenomenon"] for r in rows] == ["window", "rate", "training", "spontaneous_vs_evoked"]
    for row in rows:
        assert (out / f"validation_{row['phenomenon']}.png").stat().st_size > 5000
        assert row["observation"] and row["prediction"] and row["mechanism"]


def test_small_models_show_each_published_direction(small_suite):
    """Directions asserted on the small runs: r_sc grows with the window (ratio > 1) and with the pair's
    rate (Spearman rho > 0), and COPI learning lowers it with rates and Fano factors within 10 %."""
    _, out, _ = small_suite
    with (out / "validation.csv").open() as fh:
        rows = {r["phenomenon"]: r for r in csv.DictReader(fh)}
    assert float(rows["window"]["score"]) > 1.0 and rows["window"]["passed"] == "True"
    assert float(rows["rate"]["score"]) > 0.0 and rows["rate"]["passed"] == "True"
    assert float(rows["training"]["score"]) < 0.5 and rows["training"]["passed"] == "True"
    # reported as failing, not dropped: in the E/I network with plastic inhibition a stronger drive
    # raises r_sc (ratio about 0.2-0.35, measured) where recordings show about 2
    assert float(rows["spontaneous_vs_evoked"]["score"]) < 1.0 and rows["spontaneous_vs_evoked"]["passed"] == "False"


def _poisson_result(seed: int, n: int = 20, rate: float = 20.0, duration: float = 20.0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * duration, n)
    times = np.concatenate([np.sort(rng.uniform(0, duration, c)) for c in counts])
    index = np.repeat(np.arange(n), counts)
    return xr.Dataset({"spike_time_E": ("spike_E", times), "spike_index_E": ("spike_E", index)},
                      coords={"neuron_E": np.arange(n)}, attrs={"spike_duration": duration})


def test_a_model_without_the_effect_fails():
    """The scores can fail: independent Poisson cells show no rate dependence, and a 'learned' network
    identical to the one without decorrelation has an r_sc ratio of exactly 1."""
    ds = _poisson_result(1)
    rate = validation.rate_dependence(ds, "E", 0.0, 20.0)
    assert not rate.passed
    same = validation.training_decorrelation(ds, ds, "E", 0.0, 20.0)
    assert same.score == pytest.approx(1.0) and not same.passed
    assert "FAIL" in same.line()
