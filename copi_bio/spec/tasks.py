"""Spec objects of the tasks a chain model learns (the ``[task]`` table; ``kind`` selects the class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import SpecBase
from .params import param

@dataclass(frozen=True)
class Task(SpecBase):
    """Base of tasks; ``kind`` selects the class."""

    _path = "task"
    _selector = "kind"
    kind: ClassVar[str] = ""

    def input_second_moment_bound(self) -> float:
        """Upper bound on the second moment ``<z_j^2>`` of one input (stability checks)."""
        return 1.0


@dataclass(frozen=True)
class TeacherStudentTask(Task):
    """Correlated Gaussian inputs ``z ~ N(mean, C)``, ``C_ij = rho`` off-diagonal,
    unit variances, and a random teacher ``t = W_T z`` (``linear``) or
    ``t = tanh(W_T z)`` (``tanh``); with ``teacher_hidden > 0`` the teacher has
    a tanh hidden layer of that size."""

    kind: ClassVar[str] = "teacher_student"
    correlation: float = param("float", 0.3, low=-0.0, strict=False, high=0.95, doc="input correlation rho")
    mean: float = param("float", 0.0, doc="input mean")
    teacher: str = param("choice", "linear", choices=("linear", "tanh"), doc="teacher nonlinearity")
    teacher_hidden: int = param("int", 0, low=0, strict=False, doc="hidden units of the teacher")
    noise: float = param("float", 0.0, low=0, strict=False, doc="target noise std")
    test_size: int = param("int", 512, low=1, strict=False, doc="test samples")

    def input_second_moment_bound(self) -> float:
        """Unit variance plus the squared mean."""
        return 1.0 + self.mean ** 2


@dataclass(frozen=True)
class DigitsTask(Task):
    """scikit-learn's bundled 8x8 handwritten digits, pixels scaled to [0, 1],
    one-hot targets; a fixed stratified split."""

    kind: ClassVar[str] = "digits"
    test_fraction: float = param("float", 0.2, low=0, high=0.9, doc="held-out fraction")
    train_size: int | None = param("int", None, low=1, strict=False, optional=True,
                                   doc="use only the first N training images (each is then shown repeatedly)")


@dataclass(frozen=True)
class MnistTask(Task):
    """A user-supplied local MNIST: a folder of IDX files or an ``.npz`` with
    ``x_train, y_train, x_test, y_test``. Pixels scaled to [0, 1]."""

    kind: ClassVar[str] = "mnist"
    path: str = param("str", doc="folder of IDX files or .npz file")
    train_size: int | None = param("int", None, low=1, strict=False, optional=True,
                                   doc="use only the first N training images")


@dataclass(frozen=True)
class DecorrelationTask(Task):
    """Correlated input streams without targets: Gaussian rates with
    correlation ``rho`` and mean ``mean``, held for each presentation."""

    kind: ClassVar[str] = "decorrelation"
    correlation: float = param("float", 0.3, low=0, strict=False, high=0.95, doc="input correlation rho")
    mean: float = param("float", 0.0, doc="input mean")

    def input_second_moment_bound(self) -> float:
        """Unit variance plus the squared mean."""
        return 1.0 + self.mean ** 2


TASKS: dict[str, type[Task]] = {c.kind: c for c in (TeacherStudentTask, DigitsTask, MnistTask, DecorrelationTask)}
