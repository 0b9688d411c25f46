"""Command line: ``copi-bio run | sweep | models | show | analyze``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .checkpoint import checkpoint_path, remove_checkpoint
from .errors import CopiBioError, SimulationError
from .modelfile import DEFAULT_MODEL, available_models, load_model, read_model_table
from .results import open_result, save_result, summarize
from .simulation import simulate


def _cmd_run(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.set)
    out_dir = Path(args.out)
    target = out_dir / f"{model.name}_seed{model.seed}.nc"
    print(f"running {model.name} ({model.source}) with the {model.backend} backend", file=sys.stderr)
    every = getattr(args, "checkpoint_every", None)
    ckpt = None
    if model.backend == "rate":
        ckpt = checkpoint_path(out_dir, model)
        if ckpt.exists():
            print(f"resuming from checkpoint {ckpt}", file=sys.stderr)
        elif every is None:
            ckpt = None
    elif every is not None:
        print("note: spiking runs write no checkpoints; a killed run restarts from the beginning "
              "(same seed, same result)", file=sys.stderr)
        every = None
    try:
        ds = simulate(model, progress=not args.quiet, checkpoint=ckpt, checkpoint_every=every)
    except SimulationError as err:
        if ckpt is not None:
            remove_checkpoint(ckpt)  # resuming would diverge again
        partial = getattr(err, "partial", None)
        if partial is not None:
            kept = save_result(partial, target.with_suffix(".partial.nc"))
            print(f"partial results kept in {kept}", file=sys.stderr)
        raise
    path = save_result(ds, target)
    if ckpt is not None:
        remove_checkpoint(ckpt)
    print(summarize(ds))
    print(f"saved {path}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import Sweep, parse_grid, parse_seeds, summary_table

    grid: dict = {}
    for text in args.grid:
        key, values = parse_grid(text)
        if key in grid:
            raise CopiBioError(f"--grid {key} given twice; list all its values in one --grid")
        grid[key] = values
    sweep = Sweep(args.model, grid, parse_seeds(args.seeds), args.out, args.set)
    n = len(sweep.seeds) * int(__import__("math").prod(len(v) for v in grid.values()))
    where = args.scheduler or f"a LocalCluster with {args.workers} worker(s)"
    print(f"sweep of {sweep.model_path.stem}: {n} runs on {where} -> {sweep.out_dir}", file=sys.stderr)
    ds = sweep.run(workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                   fmt=args.format)
    print(summary_table(ds))
    target = sweep.out_dir / ("sweep.zarr" if args.format == "zarr" else "sweep.nc")
    print(f"{sweep.skipped} run(s) already finished, {len(sweep.executed)} executed, "
          f"{ds.attrs['n_failed']} failed; saved {target}")
    return 1 if ds.attrs["n_failed"] else 0


def _cmd_models(args: argparse.Namespace) -> int:
    if args.print:
        _, path = read_model_table(args.print)
        print(path.read_text(), end="")
        return 0
    for name, path in available_models().items():
        data, _ = read_model_table(path)
        mark = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name:28s} {data.get('description', '')}{mark}\n{'':28s} {path}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    ds = open_result(args.result)
    print(summarize(ds))
    if args.model:
        print(ds.attrs.get("model_toml", ""))
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis.figures import standard_figures

    ds = open_result(args.result)
    out = Path(args.out) if args.out else Path(args.result).with_suffix("")
    for path in standard_figures(ds, out):
        print(path)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``copi-bio`` argument parser."""
    parser = argparse.ArgumentParser(prog="copi-bio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a model file (default: the embedded teacher_student)")
    run.add_argument("model", nargs="?", default=None, help="model file or library name")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a model key, e.g. --set protocol.presentations=500 (repeatable)")
    run.add_argument("--out", default="results", help="output folder (default: ./results)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                     help="rate backend: save a checkpoint OUT/NAME_seedS.ckpt every N presentations; "
                          "rerunning the same command resumes from it (bit-identical result)")
    run.set_defaults(func=_cmd_run)
    sweep = sub.add_parser("sweep", help="run a model for every combination of --grid values and --seeds "
                           "on a dask cluster")
    sweep.add_argument("model", help="model file or library name")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                       help="swept key and its values (TOML syntax, as --set), repeatable")
    sweep.add_argument("--seeds", default="1", help="seeds: 1-5, 1,3,7 or 1-3,10 (default: 1)")
    sweep.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default: 2)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use an existing dask scheduler instead of a LocalCluster")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override applied to every run (repeatable)")
    sweep.add_argument("--out", default="sweep", help="output folder (default: ./sweep)")
    sweep.add_argument("--format", choices=("netcdf", "zarr"), default="netcdf",
                       help="format of the combined file (default: netcdf)")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_sweep)
    models = sub.add_parser("models", help="list the model library")
    models.add_argument("--print", metavar="NAME", help="print a model file's text")
    models.set_defaults(func=_cmd_models)
    show = sub.add_parser("show", help="summarise a result file")
    show.add_argument("result", help="result .nc file")
    show.add_argument("--model", action="store_true", help="also print the resolved model file")
    show.set_defaults(func=_cmd_show)
    analyze = sub.add_parser("analyze", help="standard figures (PNG and SVG) of a result file")
    analyze.add_argument("result", help="result .nc file")
    analyze.add_argument("--out", default=None, help="figure folder (default: next to the result)")
    analyze.set_defaults(func=_cmd_analyze)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for user errors)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CopiBioError as err:
        print(f"copi-bio: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
