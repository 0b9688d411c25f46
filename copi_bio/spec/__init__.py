"""Validated model description: the spec objects a backend builds from.

The objects only hold and check values; they never run anything, and
quantities are stored as SI floats (seconds, Hz, volts, siemens, farads,
amperes). The package has one module per concern, imported in this order
(each imports only modules before it):

* :mod:`~copi_bio.spec.params`: :func:`param` declares a model-file key once
  (kind, unit, default, bounds, meaning); the declaration validates and
  converts values and documents them;
* :mod:`~copi_bio.spec.base`: the base classes (validated construction,
  ``replace``, the ``--set`` key addressing :func:`set_key`, safe names);
* :mod:`~copi_bio.spec.chain`, :mod:`~copi_bio.spec.tasks`,
  :mod:`~copi_bio.spec.spiking`: the parts of a chain model and the
  ``[spiking]`` table;
* :mod:`~copi_bio.spec.stability`, :mod:`~copi_bio.spec.checks`: the
  cross-key checks of a chain model (bases of :class:`Model`);
* :mod:`~copi_bio.spec.model`: the chain model :class:`Model`;
* :mod:`~copi_bio.spec.network`: the E/I network model :class:`NetworkModel`
  and its parts.

Each spec class declares its keys with :func:`param`; ``from_mapping`` turns
a parsed TOML table into the object and raises
:class:`~copi_bio.errors.ModelError` naming the key, the value and what is
allowed for unknown keys, wrong types and out-of-range values. Whole models
validate themselves (:meth:`ModelBase.parse`), cross-key and stability
checks included; :mod:`copi_bio.modelfile` only reads TOML into them.

Models from Python take the same path: calling a spec class,
``Population(name="hidden", size=100, tau="1 ms")``, passes its keyword
arguments, written as in a model file, to ``from_mapping``; calling
:class:`Model` (or :class:`NetworkModel`) turns its parts back into a model
table and validates it as a file is validated. Quantities are strings with
units from Python too: a plain float for a time is refused with the model
file's message, so a value is never read in the wrong unit.
``replace("plasticity.tau", "2 s")`` changes keys of a validated object
through the same route as ``copi-bio run --set``. ``Cls._unchecked(...)``
is the internal constructor for values that have already passed these
checks.
"""

from .base import NAME_MAX, NAME_RULE, ModelBase, Spec, SpecBase, SpecType, check_name, set_key
from .chain import (FORWARD_RULES, MAX_POPULATION, RECORDABLE, TRANSFER_FUNCTIONS, CopiRule, DeltaRule,
                    FeedbackPathway, ForwardRule, LateralInhibition, NoPlasticity, Population, Protocol,
                    Recording)
from .checks import MAX_ELEMENTS, ChainChecks
from .model import TOP_KEYS, Model
from .ei_plasticity import CopiLateralRule, CovarianceRule, PlasticityRule, VogelsSprekelerRule
from .network import (CELL_TYPES, NETWORK_TOP_KEYS, CommonInput, NetworkModel, NetworkPopulation, NetworkProtocol,
                      NetworkRecording, NetworkSpec, Projection)
from .params import MAX_INT, param
from .spiking import RENAMED_NEURONS, SpikingParams
from .stimulus import Stimulus
from .stability import GROWTH_LIMIT, HIDDEN_SECOND_MOMENT, StabilityCriteria
from .tasks import TASKS, DecorrelationTask, DigitsTask, MnistTask, Task, TeacherStudentTask

__all__ = [
    "param", "MAX_INT", "Spec", "SpecBase", "SpecType", "ModelBase", "set_key", "check_name", "NAME_MAX",
    "NAME_RULE",
    "Population", "LateralInhibition", "ForwardRule", "CopiRule", "DeltaRule", "NoPlasticity", "FeedbackPathway",
    "Protocol", "Recording", "FORWARD_RULES", "MAX_POPULATION", "RECORDABLE", "TRANSFER_FUNCTIONS",
    "Task", "TeacherStudentTask", "DigitsTask", "MnistTask", "DecorrelationTask", "TASKS",
    "SpikingParams", "RENAMED_NEURONS",
    "StabilityCriteria", "GROWTH_LIMIT", "HIDDEN_SECOND_MOMENT", "ChainChecks", "MAX_ELEMENTS",
    "Model", "TOP_KEYS",
    "NetworkModel", "NetworkSpec", "NetworkPopulation", "Projection", "PlasticityRule", "CovarianceRule", "CopiLateralRule",
    "VogelsSprekelerRule", "CommonInput", "Stimulus", "NetworkProtocol", "NetworkRecording", "CELL_TYPES",
    "NETWORK_TOP_KEYS",
]
