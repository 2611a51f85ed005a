"""Pluggable per-sample losses l(h; y) and label models (THEORY.md E2, E4, E4a).

A :class:`Loss` bundles three vectorised callables of ``(h, y)`` (numpy arrays, same
shape): the loss ``l``, its first derivative ``f = dl/dh`` and second derivative
``fp = d2l/dh2``, plus a label model ``label(h_star, rng, noise)``. They are plain numpy
functions (closures over float parameters where the loss has one), so the simulator, the
DMFT solver and the spectrum module all evaluate exactly the same loss.

Losses
------
``phase_retrieval`` (E4): ``l = (h^2 - y)^2 / 4``, labels ``y = h*^2``.
``normalised_phase_retrieval(a=A)`` (E4a): ``l_a = (h^2 - y)^2 / (4 (a + y))``, a > 0, the
    paper's loss; build it with :func:`normalised_loss` or ``get_loss("phase_retrieval",
    a=A)``. Its name carries ``a`` exactly (``repr`` of the float), so a saved name reads back
    to the same loss (:func:`get_loss` parses it).
``linear_regression``: ``l = (h - y)^2 / 2``, labels ``y = h*``.

Meaning of ``a = inf``: ``a * l_a -> l`` as ``a -> inf``, so ``get_loss("phase_retrieval",
a=math.inf)`` returns the plain loss (E4). The prefactor ``a`` is a change of time units:
gradient flow on ``l_a`` for a time ``t`` is, for ``a -> inf``, the flow on ``l`` for a time
``t / a``, and the Hessian is ``1/a`` times the plain one. Thresholds in alpha do not depend on a
constant prefactor; they do depend on a at finite a (l_a is not a rescaled l: the label
normalisation ``1 / (a + y)`` matters where ``y >~ a``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ArrayFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Loss:
    """A per-sample loss and the label model it is meant for.

    Attributes
    ----------
    name : str
        Identifier used in CLI options and saved metadata; :func:`get_loss` reads it back.
    l, f, fp : callable
        ``l(h, y)``, ``f(h, y) = dl/dh`` and ``fp(h, y) = d2l/dh2``, vectorised.
    label : callable
        ``label(h_star, rng, noise)`` returns labels y for teacher pre-activations
        ``h_star``; ``noise`` is the variance Delta of additive Gaussian label noise.
    a : float or None
        Normalisation parameter of ``l_a`` (E4a); None for losses without one.
    """

    name: str
    l: ArrayFn
    f: ArrayFn
    fp: ArrayFn
    label: Callable[[np.ndarray, np.random.Generator, float], np.ndarray]
    a: float | None = None


def _add_noise(y: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    if noise < 0 or not np.isfinite(noise):
        raise ValueError(f"label noise variance must be finite and >= 0, got {noise}")
    if noise > 0:
        y = y + np.sqrt(noise) * rng.standard_normal(y.shape)
    return y


def _pr_label(h_star: np.ndarray, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    return _add_noise(h_star**2, rng, noise)


def _lin_label(h_star: np.ndarray, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    return _add_noise(np.array(h_star, dtype=float), rng, noise)


PHASE_RETRIEVAL = Loss(
    name="phase_retrieval",
    l=lambda h, y: 0.25 * (h * h - y) ** 2,
    f=lambda h, y: (h * h - y) * h,
    fp=lambda h, y: 3.0 * h * h - y,
    label=_pr_label,
)
"""Default loss (E4): l = (h^2 - y)^2 / 4 with labels y = h*^2 (+ noise)."""

LINEAR_REGRESSION = Loss(
    name="linear_regression",
    l=lambda h, y: 0.5 * (h - y) ** 2,
    f=lambda h, y: h - y,
    fp=lambda h, y: np.ones_like(h),
    label=_lin_label,
)
"""Solvable limit: l = (h - y)^2 / 2 with labels y = h* (+ noise); f is linear."""

LOSSES = {loss.name: loss for loss in (PHASE_RETRIEVAL, LINEAR_REGRESSION)}

_NORMALISED = "normalised_phase_retrieval"
_NORMALISED_RE = re.compile(rf"^{_NORMALISED}\(a=(.+)\)$")


def _check_a(a: float) -> float:
    try:
        a = float(a)
    except (TypeError, ValueError):
        msg = f"a (normalisation of l_a, E4a) must be a number > 0, got {a!r}"
        raise ValueError(msg) from None
    if math.isnan(a) or a <= 0:
        raise ValueError(f"a (normalisation of l_a, E4a) must be > 0 (or inf for the plain "
                         f"loss), got {a}")
    return a


def normalised_loss(a: float) -> Loss:
    """The paper's loss ``l_a(h; y) = (h^2 - y)^2 / (4 (a + y))`` (E4a), labels ``y = h*^2``.

    ``f = (h^2 - y) h / (a + y)``, ``f' = (3 h^2 - y) / (a + y)``. Units: ``l_a`` is
    dimensionless like ``l``; ``a * l_a -> l`` (E4) as ``a -> inf``, so times on ``l_a`` are
    ``a`` times those on ``l`` in that limit (thresholds in alpha are unaffected by the
    prefactor).

    Parameters
    ----------
    a : float
        Normalisation, ``0 < a < inf`` (the group's public code uses 0.01). ``a = inf`` is
        refused here; :func:`get_loss` maps it to the plain loss.

    Raises
    ------
    ValueError
        If ``a <= 0``, NaN or infinite, or (when labels are drawn) if label noise makes
        ``a + y <= 0`` for some sample.
    """
    a = _check_a(a)
    if math.isinf(a):
        raise ValueError("normalised_loss needs a finite a > 0; a = inf is the plain loss: "
                         "use get_loss('phase_retrieval') (or get_loss(..., a=inf))")

    def label(h_star: np.ndarray, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
        y = _pr_label(h_star, rng, noise)
        if np.any(a + y <= 0):
            raise ValueError(f"label noise made a + y <= 0 for some samples (a = {a}): "
                             "l_a is undefined there; use a larger a or a smaller noise")
        return y

    return Loss(
        name=f"{_NORMALISED}(a={a!r})",
        l=lambda h, y: 0.25 * (h * h - y) ** 2 / (a + y),
        f=lambda h, y: (h * h - y) * h / (a + y),
        fp=lambda h, y: (3.0 * h * h - y) / (a + y),
        label=label,
        a=a,
    )


def get_loss(loss: str | Loss, a: float | None = None) -> Loss:
    """Return a :class:`Loss` from its name or the object itself.

    Parameters
    ----------
    loss : str or Loss
        ``"phase_retrieval"``, ``"linear_regression"``, a name written by
        :func:`normalised_loss` (``"normalised_phase_retrieval(a=0.01)"``), or a Loss.
    a : float or None
        With ``loss="phase_retrieval"``: None or ``inf`` gives the plain loss (E4), a finite
        ``a > 0`` gives ``l_a`` (E4a). Refused for other losses.
    """
    if a is not None:
        a = _check_a(a)
        name = loss.name if isinstance(loss, Loss) else loss
        if name != PHASE_RETRIEVAL.name:
            raise ValueError(f"a is a parameter of 'phase_retrieval' only, got loss {name!r}")
        return PHASE_RETRIEVAL if math.isinf(a) else normalised_loss(a)
    if isinstance(loss, Loss):
        return loss
    match = _NORMALISED_RE.match(loss) if isinstance(loss, str) else None
    if match:
        return normalised_loss(float(match.group(1)))
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} or "
                         f"'{_NORMALISED}(a=A)'") from None


def labels_even(loss: Loss) -> bool:
    """Whether the noiseless labels are even in the teacher field, ``y(-h*) = y(h*)``.

    Then m = 0 is a fixed point of the dynamics and the equations linearised in m (the
    growth factor of T4, ``dmft.solver.solve(tangent=True)``) make sense; phase retrieval
    and l_a have even labels, linear regression does not.
    """
    probe = np.array([0.3, 1.0, 2.5])
    rng = np.random.default_rng(0)
    return bool(np.array_equal(loss.label(probe, rng, 0.0), loss.label(-probe, rng, 0.0)))
