"""Benchmark of the 10 000-neuron E/I network with plastic inhibition.

The network of ``models/spiking_ei_decorrelation.toml`` (8000 excitatory and
2000 inhibitory conductance-based LIF neurons as NEST's ``iaf_cond_exp``,
connection probability 0.02, a shared Ornstein-Uhlenbeck input current, I->E
synapses with the Vogels-Sprekeler rule from t = 5 s, dt = 0.1 ms) is
simulated for ``--seconds`` of biological time by

(a) copi_bio from its model file (Brian2 ``cpp_standalone`` into a fresh
    build folder, so code generation and compilation count);
(b) a plain hand-written Brian2 script of the same network (also
    ``cpp_standalone`` into a fresh folder);
(c) the same network written directly in NEST (``iaf_cond_exp``,
    ``vogels_sprekeler_synapse``), if NEST is installed
    (``pip install ".[nest]"``); skipped with a message otherwise.

Each runs in its own process (so that peak memory, the Brian2 device and the
NEST kernel are its own) with ``--threads`` threads; copi_bio and plain
Brian2 run ``--repeats`` times, interleaved, and the fastest total of each
is shown (NEST, which takes minutes, runs once). Printed for each: the
integration method, total wall time as a user sees it (process start to
result, imports excluded), simulation-only time, synaptic events per second
(presynaptic spikes x their synapses / simulation time), peak resident memory
of the process and its children, mean E and I rates over the run; then
``overhead over plain Brian2: Y`` (copi_bio total / plain Brian2 total) and
``ratio to NEST: X`` (copi_bio total / NEST total).

Usage::

    python benchmarks/bench_spiking_ei.py [--seconds 10] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = "spiking_ei_decorrelation"

# the network, as in the model file, for the hand-written versions
N_E, N_I, P = 8000, 2000, 0.02
NEURON = dict(C_m=200.0, g_L=10.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, t_ref=5.0, E_ex=0.0, E_in=-80.0,
              tau_syn_ex=5.0, tau_syn_in=10.0, I_e=200.0)  # pF, nS, mV, ms, pA
W_EXC, W_II, W_IE0 = 0.3, 3.0, 2.55  # nS
STDP = dict(tau=20.0, eta=0.05, target_rate=3.0, w_max=100.0, onset=5.0)  # ms, nS, Hz, nS, s
COMMON = dict(std=55.0, tau=100.0, resolution=1.0)  # pA, ms, ms
DT = 0.1  # ms


def ou_trace(seconds: float, seed: int) -> np.ndarray:
    """Samples (pA) of the shared Ornstein-Uhlenbeck current every ``COMMON["resolution"]`` ms."""
    rng = np.random.default_rng(seed)
    n = int(np.ceil(seconds * 1e3 / COMMON["resolution"])) + 1
    a = np.exp(-COMMON["resolution"] / COMMON["tau"])
    c = np.empty(n)
    c[0] = rng.standard_normal()
    kicks = rng.standard_normal(n) * np.sqrt(1 - a * a)
    for k in range(1, n):
        c[k] = a * c[k - 1] + kicks[k]
    return COMMON["std"] * c


def synaptic_events(rate_e: float, rate_i: float, seconds: float) -> float:
    """Expected presynaptic spikes x outgoing synapses over the run (fan-out p * N_post)."""
    fan_out = P * (N_E + N_I)
    return (rate_e * N_E + rate_i * N_I) * seconds * fan_out


def run_copi(seconds: float, threads: int, build: str) -> dict:
    """(a) copi_bio from its model file."""
    sys.path.insert(0, str(ROOT))
    import copi_bio
    import copi_bio.spiking  # noqa: F401  (imports Brian2, as the plain script does before its clock starts)
    t0 = time.perf_counter()
    model = copi_bio.load_model(MODEL, [f"protocol.duration='{seconds} s'", f"spiking.threads={threads}",
                                        "spiking.device=cpp_standalone", f"spiking.build_dir='{build}'",
                                        f"protocol.eval_every='{seconds / 2} s'"])
    ds = copi_bio.simulate(model)
    total = time.perf_counter() - t0
    weights = {p: (ds[f"mean_rate_{p}"].values.mean()) for p in ("E", "I")}
    return {"method": f"Brian2 cpp_standalone, {ds.attrs['integration_method']} (dt 0.1 ms)", "total": total,
            "sim": float(ds.attrs["standalone_binary_time_s"]), "rate_E": float(weights["E"]),
            "rate_I": float(weights["I"]), "synapses": int(ds.attrs["synapses"])}


def run_brian2(seconds: float, threads: int, build: str) -> dict:
    """(b) The same network as a plain Brian2 script."""
    import brian2 as b2
    from brian2 import Hz, mV, ms, nS, pA, pF, second

    t0 = time.perf_counter()
    b2.set_device("cpp_standalone", directory=build, build_on_run=True)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.defaultclock.dt = DT * ms
    b2.seed(1)
    common = b2.TimedArray(ou_trace(seconds, 1) * pA, dt=COMMON["resolution"] * ms)
    eqs = """
