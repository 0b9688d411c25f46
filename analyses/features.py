"""Feature analysis on digits: receptive fields read out as <x_0 a^T>/<x_0^2>,
and COPI-decorrelated inputs next to ZCA-whitened ones.

Usage: python analyses/features.py --out figures/features [--small]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis import features
from copi_bio.analysis.figure_io import save_figure
from copi_bio.metrics import mean_abs_offdiag
from study import parser, trained_digits_network, write_table


def image_grid(images: np.ndarray, rows: int, cols: int, title: str):
    """Figure with ``rows x cols`` 8x8 images, each scaled symmetrically around 0
    (colour limit at the 95th percentile of |value|, so rarely active edge
    pixels with tiny <x^2> do not dominate)."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.4))
    for ax, img in zip(axes.ravel(), images):
        lim = np.percentile(np.abs(img), 95) or 1.0
        ax.imshow(img.reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    return fig


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    _, data, layers, train = trained_digits_network("digits_bp", args.small, args.out)
    fields = features.receptive_fields(layers, train, 0)
    save_figure(image_grid(fields[:32], 4, 8, "hidden receptive fields <x_0 a^T>/<x_0^2>"), args.out,
                "receptive_fields")
    # decorrelated input x_0 = R z versus ZCA whitening of the centred pixels
    x = layers[0].decorrelate(train)
    cov = np.cov(train.T)
    zca = (train - train.mean(0)) @ features.zca_whitening(cov, eps=1e-2).T
    sample = np.concatenate([train[:8], x[:8], zca[:8]])
    save_figure(image_grid(sample, 3, 8, "rows: raw digits, COPI-decorrelated x = R z, ZCA-whitened"),
                args.out, "decorrelation_vs_zca")
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = [{"representation": name, "mean_abs_corr": mean_abs_offdiag(np.corrcoef(v.T)),
                 "mean_abs_second_moment_corr": mean_abs_offdiag((v.T @ v) / np.sqrt(
                     np.outer((v * v).sum(0), (v * v).sum(0))))}
                for name, v in (("raw", train), ("copi_R", x), ("zca", zca))]
    write_table(rows, args.out / "decorrelation_vs_zca.csv")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
