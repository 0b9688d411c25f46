"""Files from others are data, never code; every output stays inside --out;
results of one model are never silently replaced by another's; unwritable
output fails before simulating (issue 9)."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, small_table

import copi_bio
from copi_bio import cli
from copi_bio.atomic import atomic_write
from copi_bio.analysis.recordings import load_spiketrains
from copi_bio.bounded import InputTooLarge
from copi_bio.errors import ModelError
from copi_bio.outdir import OutputError, output_path
from copi_bio.rate import network
from copi_bio.rate.checkpoint import (VERSION, CheckpointError, checkpoint_path, load_checkpoint, model_hash,
                                      save_checkpoint)
from copi_bio.rate.checkpoint_state import array_state
from copi_bio.rate.simulate import run_rate
from copi_bio.results import ResultExistsError
from copi_bio.sweep import Sweep
from copi_bio.sweep.grid import run_name as _run_name
from copi_bio.tasks import load_mnist


class _Payload:
    """Unpickling this creates ``marker`` (what an attacker's file would do, harmlessly)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def planted_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker))


def test_the_payload_does_run_when_unpickled(tmp_path):
    """Control: the payload used below really executes when unpickled."""
    marker = tmp_path / "control"
    pickle.loads(planted_pickle(marker)).close()
    assert marker.exists()


@pytest.fixture
def small_file(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(tomli_w.dumps(small_table()))
    return path


def _object_npy(marker: Path) -> bytes:
    """An .npy member holding an object array, i.e. a pickle inside an npz."""
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _forged_checkpoint(path: Path, model, marker: Path) -> None:
    """A checkpoint with a valid header for ``model`` whose array buffer is a pickle."""
    header = {"format": "copi_bio-checkpoint", "version": VERSION, "copi_bio": copi_bio.__version__,
              "backend": model.backend, "model_hash": model_hash(model), "presentation": 10}
    tree = {"payload": {"presentation": 10, "x": {"@a": 0}}, "arrays": [["|O", 0, [1], "C"]],
            "buffers": ["|O"]}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("tree.json", json.dumps(tree))
        zf.writestr("b0.npy", _object_npy(marker))


def _plant(where: str, out: Path, model, marker: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{model.name}_seed{model.seed}"
    if where == "checkpoint-npz":
        path = checkpoint_path(out, model)
        _forged_checkpoint(path, model, marker)
        return path
    if where == "checkpoint-savez":  # an npz without header.json whose arrays are pickles
        path = checkpoint_path(out, model)
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("payload.npy", _object_npy(marker))
        return path
    name = {"checkpoint": f"{stem}.ckpt", "result": f"{stem}.nc", "partial": f"{stem}.partial.nc",
            "checkpoint-tmp": f".{stem}.ckpt.x1y2.tmp"}[where]
    path = out / name
    path.write_bytes(planted_pickle(marker))
    return path


@pytest.mark.parametrize("where, every", [
    ("checkpoint", "5"), ("checkpoint", None), ("checkpoint-npz", "5"), ("checkpoint-savez", None),
    ("result", None), ("partial", "5"), ("checkpoint-tmp", "5"),
])
def test_planted_pickle_is_never_executed_by_run(tmp_path, small_file, capsys, where, every):
    """Every name ``copi-bio run`` reads or replaces in --out: a pickle there is refused by
    name (or, for a stale temporary file, deleted unread); the marker never appears."""
    model = copi_bio.load_model(small_file)
    out, marker = tmp_path / "out", tmp_path / "MARKER"
    planted = _plant(where, out, model, marker)
    args = ["run", str(small_file), "--out", str(out), "-q"] + (["--checkpoint-every", every] if every else [])
    code = cli.main(args)
    err = capsys.readouterr().err
    assert not marker.exists()
    if where == "checkpoint-tmp":  # never read: cleaned up by the first checkpoint write
        assert code == 0 and not planted.exists()
        return
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("copi-bio: error:")]
    assert len(errors) == 1 and str(planted) in errors[0], err
    assert not (out / f"{model.name}_seed{model.seed}.nc").exists() or where == "result"


def test_planted_checkpoint_is_refused_by_the_python_api(tmp_path, small_file):
    model = copi_bio.load_model(small_file)
    marker = tmp_path / "MARKER"
    for where in ("checkpoint", "checkpoint-npz", "checkpoint-savez"):
        path = _plant(where, tmp_path / where, model, marker)
        with pytest.raises(CheckpointError, match=str(path)):
            run_rate(model, checkpoint=path)
    assert not marker.exists()


def test_header_is_checked_before_any_array(tmp_path, small_file):
    """A forged checkpoint of another model is refused from its header alone."""
    model = copi_bio.load_model(small_file)
    other = copi_bio.load_model(small_file, ["feedback.gamma=3.0"])
    path = tmp_path / "forged.ckpt"
    _forged_checkpoint(path, other, tmp_path / "MARKER")
    with pytest.raises(CheckpointError, match="different model"):
        run_rate(model, checkpoint=path)
    assert not (tmp_path / "MARKER").exists()


def test_planted_pickle_in_a_sweep_folder_is_refused_before_anything_runs(tmp_path):
    sweep = Sweep("teacher_student", {"feedback.gamma": [1]}, [1], tmp_path,
                  ["protocol.presentations=20"])
    run = sweep.runs()[0]
    planted = sweep.result_path(run)
    planted.parent.mkdir(parents=True)
    planted.write_bytes(planted_pickle(tmp_path / "MARKER"))
    with pytest.raises(ResultExistsError, match="not a copi_bio result file"):
        sweep.run(progress=False)
    assert not (tmp_path / "MARKER").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["runs", planted.name]


def test_pickled_recordings_are_refused_unless_allowed(tmp_path):

    path = tmp_path / "rec.pkl"
    path.write_bytes(planted_pickle(tmp_path / "MARKER"))
    with pytest.raises(copi_bio.CopiBioError, match="pickle"):
        load_spiketrains(path)
    assert not (tmp_path / "MARKER").exists()


# ----------------------------------------------------------------------------- names


NAME_OK = st.text(alphabet="abcXYZ019_-.", min_size=1, max_size=12)
NAMES = st.one_of(
    st.text(max_size=130),
    st.text(alphabet="ab/\\.-_~: \x00é", max_size=10),
    NAME_OK,
    st.sampled_from([".", "..", "../x", "a/..", "/abs", "C:\\x", "x" * 100, "x" * 101, ".hidden", "-rf",
                     "a..b", "ok.name-1_2", "con", "a\nb", "a/b"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(NAMES)
def test_accepted_names_write_only_inside_out(tmp_path_factory, name):
    out = tmp_path_factory.getbasetemp() / "names" / "out"
    try:
        model = copi_bio.parse_model(small_table(name=name))
    except ModelError as err:
        assert err.key == "name" and err.value == name
        return
    assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
    assert 1 <= len(name) <= 100 and name.isascii() and name.isprintable()
    root = out.resolve()
    files = list(cli.run_paths(out, model).values())
    ov = ("feedback.gamma=1", "seed=1")
    files.append(output_path(out, "runs", f"{_run_name(model.name, {'feedback.gamma': 1}, 1, ov)}.nc"))
    for path in files:
        assert path.resolve().parent in (root, root / "runs"), path


@settings(max_examples=100, deadline=None)
@given(NAME_OK, st.sampled_from(["/", "\\", "..", "/../", "../"]), NAME_OK)
def test_names_with_separators_or_dotdot_are_refused(left, sep, right):
    with pytest.raises(ModelError, match="name"):
        copi_bio.parse_model(small_table(name=left + sep + right))


@pytest.mark.parametrize("name, ok", [("ok.name-1_2", True), ("../../escape/evil", False),
                                      ("/tmp/abs", False), (".hidden", False)])
def test_cli_writes_under_out_only(tmp_path, capsys, name, ok):
    """A real run (with checkpoints) in a sandbox: every file it leaves is inside --out."""
    sandbox = tmp_path / "sandbox"
    out = sandbox / "a" / "out"
    model_file = tmp_path / "m.toml"
    model_file.write_text(tomli_w.dumps(small_table(name=name)))
    code = cli.main(["run", str(model_file), "--out", str(out), "-q", "--checkpoint-every", "7"])
    err = capsys.readouterr().err
    written = [p for p in sandbox.rglob("*") if p.is_file()]
    if ok:
        assert code == 0, err
        assert [p.relative_to(out).as_posix() for p in written] == [f"{name}_seed7.nc"]
    else:
        assert code == 2 and "name = " in err and repr(name) in err
        assert written == [] and not (tmp_path / "escape").exists()


# ----------------------------------------------------------------------------- overwrite


def _attrs(path: Path) -> dict:
    with xr.open_dataset(path) as ds:
        return dict(ds.attrs)


def test_different_model_is_refused_without_overwrite(tmp_path, small_file, capsys):
    out = tmp_path / "out"
    target = out / "small_seed7.nc"
    assert cli.main(["run", str(small_file), "--out", str(out), "-q"]) == 0
    first = target.read_bytes()
    other = ["--set", "feedback.gamma=3.0"]
    capsys.readouterr()
    assert cli.main(["run", str(small_file), *other, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(target) in err and "different model" in err and "--overwrite" in err
    assert target.read_bytes() == first                                   # untouched
    assert cli.main(["run", str(small_file), *other, "--out", str(out), "-q", "--overwrite"]) == 0
    new = copi_bio.load_model(small_file, ["feedback.gamma=3.0"])
    assert _attrs(target)["model_hash"] == model_hash(new)
    assert copi_bio.open_result(target).attrs["model_toml"] == copi_bio.modelfile.dumps_model(new)
    assert sorted(p.name for p in out.iterdir()) == [target.name]


def test_identical_model_rerun_is_skipped(tmp_path, small_file, capsys):
    """Documented in the README: the same resolved model again leaves the result as it is."""
    out = tmp_path / "out"
    target = out / "small_seed7.nc"
    assert cli.main(["run", str(small_file), "--out", str(out), "-q"]) == 0
    stamp, content = target.stat().st_mtime_ns, target.read_bytes()
    capsys.readouterr()
    assert cli.main(["run", str(small_file), "--out", str(out), "-q"]) == 0
    assert "nothing to run" in capsys.readouterr().out
    assert target.stat().st_mtime_ns == stamp and target.read_bytes() == content
    first = copi_bio.open_result(target)
    assert cli.main(["run", str(small_file), "--out", str(out), "-q", "--overwrite"]) == 0
    assert target.stat().st_mtime_ns != stamp                             # --overwrite runs it again
    again = copi_bio.open_result(target)
    assert again.attrs["model_hash"] == first.attrs["model_hash"]
    np.testing.assert_array_equal(again["test_loss"].values, first["test_loss"].values)


def test_save_result_refuses_another_model(tmp_path, small_file):
    a = copi_bio.simulate(copi_bio.load_model(small_file, ["protocol.presentations=10"]))
    b = copi_bio.simulate(copi_bio.load_model(small_file, ["protocol.presentations=20"]))
    path = copi_bio.save_result(a, tmp_path / "r.nc")
    copi_bio.save_result(a, path)  # same model: rewritten
    with pytest.raises(ResultExistsError, match="different model"):
        copi_bio.save_result(b, path)
    assert _attrs(path)["model_hash"] == a.attrs["model_hash"]
    copi_bio.save_result(b, path, overwrite=True)
    assert _attrs(path)["model_hash"] == b.attrs["model_hash"] != a.attrs["model_hash"]


# ----------------------------------------------------------------------------- unwritable output


@pytest.fixture
def no_simulation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")
    monkeypatch.setattr(cli, "simulate", refuse)


def _one_error_line(err: str, path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("copi-bio: error: ") and str(path) in lines[0], err
    return lines[0]


def test_out_that_is_a_device_or_under_a_file_fails_before_simulating(tmp_path, small_file, capsys,
                                                                      no_simulation):
    if not os.path.exists("/dev/full"):
        pytest.skip("this system has no /dev/full")
    link = tmp_path / "full"
    link.symlink_to("/dev/full")
    assert cli.main(["run", str(small_file), "--out", str(link), "-q"]) == 2
    assert "not a folder" in _one_error_line(capsys.readouterr().err, link)
    assert cli.main(["run", str(small_file), "--out", str(link / "sub"), "-q"]) == 2
    _one_error_line(capsys.readouterr().err, link / "sub")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["sweep", str(small_file), "--out", str(blocker / "sub"), "-q"]) == 2
    _one_error_line(capsys.readouterr().err, blocker / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "full", "small.toml"]


def _drop_privileges() -> None:
    """In the child: without capabilities even root obeys file permissions."""
    if os.geteuid() == 0:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in range(64):  # PR_CAPBSET_DROP: the exec'd program starts without them
            libc.prctl(24, cap, 0, 0, 0)


def _cli_child(args, timeout=60, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "copi_bio.cli", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout, preexec_fn=preexec)


def test_read_only_output_folder_fails_before_simulating(tmp_path, small_file):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        probe = subprocess.run([sys.executable, "-c", f"open({str(ro / 'p')!r}, 'w')"],
                               preexec_fn=_drop_privileges, capture_output=True)
        if probe.returncode == 0:
            (ro / "p").unlink()
            pytest.skip("this process cannot give up the privilege to write into read-only folders")
        # a run that would take minutes: the error must come before it starts
        for out in (ro, ro / "sub"):
            res = _cli_child(["run", str(small_file), "--set", "protocol.presentations=1000000",
                              "--out", str(out), "-q"], preexec=_drop_privileges)
            assert res.returncode == 2, res.stderr
            assert "Permission denied" in _one_error_line(res.stderr, out)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


SCRIPT = """
import resource, sys
from pathlib import Path
from copi_bio.atomic import atomic_write
from copi_bio.cli import main
from copi_bio.outdir import OutputError
limit = 4096
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # writes past 4 KiB fail (EFBIG)
out = Path(sys.argv[1])
kept = out / "kept.txt"
def big(tmp):  # 6000 characters stay in the text buffer until close: the error comes at close
    with open(tmp, "w") as fh:
        fh.write("x" * 6000)
try:
    atomic_write(kept, big)
except OutputError as err:
    print("atomic:", err.errno, err, file=sys.stderr)
sys.exit(main(["run", sys.argv[2], "--out", str(out), "-q"]))
"""


def test_write_failure_mid_file_leaves_nothing_behind(tmp_path, small_file):
    """A file-size limit makes the OS refuse writes past 4 KiB (as a full disk would):
    the run ends with one error line, the old file is intact, no temporary file is left."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("earlier result")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(small_file)], cwd=ROOT, env=env,
                         text=True, capture_output=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "atomic: 27" in res.stderr and "File too large" in res.stderr  # EFBIG at close
    errors = [line for line in res.stderr.splitlines() if line.startswith("copi-bio: error:")]
    assert len(errors) == 1 and "small_seed7.nc" in errors[0] and "Traceback" not in res.stderr, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt"]
    assert (out / "kept.txt").read_text() == "earlier result"


def test_failed_rename_removes_the_temporary_file(tmp_path):
    target = tmp_path / "dir"
    (target / "inside").mkdir(parents=True)  # os.replace of a file onto a non-empty folder fails
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(target, lambda tmp: tmp.write_text("x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_planted_link_out_of_the_folder_is_refused(tmp_path, small_file, capsys, no_simulation):
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.nc"
    (out / "small_seed7.nc").symlink_to(elsewhere)
    assert cli.main(["run", str(small_file), "--out", str(out), "-q"]) == 2
    assert "outside the output folder" in _one_error_line(capsys.readouterr().err, out / "small_seed7.nc")
    assert not elsewhere.exists()


# ---------------------------------------------------------------- inflating inputs

GIB = 2 ** 30


def _write_bomb(zf: zipfile.ZipFile, name: str, nbytes: int, header_shape: tuple[int, ...]) -> None:
    """A deflated .npy member of ``nbytes`` zeros after a header declaring ``header_shape`` (float64)."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": header_shape})
    chunk = bytes(2 ** 24)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as fh:
        fh.write(head.getvalue())
        for _ in range(nbytes // len(chunk)):
            fh.write(chunk)


def _with_bomb(src: Path, dst: Path, member: str, nbytes: int, header_shape: tuple[int, ...]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != member:
                zout.writestr(info.filename, zin.read(info.filename))
        _write_bomb(zout, member, nbytes, header_shape)


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """A genuine checkpoint of a small rate model (written mid-run)."""
    out = tmp_path_factory.mktemp("ckpt")
    model = copi_bio.load_model("teacher_student", ["protocol.presentations=40", "protocol.trials=4"])
    path = out / "run.ckpt"
    net = network.RateNetwork(model, np.random.default_rng(1))
    save_checkpoint(path, model, {"state": net.new_state(4), "network": array_state(net), "presentation": 1})
    return model, path


def test_checkpoint_member_that_inflates_past_1_gib_is_refused_in_one_line(real_checkpoint, tmp_path):
    model, path = real_checkpoint
    bomb = tmp_path / "bomb.ckpt"
    _with_bomb(path, bomb, "b0.npy", GIB + 2 ** 24, (GIB // 8 + 2 ** 21,))
    assert bomb.stat().st_size < 8 * 2 ** 20  # a few MB on disk
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bomb, model)
    msg = str(info.value)
    assert "\n" not in msg and "b0.npy" in msg and "refused before decompressing" in msg


def test_checkpoint_tree_declaring_more_than_the_model_holds_is_refused(real_checkpoint, tmp_path):
    model, path = real_checkpoint
    forged = tmp_path / "forged.ckpt"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(forged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "tree.json":
                tree = json.loads(data)
                tree["arrays"][0][2] = [2 ** 31]  # a 16 GB float64 array
                data = json.dumps(tree).encode()
            zout.writestr(info.filename, data)
    with pytest.raises(CheckpointError, match="more than the .* bytes a run of this model can hold"):
        load_checkpoint(forged, model)


def test_npz_recording_and_mnist_that_inflate_are_refused(tmp_path):
    rec = tmp_path / "rec.npz"
    with zipfile.ZipFile(rec, "w", zipfile.ZIP_DEFLATED) as zf:
        _write_bomb(zf, "times.npy", GIB, (GIB // 8,))
        zf.writestr("indices.npy", b"")
    with pytest.raises(InputTooLarge, match="times.npy"):
        load_spiketrains(rec)
    gz = tmp_path / "mnist"
    gz.mkdir()
    with gzip.open(gz / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + (10 ** 6).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        chunk = bytes(2 ** 24)
        for _ in range(2 ** 28 // len(chunk) + 1):
            fh.write(chunk)
    with pytest.raises(ModelError, match="refused before decompressing"):
        load_mnist(gz)


def _declaring_netcdf(path: Path, n_bytes: int, model_hash: str = "0" * 64) -> None:
    """A netCDF file of a few KiB whose dimension coordinate ``t_eval`` (never written, compressed)
    declares ``n_bytes``: xarray would read it whole while opening the file, filled with the fill value."""
    import netCDF4

    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("t_eval", n_bytes // 8)
        nc.createVariable("t_eval", "f8", ("t_eval",), zlib=True, chunksizes=(2 ** 20,))
        nc.createVariable("test_loss", "f4", ("t_eval",), zlib=True, chunksizes=(2 ** 20,))
        nc.setncattr("model_hash", model_hash)


def test_result_file_that_declares_3_gib_is_refused_in_one_line(tmp_path, capsys):
    bomb = tmp_path / "result.nc"
    _declaring_netcdf(bomb, 3 * GIB)
    assert bomb.stat().st_size < 64 * 2 ** 10
    with pytest.raises(InputTooLarge, match=r"result.nc: the data it declares .*'t_eval'.* is 4831838208 bytes, "
                                            r"more than the 2147483648 bytes allowed; refused before decompressing"):
        copi_bio.open_result(bomb)
    assert cli.main(["show", str(bomb)]) != 0
    err = capsys.readouterr().err.strip()
    assert "refused before decompressing" in err and len(err.splitlines()) == 1


def test_sweep_run_file_that_declares_3_gib_is_refused(tmp_path, small_file):
    """A run file planted in a sweep folder (same model hash, so the sweep takes it as finished) is
    refused when the sweep combines its runs."""
    sweep = Sweep(str(small_file), {"feedback.gamma": [1.0]}, [1], tmp_path / "sw")
    sweep.run(workers=1, progress=False)
    run_file = next((tmp_path / "sw" / "runs").glob("*.nc"))
    with xr.open_dataset(run_file) as ds:
        planted_hash = ds.attrs["model_hash"]
    _declaring_netcdf(run_file, 3 * GIB, planted_hash)
    with pytest.raises(InputTooLarge, match="refused before decompressing"):
        sweep.run(workers=1, progress=False)
