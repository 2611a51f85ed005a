"""Thresholds at the random start t = 0 (THEORY.md T1, H6, H8).

At t = 0, m = 0 the outlier condition (H6) on the principal-value branch reads
``S_PV(s) = 1/s + alpha R(s) = 0`` with ``R(s) = Re E[z (1 - g^2)/(1 - z s)]`` (s real < 0,
``s - i0`` prescription), which is linear in alpha: a root exists iff
``alpha >= alpha(s) = -1/(s R(s))`` for some s on the branch. Hence

    alpha_BBP_init = min_{s<0} -1/(s R(s)),   at the root of  d/ds [s R(s)] = R + s R' = 0,

found by a bracketing root finder (brentq) on ``R + s R'``; the expectations are exact in the
radial variable (exponential integrals, principal value + i pi residue) and use the periodic
trapezoid rule in the polar angle (:mod:`dmft._spectral_laws`). The error estimate is the
change under doubling of the number of angular nodes. The root appears as a pair (a
tangency of S_PV), not by leaving an edge; it is checked to lie before the PV turning point
``x_PV'(s) = 0`` of the branch (H4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from dmft import _checks
from dmft.spectrum import Outlier, WeightLaw


@dataclass(frozen=True)
class BBPInit:
    """Result of :func:`alpha_bbp_init`.

    ``alpha``: threshold; ``error``: |difference| between the two finest quadratures;
    ``s``: the s of the tangency; ``table``: rows ``(n_quad, alpha, s)``;
    ``before_turn``: whether the tangency lies before the PV turning point (H4).
    """

    alpha: float
    error: float
    s: float
    lam: float
    table: list[tuple[int, float, float]]
    before_turn: bool


def _R(law: WeightLaw, s: float) -> tuple[float, float]:
    """``R(s) = Re E[z (1 - g^2)/(1 - z s)]`` and ``R'(s)`` at real s (module docstring)."""
    A, A1, B, B1 = law.expect(np.array([s + 0j]))
    return float((A - B).real[0]), float((A1 - B1).real[0])


def _tangency(n_quad: int, m: float) -> tuple[float, float]:
    law = WeightLaw.gaussian(1.0, m, n_quad=n_quad)

    def dfun(s: float) -> float:
        r, rp = _R(law, s)
        return r + s * rp

    grid = -np.geomspace(1e-3, 3.0, 80)
    vals = np.array([dfun(s) for s in grid])
    alphas = np.array([-1.0 / (s * _R(law, s)[0]) for s in grid])
    ok = alphas > 0
    best = None
    for i in range(grid.size - 1):
        if np.sign(vals[i]) != np.sign(vals[i + 1]) and ok[i] and ok[i + 1]:
            s0 = brentq(dfun, grid[i + 1], grid[i], xtol=1e-15, rtol=1e-14)
            a0 = -1.0 / (s0 * _R(law, s0)[0])
            if a0 > 0 and (best is None or a0 < best[0]):
                best = (a0, s0)
    if best is None:
        raise ValueError("no tangency of S_PV found: alpha_BBP_init cannot be bracketed")
    return best


def alpha_bbp_init(m: float = 0.0, n_quads: tuple[int, ...] = (64, 128, 256, 512)) -> BBPInit:
    """T1: smallest alpha with a real root of the outlier condition (H6) at t = 0.

    Parameters
    ----------
    m : overlap of the start (T1 is m = 0).
    n_quads : angular quadrature sizes, increasing; the last two give the error estimate.
    """
    m = _checks.in_range("m", m, -0.999, 0.999)
    table = []
    for nq in n_quads:
        a, s = _tangency(int(nq), m)
        table.append((int(nq), a, s))
    alpha, s = table[-1][1], table[-1][2]
    err = abs(table[-1][1] - table[-2][1]) if len(table) > 1 else math.nan
    law = WeightLaw.gaussian(alpha, m, n_quad=n_quads[-1])
    pv = law.pv(np.array([s]))
    return BBPInit(alpha=alpha, error=err, s=s, lam=float(pv.x[0]) - law.mu, table=table,
                   before_turn=bool(pv.dx[0] < 0))


def outlier_at(alpha: float, m: float = 0.0, n_quad: int = 256) -> Outlier:
    """Outlier (H6, H7) at t = 0 as a function of alpha (Riemannian eigenvalue)."""
    return WeightLaw.gaussian(alpha, m, n_quad=n_quad).outlier()


