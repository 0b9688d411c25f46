"""Models from Python: the spec classes validate as model files do, and replace() as --set does."""

from __future__ import annotations

import copy
import doctest
import tomllib

import numpy as np
import pytest

import copi_bio
from copi_bio.spec import Stimulus
from conftest import MODELS, model_table, override_error
from copi_bio import ModelError
from copi_bio.modelfile import dumps_model, parse_model

FORWARD_RULES = {"copi": copi_bio.CopiRule, "delta": copi_bio.DeltaRule, "none": copi_bio.NoPlasticity}
TASKS = {"teacher_student": copi_bio.TeacherStudentTask, "digits": copi_bio.DigitsTask,
         "mnist": copi_bio.MnistTask, "decorrelation": copi_bio.DecorrelationTask}
NETWORK_RULES = {"covariance": copi_bio.CovarianceRule, "vogels_sprekeler": copi_bio.VogelsSprekelerRule,
                 "copi": copi_bio.CopiLateralRule}
CHAIN_PARTS = {"lateral": copi_bio.LateralInhibition, "feedback": copi_bio.FeedbackPathway,
               "protocol": copi_bio.Protocol, "recording": copi_bio.Recording, "spiking": copi_bio.SpikingParams}
NETWORK_PARTS = {"protocol": copi_bio.NetworkProtocol, "recording": copi_bio.NetworkRecording,
                 "spiking": copi_bio.SpikingParams}
TOP_VALUES = ("name", "description", "backend", "seed")


def selected(classes: dict, table: dict, key: str):
    """The spec object of a table whose ``key`` ("rule", "kind") selects the class."""
    table = dict(table)
    return classes[table.pop(key)](**table)


def build_in_python(table: dict):
    """Build a parsed model file through the public constructors, one call per table (never from_mapping).
    The ``[about]`` table describes the file, not the model, and is left out."""
    table = {k: v for k, v in table.items() if k != "about"}
    model = {k: table[k] for k in TOP_VALUES if k in table}
    if "network" in table:
        net = table["network"]
        projections = [copi_bio.Projection(**{**p, **({"plasticity": selected(NETWORK_RULES, p["plasticity"], "rule")}
                                                       if "plasticity" in p else {})})
                       for p in net.get("projections", [])]
        common = {"common_input": copi_bio.CommonInput(**net["common_input"])} if "common_input" in net else {}
        if "stimulus" in net:
            common["stimulus"] = Stimulus(**net["stimulus"])
        model["network"] = copi_bio.NetworkSpec(
            populations=[copi_bio.NetworkPopulation(**p) for p in net["populations"]], projections=projections,
            **common)
        parts, cls = NETWORK_PARTS, copi_bio.NetworkModel
    else:
        model["populations"] = [copi_bio.Population(**p) for p in table["populations"]]
        if "plasticity" in table:
            model["plasticity"] = selected(FORWARD_RULES, {"rule": "copi", **table["plasticity"]}, "rule")
        model["task"] = selected(TASKS, table["task"], "kind")
        parts, cls = CHAIN_PARTS, copi_bio.Model
    model.update({key: part(**table[key]) for key, part in parts.items() if key in table})
    assert set(model) == set(table)  # every table of the file went through a constructor
    return cls(**model)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_model_built_in_python_equals_the_file(path):
    table = tomllib.loads(path.read_text())
    built = build_in_python(table)
    loaded = copi_bio.load_model(path)
    assert type(built) is type(loaded)
    assert built == loaded
    assert built.source == "<memory>" and loaded.source == str(path)  # where it came from is not compared
    assert dumps_model(built) == dumps_model(loaded)  # same resolved file, so the same model_hash
    assert parse_model(tomllib.loads(dumps_model(built))) == built


