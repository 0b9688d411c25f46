"""copi_bio: continuous-time rate and spiking simulation of constrained parameter inference (COPI).

Typical use::

    import copi_bio
    model = copi_bio.load_model("teacher_student", ["protocol.presentations=500"])
    ds = copi_bio.simulate(model, progress=True)
    copi_bio.save_result(ds, "run.nc")

Models can also be built in Python from the spec classes (:class:`Model`,
:class:`Population`, ..., :class:`NetworkModel`); they are validated exactly
as model files are, and ``model.replace("plasticity.tau", "2 s")`` changes
keys as ``--set`` does.
"""

from __future__ import annotations

from .errors import CopiBioError, ModelError, SimulationError
from .modelfile import available_models, load_model, parse_model
from .results import open_result, save_result, summarize
from .simulation import simulate
from .sweep import Sweep, run_sweep
from .version import __version__
from .spec import (CommonInput, CopiLateralRule, CopiRule, CovarianceRule, DecorrelationTask, DeltaRule, DigitsTask,
                   FeedbackPathway, LateralInhibition, MnistTask, Model, NetworkModel, NetworkPopulation,
                   NetworkProtocol, NetworkRecording, NetworkSpec, NoPlasticity, Population, Projection, Protocol,
                   Recording, SpikingParams, TeacherStudentTask, VogelsSprekelerRule)

__all__ = [
    "CopiBioError", "ModelError", "SimulationError", "available_models", "load_model",
    "parse_model", "run_sweep", "Sweep", "open_result", "save_result", "summarize", "simulate",
    # chain models (rate or spiking backend)
    "Model", "Population", "LateralInhibition", "CopiRule", "DeltaRule", "NoPlasticity", "FeedbackPathway",
    "TeacherStudentTask", "DigitsTask", "MnistTask", "DecorrelationTask", "Protocol", "Recording", "SpikingParams",
    # E/I spiking networks
    "NetworkModel", "NetworkSpec", "NetworkPopulation", "Projection", "CovarianceRule", "VogelsSprekelerRule",
    "CopiLateralRule",
    "CommonInput", "NetworkProtocol", "NetworkRecording",
]
