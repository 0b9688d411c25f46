"""
Decorrelation of a rate population by plastic lateral inhibition
=================================================================

Fifty input streams share a common fluctuation (pairwise correlation
rho = 0.3). They pass through recurrent lateral inhibition with purely
inhibitory, anti-Hebbian plastic synapses (Foldiak-type, ``M >= 0``)::

    tau_x dx/dt = -x + z - M x,      tau_M dM/dt = offdiag(<x x^T>)

on fluctuations around running means. We record the inputs ``z`` (``r_input``)
and the decorrelated activity ``x`` and compare their pairwise correlations.
"""

import matplotlib.pyplot as plt
import numpy as np

import copi_bio
from copi_bio.analysis.correlations import rate_correlations

model = copi_bio.load_model("decorrelation_foldiak", [
    "protocol.presentations=400", "protocol.eval_every=4",
    'recording.variables=["r", "x"]', "recording.trials=4"])
ds = copi_bio.simulate(model)

# %%
# Within a few dozen presentations (lateral.tau = 200 ms) the mean absolute
# correlation of ``x`` falls from that of the inputs to a few hundredths.
t_end = float(ds.time[-1])
inputs = rate_correlations(ds, "r_input", 0.5 * t_end, t_end)
late = rate_correlations(ds, "x_input", 0.5 * t_end, t_end)
print(f"mean pairwise r: inputs z {np.mean(inputs):.3f}, decorrelated x {np.mean(late):.3f}")

fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(12, 3.5))
ax0.plot(ds.t_eval, ds.mean_abs_corr_input, marker="o")
ax0.set_xlabel("simulated time (s)")
ax0.set_ylabel("mean |r| of x")
bins = np.linspace(-0.4, 0.8, 49)
ax1.hist(inputs, bins, alpha=0.6, label="inputs z")
ax1.hist(late, bins, alpha=0.6, label="x (second half)")
ax1.set_xlabel("pairwise r")
ax1.legend()
m = ds["M_input"].values[-1]
im = ax2.imshow(m, cmap="viridis")
ax2.set_title("learned lateral weights M (>= 0)")
fig.colorbar(im, ax=ax2)
fig.tight_layout()