def test_digits_bp_written_by_hand():
    """The README / docs example: values as in the model file, checked by the same code."""
    hidden = copi_bio.Population(name="hidden", size=100, tau="1 ms", transfer="leaky_relu", slope=0.1)
    assert hidden.tau == pytest.approx(1e-3, rel=1e-15)  # stored in SI units, as from the file
    model = copi_bio.Model(
        name="digits_bp", seed=1,
        description="8x8 digits, 64-100-10, COPI with backprop-aligned perturbations (paper setting)",
        populations=[copi_bio.Population(name="input", size=64), hidden,
                     copi_bio.Population(name="output", size=10, tau="1 ms", transfer="leaky_relu", slope=0.1)],
        lateral=copi_bio.LateralInhibition(rule="copi", tau="5 s", statistics="raw"),
        plasticity=copi_bio.CopiRule(tau="5 s"),
        feedback=copi_bio.FeedbackPathway(mode="bp", perturbation="prediction", gamma=1000.0),
        task=copi_bio.DigitsTask(test_fraction=0.25),
        protocol=copi_bio.Protocol(dt="1 ms", t_present="10 ms", t_settle="5 ms", presentations=810, trials=50,
                                   eval_every=27, forward_onset=27),
        recording=copi_bio.Recording(variables=[], trials=0))
    assert model == copi_bio.load_model("digits_bp")
    assert model.protocol.steps_per_presentation == 10 and model.plasticity.tau == 5.0
    # omitted parts take the model file's defaults, resolved as for a file
    small = copi_bio.Model(populations=[copi_bio.Population(name="input", size=4),
                                        copi_bio.Population(name="output", size=3)],
                           task=copi_bio.TeacherStudentTask(), name="small")
    assert small == parse_model({"name": "small", "populations": [{"name": "input", "size": 4},
                                                                  {"name": "output", "size": 3}],
                                 "task": {"kind": "teacher_student"}})
    assert small.feedback.perturbation == "prediction" and small.lateral.tau == 0.5


def test_docstring_examples():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    objects = [copi_bio.Model, copi_bio.Population, copi_bio.CopiRule, copi_bio.spec.Spec]
    tests = [t for obj in objects for t in finder.find(obj, globs={}) if t.examples]
    assert len(tests) == 4
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


# ----------------------------------------------------- same errors both ways
def toml_error(table: dict) -> ModelError:
    with pytest.raises(ModelError) as info:
        parse_model(table)
    return info.value


def python_error(build) -> ModelError:
    with pytest.raises(ModelError) as info:
        build()
    return info.value


def same(a: ModelError, b: ModelError) -> None:
    assert (a.key, a.value, a.allowed) == (b.key, b.value, b.allowed), (str(a), str(b))


@pytest.mark.parametrize("table,key,value,build", [
    ("plasticity", "tua", "5 s", lambda: copi_bio.CopiRule(tua="5 s")),                       # unknown key
    ("protocol", "dt", "1 Hz", lambda: copi_bio.Protocol(dt="1 Hz")),                          # wrong unit
    ("protocol", "dt", 0.001, lambda: copi_bio.Protocol(dt=0.001)),                            # SI float: refused
    ("lateral", "tau", "-5 ms", lambda: copi_bio.LateralInhibition(tau="-5 ms")),              # negative tau
    ("feedback", "gamma", "4", lambda: copi_bio.FeedbackPathway(gamma="4")),                   # wrong type
    ("feedback", "mode", "magic", lambda: copi_bio.FeedbackPathway(mode="magic")),             # unknown choice
    ("task", "test_fraction", 0.95, lambda: copi_bio.DigitsTask(test_fraction=0.95)),          # out of range
    ("recording", "variables", ["v"], lambda: copi_bio.Recording(variables=["v"])),
    ("spiking", "neuron", "poisson", lambda: copi_bio.SpikingParams(neuron="poisson")),        # renamed value
])
def test_key_errors_are_the_model_files(table, key, value, build):
    data = model_table("digits_bp")
    data.setdefault(table, {})[key] = value
    err = python_error(build)
    same(err, toml_error(data))
    assert str(err) == f"{err.key} = {value!r} is invalid: {err.allowed}"  # built in Python: no file named


@pytest.mark.parametrize("change", [
    {"plasticity": {"rule": "copi", "tau": "10 ms"}},   # stability criterion S
    {"lateral": {"rule": "copi", "tau": "20 ms"}},      # stability criterion R (100 inputs of 'output')
    {"name": "../escape"},                              # a name that would leave the output folder
    {"protocol": {"dt": "1 ms", "t_present": "10.5 ms"}},
])
def test_model_level_errors_are_the_model_files(change):
    data = {**model_table("digits_bp"), **change}
    err = python_error(lambda: build_in_python(data))
    assert str(err) == str(toml_error(data))  # both validated by parse_model: identical text


def test_entries_of_arrays_are_named_by_name():
    """A population built alone has no index yet; its keys read as --set / replace() address them."""
    data = model_table("digits_bp")
    data["populations"][1]["tau"] = "-1 ms"
    toml = toml_error(data)
    err = python_error(lambda: copi_bio.Population(**data["populations"][1]))
    assert (toml.key, err.key) == ("populations[1].tau", "populations.hidden.tau")
    assert (err.value, err.allowed) == (toml.value, toml.allowed)
    net = model_table("spiking_ei_small")
    net["network"]["populations"][0]["C"] = 200.0
    err = python_error(lambda: copi_bio.NetworkPopulation(**net["network"]["populations"][0]))
    assert err.key == "network.populations.E.C" and "capacitance unit" in err.allowed
    err = python_error(lambda: copi_bio.Population(name=3, size=2))  # no name to address it by
    toml = toml_error({**data, "populations": [{"name": 3, "size": 2}]})
    assert (toml.key, err.key) == ("populations[0].name", "populations.name") and err.allowed == toml.allowed
    err = python_error(lambda: copi_bio.Population(name="x"))
    assert err.key == "populations.x.size" and "required" in err.allowed


