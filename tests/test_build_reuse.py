"""One standalone build per network structure: seeds and constants reach the compiled binary as run
arguments (real Brian2, cpp_standalone)."""

from __future__ import annotations

import os
import subprocess
import sys

import brian2 as b2
import numpy as np
import pytest
import xarray as xr

from copi_bio.errors import ModelError
from copi_bio.modelfile import load_model
from copi_bio.simulation import simulate
from copi_bio.spiking.ei_network.build import random_pairs
from copi_bio.spiking.parameters import declare

SHORT = ["protocol.duration='1 s'", "protocol.eval_every='0.5 s'",
         "network.projections.I_E.plasticity.onset='0 s'"]


def test_declare_turns_scalar_constants_into_shared_variables_with_units():
    table = b2.TimedArray([1.0, 2.0], dt=b2.ms)
    eqs, values, rest = declare({"w_syn": 2 * b2.nS, "alpha": 0.25, "tau": 20 * b2.ms, "f": table, "copies": 4})
    assert eqs.splitlines() == ["w_syn : siemens (shared, constant)", "alpha : 1 (shared, constant)",
                                "tau : second (shared, constant)"]
    assert set(values) == {"w_syn", "alpha", "tau"} and rest == {"f": table, "copies": 4}


def test_random_pairs_have_a_fixed_count_and_no_autapses():
    """The synapse count, compiled into the standalone code, is the same for every seed."""
    for seed in range(3):
        pre, post = random_pairs(300, 300, 0.1, np.random.default_rng(seed), autapses=False)
        assert pre.size == round(0.1 * 300 * 299) and not np.any(pre == post)
        assert len(set(zip(pre.tolist(), post.tolist()))) == pre.size  # distinct pairs
        big_pre, big_post = random_pairs(3000, 2000, 0.01, np.random.default_rng(seed))
        assert big_pre.size == round(0.01 * 3000 * 2000) == len(set(zip(big_pre.tolist(), big_post.tolist())))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def runs(cache):
    """Five 1 s runs of spiking_ei_small in one build cache, in this order."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COPI_BIO_CACHE", str(cache))
    try:
        variants = {"first": ["seed=1"],
                    "frozen": ["seed=1", "network.projections.I_E.plasticity.onset='5 s'"],
                    "other": ["seed=1", "network.projections.E_E.weight='0.4 nS'",
                              "network.common_input.std='60 pA'"],
                    "reseeded": ["seed=2"],
                    "again": ["seed=1"]}
        return {k: simulate(load_model("spiking_ei_small", SHORT + v)) for k, v in variants.items()}
    finally:
        mp.undo()


def test_only_the_first_run_of_a_structure_compiles(runs):
    assert runs["first"].attrs["standalone_compiled_files"] > 10
    for name in ("frozen", "other", "reseeded", "again"):
        assert runs[name].attrs["standalone_compiled_files"] == 0, name
        assert runs[name].attrs["standalone_dir"] == runs["first"].attrs["standalone_dir"]


def test_copi_bio_run_in_another_process_reuses_the_build(runs, cache, tmp_path):
    """The generated code does not depend on the process (Brian2's set orders, object names)."""
    env = {**os.environ, "COPI_BIO_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "copi_bio.cli", "run", "spiking_ei_small", "-q", "--out", str(tmp_path),
           "--set", "seed=3"]
    for override in SHORT:
        cmd += ["--set", override]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    ds = xr.open_dataset(next(tmp_path.glob("*.nc")))
    assert ds.attrs["standalone_compiled_files"] == 0 and ds.attrs["status"] == "complete"


def test_run_arguments_reach_the_binary(runs):
    """Plasticity from 5 s on keeps the I->E weights of a 1 s run at their initial 2.5 nS, where
    plasticity from 0 s moves them; another E->E weight and input strength change the activity."""
    frozen = runs["frozen"]["w_I_E"].values
    np.testing.assert_allclose(frozen, 2.5, rtol=1e-12)
    assert np.abs(runs["first"]["w_I_E"].values[-1] - 2.5).max() > 0.01
    rate = {k: float(ds["mean_rate_E"].values[-1]) for k, ds in runs.items()}
    assert rate["other"] != pytest.approx(rate["first"], rel=1e-3)


def test_the_same_seed_repeats_a_run_from_the_reused_build(runs):
    """The E/I network draws its randomness in numpy (wiring, initial potentials, shared input): the
    same seed repeats the run bit for bit, another seed rewires it."""
    first, again, other = runs["first"], runs["again"], runs["reseeded"]
    np.testing.assert_array_equal(first["w_I_E"].values, again["w_I_E"].values)
    assert first.attrs["model_hash"] == again.attrs["model_hash"]
    spikes = [v for v in first.data_vars if v.startswith("spike_time")]
    assert spikes and all(np.array_equal(first[v].values, again[v].values) for v in spikes)
    assert not np.array_equal(first["synapse_pre_I_E"].values, other["synapse_pre_I_E"].values)


def test_the_seed_reaches_the_binarys_random_generators(tmp_path, monkeypatch):
    """The spike-driven chain draws in the binary (Poisson inputs fire at rand() < rate dt, LIF noise
    from randn()): seeds 1, 1, 2 from one build give the same spikes twice, then other spikes. A seed
    the 32-bit run argument cannot hold is refused before anything compiles."""
    monkeypatch.setenv("COPI_BIO_CACHE", str(tmp_path))
    short = ["protocol.presentations=20", "protocol.eval_every=10"]
    out = [simulate(load_model("spiking_lif_teacher_student", short + [f"seed={seed}"])) for seed in (1, 1, 2)]
    assert [ds.attrs["standalone_compiled_files"] > 0 for ds in out] == [True, False, False]
    times = [ds["spike_time_input"].values for ds in out]
    np.testing.assert_array_equal(times[0], times[1])
    assert not np.array_equal(times[0], times[2])
    with pytest.raises(ModelError, match=r"seed = 2147483648 is invalid: an integer in \[0, 2147483392\)"):
        simulate(load_model("spiking_lif_teacher_student", short + ["seed=2147483648"]))
