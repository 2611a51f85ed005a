"""Pluggable per-sample losses l(h; y) and label models (THEORY.md E2, E4).

A :class:`Loss` bundles three vectorised callables of ``(h, y)`` (numpy arrays, same
shape): the loss ``l``, its first derivative ``f = dl/dh`` and second derivative
``fp = d2l/dh2``, plus a label model ``label(h_star, rng, noise)``. They are plain numpy
functions (also valid numba code), so the simulator, the DMFT solver and the spectrum
module all evaluate exactly the same loss.
"""

from __future__ import annotations

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
        Identifier used in CLI options and saved metadata.
    l, f, fp : callable
        ``l(h, y)``, ``f(h, y) = dl/dh`` and ``fp(h, y) = d2l/dh2``, vectorised.
    label : callable
        ``label(h_star, rng, noise)`` returns labels y for teacher pre-activations
        ``h_star``; ``noise`` is the variance Delta of additive Gaussian label noise.
    """

    name: str
    l: ArrayFn
    f: ArrayFn
    fp: ArrayFn
    label: Callable[[np.ndarray, np.random.Generator, float], np.ndarray]


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


def get_loss(loss: str | Loss) -> Loss:
    """Return a :class:`Loss` from its name or the object itself."""
    if isinstance(loss, Loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}") from None
