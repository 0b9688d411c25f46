"""Analysis functions on inputs with known answers (real Neo/Elephant, real runs)."""

from __future__ import annotations

import re

import neo
import numpy as np
import pytest
import xarray as xr

import copi_bio
from copi_bio.analysis import correlations as corr
from copi_bio.analysis import features, learning, reference
from copi_bio.analysis.figures import standard_figures


def _poisson(rng, rate, t_stop):
    n = rng.poisson(rate * t_stop)
    return np.sort(rng.uniform(0, t_stop, n))


def shared_input_trains(n, rate, c, t_stop, seed):
    """Each neuron fires its own Poisson train at (1-c) rate plus one common train at c rate.

    Counts are then Poisson with Var = rate T and Cov = c rate T, so r_sc = c
    exactly for every counting window.
    """
    rng = np.random.default_rng(seed)
    common = _poisson(rng, c * rate, t_stop)
    times, idx = [], []
    for i in range(n):
        own = _poisson(rng, (1 - c) * rate, t_stop)
        t = np.concatenate([own, common])
        times.append(t)
        idx.append(np.full(len(t), i))
    return corr.spiketrains_from_arrays(np.concatenate(times), np.concatenate(idx), n, 0.0, t_stop)


def test_independent_poisson_rsc_is_zero():
    trains = shared_input_trains(40, 10.0, 0.0, 200.0, seed=1)
    r = corr.spike_count_correlations(trains, 0.1)
    # 2000 bins: one pair's r has SD 1/sqrt(2000) = 0.022; the mean over 780
    # pairs of 40 neurons has SD <= 0.022/sqrt(40) = 0.0035, so 0.01 is ~3 SD.
    assert len(r) == 40 * 39 // 2
    assert abs(r.mean()) < 0.01
    assert 0.015 < r.std() < 0.03


@pytest.mark.parametrize("c", [0.1, 0.2])
def test_shared_input_gives_constructed_rsc(c):
    trains = shared_input_trains(30, 10.0, c, 200.0, seed=2)
    table = corr.rsc_by_window(trains, windows=(0.02, 0.1, 0.5))
    # r_sc = c for every window; sampling SD of the mean over pairs <= 0.01
    np.testing.assert_allclose(table["mean"].values, c, atol=0.03)
    assert table.sizes["pair"] == 435


def test_rsc_by_rate_and_sttc_run_on_real_trains():
    trains = shared_input_trains(20, 10.0, 0.3, 60.0, seed=3)
    by_rate = corr.rsc_by_rate(trains, 0.1, n_bins=3)
    assert int(by_rate["n_pairs"].sum()) == 190
    np.testing.assert_allclose(by_rate["mean"].values, 0.3, atol=0.08)
    sttc = corr.sttc_pairs(trains, dt=0.005, max_pairs=30)
    indep = corr.sttc_pairs(shared_input_trains(20, 10.0, 0.0, 60.0, seed=4), dt=0.005, max_pairs=30)
    # shared spikes are exactly synchronous: STTC well above the independent case (~0)
    assert sttc.mean() > 0.2 and abs(indep.mean()) < 0.05


