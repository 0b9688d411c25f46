"""
Plastic inhibition decorrelates a spiking E/I network
=====================================================

A network of 1600 excitatory and 400 inhibitory conductance-based LIF
neurons (``iaf_cond_exp`` parameters of Vogels et al. 2011; every neuron
receives 160 excitatory and 40 inhibitory synapses) shares a slow
fluctuating input current, so its spike counts start strongly correlated.
From t = 5 s the I->E synapses learn with the Vogels-Sprekeler rule
(spike-timing driven, homeostatic target rate 3 Hz). Inhibition grows,
tracks the excitation, and the excitatory spike counts decorrelate
(Brian2, ``cpp_standalone``; the first run compiles the network).
"""

import matplotlib.pyplot as plt
import numpy as np

import copi_bio
from copi_bio.analysis import correlations

ds = copi_bio.simulate(copi_bio.load_model("spiking_ei_small"))
onset, end = 5.0, float(ds.attrs["spike_duration"])

# %%
# Spike-count correlations (100 ms windows) of the recorded excitatory
# neurons before plasticity and in the last third of the run, and their
# dependence on firing rate (correlations rise with rate, as de la Rocha et
# al. 2007 report for cortical pairs).
before = correlations.to_neo(ds, "E", 0.0, onset)
after = correlations.to_neo(ds, "E", end - (end - onset) / 3, end)
r_before = correlations.spike_count_correlations(before, 0.1)
r_after = correlations.spike_count_correlations(after, 0.1)
print(f"mean r_sc: before plasticity {np.nanmean(r_before):.3f}, last third {np.nanmean(r_after):.3f}")
print(f"mean E rate: {float(ds.mean_rate_E[0]):.1f} Hz -> {float(ds.mean_rate_E[-1]):.1f} Hz")

fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
sel = (ds.spike_index_E < 100) & (ds.spike_time_E > onset - 2) & (ds.spike_time_E < onset)
axes[0].plot(ds.spike_time_E[sel], ds.spike_index_E[sel], "|", ms=2)
axes[0].set_title("E spikes before plasticity")
axes[0].set_xlabel("time (s)")
axes[1].plot(ds.t_eval, ds.mean_spike_count_corr_E, "o-", label="E")
axes[1].plot(ds.t_eval, ds.mean_spike_count_corr_I, "o-", label="I")
axes[1].axvline(onset, color="grey", ls=":")
axes[1].set_xlabel("time (s)")
axes[1].set_ylabel("mean r_sc (100 ms)")
axes[1].legend()
bins = np.linspace(-0.3, 1.0, 53)
axes[2].hist(r_before[np.isfinite(r_before)], bins, alpha=0.6, label="before")
axes[2].hist(r_after[np.isfinite(r_after)], bins, alpha=0.6, label="last third")
axes[2].set_xlabel("r_sc")
axes[2].legend()
for name, trains in (("before", before), ("last third", after)):
    by_rate = correlations.rsc_by_rate(trains, 0.1, n_bins=4)
    axes[3].plot(by_rate["rate"], by_rate["mean"], "o-", label=name)
axes[3].set_xlabel("geometric-mean rate of the pair (Hz)")
axes[3].set_ylabel("mean r_sc")
axes[3].legend()
fig.tight_layout()
