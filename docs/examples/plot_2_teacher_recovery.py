"""
Inferring a teacher's weights with the local COPI rule
======================================================

Thirty correlated Gaussian inputs drive five linear outputs. The lateral
stage ``x = R z`` decorrelates the inputs, the output somata are perturbed
by ``gamma`` times the error of their forward prediction, and every
forward synapse follows the local rule ``tau_W dW/dt = <u x^T> - W diag<x^2>``.
With decorrelated inputs its fixed point is the least-squares map: the
effective weights ``W R`` converge to the teacher's.
"""

import matplotlib.pyplot as plt
import numpy as np

import copi_bio
from copi_bio.initial import effective_weights

ds = copi_bio.simulate(copi_bio.load_model("teacher_student"))

w_eff = effective_weights(ds["W_input_output"].values[-1], ds["R_input"].values[-1], foldiak=False)
teacher = ds["teacher_weights"].values
print(f"relative error of W R: {float(ds.inference_error_teacher[-1]):.2e}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8))
ax0.semilogy(ds.presentation, ds.inference_error_teacher, label="||W R - W_T|| / ||W_T||")
ax0.semilogy(ds.presentation, ds.mean_abs_corr_input, label="mean |r| of x")
ax0.set_xlabel("presentation")
ax0.legend()
ax1.plot(teacher.ravel(), w_eff.ravel(), ".", ms=4)
lim = np.abs(teacher).max() * 1.1
ax1.plot([-lim, lim], [-lim, lim], "k:", lw=1)
ax1.set_xlabel("teacher weight")
ax1.set_ylabel("learned effective weight")
fig.tight_layout()