def alpha_overlap_one(m: float = 0.0, n_quad: int = 256, which: str = "pv") -> float:
    """Smallest alpha above alpha_BBP_init where the weight ``(1-m^2)/S'`` drops below 1."""
    a0 = alpha_bbp_init(m, (n_quad // 2, n_quad)).alpha

    def f(a: float) -> float:
        o = outlier_at(a, m, n_quad)
        v = o.overlap2_pv if which == "pv" else o.overlap2
        return 1e6 if not np.isfinite(v) else v - 1.0

    lo, hi = a0 * 1.001, a0 * 1.2
    while f(hi) > 0:
        lo, hi = hi, hi * 1.3
        if hi > 100:
            return math.nan
    return brentq(f, lo, hi, xtol=1e-6)


def _has_separate_peak(alpha: float, m: float, n_quad: int) -> bool:
    law = WeightLaw.gaussian(alpha, m, n_quad=n_quad)
    # independent of the outlier condition: nu_e on a fixed window left of the bulk
    lam = np.linspace(-law.mu - 5.0 * alpha - 5.0, -law.mu + 2.0 * alpha, 300)
    nu = law.signal_measure(lam).nu_e
    rho = law.density(lam).rho
    stop = int(np.argmax(rho))  # look left of the bulk maximum
    v = nu[: stop + 1]
    interior = (v[1:-1] > v[:-2]) & (v[1:-1] > v[2:])
    if not np.any(interior):
        return False
    i = int(np.flatnonzero(interior)[0]) + 1
    # a separate peak: a dip after it before the bulk
    return bool(np.min(v[i:]) < v[i] * 0.999)


def alpha_separate_peak(m: float = 0.0, n_quad: int = 128, lo: float | None = None,
                        hi: float = 20.0, tol: float = 1e-3) -> float:
    """Smallest alpha where nu_e (H5) has a local maximum left of the bulk maximum of rho,
    separated from it by a dip (bisection on a 300-point grid; measured: it lies *below*
    alpha_BBP_init, the broad resonance shows in nu_e before S_PV has a real root)."""
    lo = 1.0 if lo is None else lo
    if _has_separate_peak(lo, m, n_quad):
        return math.nan
    if not _has_separate_peak(hi, m, n_quad):
        return math.nan
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        if _has_separate_peak(mid, m, n_quad):
            hi = mid
        else:
            lo = mid
    return hi


def alpha_c(N: int, m: float = 0.0, n_quad: int = 256) -> float:
    """alpha_c(N) of (H8): ``N alpha P(z < 1/s_out) = ln 2`` (outlier lowest half the time)."""
    N = _checks.integer("N", N, 2)
    a0 = alpha_bbp_init(m, (n_quad // 2, n_quad)).alpha

    def f(a: float) -> float:
        law = WeightLaw.gaussian(a, m, n_quad=n_quad)
        root = law.pv_root()
        if not root.found:
            return math.inf
        return math.log(N * a * float(law.cdf(np.array(1.0 / root.s)))) - math.log(math.log(2.0))

    lo, hi = a0 * (1 + 1e-4), 2.0 * a0
    while f(hi) > 0:
        lo, hi = hi, hi * 1.5
        if hi > 200:
            raise ValueError("alpha_c(N) could not be bracketed")
    return brentq(f, lo, hi, xtol=1e-6)


def thresholds_summary(m: float = 0.0, Ns: tuple[int, ...] = (500, 1000, 2000, 4000),
                       separate_peak: bool = True) -> dict:
    """All T1 criteria at t = 0 as a JSON-ready dictionary."""
    b = alpha_bbp_init(m)
    out = {
        "alpha_bbp_init": b.alpha,
        "alpha_bbp_init_error": b.error,
        "alpha_bbp_init_table": [list(r) for r in b.table],
        "s_tangency": b.s,
        "lam_tangency": b.lam,
        "tangency_before_turn": b.before_turn,
        "alpha_overlap_below_one": alpha_overlap_one(m),
        "alpha_c": {str(N): alpha_c(N, m) for N in Ns},
    }
    if separate_peak:
        out["alpha_separate_peak"] = alpha_separate_peak(m)
    return out