def test_zca_whitens_known_covariance():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    cov = a @ a.T + 0.5 * np.eye(6)
    w = features.zca_whitening(cov, eps=0.0)
    np.testing.assert_allclose(w @ cov @ w.T, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(w, w.T, atol=1e-12)  # ZCA is the symmetric whitening


def test_inferred_linear_map_exact_only_when_decorrelated():
    rng = np.random.default_rng(1)
    a_true = rng.standard_normal((3, 8))
    x = np.linalg.qr(rng.standard_normal((200, 8)))[0] * np.sqrt(200)  # exactly orthogonal columns
    np.testing.assert_allclose(features.inferred_linear_map(x, x @ a_true.T), a_true, atol=1e-10)
    mix = np.eye(8) + 0.5
    xc = x @ mix
    err = np.linalg.norm(features.inferred_linear_map(xc, xc @ a_true.T) - a_true) / np.linalg.norm(a_true)
    assert err > 0.5


def test_time_to_fraction_of_peak():
    x = np.arange(10.0)
    curve = np.array([0.1, 0.5, 0.8, 0.95, 0.985, 0.99, 1.0, 0.99, 1.0, 1.0])
    assert learning.time_to_fraction_of_peak(curve, x, 0.99) == 5.0
    assert learning.time_to_fraction_of_peak(curve, x, 0.5) == 1.0


def test_shipped_reference_table_has_the_declared_columns_and_sourced_values():
    """Every row has exactly the declared columns; every number is confirmed and says where it was read."""
    rows = reference.reference_table()
    assert len(rows) >= 40 and all(tuple(row) == reference.COLUMNS for row in rows)
    numeric = [row for row in rows if row["value"]]
    assert all(row["value_status"] == "confirmed" and row["source_read"] and row["citation"] for row in numeric)
    studies = {row["citation"].split(",")[0] for row in numeric}
    assert len(studies) >= 7  # 7 since a number read only on a lab's publication list became qualitative
    # numbers are read at the publisher, PMC, PubMed or through the DOI, never on copies or corpora
    allowed = ("pmc.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov/pmc", "pubmed.ncbi.nlm.nih.gov", "doi.org",
               "jneurosci.org", "nature.com", "science.org", "sciencemag.org", "cell.com", "journals.plos.org",
               "physiology.org", "pnas.org", "elifesciences.org", "springer.com", "sciencedirect.com")
    for row in numeric:
        hosts = re.findall(r"https?://([^\s;()]+)", row["source_read"])
        assert hosts and all(any(a in h for a in allowed) for h in hosts), row["citation"]
    assert {row["phenomenon"] for row in rows} <= {"", "window", "rate", "tuning", "training",
                                                   "spontaneous_vs_evoked", "pattern_decorrelation",
                                                   "development", "attention", "fano_quench", "mean_level"}


def test_window_matching_uses_same_window():
    model = xr.Dataset({"mean": ("window", [0.01, 0.05])}, coords={"window": [0.1, 0.5]})
    rows = [{"value": 0.14, "window_s": 0.5, "rate_range_hz": "5-20"},
            {"value": 0.12, "window_s": 2.0, "rate_range_hz": ""}]
    out = reference.match_windows(model, rows, model_rate_hz=10.0)
    assert out[0]["model_mean"] == 0.05 and out[0]["rate_matched"] is True
    assert np.isnan(out[1]["model_mean"]) and out[1]["rate_matched"] is None


def test_standard_figures_and_compression_on_real_run(tmp_path):
    model = copi_bio.load_model("digits_bp", ["protocol.presentations=450", "protocol.eval_every=45",
                                              "recording.variables=[\"x\"]", "recording.trials=1"])
    ds = copi_bio.simulate(model)
    paths = standard_figures(ds, tmp_path)
    names = {p.name for p in paths}
    assert {"metrics.png", "metrics.svg", "rate_correlations.png"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)
    from copi_bio.tasks import digits
    data = digits(model.task)
    layers = features.layers_of(ds)
    train, _ = data.batch(np.random.default_rng(0), 1000)
    acc_full = features.compressed_accuracy(layers, train, data.test_inputs, data.test_labels, 0, 0)
    # the steady-state map of the stored weights reproduces the free-running accuracy
    # (the somata have relaxed to within exp(-10 ms / 1 ms) at the read-out)
    assert abs(acc_full - float(ds["test_accuracy"][-1])) < 0.02
    acc_one = features.compressed_accuracy(layers, train, data.test_inputs, data.test_labels, 0, 1)
    assert acc_one > 0.5  # one inferred linear map for both layers still classifies well above chance
    fields = features.receptive_fields(layers, data.test_inputs, 0)
    assert fields.shape == (100, 64)


def test_user_recordings_load_and_compare(tmp_path):
    from copi_bio.analysis import recordings

    trains = shared_input_trains(12, 10.0, 0.2, 60.0, seed=5)
    # a real Neo file (Neo's own pickle format) and the plain-array form
    block = neo.Block()
    seg = neo.Segment()
    seg.spiketrains.extend(trains)
    block.segments.append(seg)
    neo.io.PickleIO(str(tmp_path / "rec.pkl")).write_block(block)
    times = np.concatenate([st.magnitude for st in trains])
    idx = np.concatenate([np.full(len(st), i) for i, st in enumerate(trains)])
    np.savez(tmp_path / "rec.npz", times=times, indices=idx, t_start=0.0, t_stop=60.0, n_neurons=12)
    from_neo = recordings.load_spiketrains(tmp_path / "rec.pkl", allow_pickle=True)  # our own file
    from_npz = recordings.load_spiketrains(tmp_path / "rec.npz")
    assert len(from_neo) == len(from_npz) == 12
    indep = shared_input_trains(12, 10.0, 0.0, 60.0, seed=6)
    table = recordings.side_by_side({"recording": from_npz, "model": indep}, windows=(0.1, 0.5))
    assert table["mean"].sel(source="recording", window=0.1) == pytest.approx(0.2, abs=0.06)
    assert abs(float(table["mean"].sel(source="model", window=0.1))) < 0.04
    assert table["rate"].sel(source="recording") == pytest.approx(10.0, rel=0.1)
    with pytest.raises(copi_bio.CopiBioError, match="does not exist"):
        recordings.load_spiketrains(tmp_path / "missing.nwb")


def test_nwb_units_table_is_read(tmp_path):
    import datetime

    from pynwb import NWBHDF5IO, NWBFile

    from copi_bio.analysis import recordings

    trains = shared_input_trains(8, 10.0, 0.2, 60.0, seed=7)
    nwb = NWBFile(session_description="copi_bio test", identifier="rec1",
                  session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    for st in trains:
        nwb.add_unit(spike_times=st.magnitude)
    with NWBHDF5IO(str(tmp_path / "rec.nwb"), "w") as io:
        io.write(nwb)
    loaded = recordings.load_spiketrains(tmp_path / "rec.nwb")
    assert [len(st) for st in loaded] == [len(st) for st in trains]
    np.testing.assert_allclose(loaded[3].magnitude, np.sort(trains[3].magnitude))
    r = corr.spike_count_correlations(loaded, 0.1)
    assert r.mean() == pytest.approx(0.2, abs=0.07)  # the shared-input construction survives the round trip


def test_cli_analyze_writes_standard_figures(tmp_path, capsys):
    from copi_bio.cli import main

    assert main(["run", "teacher_student", "--set", "protocol.presentations=200", "--set", "protocol.eval_every=20",
                 "--out", str(tmp_path), "-q"]) == 0
    result = tmp_path / "teacher_student_seed1.nc"
    assert main(["analyze", str(result), "--out", str(tmp_path / "figs")]) == 0
    written = {p.name for p in (tmp_path / "figs").iterdir()}
    assert {"metrics.png", "metrics.svg", "teacher_scatter.png", "teacher_scatter.svg"} <= written
    assert main(["analyze", str(tmp_path / "missing.nc")]) == 2
    assert "does not exist" in capsys.readouterr().err
