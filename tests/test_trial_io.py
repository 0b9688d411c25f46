"""Trial-structured recording files (copi_bio.analysis.trial_io): the V1 MATLAB layout, NWB and Neo give
the same counts for the same data, an NWB export of a run with trials reads back as the run's trial
counts, other NWB and Neo files with a condition per trial are read, and damaged or oversized files
are refused in one line naming them."""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import h5py
import neo
import numpy as np
import pynwb
import pytest
import quantities as pq
import scipy.io
import xarray as xr

from copi_bio import load_model
from copi_bio.analysis.trial_io import (has_trials, read_trials, read_trials_neo, read_trials_nwb, write_trials_neo,
                                        write_trials_nwb)
from copi_bio.cli import main
from copi_bio.errors import CopiBioError
from copi_bio.results import save_result
from copi_bio.simulation import simulate
from copi_bio.trials import from_result, make_trial_counts, result_populations_with_trials

V1 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "v1_gratings"
STATIC = V1 / "data_v1_binned_static.mat"
needs_v1 = pytest.mark.skipif(not STATIC.is_file(), reason=f"V1 recordings not found at {V1}")
# 3 training images in 6 presentations of 30 ms: every image is shown twice
SHORT = ["task.train_size=3", "protocol.presentations=6", "protocol.eval_every=3", "protocol.anneal=10",
         "protocol.t_present=30 ms", "protocol.t_settle=20 ms", "spiking.count_window=30 ms",
         "spiking.rate_bin=30 ms", "spiking.device=runtime", "spiking.test_images=0"]


def refused(read, path: Path) -> str:
    """The one-line error ``read(path)`` raises, which names ``path``."""
    with pytest.raises(CopiBioError) as info:
        read(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


def mat_v5(path: Path, name: str, mclass: int, dims: list[int], payload: bytes = b"") -> Path:
    """A MATLAB v5 file by hand: one uncompressed variable ``name`` of class ``mclass`` (1 cell, 6 double)
    declaring ``dims``, followed by the element bytes ``payload``."""
    def element(kind: int, data: bytes) -> bytes:
        return struct.pack("<II", kind, len(data)) + data + b"\0" * (-len(data) % 8)

    body = (element(6, struct.pack("<II", mclass, 0)) + element(5, struct.pack(f"<{len(dims)}i", *dims))
            + element(1, name.encode()) + payload)
    header = b"MATLAB 5.0 MAT-file, written by a test".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + struct.pack("<II", 14, len(body)) + body)
    return path


@pytest.fixture(scope="module")
def synthetic() -> xr.DataArray:
    """Two sessions of 2 and 3 units, 3 conditions (orientation and contrast), 4 repeats, 10 ms bins
    from 20 ms before to 30 ms after onset; session b never showed condition 2's last two repeats, no
    session its fourth repeat of condition 0, and unit 1 missed one trial unit 0 saw."""
    counts = np.random.default_rng(3).poisson(1.5, size=(5, 3, 4, 5)).astype(np.float32)
    counts[2:, 2, 2:] = np.nan
    counts[:, 0, 3] = np.nan
    counts[1, 1, 0] = np.nan
    times = np.arange(-0.02, 0.03, 0.01) + 0.005
    return make_trial_counts(counts, times, 0.01, ["a", "a", "b", "b", "b"],
                             {"orientation": [0.0, 45.0, 90.0], "contrast": [10, 10, 100]},
                             {"contamination": [0.01, np.nan, 0.2, 0.03, 0.0], "tetrode": [1, 1, 4, 5, 5]},
                             {"source": "synthetic"})


