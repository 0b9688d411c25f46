"""Network compression: replace k+1 consecutive connections of a trained
64-100-100-10 digits network by one linear map inferred the COPI way,
<a x^T> diag(<x^2>)^-1 from the decorrelated input x of the first replaced
connection; report test accuracy against the number of layers removed.

Usage: python analyses/compression.py --out figures/compression [--small]
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from copi_bio.analysis import features
from copi_bio.analysis.figure_io import save_figure
from study import parser, trained_digits_network, write_table


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    _, data, layers, train = trained_digits_network("digits_deep_bp", args.small, args.out)
    rows = []
    for removed in range(len(layers)):
        for start in (range(len(layers) - removed) if removed else [0]):
            acc = features.compressed_accuracy(layers, train, data.test_inputs, data.test_labels, start, removed)
            rows.append({"layers_removed": removed, "first_replaced_connection": start, "test_accuracy": acc})
    write_table(rows, args.out / "compression.csv")
    fig, ax = plt.subplots(figsize=(4, 3))
    for start in sorted({r["first_replaced_connection"] for r in rows}):
        pts = [(r["layers_removed"], r["test_accuracy"]) for r in rows if r["first_replaced_connection"] == start]
        ax.plot(*zip(*pts), marker="o", label=f"from connection {start}")
    ax.axhline(0.1, color="grey", ls=":", lw=0.8, label="chance")
    ax.set_xlabel("layers removed (k)")
    ax.set_ylabel("test accuracy")
    ax.set_xticks(range(len(layers)))
    ax.legend(fontsize=7)
    save_figure(fig, args.out, "compression")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
