"""
Loading a recording and comparing it with a model
=================================================

``copi_bio.analysis.recordings.load_spiketrains`` reads spike trains from
an ``.npz`` file (arrays ``times`` in seconds and ``indices``), from the
``units`` table of an NWB file, or from any format Neo reads. The trains are
``neo.SpikeTrain`` objects, so Elephant's statistics apply directly, and
``side_by_side`` computes the same spike-count statistics for recordings and
model runs.

Here the "recording" is synthetic: 40 neurons whose rates share a slow
gain fluctuation (a doubly stochastic Poisson process), written as an
``.npz`` file the way a lab's own data would be exported.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import copi_bio
from copi_bio.analysis import correlations, recordings

rng = np.random.default_rng(0)
duration, dt, n = 60.0, 1e-3, 40
gain = np.exp(0.4 * np.convolve(rng.standard_normal(int(duration / dt)), np.ones(200) / np.sqrt(200), "same"))
times, indices = [], []
for i in range(n):
    rate = rng.uniform(3, 20) * gain
    spikes = np.flatnonzero(rng.random(rate.size) < rate * dt) * dt
    times.append(spikes)
    indices.append(np.full(spikes.size, i))
path = Path(tempfile.mkdtemp()) / "my_recording.npz"
np.savez(path, times=np.concatenate(times), indices=np.concatenate(indices), t_stop=duration, n_neurons=n)

recording = recordings.load_spiketrains(path)
print(f"{len(recording)} trains, mean rate {recordings.mean_rate(recording):.1f} Hz")

# %%
# A model run to compare with: the small E/I network after learning.
ds = copi_bio.simulate(copi_bio.load_model("spiking_ei_small", ['protocol.duration="20 s"']))
end = float(ds.attrs["spike_duration"])
model = correlations.to_neo(ds, "E", end - 10.0, end)

table = recordings.side_by_side({"recording": recording, "model (E cells)": model})
print(table["mean"].sel(window=0.1).to_series())

fig, ax = plt.subplots(figsize=(6, 4))
for name in table["source"].values:
    sel = table.sel(source=name)
    ax.errorbar(sel["window"] * 1e3, sel["mean"], yerr=sel["sem"], marker="o", capsize=2,
                label=f"{name} ({float(sel['rate']):.1f} Hz)")
ax.set_xscale("log")
ax.set_xlabel("counting window (ms)")
ax.set_ylabel("mean r_sc")
ax.legend()
fig.tight_layout()
