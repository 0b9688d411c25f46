"""Model files: validation errors name the key and value; overrides; round trips."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

import copi_bio
from conftest import MODELS, model_table, small_table
from copi_bio import ModelError
from copi_bio.modelfile import apply_overrides, dumps_model, parse_model, parse_override, read_model_table


def expect_error(table: dict, key: str, value_text: str, *, allowed: str = "") -> ModelError:
    with pytest.raises(ModelError) as info:
        copi_bio.parse_model(table)
    err = info.value
    msg = str(err)
    assert err.key == key, msg
    assert key in msg and value_text in msg, msg
    if allowed:
        assert allowed in msg, msg
    return err


def test_library_models_parse_and_round_trip():
    for path in sorted(MODELS.glob("*.toml")):
        model = copi_bio.load_model(path)
        again = copi_bio.parse_model(tomllib.loads(dumps_model(model)), str(path))
        assert again == model, path.name  # frozen dataclasses compare by value


def test_units_are_converted_to_si():
    model = copi_bio.load_model(MODELS / "teacher_student.toml")
    assert model.protocol.dt == pytest.approx(1e-3, rel=1e-15)
    assert model.protocol.t_present == pytest.approx(20e-3, rel=1e-15)
    assert model.populations[1].tau == pytest.approx(1e-3, rel=1e-15)
    assert model.protocol.steps_per_presentation == 20
    assert model.protocol.settle_steps == 10
    table = small_table(protocol={"dt": "500 us", "t_present": "0.01 s"})
    proto = copi_bio.parse_model(table).protocol
    assert proto.dt == pytest.approx(5e-4) and proto.steps_per_presentation == 20


def test_unknown_key():
    table = model_table()
    table["protocol"]["presentaions"] = 10
    expect_error(table, "protocol.presentaions", "10", allowed="presentations")
    table = model_table()
    table["bogus"] = 1
    expect_error(table, "bogus", "1")


@pytest.mark.parametrize("section,key,value,name,allowed", [
    ("protocol", "presentations", "many", "protocol.presentations", "integer"),
    ("feedback", "gamma", "4", "feedback.gamma", "number"),
    (("populations", 1), "size", 2.5, "populations[1].size", ""),
])
def test_wrong_type(section, key, value, name, allowed):
    table = model_table()
    node = table[section[0]][section[1]] if isinstance(section, tuple) else table[section]
    node[key] = value
    expect_error(table, name, repr(value), allowed=allowed)


@pytest.mark.parametrize("value", ["-5 ms", "0 ms", "0 s"])
def test_nonpositive_time_constant(value):
    table = model_table()
    table["populations"][1]["tau"] = value
    expect_error(table, "populations[1].tau", value, allowed="positive")
    table = model_table()
    table["plasticity"]["tau"] = value
    expect_error(table, "plasticity.tau", value, allowed="positive")


@pytest.mark.parametrize("key,value", [("dt", 1), ("dt", 0.001), ("t_present", "20"), ("dt", "1 Hz")])
def test_plain_number_or_wrong_unit_where_unit_required(key, value):
    table = model_table()
    table["protocol"][key] = value
    expect_error(table, f"protocol.{key}", repr(value), allowed="time unit")


def test_dt_larger_than_neuronal_tau():
    table = model_table()
    table["protocol"]["dt"] = "4 ms"
    table["protocol"]["t_settle"] = "12 ms"
    table["feedback"]["perturbation"] = "nudging"  # the somata feed back on themselves
    err = expect_error(table, "protocol.dt", "4 ms")
    assert "populations[1].tau" in str(err)
    table["feedback"]["perturbation"] = "prediction"  # a sweep without loops: dt > tau_u = 2 ms is fine
    table["lateral"]["tau"] = table["plasticity"]["tau"] = "200 ms"  # criterion R: 4 ms * 30 inputs
    assert copi_bio.parse_model(table).protocol.dt == 4e-3
    table = small_table(lateral={"rule": "foldiak", "tau_x": "0.5 ms"})
    err = expect_error(table, "protocol.dt", "1 ms")
    assert "lateral.tau_x" in str(err)
    table = small_table(lateral={"rule": "foldiak", "tau_x": "2 ms"})
    err = expect_error(table, "protocol.dt", "1 ms")
    assert "tau_x / 4" in str(err)  # explicit lateral inhibition needs dt <= tau_x / 4
    table = small_table(feedback={"tau": "0.5 ms", "perturbation": "nudging"})
    err = expect_error(table, "protocol.dt", "1 ms")
    assert "feedback.tau" in str(err)
    copi_bio.parse_model(small_table(feedback={"tau": "0.5 ms", "perturbation": "prediction"}))
    # dt equal to the smallest tau is allowed (exponential Euler is stable there)
    copi_bio.parse_model(small_table(feedback={"tau": "1 ms"}))


def test_plasticity_too_fast_for_dt():
    table = model_table()
    table["plasticity"]["tau"] = "5 ms"
    expect_error(table, "plasticity.tau", "5 ms", allowed="10 dt")


def test_t_present_not_a_multiple_of_dt():
    table = model_table()
    table["protocol"]["t_present"] = "20.5 ms"
    expect_error(table, "protocol.t_present", "20.5 ms", allowed="multiple of dt")
    table = model_table()
    table["protocol"]["t_settle"] = "20 ms"
    expect_error(table, "protocol.t_settle", "20 ms")


def test_recording_interval_not_a_multiple_of_dt():
    table = model_table()
    table["recording"]["interval"] = "1.5 ms"
    expect_error(table, "recording.interval", "1.5 ms")


@pytest.mark.parametrize("section,key,value", [
    ("plasticity", "rule", "hebb"), ("lateral", "rule", "oja"), ("feedback", "mode", "magic"),
    ("task", "kind", "cifar"), ("populations", "transfer", "softplus"),
])
def test_unknown_choice(section, key, value):
    table = model_table()
    if section == "populations":
        table["populations"][1][key] = value
        dotted = f"populations[1].{key}"
    else:
        table[section][key] = value
        dotted = f"{section}.{key}"
    expect_error(table, dotted, repr(value), allowed="one of")


def test_foldiak_requires_tau_x():
    expect_error(small_table(lateral={"rule": "foldiak"}), "lateral.tau_x", "None")


def test_task_sizes_checked():
    table = model_table("digits_bp")
    table["populations"][0]["size"] = 63
    expect_error(table, "populations[0].size", "63", allowed="64")


def test_missing_mnist_path_fails_when_task_is_built(tmp_path):
    missing = tmp_path / "no_such_mnist"
    table = small_table(
        populations=[{"name": "input", "size": 784}, {"name": "output", "size": 10}],
        lateral={"rule": "none"}, feedback={"perturbation": "prediction"},
        task={"kind": "mnist", "path": str(missing)}, protocol={"presentations": 1})
    model = copi_bio.parse_model(table)  # paths are checked when the data is read
    with pytest.raises(ModelError) as info:
        copi_bio.simulate(model)
    assert info.value.key == "task.path"
    assert str(missing) in str(info.value)


def test_invalid_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[protocol\ndt = "1 ms"\n')
    with pytest.raises(ModelError) as info:
        copi_bio.load_model(bad)
    assert "valid TOML" in str(info.value) and str(bad) in str(info.value)


def test_unknown_model_name():
    with pytest.raises(ModelError) as info:
        copi_bio.load_model("no_such_model_xyz")
    assert str(info.value) == ("MODEL = 'no_such_model_xyz' is invalid: a model file path or a library model name "
                               "(copi-bio models lists them)")  # no close name to suggest


def test_error_names_source_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text((MODELS / "teacher_student.toml").read_text().replace('"100 ms"', '"-5 ms"', 1))
    with pytest.raises(ModelError) as info:
        copi_bio.load_model(path)
    assert str(path) in str(info.value) and "lateral.tau" in str(info.value) and "-5 ms" in str(info.value)


# ----------------------------------------------------------------- overrides
@pytest.mark.parametrize("text,parts,value", [
    ("feedback.gamma=2.5", ["feedback", "gamma"], 2.5),
    ("protocol.presentations = 50", ["protocol", "presentations"], 50),
    ("task.teacher=tanh", ["task", "teacher"], "tanh"),          # bare word -> string
    ('protocol.dt="0.5 ms"', ["protocol", "dt"], "0.5 ms"),
    ("recording.variables=['r', 'x']", ["recording", "variables"], ["r", "x"]),
    ("lateral.sign=a=b", ["lateral", "sign"], "a=b"),            # split at the first '='
    ("populations.output.bias=true", ["populations", "output", "bias"], True),
])
def test_parse_override(text, parts, value):
    assert parse_override(text) == (parts, value)


@pytest.mark.parametrize("text", ["noequals", "=3", "a..b=1", ".a=1"])
def test_bad_override_syntax(text):
    with pytest.raises(ModelError) as info:
        parse_override(text)
    assert info.value.key == "--set" and text in str(info.value)


def test_overrides_applied_by_load_model():
    model = copi_bio.load_model("teacher_student", [
        "protocol.presentations=50", "populations.output.size=7", 'protocol.dt="0.5 ms"',
        "lateral.rule=foldiak", 'lateral.tau_x="2 ms"'])
    assert model.protocol.presentations == 50
    assert model.populations[1].size == 7
    assert model.protocol.dt == pytest.approx(5e-4)
    assert model.lateral.rule == "foldiak" and model.lateral.tau_x == pytest.approx(2e-3)
    raw = model_table()
    apply_overrides(raw, ["protocol.presentations=5"])
    assert raw["protocol"]["presentations"] == 2000  # the input table is not modified


def test_override_errors_name_the_key():
    with pytest.raises(ModelError) as info:
        copi_bio.load_model("teacher_student", ["populations.hidden.size=3"])
    assert "populations.hidden" in str(info.value) and "output" in str(info.value)
    with pytest.raises(ModelError) as info:
        copi_bio.load_model("teacher_student", ["protocol.presentatons=3"])
    assert info.value.key == "protocol.presentatons"
    with pytest.raises(ModelError) as info:
        copi_bio.load_model("teacher_student", ["protocol.dt=2"])
    assert info.value.key == "protocol.dt" and "unit" in str(info.value)


# --------------------------------------------------------------- MNIST input
def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """IDX format: magic 0x0000 0x08 (unsigned byte) ndim, big-endian dims, data."""
    import gzip
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def fake_mnist(rng, n_train=40, n_test=12):
    x_tr = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    x_tr[0, 0, 0], x_te[0, 0, 0] = 255, 0  # make the scale unambiguous
    return x_tr, rng.integers(0, 10, n_train), x_te, rng.integers(0, 10, n_test)


def write_fake_mnist_folder(folder, arrays, compress_train=True):
    folder.mkdir()
    x_tr, y_tr, x_te, y_te = arrays
    write_idx(folder / "train-images-idx3-ubyte", x_tr, compress_train)
    write_idx(folder / "train-labels-idx1-ubyte", y_tr, compress_train)
    write_idx(folder / "t10k-images-idx3-ubyte", x_te)
    write_idx(folder / "t10k-labels-idx1-ubyte", y_te)


def check_loaded(loaded, arrays):
    x_tr, y_tr, x_te, y_te = loaded
    assert x_tr.shape == (len(arrays[0]), 784) and x_te.shape == (len(arrays[2]), 784)
    assert x_tr.dtype == np.float64
    # pixels scaled by exactly 1/255 and flattened row-major
    np.testing.assert_array_equal(x_tr, arrays[0].reshape(len(x_tr), -1) / 255.0)
    np.testing.assert_array_equal(x_te, arrays[2].reshape(len(x_te), -1) / 255.0)
    assert x_tr.max() == 1.0 and x_tr.min() >= 0.0
    np.testing.assert_array_equal(y_tr, arrays[1])
    np.testing.assert_array_equal(y_te, arrays[3])


def test_load_mnist_idx_folder(tmp_path, rng):
    from copi_bio.tasks import load_mnist
    arrays = fake_mnist(rng)
    write_fake_mnist_folder(tmp_path / "mnist", arrays)
    check_loaded(load_mnist(tmp_path / "mnist"), arrays)


def test_load_mnist_npz(tmp_path, rng):
    from copi_bio.tasks import load_mnist
    arrays = fake_mnist(rng)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=arrays[0], y_train=arrays[1], x_test=arrays[2], y_test=arrays[3])
    check_loaded(load_mnist(path), arrays)
    np.savez(tmp_path / "partial.npz", x_train=arrays[0])
    with pytest.raises(ModelError) as info:
        load_mnist(tmp_path / "partial.npz")
    assert "y_train" in str(info.value)


def test_load_mnist_rejects_bad_files(tmp_path, rng):
    from copi_bio.tasks import load_mnist
    arrays = fake_mnist(rng)
    write_fake_mnist_folder(tmp_path / "mnist", arrays)
    # wrong magic (0x0D = float IDX) and truncated data
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(ModelError, match="IDX"):
        load_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", arrays[3])
    raw = (tmp_path / "mnist" / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(ModelError, match="values"):
        load_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(ModelError, match="t10k-images"):
        load_mnist(tmp_path / "mnist")


def test_mnist_task_runs_on_fake_data(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_fake_mnist_folder(tmp_path / "mnist", arrays)
    table = small_table(
        populations=[{"name": "input", "size": 784}, {"name": "output", "size": 10}],
        lateral={"rule": "none"}, feedback={"perturbation": "prediction"},
        task={"kind": "mnist", "path": str(tmp_path / "mnist"), "train_size": 20},
        protocol={"presentations": 3, "eval_every": 3, "trials": 4},
        recording={"variables": ["r"], "trials": 1})
    ds = copi_bio.simulate(copi_bio.parse_model(table))
    assert ds.attrs["n_test"] == 12
    # recorded input rates are training images (from the first 20) scaled to [0, 1]
    z = ds["r_input"].values[0, 0]
    train = arrays[0][:20].reshape(20, -1) / 255.0
    assert np.min(np.abs(train - z).max(axis=1)) == 0.0
    assert 0.0 <= ds["test_accuracy"].values[-1] <= 1.0


def test_every_library_model_says_what_it_is_for_and_what_it_measured():
    """The [about] table of every shipped model file (copi_bio.library): family, purpose, result, wall
    time; superseded files name their successor, which exists; the table never changes the model."""
    from copi_bio.library import FAMILIES
    from copi_bio.modelfile import available_models, model_about

    library = available_models()
    assert len(library) >= 24
    for name, path in library.items():
        about = model_about(path)
        assert about is not None, name
        assert about.family in FAMILIES and about.purpose and about.result and about.wall_time > 0, name
        assert about.status == "current" or about.replaced_by in library, name
    data, path = read_model_table("digits_bp")
    changed = {**data, "about": {**data["about"], "result": "something else"}}
    assert parse_model(changed, str(path)) == parse_model(data, str(path))


def test_a_bad_about_table_names_the_key():
    data, path = read_model_table("digits_bp")
    with pytest.raises(ModelError) as info:
        parse_model({**data, "about": {**data["about"], "family": "vision"}}, str(path))
    assert info.value.key == "about.family" and "one of teacher_student, digits" in info.value.allowed
    with pytest.raises(ModelError) as info:
        parse_model({**data, "about": {**data["about"], "status": "superseded"}}, str(path))
    assert info.value.key == "about.replaced_by"
