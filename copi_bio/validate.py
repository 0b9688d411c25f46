"""``copi-bio validate``: run the shipped models that make the predictions, judge them against
published observations (:mod:`copi_bio.analysis.validation`), and write a table and one figure per
phenomenon.

Models and windows (``small`` shortens every run; the full suite takes a few minutes on 2 cores):

* ``spiking_ei_small`` (the E/I network with plastic inhibition): the counting-window dependence of
  ``r_sc`` over the last 40 % of its run (mostly the decorrelated state), and its firing-rate
  dependence from 1 s to the onset of plasticity (5 s), while the shared input's correlation is fixed
  as in de la Rocha et al.'s experiment;
* ``spiking_lif_teacher_student`` (a spike-driven chain learning a task with COPI), once as shipped and
  once with its lateral plasticity off: ``r_sc``, rate and Fano factor of its input population over
  the second half of the run;
* ``spiking_ei_small`` again with the excitatory cells' background current raised by
  :data:`STIMULUS_DRIVE` (the "evoked" state) against the shipped network (spontaneous), over the
  last 40 % of both runs;
* ``spiking_lif_digits_hidden`` learning 20 training images (10 with ``small``), each shown many times
  (the full suite also runs it with its lateral plasticity off, for comparison): noise against
  signal correlations of its hidden cells, and the similarity of its input population's patterns
  after each onset, both over the second half of the run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from .analysis import validation
from .analysis.figures import save_figure
from .atomic import atomic_write
from .modelfile import load_model
from .outdir import output_path, prepare_output_folder
from .simulation import simulate

NETWORK = "spiking_ei_small"
ANALYSED = 0.4
"""Fraction of the E/I network's run, at its end, whose spikes are analysed (14 s of 35 s: 28 windows
of 500 ms)."""
TRAINED = "spiking_lif_teacher_student"
TUNED = "spiking_lif_digits_hidden"
STIMULUS_DRIVE = 1.25
"""The stimulus of the spontaneous-against-evoked comparison: the excitatory cells' background current
times this (an extra, unstructured excitatory drive for the whole run)."""


def _settings(small: bool) -> dict:
    if small:
        return {"duration": 20.0, "presentations": 800, "tuned": 300, "images": 10}
    return {"duration": 35.0, "presentations": 2000, "tuned": 1000, "images": 20}


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
    recording : sequence of neo.SpikeTrain, optional
        A user's recording (:func:`copi_bio.analysis.recordings.load_spiketrains`): the phenomena that
        need nothing but spike trains (``window``, ``rate``) are scored on it too, in a ``recording``
        column of the table and as a curve in their figures.

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
    outcomes = [validation.window_dependence(network, "E", start, duration, recording=recording),
                validation.rate_dependence(network, "E", 1.0, onset, recording=recording)]
    excitatory = next(p for p in ei_model.network.populations if p.name == "E")
    evoked = simulate(ei_model.replace("network.populations.E.I_bg",
                                       f"{excitatory.I_bg * STIMULUS_DRIVE * 1e12:g} pA"), progress=progress)
    schedule = [f"protocol.presentations={cfg['presentations']}", f"protocol.eval_every={cfg['presentations'] // 4}"]
    trained = load_model(TRAINED, schedule)
    learned = simulate(trained, progress=progress)
    frozen = simulate(load_model(TRAINED, schedule + ["spiking.eta_lateral=0"]), progress=progress)
    stop = trained.protocol.presentations * trained.protocol.t_present
    outcomes.append(validation.training_decorrelation(learned, frozen, "input", stop / 2, stop))
    outcomes.append(validation.spontaneous_vs_evoked(network, evoked, "E", start, duration))
    # the first training images of the fixed split, each shown often enough to separate signal from noise
    repeated = [f"task.train_size={cfg['images']}", f"protocol.presentations={cfg['tuned']}",
                f"protocol.eval_every={cfg['tuned'] // 4}"]
    tuned = simulate(load_model(TUNED, repeated), progress=progress)
    control = None if small else simulate(load_model(TUNED, repeated + ["spiking.eta_lateral=0"]), progress=progress)
    outcomes.append(validation.tuning_dependence(tuned, "hidden", cfg["tuned"] // 2, control))
    outcomes.append(validation.pattern_decorrelation(tuned, "input", cfg["tuned"] // 2, control))
    for outcome in outcomes:
        if recording is not None and outcome.recording is None:
            outcome.recording = f"not scored: needs {NEEDS[outcome.phenomenon]}"
        save_figure(outcome.figure, out, f"validation_{outcome.phenomenon}")
        outcome.figure = None
    rows = [o.row() for o in outcomes]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(output_path(out, "validation.csv"), write)
    return outcomes
