"""``copi-bio validate``: run the shipped models that make the predictions, judge them against
published observations (:mod:`copi_bio.analysis.validation`), and write a table and one figure per
phenomenon.

Models and windows (``small`` shortens every run; the full suite takes a few minutes on 2 cores):

* ``spiking_ei_small`` (the E/I network with plastic inhibition): the counting-window dependence of
  ``r_sc`` over the last 40 % of its run (mostly the decorrelated state), and its firing-rate
  dependence from 1 s to the onset of plasticity (5 s), while the shared input's correlation is fixed
  as in de la Rocha et al.'s experiment;
* ``spiking_ei_small`` again with a stimulus protocol over the same last 40 % of its run
  (:data:`STIMULUS`: trials of 200 ms without and 500 ms with an extra current to the excitatory
  cells): noise correlations before and after onset in the same trials;
* ``spiking_lif_digits_hidden`` learning 20 training images (10 with ``small``), each shown many times,
  and the same network with its lateral plasticity off (naive): noise correlations of the hidden
  cells at repeated images against the naive network's (training), noise against signal correlations
  (tuning), and the similarity of its input population's patterns after each onset, all over the
  second half of the run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from . import trials
from .analysis import recording_statistics as rstat
from .analysis import resampling, scores, suite_recording, trial_stats, validation
from .analysis.figure_io import save_figure
from .analysis.trial_io import read_trials
from .atomic import atomic_write
from .errors import CopiBioError
from .modelfile import load_model
from .outdir import output_path, prepare_output_folder
from .results import open_result, save_result
from .simulation import simulate
from .sweep.grid import run_name, toml_value

NETWORK = "spiking_ei_small"
ANALYSED = 0.4
"""Fraction of the E/I network's run, at its end, whose spikes are analysed (14 s of 35 s: 28 windows
of 500 ms)."""
TUNED = "spiking_lif_digits_hidden"
STIMULUS_CURRENT = "50 pA"
"""The stimulus of the spontaneous-against-evoked comparison: a current to every excitatory cell during
the stimulus epochs (a quarter of their background current; one condition, untuned)."""


def _stimulus(start: float, duration: float) -> list[str]:
    """Overrides giving the E/I network trials of 200 ms + 500 ms from ``start`` to ``duration`` s."""
    repeats = int((duration - start) / 0.7 + 1e-9)
    return ["network.stimulus.orientations=1", f"network.stimulus.repeats={repeats}",
            f"network.stimulus.start='{start:g} s'", f"network.stimulus.untuned='{STIMULUS_CURRENT}'"]


def _settings(small: bool) -> dict:
    if small:
        return {"duration": 20.0, "tuned": 300, "images": 10}
    return {"duration": 35.0, "tuned": 1000, "images": 20}


NEEDS = {"training": "trained and naive states", "spontaneous_vs_evoked": "spontaneous and evoked epochs",
         "tuning": "repeated stimuli", "pattern_decorrelation": "stimulus onsets"}
"""What a plain spike recording lacks for the phenomena that are not scored on it."""


def run_validation(out_dir: str | Path, small: bool = False, progress: bool = False,
                   recording: Sequence | None = None) -> list[validation.Outcome]:
    """Run the suite; write ``validation.csv`` and ``validation_<phenomenon>.png/.svg`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created; every file stays inside it).
    small : bool
        Shorter runs (about a minute on 2 cores), for tests and a first look.
    progress : bool
        Progress bars of the simulations.
    recording : sequence of neo.SpikeTrain or xarray.DataArray, optional
        A user's recording, scored in a ``recording`` column of the table. Spike trains
        (:func:`copi_bio.analysis.recordings.load_spiketrains`): on the phenomena that need nothing
        but spike trains (``window``, ``rate``), also drawn in their figures. Trial counts
        (:mod:`copi_bio.trials`, single units): on every phenomenon a recording of one state
        supports, with the suite's own rules (:mod:`copi_bio.analysis.suite_recording`); its
        statistics go to ``recording_statistics.csv``.

    Returns
    -------
    list of Outcome
        One per phenomenon, in the order of the table.
    """
    out = prepare_output_folder(out_dir)
    cfg = _settings(small)
    duration = cfg["duration"]
    ei_model = load_model(NETWORK, [f"protocol.duration='{duration:g} s'"])
    network = simulate(ei_model, progress=progress)
    onset = min(p.plasticity.onset for p in ei_model.network.projections if p.plasticity is not None)
    start = duration * (1.0 - ANALYSED)
    trains = None if isinstance(recording, xr.DataArray) else recording
    outcomes = [validation.window_dependence(network, "E", start, duration, recording=trains),
                validation.rate_dependence(network, "E", 1.0, onset, recording=trains)]
    stimulated = simulate(load_model(NETWORK, [f"protocol.duration='{duration:g} s'", *_stimulus(start, duration)]),
                          progress=progress)
    # the first training images of the fixed split, each shown often enough to separate signal from noise
    repeated = [f"task.train_size={cfg['images']}", f"protocol.presentations={cfg['tuned']}",
                f"protocol.eval_every={cfg['tuned'] // 4}", "spiking.test_images=0"]  # no accuracy needed
    tuned_model = load_model(TUNED, repeated)
    tuned = simulate(tuned_model, progress=progress)
    naive = simulate(load_model(TUNED, repeated + ["spiking.eta_lateral=0"]), progress=progress)
    half = cfg["tuned"] // 2 * tuned_model.protocol.t_present

    def late(ds) -> object:
        return validation.late_trials(trials.from_result(ds, "hidden"), ds, half)

    outcomes.append(validation.training_decorrelation(late(tuned), late(naive)))
    outcomes.append(validation.spontaneous_vs_evoked(trials.from_result(stimulated, "E")))
    outcomes.append(validation.tuning_dependence(late(tuned), late(naive)))
    outcomes.append(validation.pattern_decorrelation(tuned, "input", cfg["tuned"] // 2, naive))
    if isinstance(recording, xr.DataArray):
        for outcome in outcomes:
            outcome.recording = suite_recording.score(outcome.phenomenon, recording)
        _write_csv(output_path(out, "recording_statistics.csv"),
                   [{"recording": recording.attrs.get("source", "recording"), "statistic": k, "value": e.value,
                     "ci_low": e.ci_low, "ci_high": e.ci_high} for k, e in rstat.statistics(recording).items()])
    for outcome in outcomes:
        if recording is not None and outcome.recording is None:
            outcome.recording = f"not scored: needs {NEEDS[outcome.phenomenon]}"
        save_figure(outcome.figure, out, f"validation_{outcome.phenomenon}")
        outcome.figure = None
    _write_csv(output_path(out, "validation.csv"), [o.row() for o in outcomes])
    return outcomes


# --- any model, result, sweep or recording ---------------------------------------------------------


def _sweep_runs(folder: Path) -> list[tuple[str, Path, dict]]:
    """(run name, result file, grid values and seed) of every finished run of a sweep folder.

    The runs are found from the combined file's record of the sweep (its grid, seeds and overrides) and
    the model name stored in the run files, without the model file (a sweep folder may come from elsewhere).
    """
    combined = folder / "sweep.nc"
    if not combined.is_file():
        raise CopiBioError(f"{folder}: not a sweep folder (no sweep.nc); give a model, a result .nc or a sweep folder")
    try:
        spec = json.loads(open_result(combined, expect=("sweep",)).attrs["sweep"])
        grid, seeds, overrides = dict(spec["grid"]), list(spec["seeds"]), list(spec.get("overrides", []))
    except (KeyError, TypeError, ValueError) as err:
        raise CopiBioError(f"{combined}: no readable sweep record in its attribute 'sweep' ({err})") from None
    stored = sorted((folder / "runs").glob("*.nc"))
    if not stored:
        raise CopiBioError(f"{folder}: the sweep has no finished run to score (no runs/*.nc)")
    model_name = str(open_result(stored[0]).attrs.get("model_name", ""))
    out = []
    for index in np.ndindex(*[len(v) for v in grid.values()]):
        values = {k: grid[k][i] for k, i in zip(grid, index)}
        for seed in seeds:
            ov = [*overrides, *(f"{k}={toml_value(v)}" for k, v in values.items()), f"seed={seed}"]
            name = run_name(model_name, values, seed, ov)
            path = output_path(folder, "runs", f"{name}.nc")
            if path.is_file():
                out.append((name, path, {**values, "seed": seed}))
    if not out:
        raise CopiBioError(f"{folder}: the sweep has no finished run to score")
    return out


def _result_counts(ds, label: str, population: str | None) -> list[tuple[str, object]]:
    """(column name, trial counts) of the populations of a result that are scored."""
    pops = trials.result_populations_with_trials(ds)
    if not pops:
        return []
    if population is not None:
        return [(label, trials.from_result(ds, population))]
    scored = pops[1:] if len(pops) > 1 else pops  # the first population is the stimulus layer
    return [(f"{label}:{p}" if len(scored) > 1 else label, trials.from_result(ds, p)) for p in scored]


def score(sources: Sequence[str], recordings: Sequence[str], out_dir: str | Path, overrides: Sequence[str] = (),
          population: str | None = None, n_boot: int = resampling.N_BOOT, progress: bool = False) -> list[dict]:
    """Score models, results, sweeps and recordings side by side (:mod:`copi_bio.analysis.scores`).

    Parameters
    ----------
    sources : sequence of str
        Each a model name or ``.toml`` file (run here, with ``overrides``, its result saved in ``out_dir`` as
        ``<model name>.nc`` so that it can be scored again without running), a result ``.nc``, or a sweep
        folder (every finished run is scored).
    recordings : sequence of str
        Trial-structured recordings (``.mat`` V1 layout, ``.nwb`` with a trials table, Neo files):
        single units (contamination < 0.05 where known) are scored, and their statistics written to
        ``recording_statistics.csv``.
    out_dir : str or Path
        Output folder: ``scores.csv`` (the score matrix, long form), ``scores.png`` (heat map),
        ``scores_<phenomenon>.png`` (every source side by side), ``statistics.csv`` (every statistic of
        every source with its interval and its numbers of pairs or cells, units and sessions),
        ``recording_statistics.csv`` (``recording,statistic,value,ci_low,ci_high``),
        ``sweep_scores.csv`` (one row per sweep run: its grid values and every score).
    overrides : sequence of str
        ``KEY=VALUE`` settings of the model files run here.
    population : str, optional
        The population scored in model runs (default: every population with trial counts but the first,
        the stimulus layer).
    n_boot : int
        Bootstrap draws of every interval.

    Returns
    -------
    list of dict
        The rows of ``scores.csv``.
    """
    out = prepare_output_folder(out_dir)
    measured: list[scores.Measured] = []
    unscored: list[tuple[str, str]] = []
    sweep_rows: list[tuple[str, dict]] = []
    for path in recordings:
        counts = trial_stats.single_units(read_trials(path))
        measured.append(scores.measure(Path(path).stem, counts, "recording", n_boot=n_boot))
    for source in sources:
        path = Path(source)
        if path.is_dir():
            runs = [(name, open_result(p), values) for name, p, values in _sweep_runs(path)]
        elif path.suffix == ".nc":
            runs = [(path.stem, open_result(path), None)]
        else:
            model = load_model(source, list(overrides))
            ds = simulate(model, progress=progress)
            save_result(ds, output_path(out, f"{model.name}.nc"))
            runs = [(model.name, ds, None)]
        for name, ds, values in runs:
            found = _result_counts(ds, name, population)
            if not found:
                unscored.append((name, "not scored: needs trial counts (a protocol that repeats stimuli)"))
            for label, counts in found:
                measured.append(scores.measure(label, counts, "model", n_boot=n_boot))
                if values is not None:
                    sweep_rows.append((label, values))
    if not measured:
        raise CopiBioError("nothing to score: " + "; ".join(f"{n}: {why}" for n, why in unscored))
    rows = scores.score_matrix(measured)
    for name, why in unscored:
        rows.append({"phenomenon": "all", "source": name, "kind": "model", "value": float("nan"),
                     "ci_low": float("nan"), "ci_high": float("nan"), "score": float("nan"), "score_kind": "",
                     "passed": "", "note": why})
    _write_csv(output_path(out, "scores.csv"), rows)
    save_figure(scores.heatmap(rows), out, "scores")
    for name, fig in scores.figures(measured).items():
        save_figure(fig, out, f"scores_{name}")
    _write_csv(output_path(out, "statistics.csv"),
               [{"source": m.name, "kind": m.kind, "statistic": k, "value": e.value, "ci_low": e.ci_low,
                 "ci_high": e.ci_high, "n": e.n, "n_units": e.n_units, "n_sessions": e.n_sessions}
                for m in measured for k, e in m.statistics.items()])
    recs = [m for m in measured if m.kind == "recording"]
    if recs:
        _write_csv(output_path(out, "recording_statistics.csv"),
                   [{"recording": m.name, "statistic": k, "value": e.value, "ci_low": e.ci_low, "ci_high": e.ci_high}
                    for m in recs for k, e in m.statistics.items()])
    if sweep_rows:
        table = []
        for label, values in sweep_rows:
            row = {"run": label, **values}
            for r in rows:
                if r["source"] == label and r["passed"]:
                    row[f"{r['phenomenon']}_score"] = r["score"]
                    row[f"{r['phenomenon']}_passed"] = r["passed"]
            table.append(row)
        _write_csv(output_path(out, "sweep_scores.csv"), table)
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(k for row in rows for k in row))

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)
