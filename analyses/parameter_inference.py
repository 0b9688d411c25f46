"""Parameter inference: learned vs teacher weights, error over time, and the
alignment of the COPI update with the backprop update as decorrelation proceeds.

Usage: python analyses/parameter_inference.py --out figures/inference [--small]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from copi_bio.analysis.figure_io import save_figure
from copi_bio.analysis.figures import plot_teacher_scatter
from study import parser, run_or_load, write_table


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    n = 300 if args.small else 2000
    learn = run_or_load("teacher_student", [f"protocol.presentations={n}", "protocol.eval_every=50"],
                        args.out, f"teacher_student_{n}")
    plot_teacher_scatter(learn, args.out)
    # fixed random W, plastic R: how close is the COPI update to <delta x^T>?
    align = run_or_load("teacher_student", [
        "plasticity.rule=\"none\"", "task.correlation=0.6", "lateral.tau=\"2 s\"", "protocol.anneal=0",
        f"protocol.presentations={n // 2}", "protocol.eval_every=25"], args.out, f"alignment_{n}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.semilogy(learn["t_eval"], learn["inference_error_teacher"], marker=".")
    ax1.set_xlabel("simulated time (s)")
    ax1.set_ylabel("||W R - W_T|| / ||W_T||")
    ax1.set_title("inference error (teacher-student)", fontsize=9)
    corr, cos = align["mean_abs_corr_input"].values, align["copi_bp_cosine_input_output"].values
    ax2.plot(corr, cos, marker="o")
    ax2.set_xlabel("mean |r| of decorrelated input x")
    ax2.set_ylabel("cos(COPI update, <delta x^T>)")
    ax2.set_title("COPI aligns with backprop as x decorrelates", fontsize=9)
    ax2.invert_xaxis()
    save_figure(fig, args.out, "parameter_inference")
    rows = [{"time_s": float(t), "mean_abs_corr": float(c), "cosine": float(k)}
            for t, c, k in zip(align["t_eval"].values, corr, cos) if np.isfinite(c)]
    write_table(rows, args.out / "alignment.csv")
    print(f"final inference error {float(learn['inference_error_teacher'][-1]):.2e}, "
          f"r with the teacher {float(learn['teacher_r'][-1]):.4f}, slope {float(learn['teacher_slope'][-1]):.4f}; "
          f"cosine {rows[0]['cosine']:.3f} -> {rows[-1]['cosine']:.3f}")


if __name__ == "__main__":
    main()
