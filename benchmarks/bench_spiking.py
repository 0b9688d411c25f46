"""Benchmark of the spiking backend.

Builds a 1000-neuron plastic network (800 Poisson inputs -> 200 Poisson
somata, 160 000 COPI-plastic forward synapses, output nudging) twice in the
same process:

* through copi_bio (model spec -> builder -> Brian2), and
* as a plain hand-written Brian2 script with the same equations,

and prints the build+run overhead ratio of copi_bio over plain Brian2, the
``cpp_standalone`` vs runtime speed-up and the synaptic updates per second
(every plastic synapse is updated each time step) and spike-driven
synaptic events per second (presynaptic spikes x fan-out).

Usage::

    python benchmarks/bench_spiking.py [--seconds 2] [--standalone]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from copi_bio import load_model


def make_model(seconds: float, device: str, build_dir: str | None = None):
    """The benchmark network as a copi_bio model (teacher-student shape, 800 -> 200)."""
    presentations = max(1, int(round(seconds / 0.1)))
    sets = ["populations.input.size=800", "populations.output.size=200",
            f"protocol.presentations={presentations}", f"protocol.eval_every={presentations}",
            "lateral.rule=none", f"spiking.device={device}",
            "protocol.t_settle=0 ms"]
    if build_dir:
        sets.append(f"spiking.build_dir={build_dir}")
    return load_model("spiking_trace_teacher_student", sets)


def run_copi(model) -> tuple[float, float, int]:
    """Build and run through copi_bio; returns total wall time, simulation
    time (the Brian2 ``run`` call, or the compiled binary for cpp_standalone)
    and the number of input spikes."""
    from copi_bio.spiking import run_spiking
    t0 = time.perf_counter()
    record = run_spiking(model)
    wall = time.perf_counter() - t0
    run = record.attrs.get("standalone_binary_time_s", record.attrs["run_time_s"])
    return wall, run, len(record.spikes.get("input", ([], []))[0])


def run_plain(seconds: float, seed: int = 0, build_dir: str | None = None) -> tuple[float, float, int]:
    """The same network written directly in Brian2: runtime device with the
    numpy target, or ``cpp_standalone`` into ``build_dir`` when it is given.
    Returns total wall time, simulation time (the compiled binary's own run
    time for cpp_standalone) and the number of input spikes."""
    import brian2 as b2
    from brian2 import Hz, ms, second

    t0 = time.perf_counter()
    if build_dir:
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=True, clean=False)
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy"
    b2.seed(seed)
    rng = np.random.default_rng(seed)
    n_in, n_out, steps = 800, 200, int(round(seconds / 0.1))
    z = rng.standard_normal((steps, n_in))
    teacher = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
    stim = b2.TimedArray(z, dt=100 * ms)
    target = b2.TimedArray(z @ teacher.T, dt=100 * ms)
    common = dict(tau_trace=20 * ms, tau_mean=2 * second, r0=20 * Hz, rs=8 * Hz, rmax=60 * Hz)
    trace = """
dx/dt = -x / tau_trace : Hz
dxbar/dt = (x - xbar) / tau_mean : Hz
fluct = (x - xbar) / rs : 1
"""
    inp = b2.NeuronGroup(n_in, "rate = clip(r0 + rs * stim(t, i), 0 * Hz, rmax) : Hz" + trace,
                         threshold="rand() < rate * dt", reset="x += 1 / tau_trace", method="exact",
                         dt=1 * ms, namespace={**common, "stim": stim})
    out = b2.NeuronGroup(n_out, """
du/dt = (-u + I_ff + delta) / tau_u : 1
I_ff : 1
delta = gamma * (target(t, i) - u) : 1
dubar/dt = (u - ubar) / tau_mean : 1
rate = clip(r0 + rs * u, 0 * Hz, rmax) : Hz
""" + trace, threshold="rand() < rate * dt", reset="x += 1 / tau_trace", method="exponential_euler",
                         dt=1 * ms, namespace={**common, "tau_u": 2 * ms, "gamma": 4.0, "target": target})
    for g in (inp, out):
        g.x = g.xbar = 20 * Hz
    syn = b2.Synapses(inp, out, """
dw/dt = eta * ((u_post - ubar_post) * fluct_pre - w * fluct_pre**2) : 1 (clock-driven)
I_ff_post = w * fluct_pre : 1 (summed)
""", method="euler", dt=1 * ms, namespace={**common, "eta": 0.05 * Hz})
    syn.connect()
    syn.w = rng.standard_normal(n_in * n_out) * np.sqrt(2 / (n_in + n_out))
    mon = b2.SpikeMonitor(inp)
    net = b2.Network(inp, out, syn, mon)
    t1 = time.perf_counter()
    net.run(steps * 100 * ms)
    t2 = time.perf_counter()
    spikes = int(mon.num_spikes)
    if build_dir:
        binary = float(b2.device._last_run_time)
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
        return t2 - t0, binary, spikes
    return t2 - t0, t2 - t1, spikes


def main() -> None:
    """Run the comparison and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated seconds per run")
    ap.add_argument("--standalone", action="store_true", help="also time cpp_standalone (compiles C++)")
    args = ap.parse_args()
    n_syn, steps = 800 * 200, int(round(args.seconds / 1e-3))
    run_plain(0.1)  # warm-up: Brian2's first run in a process pays one-off initialisation
    plain, plain_run, spikes = min(run_plain(args.seconds) for _ in range(2))
    ours, ours_run, _ = min(run_copi(make_model(args.seconds, "runtime")) for _ in range(2))
    print(f"network: 1000 neurons, {n_syn} plastic synapses, {args.seconds:g} s simulated, dt = 1 ms")
    print(f"{'':32s} {'total':>8s} {'sim':>8s}")
    print(f"{'plain Brian2 (runtime/numpy)':32s} {plain:8.2f} {plain_run:8.2f} s")
    print(f"{'copi_bio (runtime/numpy)':32s} {ours:8.2f} {ours_run:8.2f} s   overhead ratio "
          f"{ours / plain:.2f} (total), {ours_run / plain_run:.2f} (run)")
    print(f"synaptic updates per second    {n_syn * steps / ours_run:.3g} (every plastic synapse, every step)")
    print(f"spike-driven synaptic events/s {spikes * 200 / ours_run:.3g} (input spikes x fan-out 200)")
    if args.standalone:
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp_plain:
            first, _, _ = run_copi(make_model(args.seconds, "cpp_standalone", tmp))
            second, second_run, _ = run_copi(make_model(args.seconds, "cpp_standalone", tmp))
            run_plain(args.seconds, build_dir=tmp_plain)  # compiles
            plain_sa, plain_sa_run, _ = run_plain(args.seconds, build_dir=tmp_plain)
        print(f"{'plain Brian2 cpp_standalone':32s} {plain_sa:8.2f} {plain_sa_run:8.2f} s")
        print(f"{'copi_bio cpp_standalone':32s} {second:8.2f} {second_run:8.2f} s "
              f"(first call with compilation {first:.2f} s total)   overhead ratio "
              f"{second / plain_sa:.2f} (total), {second_run / plain_sa_run:.2f} (binary)")
        print(f"cpp_standalone vs runtime speed-up {ours / second:.2f}x (total, incl. code generation "
              f"and make), {ours_run / second_run:.2f}x (simulation: compiled binary vs run())")
        print(f"standalone synaptic updates per second {n_syn * steps / second_run:.3g}")


if __name__ == "__main__":
    main()
