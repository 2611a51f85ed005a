"""Finite-N picture of the low end of the Hessian spectrum (THEORY.md H8). Private part of
:mod:`dmft.spectrum`, reached through :meth:`dmft.spectrum.WeightLaw.finite_n`.

One counting function for every law: the expected number of bulk eigenvalues below ``lam``
at size N is ``n(lam) = N F(lam)``, ``F(lam) = int_{-inf}^{lam} rho`` the integrated N = inf
density (H3). In an unbounded tail it equals the H8 count ``N alpha P(z < 1/s_PV(lam))``
to leading order (measured at t = 0, alpha = 6: 5.06e-8 vs 5.23e-8 at lam = -35, 2.81e-4 vs
2.84e-4 at -21; the H8 count is 2x too large in the bulk at -12), which starts the integral
far out; near a hard edge it is the square-root edge's ``N^(-2/3)`` window. States below the
bulk are Poisson with mean ``n(lam)``, plus one state at the outlier:
``P(lam_k > x) = P(Poisson(n(x)) + 1[x > x_out] < k)``. Named levels (edge definitions):

- ``tail_start``: where ``n(lam) = 1`` (start of the Poisson tail at size N);
- ``lowest_quantiles``: quantiles of the finite-N lowest eigenvalue ``lam_1``;
- the N = inf hard edge is not here: :func:`dmft._bulk.left_edge` (H4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq
from scipy.stats import poisson

from dmft._bulk import left_edge, stieltjes, turn_left
from dmft._outlier import Outlier

if TYPE_CHECKING:
    from dmft.spectrum import WeightLaw

QUANTILES = (0.16, 0.5, 0.84)
_N_FAR = 1e-2  # expected count where the integral of rho starts in an unbounded tail (the H8
# count is within 1 % of N F there: the start adds < 1e-4 to n)


@dataclass(frozen=True)
class FiniteNPicture:
    """Finite-N picture of the low end of the spectrum (H8), Riemannian eigenvalues.

    ``lam_low[k]``: expected (k+1)-th lowest eigenvalue; ``lowest_quantiles``: the 16, 50
    and 84 % quantiles of the lowest eigenvalue; ``tail_start``: the level where the expected
    number of bulk eigenvalues below it is 1 at size N (start of the Poisson tail);
    ``p_outlier_lowest``: probability that the outlier is the lowest eigenvalue;
    ``overlap2_lowest``: expected squared overlap of the lowest eigenvector with w*;
    ``n_below_outlier``: expected number of bulk eigenvalues below the outlier, ``N F``;
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
    tail_start: float = math.nan
    lowest_quantiles: np.ndarray = field(default_factory=lambda: np.full(3, math.nan))


def tail_count(law: WeightLaw, N: int, s: np.ndarray) -> np.ndarray:
    """H8 count ``N alpha P(z < 1/s)`` of tail states below ``x_PV(s)`` (far-tail form)."""
    return N * law.alpha * law.cdf(1.0 / np.asarray(s))


def _start(law: WeightLaw, N: int, n_max: float) -> tuple[float, float, float]:
    """Left end of the counting grid (Riemannian), the count there and a first guess of
    where the count reaches ``n_max``: at a hard edge or end of the support, count 0 and a
    window of 2 % of the eigenvalue scale; in an unbounded tail, the PV levels where the H8
    count is 1e-2 and ``n_max`` (the H8 count exceeds N F in the bulk: the guess is short)."""
    edge = left_edge(law)
    if edge.kind in ("hard", "support", "sample_end"):
        lo = edge.pv - 1e-9 * (1.0 + abs(edge.pv))
        return lo, 0.0, lo + 0.02 * law.scale
    st, _ = turn_left(law)
    if not tail_count(law, N, st) > _N_FAR:
        raise ValueError("the PV branch carries no tail states and the law has no left edge: "
                         "cannot start the count of bulk eigenvalues")

    def level(target: float) -> float:
        if not tail_count(law, N, st) > target:
            return float(law.pv(np.array([st])).x[0]) - law.mu
        u = brentq(lambda v: math.log(float(tail_count(law, N, v)) + 1e-300)
                   - math.log(target), st, -1e-9 / law.scale)
        return float(law.pv(np.array([u])).x[0]) - law.mu

    return level(_N_FAR), _N_FAR, level(n_max)