@pytest.fixture(scope="module")
def files(synthetic, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("trial_files")
    return {"nwb": write_trials_nwb(synthetic, folder / "counts.nwb"),
            "neo": write_trials_neo(synthetic, folder / "counts.mat")}


def test_nwb_and_neo_files_give_back_the_counts_they_were_written_from(synthetic, files):
    for path in files.values():
        assert has_trials(path)
        xr.testing.assert_identical(read_trials(path), synthetic)
    assert np.isnan(read_trials(files["neo"]).values[1, 1, 0]).all()  # missed by unit 1 only
    with pynwb.NWBHDF5IO(str(files["nwb"]), "r") as io:
        nwb = io.read()
        assert list(nwb.units["session"].data[:]) == ["a", "a", "b", "b", "b"]
        trials = nwb.trials.to_dataframe()
        assert len(nwb.units["spike_times"].target.data) == np.nansum(synthetic.values)  # a spike per count
    # one row per (session, condition, repeat) shown: 11 in session a, 9 in session b
    assert len(trials) == 20 and set(trials["condition"]) == {0, 1, 2}
    assert {"onset", "repeat", "session", "orientation", "contrast"} <= set(trials.columns)
    np.testing.assert_allclose(trials["onset"] - trials["start_time"], 0.02)
    np.testing.assert_allclose(trials["stop_time"] - trials["onset"], 0.03)


@needs_v1
def test_the_v1_file_nwb_and_neo_give_identical_counts(tmp_path):
    """Two sessions of the static gratings, two units each, the first 12 repeats (every condition of the
    file's union, most of them never shown in these sessions: all NaN)."""
    counts = read_trials(STATIC)
    sessions = list(dict.fromkeys(counts["session"].values))[:2]
    units = np.concatenate([np.flatnonzero(counts["session"].values == s)[:2] for s in sessions])
    subset = counts.isel(unit=units, repeat=slice(0, 12))
    assert np.isnan(subset.values).any() and np.nansum(subset.values) > 0
    for path in (write_trials_nwb(subset, tmp_path / "v1.nwb"), write_trials_neo(subset, tmp_path / "v1.mat")):
        xr.testing.assert_identical(read_trials(path), subset)
    assert has_trials(STATIC)


def test_an_exported_run_with_trials_reads_back_as_its_trial_counts(tmp_path, capsys):
    ds = simulate(load_model("spiking_lif_digits_hidden", SHORT))
    target = tmp_path / "run.nwb"
    assert main(["export", str(save_result(ds, tmp_path / "run.nc")), "--nwb", str(target)]) == 0
    assert "with a trials table of 6 presentations" in capsys.readouterr().out
    assert has_trials(target)
    populations = result_populations_with_trials(ds)
    assert populations == ["input", "hidden", "output"]
    for population in populations:
        expected, got = from_result(ds, population), read_trials_nwb(target, population=population)
        np.testing.assert_array_equal(got.values, expected.values)  # NaN where a stimulus was not repeated
        for name in ("time", "unit", "neuron", "population", "stimulus"):
            np.testing.assert_array_equal(got[name].values, expected[name].values)
        assert got.attrs["bin_width"] == expected.attrs["bin_width"]
    assert "population" in refused(lambda p: read_trials_nwb(p, population="nowhere"), target)


def test_other_nwb_files_with_a_condition_per_trial_are_binned(tmp_path):
    """No layout record, no onset or repeat column: trials start at onset, 10 ms bins, repeats by onset;
    condition ids 7 and 3 become conditions 1 and 0, and a column that varies within a condition is no
    condition coordinate."""
    nwb = pynwb.NWBFile(session_description="hand-made", identifier="trials-test", session_id="monkey_x",
                        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    nwb.add_unit(spike_times=[0.001, 0.012, 1.04, 2.0])
    nwb.add_unit(spike_times=[3.049, 3.05])
    for name in ("condition", "orientation", "correct"):
        nwb.add_trial_column(name, name)
    for start, condition, orientation, correct in [(0.0, 7, 90.0, 1), (1.0, 3, 0.0, 0), (2.0, 7, 90.0, 0),
                                                   (3.0, 3, 0.0, 1)]:
        nwb.add_trial(start_time=start, stop_time=start + 0.05, condition=condition, orientation=orientation,
                      correct=correct)
    path = tmp_path / "other.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    got = read_trials(path)
    np.testing.assert_array_equal(got["condition_id"], [3, 7])
    np.testing.assert_array_equal(got["orientation"], [0.0, 90.0])
    assert "correct" not in got.coords and list(got["session"].values) == ["monkey_x", "monkey_x"]
    np.testing.assert_allclose(got["time"], [0.005, 0.015, 0.025, 0.035, 0.045])
    expected = np.zeros((2, 2, 2, 5))
    expected[0, 1, 0, :2] = 1  # 0.001 and 0.012 in the first trial of condition 7
    expected[0, 0, 0, 4] = 1  # 1.04
    expected[0, 1, 1, 0] = 1  # 2.0, at the trial's start
    expected[1, 0, 1, 4] = 1  # 3.049; 3.05 is past the last bin
    np.testing.assert_array_equal(got.values, expected)


def test_other_neo_blocks_with_a_condition_per_segment_are_binned(tmp_path):
    """Segments on clocks of their own (each from 0 to 30 ms), trains matched by position."""
    block = neo.Block(name="hand-made")
    for condition, spikes in [(0, ([0.001], [])), (1, ([0.025], [0.011, 0.012])), (0, ([], [0.029]))]:
        segment = neo.Segment()
        segment.annotate(condition=condition, orientation=45.0 * condition)
        segment.spiketrains.extend([neo.SpikeTrain(np.asarray(t) * pq.s, t_start=0 * pq.s, t_stop=0.03 * pq.s)
                                    for t in spikes])
        block.segments.append(segment)
    path = tmp_path / "other.mat"
    neo.io.NeoMatlabIO(str(path)).write_block(block)
    assert has_trials(path)
    got = read_trials_neo(path)
    assert got.sizes == {"unit": 2, "condition": 2, "repeat": 2, "time": 3}
    np.testing.assert_array_equal(got["orientation"], [0.0, 45.0])
    expected = np.zeros((2, 2, 2, 3))
    expected[:, 1, 1] = np.nan  # condition 1 was shown once
    expected[0, 0, 0, 0] = expected[0, 1, 0, 2] = expected[1, 0, 1, 2] = 1
    expected[1, 1, 0, 1] = 2
    np.testing.assert_array_equal(got.values, expected)


def test_spike_train_files_have_no_trials(tmp_path):
    np.savez(tmp_path / "spikes.npz", times=[0.1], indices=[0])
    assert not has_trials(tmp_path / "spikes.npz")
    block = neo.Block()
    block.segments.append(neo.Segment())
    neo.io.NeoMatlabIO(str(tmp_path / "one.mat")).write_block(block)
    assert not has_trials(tmp_path / "one.mat")
    assert "no segment with a 'condition'" in refused(read_trials, tmp_path / "one.mat")


def test_truncated_files_are_refused_in_one_line(files, tmp_path):
    sources = [*files.values(), *([STATIC] if STATIC.is_file() else [])]
    for source in sources:
        data = source.read_bytes()
        cut = tmp_path / f"cut_{source.name}"
        cut.write_bytes(data[:len(data) // 2])
        refused(read_trials, cut)
        refused(has_trials, cut)
    assert "does not exist" in refused(read_trials, tmp_path / "missing.nwb")


def test_files_declaring_huge_arrays_are_refused_before_reading(files, tmp_path):
    one = struct.pack("<II", 9, 8) + struct.pack("<d", 1.0)
    assert scipy.io.loadmat(mat_v5(tmp_path / "fine.mat", "block", 6, [1, 1], one))["block"].item() == 1.0
    huge_double = mat_v5(tmp_path / "huge_double.mat", "block", 6, [100_000, 100_000], one)
    assert "declares [100000, 100000] values and holds 1" in refused(read_trials, huge_double)
    huge_cell = mat_v5(tmp_path / "huge_cell.mat", "data", 1, [100_000, 100_000])
    assert "cell array declares [100000, 100000] elements" in refused(read_trials, huge_cell)
    nwb = tmp_path / "huge.nwb"
    nwb.write_bytes(files["nwb"].read_bytes())
    with h5py.File(nwb, "r+") as f:
        del f["units/spike_times"]
        f.create_dataset("units/spike_times", shape=(2 ** 40,), dtype="f8", chunks=(1024,))
    assert "units/spike_times" in refused(read_trials, nwb)
