"""Stimuli and targets for the tasks of a model (shared by all backends).

A :class:`TaskData` hands out training batches (one stimulus per parallel
trial, held for a presentation) and a fixed test set. Input values are rates
in arbitrary units for the rate backend; the spiking backend maps them to
firing rates.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bounded import InputTooLarge, read_gzip, read_npz
from .errors import ModelError
from .spec import DecorrelationTask, DigitsTask, MnistTask, Task, TeacherStudentTask


@dataclass
class TaskData:
    """Data of one task instance.

    Attributes
    ----------
    n_in, n_out : int
        Input and target dimensions (``n_out = 0`` for target-free tasks).
    test_inputs, test_targets : ndarray
        Fixed test set, shapes ``(n_test, n_in)`` and ``(n_test, n_out)``.
    test_labels : ndarray or None
        Class labels of the test set (classification tasks).
    teacher : ndarray or None
        The teacher's linear map ``(n_out, n_in)`` when the teacher is linear.
    input_covariance : ndarray or None
        The generating covariance of the inputs, when known.
    n_train : int or None
        Size of a finite training set (``None`` for generated streams).
    """

    n_in: int
    n_out: int
    test_inputs: np.ndarray
    test_targets: np.ndarray
    test_labels: np.ndarray | None = None
    teacher: np.ndarray | None = None
    input_covariance: np.ndarray | None = None
    n_train: int | None = None
    _sampler: object = field(default=None, repr=False)
    sampler_state: dict = field(default_factory=dict, repr=False)
    """Mutable state of the training-batch sampler (e.g. the rest of the current
    epoch's order); saved in checkpoints so a resumed run draws the same batches."""

    @property
    def classification(self) -> bool:
        """Whether accuracy is defined (targets are one-hot classes)."""
        return self.test_labels is not None

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw one training stimulus per trial: ``(inputs, targets)``."""
        return self._sampler(rng, size)


def _correlated_sampler(n: int, rho: float, mean: float):
    """Inputs ``z = mean + sqrt(1-rho) e + sqrt(rho) s`` (equicorrelation ``rho``)."""
    a, c = np.sqrt(1.0 - rho), np.sqrt(rho)

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        return mean + a * rng.standard_normal((size, n)) + c * rng.standard_normal((size, 1))

    cov = (1.0 - rho) * np.eye(n) + rho * np.ones((n, n))
    return draw, cov


def teacher_student(spec: TeacherStudentTask, n_in: int, n_out: int, rng: np.random.Generator) -> TaskData:
    """Correlated Gaussian inputs and a random teacher network."""
    draw, cov = _correlated_sampler(n_in, spec.correlation, spec.mean)
    if spec.teacher_hidden:
        w1 = rng.standard_normal((spec.teacher_hidden, n_in)) / np.sqrt(n_in)
        w2 = rng.standard_normal((n_out, spec.teacher_hidden)) / np.sqrt(spec.teacher_hidden)
        maps = [w1, w2]
    else:
        maps = [rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)]
    nonlinear = spec.teacher == "tanh"

    def teach(z: np.ndarray) -> np.ndarray:
        h = z
        for i, w in enumerate(maps):
            h = h @ w.T
            if nonlinear or i < len(maps) - 1:
                h = np.tanh(h)
        return h

    def sample(rng_: np.random.Generator, size: int):
        z = draw(rng_, size)
        t = teach(z)
        if spec.noise:
            t = t + spec.noise * rng_.standard_normal(t.shape)
        return z, t

    z_test = draw(rng, spec.test_size)
    linear = not nonlinear and not spec.teacher_hidden
    return TaskData(n_in, n_out, z_test, teach(z_test), teacher=maps[0] if linear else None,
                    input_covariance=cov, _sampler=sample)


def decorrelation(spec: DecorrelationTask, n_in: int, rng: np.random.Generator) -> TaskData:
    """Correlated input streams without targets."""
    draw, cov = _correlated_sampler(n_in, spec.correlation, spec.mean)
    z_test = draw(rng, 512)
    return TaskData(n_in, 0, z_test, np.zeros((512, 0)), input_covariance=cov,
                    _sampler=lambda r, size: (draw(r, size), np.zeros((size, 0))))


def _classification(x_train, y_train, x_test, y_test, n_classes: int, train_size: int | None = None) -> TaskData:
    if train_size:  # only the first training images
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    eye = np.eye(n_classes)
    data = TaskData(x_train.shape[1], n_classes, x_test, eye[y_test], test_labels=y_test,
                    n_train=len(x_train))
    data.sampler_state["order"] = np.empty(0, dtype=int)

    def sample(rng: np.random.Generator, size: int):
        state = data.sampler_state  # looked up at each call: a checkpoint may replace it
        order = state["order"]
        while order.size < size:  # epoch-wise shuffling, without replacement
            order = np.concatenate([order, rng.permutation(len(x_train))])
        idx, state["order"] = order[:size], order[size:]
        return x_train[idx], eye[y_train[idx]]

    data._sampler = sample
    return data


def digits(spec: DigitsTask) -> TaskData:
    """scikit-learn's 8x8 digits (1797 images), stratified split fixed by seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, data.target, test_size=spec.test_fraction,
                                              stratify=data.target, random_state=0)
    return _classification(x_tr, y_tr, x_te, y_te, 10, spec.train_size)


