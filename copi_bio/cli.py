"""Command line: copi-bio run | sweep | models | show | analyze | export | validate."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import warnings
from pathlib import Path

from .errors import CheckpointError, CopiBioError, SimulationError
from .modelfile import DEFAULT_MODEL, available_models, load_model_cli, model_hash, read_model_table
from .outdir import output_path, prepare_output_folder
from .rate.checkpoint import checkpoint_path, read_header, remove_checkpoint
from .results import check_replace, file_kind, open_result, save_result, summarize
from .simulation import simulate
from .spec import Model
from .library import FAMILIES, split_about
from .version import __version__


def run_paths(out_dir: str | Path, model: Model) -> dict[str, Path]:
    """The files ``copi-bio run`` may write for ``model`` in ``out_dir``.

    ``result`` (``NAME_seedS.nc``), ``partial`` (``NAME_seedS.partial.nc``,
    kept when a run diverges) and ``checkpoint`` (``NAME_seedS.ckpt``), each
    checked to resolve inside ``out_dir``.
    """
    stem = f"{model.name}_seed{model.seed}"
    return {"result": output_path(out_dir, f"{stem}.nc"),
            "partial": output_path(out_dir, f"{stem}.partial.nc"),
            "checkpoint": output_path(out_dir, checkpoint_path(out_dir, model).name)}


def _checkpoint_to_use(ckpt: Path, model: Model, every: int | None, overwrite: bool) -> Path | None:
    """The checkpoint file a rate run resumes from or writes, after checking its header."""
    if ckpt.exists() or ckpt.is_symlink():
        try:
            read_header(ckpt, model)
        except CheckpointError as err:
            if not overwrite:
                raise CheckpointError(f"{err} (--overwrite discards it)") from None
            print(f"--overwrite: discarding {ckpt}", file=sys.stderr)
            remove_checkpoint(ckpt)
        else:
            print(f"resuming from checkpoint {ckpt}", file=sys.stderr)
            return ckpt
    return ckpt if every is not None else None


def _cmd_run(args: argparse.Namespace) -> int:
    model = load_model_cli(args.model, args.set)
    out_dir = prepare_output_folder(args.out)  # before simulating: fail now, not after the run
    paths = run_paths(out_dir, model)
    target, digest = paths["result"], model_hash(model)
    if check_replace(target, digest, args.overwrite) and not args.overwrite:
        print(f"{target} already holds the result of this model (same model_hash); nothing to run "
              "(--overwrite runs it again)")
        return 0
    check_replace(paths["partial"], digest, args.overwrite)
    every = args.checkpoint_every
    ckpt = None
    if model.backend == "rate":
        ckpt = _checkpoint_to_use(paths["checkpoint"], model, every, args.overwrite)
    elif every is not None:
        print("note: spiking runs write no checkpoints; a killed run restarts from the beginning "
              "(same seed, same result)", file=sys.stderr)
        every = None
    print(f"running {model.name} ({model.source}) with the {model.backend} backend", file=sys.stderr)
    try:
        ds = simulate(model, progress=not args.quiet, checkpoint=ckpt, checkpoint_every=every)
    except SimulationError as err:
        if ckpt is not None:
            remove_checkpoint(ckpt)  # resuming would diverge again
        partial = getattr(err, "partial", None)
        if partial is not None:
            kept = save_result(partial, paths["partial"], overwrite=True)  # checked above
            print(f"partial results kept in {kept}", file=sys.stderr)
        raise
    path = save_result(ds, target, overwrite=True)  # checked above
    if ckpt is not None:
        remove_checkpoint(ckpt)
    print(summarize(ds))
    print(f"saved {path}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import Sweep
    from .sweep.dataset import summary_table
    from .sweep.grid import parse_grid, parse_seeds

    grid: dict = {}
    for text in args.grid:
        key, values = parse_grid(text)
        if key in grid:
            raise CopiBioError(f"--grid {key} given twice; list all its values in one --grid")
        grid[key] = values
    sweep = Sweep(args.model, grid, parse_seeds(args.seeds), args.out, args.set, overwrite=args.overwrite)
    prepare_output_folder(sweep.out_dir)  # before announcing the sweep (Sweep.run checks again)
    n = len(sweep.runs())  # every grid point validated before anything is announced
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
    from .library import format_wall_time

    if args.print:
        _, path = read_model_table(args.print)
        print(path.read_text(), end="")
        return 0
    rows = []
    for name, path in available_models().items():
        data, about = split_about(read_model_table(path)[0], str(path))
        backend = str(data.get("backend", "rate"))
        kind = "E/I network" if "network" in data else ("chain" if backend == "spiking" else "")
        backend_text = f"{backend} ({kind})" if kind else backend
        if args.backend and args.backend != backend:
            continue
        if args.family and (about is None or about.family != args.family):
            continue
        if about is None:
            rows.append((name, "", backend_text, "", str(data.get("description", ""))))
            continue
        result = about.result if about.status == "current" else f"superseded by {about.replaced_by}: {about.result}"
        rows.append((name + (" (default)" if name == DEFAULT_MODEL else ""), about.family, backend_text,
                     format_wall_time(about.wall_time), result))
    header = ("MODEL", "FAMILY", "BACKEND", "WALL", "MEASURED")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    room = max(30, shutil.get_terminal_size((160, 20)).columns - sum(widths) - 8)
    for row in [header, *rows]:
        text = row[4] if len(row[4]) <= room else row[4][: room - 3] + "..."
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + text)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    ds = open_result(args.result, expect=("result",))
    print(summarize(ds))
    if args.model:
        print(ds.attrs.get("model_toml", ""))
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis.figures import standard_figures
    from .analysis.sweep_figures import plot_sweep

    ds = open_result(args.result, expect=("result", "sweep"))
    out = prepare_output_folder(args.out if args.out else Path(args.result).with_suffix(""))
    paths = plot_sweep(ds, out) if file_kind(ds) == "sweep" else standard_figures(ds, out)
    if not paths:
        raise CopiBioError(f"{args.result}: nothing to draw (no metrics, spikes or weights in the file)")
    for path in paths:
        print(path)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_nwb, trial_populations

    ds = open_result(args.result, expect=("result",))
    if Path(args.nwb).resolve() == Path(args.result).resolve():
        raise CopiBioError(f"--nwb {args.nwb} is the result file itself; choose another file name")
    print(f"saved {export_nwb(ds, args.nwb, overwrite=args.overwrite)}")
    if trial_populations(ds):
        print(f"with a trials table of {ds['trial_onset'].size} {ds['trial_onset'].dims[0].rstrip('s')}s: trial counts of "
              f"{', '.join(trial_populations(ds))} via copi_bio.analysis.trial_io.read_trials_nwb(file, population)")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .analysis.recordings import load_spiketrains
    from .analysis.scores import table_text
    from .analysis.trial_io import has_trials, read_trials
    from .analysis.trial_stats import single_units
    from .validate import run_validation, score

    trial_files = [r for r in args.recording if has_trials(r)]
    spike_files = [r for r in args.recording if r not in trial_files]
    if args.sources or len(args.recording) > 1:
        if spike_files:
            raise CopiBioError(f"--recording {spike_files[0]} has no trials (no condition per trial); scoring "
                               "models and recordings side by side needs trial-aligned counts (a V1 .mat, an NWB "
                               "file with a trials table, a Neo file with one segment per trial)")
        n_boot = min(args.n_boot, SMALL_BOOT) if args.small else args.n_boot
        rows = score(args.sources, trial_files, args.out, overrides=args.set, population=args.population,
                     n_boot=n_boot, progress=args.progress)
        print(table_text(rows))
        print(f"score matrix, heat map and figures in {args.out}")
        return 0
    if args.set or args.population:
        raise CopiBioError("--set and --population apply to the models given as arguments; the shipped suite "
                           "(no argument) runs its own models")
    recording = None
    if trial_files:
        recording = single_units(read_trials(trial_files[0]))
    elif spike_files:
        recording = load_spiketrains(spike_files[0])
    outcomes = run_validation(args.out, small=args.small, progress=args.progress, recording=recording)
    for outcome in outcomes:
        print(outcome.line() + (f" | recording: {outcome.recording}" if outcome.recording else ""))
    print(f"{sum(o.passed for o in outcomes)} of {len(outcomes)} phenomena reproduced; table and figures in {args.out}")
    return 0


SMALL_BOOT = 200
"""Bootstrap draws of ``copi-bio validate --small`` on given sources."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


