"""Bulk of the Hessian spectrum of a weight law: Stieltjes transform and edges (THEORY.md
H3, H4). Private part of :mod:`dmft.spectrum`; the functions take a
:class:`dmft.spectrum.WeightLaw` and are reached through its methods.

- (H3) ``s(x + i0)`` for real D-eigenvalues ``x = lam + mu`` solves ``x(s) = x`` with
  ``x(s) = 1/s + alpha A(s)``: Newton's method continued from large ``|x + i eta|``
  (``s ~ 1/(x + i eta)``) down to ``eta = 0`` for every grid point at once, the physical branch
  (``Im s <= 0``) imposed at every step; ``rho(lam) = -Im s / pi``.
- (H4) Left edge for a law bounded below: first zero of ``x_PV'(s)`` as s decreases from 0-
  (or the end ``1/z_min`` of the branch); right edge: first zero for ``0 < s < 1/z_max``. This
  is the N = inf hard edge, the left end of the support of rho. On a side where z is
  unbounded there is none (``kind="tail"``, ``lam`` NaN; the recipe's turning point, inside
  the bulk, is kept as ``Edge.pv``); a sample law whose edge is its extreme sample gives
  ``kind="sample_end"`` (NaN). Finite-N levels (tail start, lowest eigenvalue): H8,
  :mod:`dmft._finite_n`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.optimize import brentq

if TYPE_CHECKING:
    from dmft.spectrum import WeightLaw

EdgeKind = Literal["hard", "support", "sample_end", "tail", "none"]
TurnKind = Literal["turn", "support", "none"]


@dataclass(frozen=True)
class DensityResult:
    """Bulk density (H3) on a grid of Riemannian eigenvalues ``lam``.

    ``s`` is ``s(lam + mu + i0)`` on the physical branch, ``rho = -Im s / pi`` (integrates to
    1 over lam), ``residual = |x(s) - x| / (1 + |x|)`` per point, ``converged`` per point.
    """

    lam: np.ndarray
    rho: np.ndarray
    s: np.ndarray
    residual: np.ndarray
    converged: np.ndarray


@dataclass(frozen=True)
class Edge:
    """The N = inf hard edge (H4): left (or right) end of the support of the bulk density,
    Riemannian. ``lam`` is NaN where there is none. ``kind``: ``hard`` (x'(s) = 0 with the
    pole outside the support of z), ``support`` (edge at the end of the support of z of an
    exact law), ``sample_end`` (a sample law whose edge sits at its extreme sample: a thin
    tail cannot be told from a bounded law, no edge reported), ``tail`` (z unbounded on
    that side: an exponentially thin tail, no edge; use the tail start at size N, H8),
    ``none``. ``pv``: the PV level ``x_PV(s) - mu`` at ``s`` (the turning point of the H4
    recipe, or the branch end) whatever the kind: for ``tail`` it lies inside the bulk."""

    lam: float
    s: float
    kind: EdgeKind
    reason: str = ""
    pv: float = math.nan


def stieltjes(law: WeightLaw, x: np.ndarray, max_newton: int = 60,
              tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``s(x + i0)`` at real D-eigenvalues x (H3): values, residuals, converged flags."""
    x = np.asarray(x, float)
    etas = law.scale * np.concatenate([4.0 ** -np.arange(0, 13), [0.0]])
    s = 1.0 / (x + 1j * etas[0])
    res = np.full(x.shape, np.inf)
    for eta in etas:
        z = x + 1j * eta
        active = np.ones(x.shape, bool)
        for _ in range(max_newton):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            si = s[idx]
            xs, xp, *_ = law.x_of_s(si)
            F = xs - z[idx]
            r = np.abs(F) / (1.0 + np.abs(z[idx]))
            res[idx] = r
            done = r < tol
            active[idx[done]] = False
            idx, si, F, xp = idx[~done], si[~done], F[~done], xp[~done]
            with np.errstate(all="ignore"):
                new = si - F / xp
            # physical branch: keep Im s <= 0; damp steps that leave it or blow up
            new = np.where(~np.isfinite(new), si, new)
            s[idx] = np.where(new.imag > 0, new.real + 0.5j * si.imag, new)
    s = np.where(s.imag > 0, s.real + 0j, s)
    return s, res, res < 1e-9