MNIST_MAX_BYTES = 2 ** 28
"""Largest MNIST array (bytes) read from a user's file (the training images are 47 MB)."""


def _read_idx(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".gz":
            raw = read_gzip(path, MNIST_MAX_BYTES)
        else:
            if path.stat().st_size > MNIST_MAX_BYTES:
                raise ModelError("task.path", str(path), f"an IDX file of at most {MNIST_MAX_BYTES} bytes")
            raw = path.read_bytes()
    except InputTooLarge as err:
        raise ModelError("task.path", str(path), f"an MNIST file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ModelError("task.path", str(path), "an IDX file of unsigned bytes (MNIST format)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ModelError("task.path", str(path), f"an IDX file with {int(np.prod(shape))} values")
    return data.reshape(shape)


def load_mnist(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a local MNIST copy.

    Parameters
    ----------
    path : str or Path
        Either an ``.npz`` file with arrays ``x_train, y_train, x_test, y_test``
        or a folder with the four IDX files (``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte``, optionally ``.gz``).

    Returns
    -------
    x_train, y_train, x_test, y_test : ndarray
        Images flattened to 784 values scaled to [0, 1]; integer labels.
    """
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".npz":
        keys = ["x_train", "y_train", "x_test", "y_test"]
        try:
            found = read_npz(path, keys, MNIST_MAX_BYTES)
        except (InputTooLarge, ValueError, zipfile.BadZipFile) as err:
            raise ModelError("task.path", str(path), f"an .npz of plain arrays ({err})") from None
        missing = [k for k in keys if k not in found]
        if missing:
            raise ModelError("task.path", str(path), f"an .npz with arrays {missing}")
        arrays = [found[k] for k in keys]
    elif path.is_dir():
        names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
        arrays = []
        for name in names:
            cands = [path / name, path / (name + ".gz"), path / name.replace("-idx", ".idx")]
            found = next((c for c in cands if c.is_file()), None)
            if found is None:
                raise ModelError("task.path", str(path), f"a folder containing {name}[.gz]")
            arrays.append(_read_idx(found))
    else:
        raise ModelError("task.path", str(path), "an existing .npz file or folder of MNIST IDX files")
    x_tr, y_tr, x_te, y_te = arrays
    x_tr = x_tr.reshape(len(x_tr), -1).astype(np.float64)
    x_te = x_te.reshape(len(x_te), -1).astype(np.float64)
    scale = 255.0 if max(x_tr.max(), x_te.max()) > 1.0 else 1.0
    return x_tr / scale, y_tr.astype(int), x_te / scale, y_te.astype(int)


def mnist(spec: MnistTask) -> TaskData:
    """A local MNIST copy (see :func:`load_mnist`)."""
    x_tr, y_tr, x_te, y_te = load_mnist(spec.path)
    if x_tr.shape[1] != 784:
        raise ModelError("task.path", spec.path, f"28x28 images (found {x_tr.shape[1]} pixels)")
    return _classification(x_tr, y_tr, x_te, y_te, 10, spec.train_size)


def build_task(spec: Task, n_in: int, n_out: int, rng: np.random.Generator) -> TaskData:
    """Instantiate the task of a model.

    Parameters
    ----------
    spec : Task
        The task spec.
    n_in, n_out : int
        Sizes of the input and output populations.
    rng : numpy.random.Generator
        Source of the teacher and test set randomness.
    """
    if isinstance(spec, TeacherStudentTask):
        return teacher_student(spec, n_in, n_out, rng)
    if isinstance(spec, DecorrelationTask):
        return decorrelation(spec, n_in, rng)
    if isinstance(spec, DigitsTask):
        return digits(spec)
    if isinstance(spec, MnistTask):
        return mnist(spec)
    raise TypeError(f"unknown task spec {spec!r}")