DESCRIPTION = """\
Continuous-time rate and spiking simulation of constrained parameter inference (COPI):
run model files, sweep them over keys and seeds, look at and export the results, and score
models beside recordings. copi-bio COMMAND --help says more; the user guide is in docs/."""


def build_parser() -> argparse.ArgumentParser:
    """The ``copi-bio`` argument parser."""
    parser = argparse.ArgumentParser(prog="copi-bio", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"copi-bio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="simulate a model file (default: the embedded teacher_student)")
    run.add_argument("model", nargs="?", default=None, help="model file or library name")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a model key, e.g. --set protocol.presentations=500 (repeatable)")
    run.add_argument("--out", default="results", help="output folder (default: ./results)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                     help="rate backend: save a checkpoint OUT/NAME_seedS.ckpt every N presentations; "
                          "rerunning the same command resumes from it (bit-identical result)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a result (or checkpoint) in --out that belongs to a different model; "
                          "without it such files are refused, and a result of the same model means "
                          "there is nothing to run")
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
    sweep.add_argument("--overwrite", action="store_true",
                       help="replace run files and the combined file in --out that belong to a different "
                            "model or sweep (refused without it); finished runs of the same model are "
                            "always kept")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_sweep)
    models = sub.add_parser("models", help="list the model library: family, backend, wall time on 2 cores and "
                            "the measured result of every model file")
    models.add_argument("--print", metavar="NAME", help="print a model file's text")
    models.add_argument("--family", choices=sorted(FAMILIES), help="only this family")
    models.add_argument("--backend", choices=("rate", "spiking"), help="only this backend")
    models.set_defaults(func=_cmd_models)
    show = sub.add_parser("show", help="summarise a result file")
    show.add_argument("result", help="result .nc file")
    show.add_argument("--model", action="store_true", help="also print the resolved model file")
    show.set_defaults(func=_cmd_show)
    analyze = sub.add_parser("analyze", help="standard figures (PNG and SVG) of a result or sweep file: "
                             "metrics over time; spiking runs: raster, rates, ISI CV, r_sc and r_sc against "
                             "the window; sweeps: every metric against every swept key")
    analyze.add_argument("result", help="result .nc file or a sweep's sweep.nc")
    analyze.add_argument("--out", default=None, help="figure folder (default: next to the result)")
    analyze.set_defaults(func=_cmd_analyze)
    export = sub.add_parser("export", help="write a result file as NWB (spikes as units, recorded states and "
                            "binned rates as time series, the model file and provenance as metadata)")
    export.add_argument("result", help="result .nc file")
    export.add_argument("--nwb", required=True, metavar="FILE.nwb", help="NWB file to write (needs pynwb: "
                        'pip install "copi_bio[nwb]")')
    export.add_argument("--overwrite", action="store_true",
                        help="replace FILE.nwb when it is not an export of a result of the same model "
                             "(refused without it); an export of the same model is always rewritten")
    export.set_defaults(func=_cmd_export)
    validate = sub.add_parser(
        "validate", help="score models, results, sweeps and recordings on the decorrelation phenomena; "
        "with no argument, run the shipped suite against published phenomena",
        description="With no MODEL/RESULT/SWEEP argument and at most one --recording: the shipped suite, "
        "which simulates the shipped E/I network (spiking_ei_small, with and without stimulus epochs) and "
        "the spiking digits chain (spiking_lif_digits_hidden, with and without lateral learning) and "
        "compares six predictions with published observations (about 3 min on 2 cores, --small about 1.5 "
        "min, plus 20-30 s per first C++ build); the recording is scored beside them. Otherwise every "
        "phenomenon the given runs "
        "and recordings support is scored (noise correlations at repeated stimuli, their window, rate and "
        "tuning dependence, spontaneous against evoked, Fano factor before and after onset): a score "
        "matrix printed and written as scores.csv and scores.png, one figure per phenomenon, "
        "recording_statistics.csv for recordings, sweep_scores.csv for sweep folders.")
    validate.add_argument("sources", nargs="*", metavar="MODEL | RESULT.nc | SWEEP_DIR",
                          help="a model file or library name (run here, with --set), a result file, or a "
                               "sweep output folder (every finished run scored)")
    validate.add_argument("--recording", action="append", default=[], metavar="FILE",
                          help="a recording, scored beside the models: with trials (V1 .mat, NWB with a trials "
                               "table, Neo with one segment per trial; single units) on every phenomenon it "
                               "supports, a plain spike recording (.npz, NWB units; shipped suite only) on the "
                               "window and rate; repeatable: several recordings are scored side by side")
    validate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="override a key of the models given as arguments (repeatable)")
    validate.add_argument("--population", default=None,
                          help="the population scored in model runs (default: all but the stimulus layer)")
    validate.add_argument("--n-boot", type=_positive_int, default=1000, metavar="N",
                          help="bootstrap draws of every interval (default: 1000)")
    validate.add_argument("--small", action="store_true",
                          help="shorter: the shipped suite's runs (about a minute); for scored sources, "
                               f"at most {SMALL_BOOT} bootstrap draws")
    validate.add_argument("--out", default="validation", help="output folder (default: ./validation)")
    validate.add_argument("--progress", action="store_true", help="progress bars of the simulations")
    validate.set_defaults(func=_cmd_validate)
    return parser


LOG = logging.getLogger("copi_bio.cli")


def _log_dependency_deprecations() -> None:
    """Deprecation warnings raised inside our dependencies (Brian2's use of pyparsing, say) go to the
    ``copi_bio.cli`` logger at DEBUG level instead of the terminal; copi_bio's own warnings are shown
    as one line, every other warning as Python shows it."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        ours = "copi_bio" in str(filename)
        if issubclass(category, DeprecationWarning) and not ours:
            LOG.debug("%s:%s: %s: %s", filename, lineno, category.__name__, message)
        elif ours and not issubclass(category, DeprecationWarning):
            print(f"copi-bio: warning: {message}", file=sys.stderr)  # one line, no source excerpt
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for user errors)."""
    args = build_parser().parse_args(argv)
    _log_dependency_deprecations()
    try:
        return args.func(args)
    except CopiBioError as err:
        print(f"copi-bio: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # one line, not a traceback, for what the checks above did not foresee
        where = f"{err.filename}: " if err.filename else ""
        print(f"copi-bio: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
