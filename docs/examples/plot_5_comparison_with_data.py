"""
Model correlations next to published measurements
=================================================

The shipped table ``copi_bio/data/reference_correlations.csv`` lists
published spike-count correlations with their sources, counting windows and
firing rates (see :doc:`/reference_data`). A correlation depends on the
counting window and on the rates, so a model is compared at the same
windows. Here the small E/I network of the previous example, after its
inhibition has learned, is measured at counting windows from 10 ms to 1 s
and paired with every confirmed measurement at the same window.
"""

import matplotlib.pyplot as plt

import copi_bio
from copi_bio.analysis import correlations, recordings, reference

ds = copi_bio.simulate(copi_bio.load_model("spiking_ei_small"))
end = float(ds.attrs["spike_duration"])
trains = correlations.to_neo(ds, "E", end - 10.0, end)   # the last 10 s, inhibition learned
windows = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.5, 1.0)
model = correlations.rsc_by_window(trains, windows)
rate = recordings.mean_rate(trains)

rows = [r for r in reference.match_windows(model, model_rate_hz=rate) if r["quantity"] == "mean r_sc"]
for row in rows:
    print(f"{row['citation'][:24]} {row['area']} {row['counting_window_ms']:>4s} ms, "
          f"{row['condition'][:40]:40s}: published {row['value']:.3f}, model {row['model_mean']:.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(model["window"] * 1e3, model["mean"], yerr=model["sem"], marker="o", capsize=2,
            label=f"model E cells ({rate:.1f} Hz)")
ax.scatter([r["window_s"] * 1e3 for r in rows], [r["value"] for r in rows], marker="*", s=80, color="k",
           label="published mean r_sc")
ax.set_xscale("log")
ax.set_xlabel("counting window (ms)")
ax.set_ylabel("mean r_sc")
ax.axhline(0, color="grey", lw=0.6)
ax.legend()
fig.tight_layout()