dv/dt = (gL * (EL - v) + ge * (Ee - v) + gi * (Ei - v) + Ibg + common(t)) / Cm : volt (unless refractory)
dge/dt = -ge / tau_e : siemens
dgi/dt = -gi / tau_i : siemens
"""
    ns = dict(gL=10 * nS, EL=-60 * mV, Ee=0 * mV, Ei=-80 * mV, Cm=200 * pF, Ibg=200 * pA, tau_e=5 * ms,
              tau_i=10 * ms, common=common)
    groups = []
    for n in (N_E, N_I):
        g = b2.NeuronGroup(n, eqs, threshold="v > -50*mV", reset="v = -60*mV", refractory=5 * ms,
                           method="euler", namespace=ns)
        g.v = "-60*mV + rand() * 10*mV"
        groups.append(g)
    exc, inh = groups
    ee = b2.Synapses(exc, exc, on_pre="ge_post += 0.3*nS")
    ee.connect(condition="i != j", p=P)
    ei = b2.Synapses(exc, inh, on_pre="ge_post += 0.3*nS")
    ei.connect(p=P)
    ii = b2.Synapses(inh, inh, on_pre="gi_post += 3*nS")
    ii.connect(condition="i != j", p=P)
    stdp = dict(tau_s=STDP["tau"] * ms, eta=STDP["eta"] * nS, alpha=2 * STDP["target_rate"] * Hz * STDP["tau"] * ms,
                wmax=STDP["w_max"] * nS, onset=STDP["onset"] * second)
    ie = b2.Synapses(inh, exc, """
w : siemens
dapre/dt = -apre / tau_s : 1 (event-driven)
dapost/dt = -apost / tau_s : 1 (event-driven)
""", on_pre="""gi_post += w
apre += 1
w = clip(w + int(t >= onset) * eta * (apost - alpha), 0*nS, wmax)""",
                      on_post="""apost += 1
