"""Finite-N picture of the low end of the Hessian spectrum (THEORY.md H8). Private part of
:mod:`dmft.spectrum`, reached through :meth:`dmft.spectrum.WeightLaw.finite_n`.

The expected number of eigenvalues of D below ``x_PV(s)`` is ``n(s) = N alpha P(z < 1/s)``
along the PV branch ``s in (s_turn, 0)``; states are Poisson with that mean, plus one state
at the outlier. Then ``P(lam_k > x) = P(Poisson(n(x)) + 1[x > x_out] < k)``, the outlier is
the lowest with probability ``exp(-n(s_out))``, and ``E[overlap^2 of the lowest] ~
exp(-n(s_out)) (1 - m^2)/S'``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq
from scipy.stats import poisson

from dmft._bulk import stieltjes, turn_left
from dmft._outlier import Outlier

if TYPE_CHECKING:
    from dmft.spectrum import WeightLaw


@dataclass(frozen=True)
class FiniteNPicture:
    """Finite-N picture of the low end of the spectrum (H8), Riemannian eigenvalues.

    ``lam_low[k]``: expected (k+1)-th lowest eigenvalue; ``p_outlier_lowest``:
    probability that the outlier is the lowest eigenvalue; ``overlap2_lowest``: expected
    squared overlap of the lowest eigenvector with w*; ``n_below_outlier``: expected number of
    tail states below the outlier, ``N alpha P(z < 1/s_out)``;
    ``overlap2_lowest_local``: the same overlap from the local ratio
    ``(1 - m^2) nu_e(lam) / (N rho(lam))`` averaged over the law of the lowest eigenvalue
    (no separate outlier state; measured to be the better predictor, see
    :data:`dmft.spectrum.SECTION5_NOTES`).
    """

    N: int
    lam_low: np.ndarray
    p_outlier_lowest: float
    overlap2_lowest: float
    n_below_outlier: float
    outlier: Outlier
    overlap2_lowest_local: float = math.nan


def tail_count(law: WeightLaw, N: int, s: np.ndarray) -> np.ndarray:
    """Expected number ``N alpha P(z < 1/s)`` of tail states below ``x_PV(s)`` (H8)."""
    return N * law.alpha * law.cdf(1.0 / np.asarray(s))


def _tail_branch(law: WeightLaw, N: int, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Riemannian eigenvalues ``x_PV(s) - mu`` and tail counts along the PV branch, from a
    count of 1e-12 (far left) up to the PV turning point."""
    st, _ = turn_left(law)
    s_hi = -1e-6
    if tail_count(law, N, s_hi) > 1e-12 or tail_count(law, N, st) <= 1e-12:
        # all of the branch carries tail states, or none of it does (a law bounded on
        # the left, e.g. samples: the lowest state is the outlier or the hard edge)
        s_far = s_hi
    else:
        s_far = brentq(lambda u: math.log(tail_count(law, N, u) + 1e-300) - math.log(1e-12),
                       st, s_hi)
    s = -np.geomspace(-s_far, -st, n_grid)
    return law.pv(s).x - law.mu, tail_count(law, N, s)


def _expected_lowest(lam: np.ndarray, n: np.ndarray, lam_out: float, k_low: int) -> np.ndarray:
    """``E[lam_(k+1)]`` for k < k_low: Poisson tail plus one state at ``lam_out``."""
    extra = (lam > lam_out).astype(int)
    lows = []
    for k in range(k_low):
        kk = k - extra  # P(lam_(k+1) > lam) = P(Poisson(n) <= k - extra)
        P = np.where(kk >= 0, poisson.cdf(np.maximum(kk, 0), n), 0.0)
        lows.append(lam[0] + np.trapezoid(P, lam))  # P ~ 1 at lam[0]
    return np.array(lows)


def _local_overlap(law: WeightLaw, N: int, lam: np.ndarray, n: np.ndarray) -> float:
    """Overlap^2 of the lowest eigenvector from the local ratio ``(1-m^2) nu_e/(N rho)``
    (H5/H3, resonance included), averaged over ``P(lam_1 > lam) = exp(-n(lam))``."""
    F1 = 1.0 - np.exp(-n)
    sel = np.flatnonzero((F1 > 1e-4) & (F1 < 1 - 1e-4))
    if sel.size < 2:
        return math.nan
    pick = sel[np.linspace(0, sel.size - 1, min(sel.size, 120)).astype(int)]
    lp = lam[pick]
    s = stieltjes(law, lp + law.mu)[0]
    B = law.expect(s)[2]
    with np.errstate(all="ignore"):
        nu = -(1.0 / (lp + law.mu - law.alpha * B)).imag / np.pi
        ratio = (1.0 - law.m**2) * nu / (N * (-s.imag / np.pi))
    ratio = np.where(np.isfinite(ratio), np.minimum(ratio, 1.0), 0.0)
    F = F1[pick]
    return float(np.sum(0.5 * (ratio[1:] + ratio[:-1]) * np.diff(F)) / (F[-1] - F[0]))


def finite_n(law: WeightLaw, N: int, k_low: int = 3, n_grid: int = 4000) -> FiniteNPicture:
    """Finite-N picture of the low end (H8): expected lowest ``k_low`` eigenvalues,
    probability that the outlier is the lowest, expected overlap^2 of the lowest."""
    out = law.outlier()
    has = out.status != "absent"
    lam, n = _tail_branch(law, N, n_grid)
    lows = _expected_lowest(lam, n, out.lam_pv if has else math.inf, k_low)
    if has:
        n_out = float(tail_count(law, N, np.array(out.s_pv)))
        p_low = math.exp(-n_out)
        ov = p_low * out.overlap2
    else:
        n_out, p_low, ov = math.nan, 0.0, 0.0
    return FiniteNPicture(N=N, lam_low=lows, p_outlier_lowest=p_low, overlap2_lowest=ov,
                          n_below_outlier=n_out, outlier=out,
                          overlap2_lowest_local=_local_overlap(law, N, lam, n))
