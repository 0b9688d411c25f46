"""Feature readout, whitening and network compression from stored weights.

These functions evaluate the *stored* network (final weight snapshot of a
result) as a feedforward map at steady state: ``x_k = R_k r_k`` (or
``(I + M_k)^-1 r_k``), ``a_k = W_k x_k + b``, ``r_{k+1} = f(a_k)``. That is
arithmetic on saved parameters, not a simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..modelfile import parse_model_text
from ..spec import Model
from ..transfer import transfer


def model_of(ds: xr.Dataset) -> Model:
    """The validated model a result was produced with (from ``attrs['model_toml']``)."""
    return parse_model_text(ds.attrs["model_toml"], ds.attrs.get("model_source", "<result>"))


@dataclass
class Layer:
    """Steady-state map of one connection: lateral matrix, weights, bias, transfer."""

    lateral: np.ndarray | None
    foldiak: bool
    weights: np.ndarray
    bias: np.ndarray | None
    f: object

    def decorrelate(self, r: np.ndarray) -> np.ndarray:
        """``x`` for presynaptic rates ``r`` (rows = samples)."""
        if self.lateral is None:
            return r
        if self.foldiak:
            return np.linalg.solve(np.eye(len(self.lateral)) + self.lateral, r.T).T
        return r @ self.lateral.T

    def drive(self, x: np.ndarray) -> np.ndarray:
        """Feedforward drive ``a = W x + b``."""
        a = x @ self.weights.T
        return a + self.bias if self.bias is not None else a


def layers_of(ds: xr.Dataset, snapshot: int = -1) -> list[Layer]:
    """The stored network's connections at a weight snapshot (default: last)."""
    model = model_of(ds)
    names = [p.name for p in model.populations]
    foldiak = model.lateral.rule == "foldiak"
    out = []
    for k in range(len(names) - 1):
        pre, post = names[k], names[k + 1]
        lat_key = f"{'M' if foldiak else 'R'}_{pre}"
        pop = model.populations[k + 1]
        out.append(Layer(
            lateral=ds[lat_key].isel(t_weights=snapshot).values if lat_key in ds else None,
            foldiak=foldiak,
            weights=ds[f"W_{pre}_{post}"].isel(t_weights=snapshot).values,
            bias=ds[f"b_{post}"].isel(t_weights=snapshot).values if f"b_{post}" in ds else None,
            f=transfer(pop.transfer, pop.slope)[0],
        ))
    return out


def feedforward(layers: list[Layer], inputs: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Activities ``x``, ``a`` and ``r`` of every connection for a batch of inputs."""
    r, out = np.asarray(inputs, float), []
    for layer in layers:
        x = layer.decorrelate(r)
        a = layer.drive(x)
        r = layer.f(a)
        out.append({"x": x, "a": a, "r": r})
    return out


def inferred_linear_map(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """COPI readout of a linear map from samples: ``<a x^T> diag(<x^2>)^-1``.

    Parameters
    ----------
    x : ndarray, shape (samples, n_in)
        (Decorrelated) inputs.
    a : ndarray, shape (samples, n_out)
        Outputs to explain.

    Returns
    -------
    ndarray, shape (n_out, n_in)
        Exact least-squares map when the inputs are decorrelated.
    """
    x_sq = np.mean(x * x, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x_sq > 0, (a.T @ x) / len(x) / x_sq, 0.0)


def receptive_fields(layers: list[Layer], inputs: np.ndarray, layer: int) -> np.ndarray:
    """Receptive fields of connection ``layer``'s drive in decorrelated input space.

    The fields are ``<x_0 a_l^T> / <x_0^2>``: the linear map from the
    network's decorrelated input ``x_0`` to the drive ``a_l``, read out the
    way a COPI synapse would. Shape ``(n_units, n_inputs)``.
    """
    acts = feedforward(layers, inputs)
    return inferred_linear_map(acts[0]["x"], acts[layer]["a"])


def zca_whitening(cov: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """ZCA whitening matrix ``C^-1/2`` (symmetric; ``W C W^T = I``).

    Parameters
    ----------
    cov : ndarray
        Covariance matrix (symmetric, positive semi-definite).
    eps : float
        Added to eigenvalues to regularise null directions.
    """
    vals, vecs = np.linalg.eigh(cov)
    return (vecs / np.sqrt(np.maximum(vals, 0.0) + eps)) @ vecs.T


def compressed_accuracy(layers: list[Layer], train_inputs: np.ndarray, test_inputs: np.ndarray,
                        test_labels: np.ndarray, start: int, n_removed: int) -> float:
    """Accuracy after replacing connections ``start .. start + n_removed`` by one inferred map.

    The ``n_removed + 1`` consecutive connections beginning at ``start`` are
    replaced by a single linear map from ``x_start`` (the decorrelated input of
    connection ``start``) to the drive ``a`` of the last replaced connection,
    inferred on the training inputs with :func:`inferred_linear_map`; the last
    replaced connection's transfer function is kept. ``n_removed = 0`` leaves
    the network unchanged.
    """
    end = start + n_removed
    if not 0 <= start <= end < len(layers):
        raise ValueError(f"cannot remove {n_removed} layers after connection {start} of {len(layers)}")
    if n_removed == 0:
        r = feedforward(layers, test_inputs)[-1]["r"]
        return float(np.mean(np.argmax(r, axis=1) == test_labels))
    train = feedforward(layers, train_inputs)
    mapping = inferred_linear_map(train[start]["x"], train[end]["a"])
    r = np.asarray(test_inputs, float)
    for layer in layers[:start]:
        r = layer.f(layer.drive(layer.decorrelate(r)))
    r = layers[end].f(layers[start].decorrelate(r) @ mapping.T)
    for layer in layers[end + 1:]:
        r = layer.f(layer.drive(layer.decorrelate(r)))
    return float(np.mean(np.argmax(r, axis=1) == test_labels))
