"""Curves of a weight law ready to draw (THEORY H3-H6). Private part of :mod:`dmft.spectrum`
(re-exported there): :func:`spectrum_curves` -> :class:`SpectrumCurves`, drawn by
:func:`dmft.plotting.plot_spectrum`, with the region a sample law resolves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dmft import _checks
from dmft._bulk import Edge
from dmft._outlier import Outlier

if TYPE_CHECKING:
    from dmft.spectrum import WeightLaw


@dataclass(frozen=True)
class SpectrumCurves:
    """What :func:`dmft.plotting.plot_spectrum` draws for one weight law (H3-H6).

    ``lam``: grid of Riemannian eigenvalues; ``density``: bulk rho (H3); ``nu_e``: signal
    measure (H5); ``resolved``: where a sample law
    resolves the curves (True everywhere for exact laws; see :func:`resolved_mask`);
    ``hard_edge``, ``right_edge``: :class:`Edge` (H4); ``outlier``: :class:`Outlier` (H6);
    ``alpha``, ``m``, ``t``: the law's parameters, for titles.
    """

    lam: np.ndarray
    density: np.ndarray
    nu_e: np.ndarray
    resolved: np.ndarray
    hard_edge: Edge
    right_edge: Edge
    outlier: Outlier
    alpha: float
    m: float
    t: float


RESOLVE_SAMPLES = 5  # a sample law resolves a level with at least this many samples beyond


def resolved_mask(law: WeightLaw, lams: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Where a law of S samples resolves the spectrum on the sorted grid ``lams``: at least
    :data:`RESOLVE_SAMPLES` samples beyond the level on either side, i.e. ``S F / alpha >= 5``
    and ``S (1 - F) / alpha >= 5`` with ``F`` the integrated density (each sample of z carries
    ``alpha N / S`` eigenvalues in a tail, H8). Beyond, the N = inf spectrum of a sample law
    breaks into bands of single samples (measured: bands of mass ~2.4 alpha/S beyond gaps
    at S = 2000, with nu_e/rho ~ 10 there): sampling artefacts, not the law."""
    S = getattr(law.backend, "n_samples", None)
    if S is None:
        return np.ones(lams.shape, bool)
    F = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(lams))])
    total = max(float(F[-1]), 1e-300)
    k = RESOLVE_SAMPLES * law.alpha / S
    return (F >= k * total) & (total - F >= k * total)


def _support_grid(law: WeightLaw, out: Outlier, n: int = 300) -> np.ndarray:
    """A grid covering where the density or nu_e exceed 1e-5, and the outlier."""
    scale = abs(law.mu) + 10.0 * law.alpha + 1.0
    coarse = np.linspace(-4 * scale, 4 * scale, 241)
    keep = (law.density(coarse).rho > 1e-5) | (law.signal_measure(coarse).nu_e > 1e-5)
    lo, hi = coarse[keep].min(), coarse[keep].max()
    if np.isfinite(out.lam):
        lo = min(lo, out.lam - 1.0)
    return np.linspace(lo, hi, n)


def spectrum_curves(law: WeightLaw, lams=None) -> SpectrumCurves:
    """Density, signal measure, edges and outlier of ``law`` on ``lams`` (default: 300
    points over where rho or nu_e exceed 1e-5, and the outlier), ready to draw."""
    out = law.outlier()
    lams = _support_grid(law, out) if lams is None else _checks.finite_array("lams", lams)
    rho = law.density(lams).rho
    order = np.argsort(lams)
    resolved = np.empty(lams.shape, bool)
    resolved[order] = resolved_mask(law, lams[order], rho[order])
    return SpectrumCurves(lam=lams, density=rho, nu_e=law.signal_measure(lams).nu_e,
                          resolved=resolved, hard_edge=law.hard_edge(),
                          right_edge=law.right_edge(), outlier=out, alpha=law.alpha, m=law.m,
                          t=law.t)
