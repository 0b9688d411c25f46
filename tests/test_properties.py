"""Property-based tests: malformed and adversarial model files, ``--set``
strings and command lines end in a clear copi_bio error (or argparse's exit
code 2), never in a traceback from deep inside numpy/Brian2, and never leave
a file in the output folder."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import model_table

import copi_bio
from copi_bio import cli
from copi_bio.errors import CopiBioError, ModelError
from copi_bio.modelfile import apply_overrides, parse_model

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

BASE = model_table("teacher_student")
SPIKING = model_table("spiking_trace_teacher_student")

KEYS = {
    "": ["name", "description", "backend", "seed", "populations", "lateral", "plasticity", "feedback",
         "task", "protocol", "recording", "spiking", "bogus"],
    "lateral": ["rule", "tau", "tau_x", "statistics", "tau_mean", "sign", "layers", "extra"],
    "plasticity": ["rule", "tau", "init", "optimizer", "eta"],
    "feedback": ["mode", "gamma", "tau", "scale", "x"],
    "task": ["kind", "correlation", "mean", "teacher", "teacher_hidden", "noise", "test_size", "path", "y"],
    "protocol": ["dt", "t_present", "t_settle", "presentations", "trials", "eval_every", "forward_onset",
                 "anneal", "dtype", "checkpoint"],
    "recording": ["variables", "interval", "trials", "weights_every", "zzz"],
    "spiking": ["neuron", "tau_trace", "tau_mean", "rate_offset", "rate_scale", "max_rate", "eta_forward",
                "device", "threads", "nope"],
    "population": ["name", "size", "tau", "transfer", "slope", "bias", "color"],
}

numbers = st.one_of(
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.sampled_from([0, -1, 1, 2 ** 63, 10 ** 9, 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
)
unit_strings = st.one_of(
    st.builds(lambda x, u: f"{x} {u}", st.one_of(st.integers(-10 ** 6, 10 ** 6), st.floats()),
              st.sampled_from(["ms", "s", "Hz", "kHz", "us", "mV", "", "msec", "sec", "1/s", "ms ms"])),
    st.sampled_from(["", "ms", "nan ms", "inf s", "1e400 ms", "-5 ms", "0 ms", "1e-300 s", "20ms", "20 Ms"]),
)
values = st.recursive(
    st.one_of(numbers, st.booleans(), st.text(max_size=12), unit_strings,
              st.sampled_from(["copi", "foldiak", "linear", "bp", "none", "float32", "spiking", "rate",
                               "teacher_student", "digits", "mnist", "r", "u"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=8,
)


@st.composite
def mutated_tables(draw):
    data = copy.deepcopy(draw(st.sampled_from([BASE, SPIKING])))
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.sampled_from(sorted(KEYS)))
        key = draw(st.sampled_from(KEYS[table]))
        value = draw(values)
        if table == "":
            data[key] = value
        elif table == "population":
            pops = data.get("populations")
            if isinstance(pops, list) and pops and isinstance(pops[0], dict):
                pops[draw(st.integers(0, len(pops) - 1))][key] = value
        elif isinstance(data.get(table), dict):
            data[table][key] = value
        else:
            data[table] = {key: value}
    if draw(st.booleans()):
        data[draw(st.sampled_from(["populations", "task", "protocol"]))] = draw(
            st.sampled_from([[], {}, [{}], [{"name": "a", "size": 1}] * 2, "text", 3]))
    return data


@SETTINGS
@given(mutated_tables())
def test_malformed_model_tables_raise_model_error(data):
    try:
        model = parse_model(data, "fuzz.toml")
    except ModelError as err:
        assert err.key and str(err).startswith("fuzz.toml: ")
        return
    assert isinstance(model, copi_bio.Model)  # a table that happens to be valid is fine


@SETTINGS
@given(st.sampled_from(["populations[0].size", "populations[1].size", "protocol.trials",
                        "task.test_size", "task.teacher_hidden"]),
       st.integers(10 ** 5, 10 ** 15))
def test_absurd_sizes_are_refused_before_allocation(key, size):
    data = copy.deepcopy(BASE)
    if key.startswith("populations"):
        data["populations"][int(key[12])]["size"] = size
    else:
        table, name = key.split(".")
        data[table][name] = size
    try:
        parse_model(data, "big.toml")  # allocates nothing; must not hang or run out of memory
    except ModelError as err:
        assert err.key and ("at most" in err.allowed or "<=" in err.allowed or "fits" in err.allowed)
        return
    assert size < 10 ** 7, f"{key} = {size} accepted"


@pytest.mark.parametrize("mutate", [
    lambda d: apply_overrides(d, ["populations.size=3"]),
    lambda d: apply_overrides(d, ["populations.input=3"]),
    lambda d: {**d, "plasticity": 3},
    lambda d: {**d, "plasticity": [["rule", "copi"]]},
    lambda d: {**d, "plasticity": {"rule": ["copi"]}},
    lambda d: {**d, "task": {"kind": ["digits"]}},
    lambda d: {**d, "backend": ["rate"]},
    lambda d: {**d, "seed": 10 ** 400},
    lambda d: {**d, "feedback": {"gamma": 10 ** 400}},
    lambda d: {**d, "protocol": {"presentations": 10 ** 400}},
    lambda d: {**d, "populations": [{"name": "a", "size": 10 ** 9}, {"name": "b", "size": 3}]},
    lambda d: {**d, "recording": {"interval": "1 us", "variables": ["r", "u"], "trials": 32},
               "protocol": {**d["protocol"], "presentations": 100000}},
])
def test_regressions_that_used_to_leak_raw_exceptions(mutate):
    with pytest.raises(ModelError):
        parse_model(mutate(copy.deepcopy(BASE)), "case.toml")


set_keys = st.one_of(
    st.sampled_from(["protocol.dt", "protocol.presentations", "populations.input.size", "populations.x.size",
                     "populations", "populations.size", "populations.output", "name", "name.sub", "seed",
                     "task", "task.kind", "lateral.rule.deep", "spiking.device", "a..b", ".x", "x.", ""]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._[]0", max_size=20),
)
set_values = st.one_of(
    st.text(max_size=15),
    st.sampled_from(['"20 ms"', "1e400", "nan", "inf", "-inf", "[1, 2", "{a = 1}", "'x'", '"', "true",
                     "0", "-3", "99999999999999999999999", "[[1]]", "2000-01-01", "= =", ""]),
)


@SETTINGS
@given(st.lists(st.one_of(st.builds(lambda k, v: f"{k}={v}", set_keys, set_values), st.text(max_size=20)),
                min_size=1, max_size=3))
def test_random_set_overrides_raise_model_error(overrides):
    try:
        parse_model(apply_overrides(BASE, overrides), "fuzz.toml")
    except ModelError:
        pass


class _WouldRun(Exception):
    pass


argv_tokens = st.one_of(
    st.sampled_from(["run", "models", "show", "analyze", "--set", "--out", "-q", "--quiet", "--print",
                     "--model", "--checkpoint-every", "0", "-1", "5", "abc", "teacher_student", "digits_bp",
                     "nonexistent", "missing.nc", "protocol.dt=1", "protocol.presentations=-1",
                     "protocol.presentations=1", "seed=x", "=", "--", "-", "--unknown", "--help"]),
    st.text(max_size=10).filter(lambda s: "\x00" not in s),
)


@SETTINGS
@given(st.lists(argv_tokens, max_size=6))
def test_random_command_lines_end_cleanly(tmp_path_factory, monkeypatch_module, argv):
    out = tmp_path_factory.mktemp("out")
    argv = [a if a != "--out" else f"--out={out}" for a in argv]
    if "run" in argv and not any(a.startswith("--out") for a in argv):
        argv.append(f"--out={out}")
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        assert exc.code in (0, 2)
        code = exc.code
    except _WouldRun:
        code = 0
    assert code in (0, 2)
    assert list(out.iterdir()) == []  # nothing half-written (simulate is stubbed: no results either)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()

    def fake_simulate(model, *args, **kwargs):
        raise _WouldRun

    mp.setattr(cli, "simulate", fake_simulate)
    yield mp
    mp.undo()


@SETTINGS
@given(st.binary(max_size=200))
def test_garbage_result_files_give_clear_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("res") / "r.nc"
    path.write_bytes(data)
    with pytest.raises(CopiBioError):
        copi_bio.open_result(path)


@SETTINGS
@given(st.one_of(st.text(max_size=300).map(str.encode), st.binary(max_size=300),
                 st.builds(lambda a, b: a + b, st.sampled_from([s.encode() for s in (
                     'name = "x"\n[[populations]]\nname="a"\nsize=', "[protocol]\ndt = ", "seed = ")]),
                     st.binary(max_size=30))))
def test_garbage_model_files_give_clear_errors(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("m") / "m.toml"
    path.write_bytes(blob)
    try:
        copi_bio.load_model(path)
    except ModelError:
        pass
