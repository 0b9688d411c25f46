"""
Learning curves on handwritten digits, in the paper's setting
=============================================================

A 64-100-10 network with leaky-ReLU units learns scikit-learn's 8x8 digits
with minibatches of 50 (parallel trials), gamma = 1000 and a learning rate
of 1e-3 per presentation, the first epoch training only the decorrelation.
We compare COPI with backprop-aligned and with feedback-alignment
perturbations against backprop with Adam, over two seeds each
(``analyses/learning_speed.py`` runs the full five-seed study).
"""

import matplotlib.pyplot as plt

import copi_bio
from copi_bio.analysis import learning

methods = {"COPI (BP perturbation)": "digits_bp", "COPI (FA perturbation)": "digits_fa",
           "BP + Adam (lr 1e-3)": "digits_adam"}
fig, ax = plt.subplots(figsize=(6, 4))
for label, name in methods.items():
    runs = [copi_bio.simulate(copi_bio.load_model(name, [f"seed={s}", "protocol.eval_every=9"]))
            for s in (1, 2)]
    stats = learning.mean_and_spread(learning.stack_runs(runs, "test_accuracy"))
    epochs = learning.epochs(runs[0])
    ax.plot(epochs, stats["mean"], label=label)
    ax.fill_between(epochs, stats["mean"] - stats["sd"], stats["mean"] + stats["sd"], alpha=0.2)
    print(f"{label:24s} final test accuracy {float(stats['mean'][-1]):.3f}, "
          f"97 % after {learning.time_to_level(stats['mean'].values, epochs, 0.97):.1f} epochs")
ax.set_ylim(0.8, 1.0)
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right")
fig.tight_layout()