w = clip(w + int(t >= onset) * eta * apre, 0*nS, wmax)""", namespace=stdp)
    ie.connect(p=P)
    ie.w = W_IE0 * nS
    mon_e, mon_i = b2.SpikeMonitor(exc, record=False), b2.SpikeMonitor(inh, record=False)
    b2.run(seconds * second)
    total = time.perf_counter() - t0
    return {"method": "Brian2 cpp_standalone, euler (dt 0.1 ms)", "total": total,
            "sim": float(b2.device._last_run_time), "rate_E": int(mon_e.num_spikes) / N_E / seconds,
            "rate_I": int(mon_i.num_spikes) / N_I / seconds,
            "synapses": len(ee) + len(ei) + len(ii) + len(ie)}


def run_nest(seconds: float, threads: int, build: str) -> dict:
    """(c) The same network written directly in NEST."""
    import nest

    t0 = time.perf_counter()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "local_num_threads": threads, "rng_seed": 1})
    exc = nest.Create("iaf_cond_exp", N_E, params=NEURON)
    inh = nest.Create("iaf_cond_exp", N_I, params=NEURON)
    for pop in (exc, inh):
        pop.V_m = nest.random.uniform(-60.0, -50.0)
    times = np.arange(1, len(ou := ou_trace(seconds, 1))) * COMMON["resolution"]
    gen = nest.Create("step_current_generator", params={"amplitude_times": times, "amplitude_values": ou[1:]})
    nest.Connect(gen, exc + inh)
    rule = {"rule": "pairwise_bernoulli", "p": P, "allow_autapses": False}
    nest.Connect(exc, exc + inh, rule, {"synapse_model": "static_synapse", "weight": W_EXC, "delay": DT})
    nest.Connect(inh, inh, rule, {"synapse_model": "static_synapse", "weight": -W_II, "delay": DT})
    # the rule is off before onset: simulate that part with eta = 0
    nest.CopyModel("vogels_sprekeler_synapse", "istdp", {
        "tau": STDP["tau"], "eta": 0.0, "alpha": 2 * STDP["target_rate"] * STDP["tau"] * 1e-3,
        "Wmax": -STDP["w_max"], "weight": -W_IE0, "delay": DT})
    nest.Connect(inh, exc, {"rule": "pairwise_bernoulli", "p": P}, {"synapse_model": "istdp"})
    recorder = nest.Create("spike_recorder")
    nest.Connect(exc + inh, recorder)
    sim = 0.0
    onset = min(STDP["onset"], seconds)
    t1 = time.perf_counter()
    nest.Simulate(onset * 1e3)
    sim += time.perf_counter() - t1
    if seconds > onset:
        nest.SetDefaults("istdp", {"eta": STDP["eta"]})
        conns = nest.GetConnections(inh, exc)
        conns.set(eta=STDP["eta"])
        t1 = time.perf_counter()
        nest.Simulate((seconds - onset) * 1e3)
        sim += time.perf_counter() - t1
    total = time.perf_counter() - t0
    senders = np.asarray(recorder.get("events", "senders"))
    first_i = inh.tolist()[0]
    n_i = int(np.sum(senders >= first_i))
    return {"method": "NEST iaf_cond_exp, GSL RKF45 adaptive (resolution 0.1 ms, delays 0.1 ms)", "total": total,
            "sim": sim, "rate_E": (len(senders) - n_i) / N_E / seconds, "rate_I": n_i / N_I / seconds,
            "synapses": int(nest.GetKernelStatus("num_connections"))}


RUNNERS = {"copi_bio": run_copi, "brian2": run_brian2, "nest": run_nest}


def _child(which: str, seconds: float, threads: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench_{which}_") as build:
        out = RUNNERS[which](seconds, threads, build)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_mib"] = max(own, children) / 1024.0
    print("RESULT " + json.dumps(out))


def _spawn(which: str, seconds: float, threads: int) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", which, "--seconds", str(seconds),
                           "--threads", str(threads)], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(f"{which} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}", file=sys.stderr)
    return None


def nest_available() -> bool:
    """Whether NEST can be imported here."""
    return subprocess.run([sys.executable, "-c", "import nest"], capture_output=True).returncode == 0


def main() -> None:
    """Run the three versions and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="simulated seconds")
    ap.add_argument("--threads", type=int, default=2, help="threads of every simulator")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of copi_bio and plain Brian2 (the fastest total of each is shown; NEST runs once)")
    ap.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.seconds, args.threads)
        return
    which = ["copi_bio", "brian2"]
    if nest_available():
        which.append("nest")
    else:
        print("NEST is not installed: skipping the NEST comparison (pip install \".[nest]\")")
    load = os.getloadavg()[0]
    results = {}
    for _ in range(args.repeats):  # interleaved, so that a burst of other load hits both alike
        for name in ("copi_bio", "brian2"):
            r = _spawn(name, args.seconds, args.threads)
            if r is not None and (name not in results or r["total"] < results[name]["total"]):
                results[name] = r
    if "nest" in which:
        results["nest"] = _spawn("nest", args.seconds, args.threads)
    print(f"network: {N_E} E + {N_I} I conductance-based LIF, p = {P}, plastic I->E (Vogels-Sprekeler), "
          f"{args.seconds:g} s simulated, {args.threads} threads; load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores (other work on the machine slows "
          "multi-threaded runs disproportionately)")
    print(f"{'':10s} {'total s':>8s} {'sim s':>8s} {'events/s':>10s} {'peak MiB':>9s} {'E Hz':>6s} {'I Hz':>6s}"
          f" {'synapses':>9s}  integration")
    for name, r in results.items():
        if r is None:
            continue
        events = synaptic_events(r["rate_E"], r["rate_I"], args.seconds) / r["sim"]
        print(f"{name:10s} {r['total']:8.2f} {r['sim']:8.2f} {events:10.3g} {r['peak_mib']:9.0f} "
              f"{r['rate_E']:6.2f} {r['rate_I']:6.2f} {r['synapses']:9d}  {r['method']}")
    ours, plain, nest_r = results.get("copi_bio"), results.get("brian2"), results.get("nest")
    if ours and plain:
        print(f"overhead over plain Brian2: {ours['total'] / plain['total']:.2f} "
              f"(simulation only {ours['sim'] / plain['sim']:.2f})")
    if ours and nest_r:
        print(f"ratio to NEST: {ours['total'] / nest_r['total']:.3f} "
              f"(simulation only {ours['sim'] / nest_r['sim']:.3f})")
    rates = [(r["rate_E"], r["rate_I"]) for r in results.values() if r]
    if len(rates) > 1:
        spread = [max(v) / min(v) - 1 for v in zip(*rates)]
        print(f"rate spread between simulators: E {100 * spread[0]:.1f} %, I {100 * spread[1]:.1f} %")


if __name__ == "__main__":
    main()