def test_network_cross_checks_are_the_model_files():
    data = model_table("spiking_ei_small")
    data["protocol"]["dt"] = "2 ms"  # more than a fifth of tau_exc = 5 ms
    assert str(python_error(lambda: build_in_python(data))) == str(toml_error(data))
    data = model_table("spiking_ei_small")
    data["network"]["projections"][3]["weight"] = "200 nS"  # above the rule's w_max
    same(python_error(lambda: build_in_python(data)), toml_error(data))  # raised by NetworkSpec(...) itself


def test_objects_are_checked_where_they_are_used():
    pops = [copi_bio.Population(name="input", size=4), copi_bio.Population(name="output", size=3)]
    err = python_error(lambda: copi_bio.Model(populations=pops, task=copi_bio.TeacherStudentTask(),
                                              lateral=copi_bio.CopiRule()))
    assert err.key == "lateral" and "CopiRule is for [plasticity]" in err.allowed
    err = python_error(lambda: copi_bio.Model(populations=pops, task=copi_bio.TeacherStudentTask(),
                                              network=copi_bio.load_model("spiking_ei_small").network))
    assert err.key == "network" and "NetworkModel" in err.allowed
    with pytest.raises(TypeError, match="keyword arguments"):
        copi_bio.Population("input", 4)
    # numbers from numpy are numbers; parts may also be given as model-file tables
    model = copi_bio.Model(populations=[{"name": "input", "size": np.int64(4)}, pops[1]],
                           task={"kind": "teacher_student", "correlation": np.float32(0.5)})
    assert type(model.populations[0].size) is int and model.task.correlation == 0.5


# ------------------------------------------------------------------ replace
def set_error(overrides: list[str]) -> ModelError:
    return override_error("digits_bp", overrides)


def test_replace_returns_a_new_validated_model():
    model = copi_bio.load_model("digits_bp")
    before = copy.deepcopy(model)
    slower = model.replace("plasticity.tau", "4 s")
    assert slower.plasticity.tau == 4.0 and model.plasticity.tau == 5.0
    assert model == before and slower != model
    assert slower == copi_bio.load_model("digits_bp", ['plasticity.tau="4 s"'])
    assert slower.source == model.source
    many = model.replace({"lateral.tau": "2 s", "plasticity.tau": "2 s", "populations.hidden.size": 50,
                          "task": copi_bio.DigitsTask(test_fraction=0.3)})
    assert many == copi_bio.load_model("digits_bp", ['lateral.tau="2 s"', 'plasticity.tau="2 s"',
                                                     "populations.hidden.size=50", "task.test_fraction=0.3"])
    hidden = model.populations[1].replace("tau", "2 ms")
    assert hidden.tau == 2e-3 and model.populations[1].tau == 1e-3 and hidden.name == "hidden"


@pytest.mark.parametrize("key,value,override", [
    ("protocol.presentatons", 3, "protocol.presentatons=3"),          # unknown key
    ("populations.hid.size", 3, "populations.hid.size=3"),            # unknown population
    ("plasticity.tau", 2.0, "plasticity.tau=2.0"),                    # a time without unit
    ("plasticity.tau", "-2 s", "plasticity.tau=-2 s"),                # negative time constant
    ("plasticity.tau", "10 ms", 'plasticity.tau="10 ms"'),            # stability criterion S
    ("feedback.gamma.x", 1, "feedback.gamma.x=1"),                    # a key below a value
])
def test_replace_errors_are_those_of_set(key, value, override):
    err = python_error(lambda: copi_bio.load_model("digits_bp").replace(key, value))
    assert str(err) == str(set_error([override]))


def test_replace_of_networks_and_bad_calls():
    net = copi_bio.load_model("spiking_ei_small")
    changed = net.replace("network.projections.I_E.plasticity.eta", 0.1)
    assert changed == copi_bio.load_model("spiking_ei_small", ["network.projections.I_E.plasticity.eta=0.1"])
    assert net.network.projections[3].plasticity.eta == 0.05
    err = python_error(lambda: net.replace("protocol.dt", "2 ms"))
    assert err.key == "protocol.dt" and "tau_exc" in err.allowed
    assert python_error(lambda: net.replace("a..b", 1)).allowed == "a dotted key such as feedback.gamma"
    with pytest.raises(TypeError):
        net.replace("protocol.dt")
