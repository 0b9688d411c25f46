"""Spec of the plasticity rules of an E/I network's projections (``[network.projections.plasticity]``;
``rule`` selects the class). The Brian2 statements are in :mod:`copi_bio.spiking.plasticity`; which
covariance each rule removes: docs/spiking.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import SpecBase
from .params import param


@dataclass(frozen=True)
class PlasticityRule(SpecBase):
    """Base of the plasticity rules of a projection (``rule`` key selects the class).

    Every rule clips the weight to ``[0, w_max]``, so a synapse never changes sign, and is off
    before ``onset`` (and, with a stimulus protocol whose test phase is frozen, from the first test
    trial on).
    """

    _path = "network.projections.plasticity"
    _selector = "rule"
    rule: ClassVar[str] = ""
    eta: float = param("float", 0.01, low=0, doc="learning rate (weight change per unit trace, in units of nS)")
    w_max: float = param("conductance", 100e-9, low=0, doc="upper bound of the weight")
    onset: float = param("time", 0.0, low=0, strict=False, doc="plasticity starts at this time")


@dataclass(frozen=True)
class SpikeTraceRule(PlasticityRule):
    """Base of the spike-timing rules: spike traces ``x_pre``, ``x_post`` (jump 1, decay ``tau``)."""

    tau: float = param("time", 20e-3, low=0, doc="spike-trace time constant of the symmetric window")


@dataclass(frozen=True)
class CovarianceRule(SpikeTraceRule):
    """Symmetric spike-timing rule minus the product of slow rate estimates.

    pre spike: ``w += eta (x_post - 2 tau nu_post)``; post spike: ``w += eta x_pre``,
    with ``nu_post`` the postsynaptic rate averaged over ``tau_rate``.
    Expected drift: ``eta * integral exp(-|s|/tau) cov_{post,pre}(s) ds``: its fixed point is zero
    covariance between the postsynaptic cell and the presynaptic cell's *spikes*.
    """

    rule: ClassVar[str] = "covariance"
    tau_rate: float = param("time", 1.0, low=0, doc="time constant of the slow rate estimate nu_post")


@dataclass(frozen=True)
class VogelsSprekelerRule(SpikeTraceRule):
    """Inhibitory plasticity of Vogels, Sprekeler et al. 2011.

    pre spike: ``w += eta (x_post - alpha)``; post spike: ``w += eta x_pre``,
    ``alpha = 2 tau target_rate``. Expected drift:
    ``eta [nu_pre 2 tau (nu_post - target_rate) + integral exp(-|s|/tau) cov(s) ds]``.
    """

    rule: ClassVar[str] = "vogels_sprekeler"
    target_rate: float = param("rate", 3.0, low=0, doc="homeostatic target rate of the postsynaptic neurons")

    @property
    def alpha(self) -> float:
        """Depression per presynaptic spike ``2 tau target_rate`` (dimensionless)."""
        return 2.0 * self.tau * self.target_rate


@dataclass(frozen=True)
class CopiLateralRule(PlasticityRule):
    """COPI's decorrelating rule through interneurons, for inhibitory -> excitatory synapses.

    At every spike of the postsynaptic (excitatory) cell ``i``:
    ``w_ik += eta (g_k - gbar_k) / 1 nS``, with ``g_k`` the excitatory conductance of the presynaptic
    interneuron ``k`` (its drive from the excitatory cells) and ``gbar_k`` its mean over
    ``tau_mean``. Expected drift: ``eta cov(S_i, g_k) = eta sum_j A_kj cov(S_i, S_j)`` (``A_kj`` the
    filtered E -> interneuron weights): covariances between *excitatory* cells, as COPI's lateral
    rule ``dM_ij = eta x_i x_j`` with ``M = V A``. Its fixed point is zero covariance between each
    excitatory cell and the drive of every interneuron that inhibits it; it has no rate target.
    """

    rule: ClassVar[str] = "copi"
    tau_mean: float = param("time", 1.0, low=0, doc="time constant of the interneuron's mean drive gbar")


PLASTICITY_RULES: dict[str, type[PlasticityRule]] = {c.rule: c for c in (CovarianceRule, VogelsSprekelerRule,
                                                                          CopiLateralRule)}
