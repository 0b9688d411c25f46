"""copi_bio: continuous-time rate and spiking simulation of constrained parameter inference (COPI).

Typical use::

    import copi_bio
    model = copi_bio.load_model("teacher_student", ["protocol.presentations=500"])
    ds = copi_bio.simulate(model, progress=True)
    copi_bio.save_result(ds, "run.nc")
"""

from __future__ import annotations

from .errors import CopiBioError, ModelError, SimulationError
from .modelfile import available_models, load_model, parse_model
from .results import open_result, save_result, summarize
from .simulation import simulate
from .sweep import Sweep, run_sweep
from .spec import (CopiRule, DeltaRule, FeedbackPathway, LateralInhibition, Model, Population,
                   Protocol, Recording)

__version__ = "0.1.0"

__all__ = [
    "CopiBioError", "ModelError", "SimulationError", "available_models", "load_model",
    "parse_model", "run_sweep", "Sweep", "open_result", "save_result", "summarize", "simulate", "CopiRule", "DeltaRule",
    "FeedbackPathway", "LateralInhibition", "Model", "Population", "Protocol", "Recording",
]