def s_left_limit(law: WeightLaw) -> float:
    """Most negative s on the left branch: ``1/z_min`` (where the pole enters the support)."""
    zmin = law.z_min
    return 1.0 / zmin if math.isfinite(zmin) and zmin < 0 else -math.inf


def s_grid_left(law: WeightLaw, n: int = 400) -> np.ndarray:
    """Grid of the left branch, dense near 0- (x -> -inf) and geometric towards its end."""
    lo = s_left_limit(law)
    smin = max(lo if math.isfinite(lo) else -50.0 / law.scale, -50.0)
    g = -np.geomspace(1e-4 / law.scale, -smin, n)
    return g[g > lo * (1 - 1e-9)] if math.isfinite(lo) else g


def turn_left(law: WeightLaw) -> tuple[float, TurnKind]:
    """First zero of ``x_PV'(s)`` as s decreases from 0- (H4 recipe), and how it ends."""
    s = s_grid_left(law)
    xp = law.pv(s).dx
    sign = np.flatnonzero((xp[:-1] < 0) & (xp[1:] >= 0))
    if sign.size == 0:
        lo = s_left_limit(law)
        return (lo, "support") if math.isfinite(lo) else (float(s[-1]), "none")
    i = sign[0]
    root = brentq(lambda u: float(law.pv(np.array([u])).dx[0]), s[i + 1], s[i],
                  xtol=1e-14, rtol=1e-13)
    return root, "turn"


def left_edge(law: WeightLaw) -> Edge:
    """Left hard edge (H4): NaN with ``kind="tail"`` where z is unbounded below and with
    ``kind="sample_end"`` where a sample law's edge is its lowest sample (:class:`Edge`)."""
    st, how = turn_left(law)
    if how == "none":
        return Edge(lam=math.nan, s=math.nan, kind="none",
                    reason="x_PV'(s) has no zero on the left branch")
    lam = float(law.pv(np.array([st])).x[0]) - law.mu
    if law.bounded_below and how == "turn":
        return Edge(lam=lam, s=st, kind="hard", pv=lam,
                    reason="x'(s) = 0 with 1/s below the support of z")
    if law.bounded_below and law.kind == "samples":
        return Edge(lam=math.nan, s=st, kind="sample_end", pv=lam,
                    reason="the edge of the sample law sits at its lowest sample: the samples "
                    "cannot tell a thin tail from a bounded law; no hard edge")
    if law.bounded_below:
        return Edge(lam=lam, s=st, kind="support", pv=lam,
                    reason="edge at the lower end of the support")
    return Edge(lam=math.nan, s=st, kind="tail", pv=lam,
                reason="z is unbounded below (H7): no hard edge, an exponentially thin tail "
                "reaches below the PV turning point; see the tail start at size N (H8)")


def right_edge(law: WeightLaw) -> Edge:
    """Right edge (H4 recipe on the s > 0 branch continued from 0+)."""
    zmax = law.z_max
    hi = 1.0 / zmax if math.isfinite(zmax) and zmax > 0 else 50.0
    s = np.geomspace(1e-4 / law.scale, hi, 400)
    if math.isfinite(zmax):
        s = s[s < hi * (1 - 1e-9)]
    xp = law.pv(s).dx
    pos = np.flatnonzero((xp[:-1] < 0) & (xp[1:] >= 0))
    if pos.size == 0:
        if math.isfinite(zmax) and zmax > 0:
            lam = float(law.pv(s[-1:]).x[0]) - law.mu
            return Edge(lam=lam, s=float(s[-1]), kind="support",
                        reason="upper end of the support")
        return Edge(lam=math.nan, s=math.nan, kind="none",
                    reason="x_PV'(s) has no zero for s > 0")
    if not math.isfinite(zmax):
        # measured at t = 0: the PV turning point lies inside the bulk (e.g. alpha = 5:
        # lam = -13.2 while rho > 0 up to ~ +50): no number rather than a wrong one
        return Edge(lam=math.nan, s=math.nan, kind="tail",
                    reason="z is unbounded above: exponentially thin right tail, no hard "
                    "edge; the PV recipe (H4) fails on this side")
    i = pos[0]
    st = brentq(lambda u: float(law.pv(np.array([u])).dx[0]), s[i], s[i + 1],
                xtol=1e-14, rtol=1e-13)
    return Edge(lam=float(law.pv(np.array([st])).x[0]) - law.mu, s=st, kind="hard")
