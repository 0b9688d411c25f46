"""Command line: ``copi-bio run | models | show | analyze``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CopiBioError, SimulationError
from .modelfile import DEFAULT_MODEL, available_models, load_model, read_model_table
from .results import open_result, save_result, summarize
from .simulation import simulate


def _cmd_run(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.set)
    out_dir = Path(args.out)
    target = out_dir / f"{model.name}_seed{model.seed}.nc"
    print(f"running {model.name} ({model.source}) with the {model.backend} backend", file=sys.stderr)
    try:
        ds = simulate(model, progress=not args.quiet)
    except SimulationError as err:
        partial = getattr(err, "partial", None)
        if partial is not None:
            kept = save_result(partial, target.with_suffix(".partial.nc"))
            print(f"partial results kept in {kept}", file=sys.stderr)
        raise
    path = save_result(ds, target)
    print(summarize(ds))
    print(f"saved {path}")
    return 0


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
    run.set_defaults(func=_cmd_run)
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
