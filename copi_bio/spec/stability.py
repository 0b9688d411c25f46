"""Stability of the rate backend's learning dynamics, checked when a model is loaded.

The criteria (derived in ``docs/equations.md``, section "Stability") bound
the combinations of learning rates, gains, time constants and time step
for which the explicit plasticity updates and the interplay of
decorrelation and forward learning stay bounded. Each violated criterion
raises :class:`~copi_bio.errors.ModelError` naming the keys, their values
and the bound.

The criteria are methods of :class:`~copi_bio.spec.Model` (this module's
:class:`StabilityCriteria` is one of its bases), run by its cross-key checks.

Notation: ``eps = dt / tau_W`` is the forward plasticity step, ``s`` a bound
on a single input's second moment ``<x_j^2>`` (the task's for the input
population; ``HIDDEN_SECOND_MOMENT`` for hidden populations, whose rates
are of order one), ``n`` the number of presynaptic neurons.
"""

from __future__ import annotations

import math

from ..errors import ModelError

GROWTH_LIMIT = 30.0
"""Largest tolerated growth of forward weights while decorrelation catches up (criterion L)."""

HIDDEN_SECOND_MOMENT = 1.0
"""Assumed bound on ``<x_j^2>`` of hidden rates (activities of order one)."""


def _ms(seconds: float) -> str:
    """A time as a short quantity string, ``'135 ms'`` or ``'2.5 s'``."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


class StabilityCriteria:
    """The stability criteria of the rate backend's learning dynamics, as methods of a chain model.

    A base of :class:`~copi_bio.spec.Model`; :meth:`check_stability` runs
    when the model is validated.
    """

    def effective_gain(self) -> float:
        """Gain of the error-driven part of the forward update, ``gamma_eff``.

        With ``perturbation = "prediction"`` the perturbation is ``gamma`` times
        the prediction error; with self-consistent nudging it is at most
        ``gamma / (1 + gamma)`` times the error. The COPI rule also has the decay
        ``-W diag<x^2>`` with unit gain, so its effective gain is at least 1.
        """
        gamma = self.feedback.gamma
        gain = gamma if self.feedback.perturbation == "prediction" else gamma / (1.0 + gamma)
        return max(gain, 1.0) if self.plasticity.rule == "copi" else gain

    def check_stability(self) -> None:
        """Raise :class:`ModelError` if the rate model's plasticity can run away.

        Criteria (each for every connection ``k`` with ``n_k`` inputs):

        * **S** (explicit step): ``eps * gamma_eff * s_k <= 1``, so that one
          plastic step never overshoots the weight it is moving toward; ``<= 1/2``
          when forward learning starts at the first presentation
          (``forward_onset = 0``), before any decorrelation, when the raw inputs
          have a larger curvature;
        * **R** (explicit decorrelation step): ``dt / tau_R * n_k * s_k <= 1``
          (``n_k s_k`` bounds the largest eigenvalue of ``<x x^T>``);
        * **L** (decorrelation keeps pace): COPI connections with decorrelated
          input need ``tau_R / tau_W <= 2 ln(G) / ln(n_k)``, ``G = GROWTH_LIMIT``:
          while ``R`` removes a correlated mode whose eigenvalue exceeds the
          diagonal by up to ``n_k``, the term ``W offdiag<x x^T>`` of the COPI
          update grows ``W`` by ``n_k ** (tau_R / (2 tau_W))``;
        * **F** (Foldiak): ``sqrt(n_k) - 1 < (1 + e) / (1 - e)``,
          ``e = exp(-dt / tau_x)``: the lateral weights reach eigenvalues up to
          ``sqrt(n_k) - 1`` and the explicit step of ``x`` must stay stable;
        * **N** (nudging a nonlinear output): ``dt <= tau_out / sqrt(gamma)``;
        * **D** (decorrelation required): COPI into a hidden population needs
          decorrelated input (nothing bounds the growth along correlated
          directions); into the output without decorrelation it needs a
          restoring gain: ``gamma >= 1`` (prediction) or ``1 + gamma >= n_k``
          (nudging).
        """
        if self.backend != "rate":
            return
        proto, plast, lat, fb = self.protocol, self.plasticity, self.lateral, self.feedback
        out = self.populations[-1]
        if fb.perturbation == "nudging" and out.transfer != "linear" and fb.gamma > 1:
            limit = out.tau / math.sqrt(fb.gamma)
            if proto.dt > limit * (1 + 1e-9):
                raise ModelError(
                    "protocol.dt", _ms(proto.dt),
                    f"at most populations[{len(self.populations) - 1}].tau / sqrt(feedback.gamma) = {_ms(limit)} "
                    f"(criterion N: self-consistent nudging of the {out.transfer!r} output is integrated by "
                    "linearising f over a step, which fails when the soma crosses a kink or bend of f within "
                    "it); or use perturbation = 'prediction' or a linear output")
        sizes = [p.size for p in self.populations]
        last = len(sizes) - 2
        learn_w = plast.rule != "none"
        gain = self.effective_gain()
        for k in range(len(sizes) - 1):
            n = sizes[k]
            s = self.task.input_second_moment_bound() if k == 0 else HIDDEN_SECOND_MOMENT
            decorrelated = self.decorrelates(k)
            if learn_w and plast.optimizer == "plain":
                # forward learning from the first presentation meets the raw (not yet
                # decorrelated) curvature: half the step
                limit = 1.0 if proto.forward_onset > 0 else 0.5
                step = proto.dt / plast.tau * gain * s
                if step > limit * (1 + 1e-9):
                    least = proto.dt * gain * s / limit
                    onset = "" if limit == 1.0 else ", halved because protocol.forward_onset = 0"
                    raise ModelError(
                        "plasticity.tau", _ms(plast.tau),
                        f"at least {_ms(least)} (criterion S: the forward step "
                        f"(dt / plasticity.tau) * gamma_eff * s = {step:.3g} must be <= {limit:g}{onset}, with "
                        f"protocol.dt = {_ms(proto.dt)}, gamma_eff = {gain:g} from "
                        f"feedback.gamma = {fb.gamma:g} ({fb.perturbation}), s = {s:g} bounding <x^2> of "
                        f"{self.populations[k].name!r}); or lower feedback.gamma or protocol.dt")
            if decorrelated and lat.rule == "foldiak":
                decay = math.exp(-proto.dt / lat.tau_x)
                reach = math.sqrt(n) - 1.0
                if reach >= (1.0 + decay) / (1.0 - decay):
                    raise ModelError(
                        "protocol.dt", _ms(proto.dt),
                        f"at most {_ms(-lat.tau_x * math.log((reach - 1.0) / (reach + 1.0)))} (criterion F: the "
                        f"lateral weights M reach eigenvalues up to sqrt(n) - 1 = {reach:.3g} for the {n} inputs of "
                        f"{self.populations[k + 1].name!r}, and the explicit step of x is stable only below "
                        f"(1 + e) / (1 - e) = {(1.0 + decay) / (1.0 - decay):.3g}, e = exp(-dt / lateral.tau_x))")
            if decorrelated and lat.rule in ("copi", "copi_bio"):
                step = proto.dt / lat.tau * n * s
                if step > 1.0 + 1e-9:
                    raise ModelError(
                        "lateral.tau", _ms(lat.tau),
                        f"at least dt * n * s = {_ms(proto.dt * n * s)} (criterion R: the decorrelation step "
                        f"(dt / lateral.tau) * n * s = {step:.3g} must be <= 1 for the {n} inputs of "
                        f"{self.populations[k + 1].name!r}); or lower protocol.dt")
            if plast.rule != "copi":
                continue
            if decorrelated and n > 1:
                bound = 2.0 * math.log(GROWTH_LIMIT) / math.log(n)
                if lat.tau / plast.tau > bound * (1 + 1e-9):
                    raise ModelError(
                        "plasticity.tau", _ms(plast.tau),
                        f"at least lateral.tau / {bound:.3g} = {_ms(lat.tau / bound)} (criterion L: forward "
                        f"learning must not outpace decorrelation; lateral.tau / plasticity.tau = "
                        f"{lat.tau / plast.tau:.3g} exceeds 2 ln({GROWTH_LIMIT:g}) / ln({n}) = {bound:.3g} for the "
                        f"{n} inputs of {self.populations[k + 1].name!r}); or shorten lateral.tau")
            elif not decorrelated:
                post = self.populations[k + 1].name
                if k < last:
                    raise ModelError(
                        "plasticity.rule", "copi",
                        f"decorrelated input for the hidden population {post!r} (criterion D: the COPI term "
                        "W offdiag<x x^T> grows W without bound along correlated directions); set "
                        "lateral.rule and lateral.layers so this input is decorrelated, or use "
                        "plasticity.rule = 'delta'")
                need = 1.0 if fb.perturbation == "prediction" else n - 1.0
                if fb.gamma < need:
                    raise ModelError(
                        "feedback.gamma", fb.gamma,
                        f"at least {need:g} for COPI on the undecorrelated input of {post!r} with "
                        f"perturbation = {fb.perturbation!r} (criterion D: the perturbation must outweigh the "
                        "growth of W along correlated directions); or decorrelate this input")