def bulk_count(law: WeightLaw, N: int, n_max: float = 14.0,
               n_pts: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Expected number ``N F(lam)`` of bulk eigenvalues below ``lam`` at size N (module
    docstring), on a grid from the left end (:func:`_start`) up to a count >= ``n_max``
    (density H3 integrated by the trapezoid rule on segments dense at their left end; a
    segment is added, sized for a square-root edge, until the count is reached)."""
    lo, n0, hi = _start(law, N, n_max)
    first = lo
    lams, counts = [np.array([lo])], [np.array([n0])]
    for _ in range(8):
        grid = lo + (hi - lo) * np.linspace(0.0, 1.0, n_pts + 1)[1:] ** 2
        pts = np.concatenate([[lo], grid])
        rho = -stieltjes(law, pts + law.mu)[0].imag / np.pi
        inc = np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(pts))
        lams.append(grid)
        counts.append(counts[-1][-1] + N * inc)
        n_end = float(counts[-1][-1])
        if n_end >= n_max:
            break
        grow = (n_max / n_end) ** (2.0 / 3.0) if n_end > 0 else 4.0
        lo, hi = hi, first + (hi - first) * min(max(1.2 * grow, 1.5), 8.0)
    return np.concatenate(lams), np.concatenate(counts)


def _level(lam: np.ndarray, n: np.ndarray, target: float) -> float:
    """Where the increasing count ``n(lam)`` reaches ``target`` (log-linear interpolation)."""
    k = int(np.searchsorted(n, target))
    if k == 0 or k >= n.size:
        return math.nan
    a, b = math.log(max(n[k - 1], 1e-300)), math.log(n[k])
    frac = (math.log(target) - a) / (b - a) if b > a else 1.0
    return float(lam[k - 1] + frac * (lam[k] - lam[k - 1]))


def _survival(n: np.ndarray, above_out: np.ndarray, k: int) -> np.ndarray:
    """``P(lam_(k+1) > lam) = P(Poisson(n) <= k - 1[lam > lam_out])``."""
    kk = k - above_out.astype(int)
    return np.where(kk >= 0, poisson.cdf(np.maximum(kk, 0), n), 0.0)


def _picture(lam: np.ndarray, n: np.ndarray, lam_out: float, k_low: int):
    """Expected lowest ``k_low`` eigenvalues and the quantiles of the lowest one."""
    if math.isfinite(lam_out) and lam_out < lam[-1]:
        # the outlier state on the grid (below it, e.g. under a hard edge, with the count
        # of the grid's start), duplicated: the second copy is just above the outlier
        i = int(np.searchsorted(lam, lam_out))
        n_out = float(np.interp(lam_out, lam, n))
        lam = np.concatenate([lam[:i], [lam_out, lam_out], lam[i:]])
        n = np.concatenate([n[:i], [n_out, n_out], n[i:]])
        above = np.arange(lam.size) > i
    else:
        above = lam > lam_out
    lows = []
    for k in range(k_low):
        P = _survival(n, above, k)
        lows.append(lam[0] + np.trapezoid(P, lam))  # P ~ 1 at lam[0], ~0 at lam[-1]
    cdf1 = 1.0 - _survival(n, above, 0)
    q = [float(np.interp(p, cdf1, lam)) if cdf1[-1] >= p else math.nan for p in QUANTILES]
    return np.array(lows), np.array(q)


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


def finite_n(law: WeightLaw, N: int, k_low: int = 3,
             local_overlap: bool = True) -> FiniteNPicture:
    """Finite-N picture of the low end (H8): expected lowest ``k_low`` eigenvalues, the
    quantiles of the lowest, the tail start, the probability that the outlier is the lowest
    and the expected overlap^2 of the lowest eigenvector."""
    out = law.outlier()
    has = out.status != "absent"
    lam, n = bulk_count(law, N, n_max=8.0 + 2.0 * k_low)
    lam_out = out.lam_pv if has else math.inf
    lows, q = _picture(lam, n, lam_out, k_low)
    if has:
        n_out = float(np.interp(lam_out, lam, n, left=0.0))
        p_low = math.exp(-n_out)
        ov = p_low * out.overlap2
    else:
        n_out, p_low, ov = math.nan, 0.0, 0.0
    return FiniteNPicture(N=N, lam_low=lows, p_outlier_lowest=p_low, overlap2_lowest=ov,
                          n_below_outlier=n_out, outlier=out,
                          overlap2_lowest_local=(_local_overlap(law, N, lam, n)
                                                 if local_overlap else math.nan),
                          tail_start=_level(lam, n, 1.0), lowest_quantiles=q)
