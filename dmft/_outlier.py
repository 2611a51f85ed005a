"""Signal direction and BBP outlier of a weight law (THEORY.md H5, H6, H7). Private part of
:mod:`dmft.spectrum`; the functions take a :class:`dmft.spectrum.WeightLaw` and are reached
through its methods.

- (H5) ``S(x) = x - alpha B(s(x))``, ``G_ee = 1/S``, ``nu_e = -Im(1/S) / pi``.
- (H6) Real route (principal values, s real, ``s - i0``): ``S_PV(s) = 1/s + alpha Re[A(s) -
  B(s)]``; the outlier is the first root met as s decreases from 0-, at ``x_out =
  x_PV(s_out)`` with overlap ``(1 - m^2)/S'``, ``S' = S_PV'(s)/x_PV'(s)``. Complex route:
  ``S(x)`` on the physical branch; the resonance sits at ``Re S(x) = 0``, weight
  ``(1 - m^2)/Re S'(x)``, ``FWHM = 2 Im S / Re S'``, ``S'(x) = 1 - alpha B1(s)/x'(s)``. Where
  the pole ``1/s_out`` lies below the support of z the routes coincide and the outlier is an
  isolated eigenvalue (``exists``); inside it (z unbounded below, H7) it is a ``resonance``;
  without a root it is ``absent`` (with the reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.optimize import brentq

from dmft._bulk import s_grid_left, stieltjes, turn_left

if TYPE_CHECKING:
    from dmft.spectrum import WeightLaw

OutlierStatus = Literal["exists", "resonance", "absent"]


@dataclass(frozen=True)
class SignalResult:
    """Spectral measure of the signal direction e (H5): ``nu_e = -Im(1/S) / pi``."""

    lam: np.ndarray
    nu_e: np.ndarray
    S: np.ndarray
    residual: np.ndarray


@dataclass(frozen=True)
class PVRoot:
    """First root of ``S_PV(s)`` as s decreases from 0- on the left branch (H6).

    ``s``: the root (NaN when there is none); ``margin``: ``max S_PV`` over the branch
    (eigenvalue units), positive iff the root exists; ``reason``: why there is none.
    """

    s: float
    margin: float
    reason: str = ""

    @property
    def found(self) -> bool:
        return math.isfinite(self.s)


@dataclass(frozen=True)
class Outlier:
    """BBP outlier (H6, H7). Eigenvalues are Riemannian.

    Attributes
    ----------
    status : ``"exists"`` | ``"resonance"`` | ``"absent"``
    lam : location (complex route ``Re S = 0`` where that converges, else the PV root)
    overlap2 : squared overlap with w*, ``(1 - m^2)/Re S'`` (complex route)
    width : FWHM ``2 Im S / Re S'`` of the resonance of nu_e (0 for an isolated eigenvalue)
    lam_pv, s_pv, overlap2_pv : the same from the real principal-value route
    residual : |Re S| at the complex-route root (scaled), or |S_PV| at the PV root
    reason : why the status was chosen
    margin : ``max S_PV(s)`` over the left branch ``s_turn <= s < 0`` (eigenvalue units):
        positive iff the outlier exists (H6), continuous through the BBP transition, so
        its zero crossing locates t_BBP (T2) between time-grid points
    """

    status: OutlierStatus
    lam: float
    overlap2: float
    width: float
    lam_pv: float
    s_pv: float
    overlap2_pv: float
    residual: float
    reason: str = ""
    margin: float = math.nan

    @property
    def present(self) -> bool:
        """Whether the outlier exists: :func:`outlier_present` of this one."""
        return bool(outlier_present(self.status, self.margin))


def outlier_present(status, margin):
    """The presence rule of T2: status not ``"absent"`` and BBP margin > 0 (elementwise for
    arrays of statuses and margins, as along a trajectory)."""
    return (np.asarray(status) != "absent") & (np.asarray(margin) > 0)


def signal_measure(law: WeightLaw, lams: np.ndarray) -> SignalResult:
    """``nu_e(lam) = -Im G_ee(lam + i0)/pi``, ``G_ee = 1/S`` (H5) at real Riemannian ``lams``."""
    x = lams + law.mu
    s, res, _ = stieltjes(law, x)
    S = x - law.alpha * law.expect(s)[2]
    with np.errstate(all="ignore"):
        nu = -(1.0 / S).imag / np.pi
    return SignalResult(lam=lams, nu_e=nu, S=S, residual=res)


def pv_root(law: WeightLaw) -> PVRoot:
    """First root of ``S_PV(s)`` as s decreases from 0-, before the PV turning point (H6)."""
    st, _ = turn_left(law)
    s = s_grid_left(law, 600)
    s = np.append(s[s > st], st)
    S = law.pv(s).S
    margin = float(np.nanmax(S))
    up = np.flatnonzero((S[:-1] < 0) & (S[1:] >= 0))
    if up.size == 0:
        return PVRoot(s=math.nan, margin=margin,
                      reason=f"S_PV(s) < 0 on the whole branch (max {margin:.4g})")
    i = up[0]
    root = brentq(lambda u: float(law.pv(np.array([u])).S[0]), s[i + 1], s[i],
                  xtol=1e-15, rtol=1e-14)
    return PVRoot(s=root, margin=margin)


def outlier(law: WeightLaw) -> Outlier:
    """BBP outlier (H6): location, squared overlap with w*, width and status."""
    root = pv_root(law)
    if not root.found:
        return Outlier(status="absent", lam=math.nan, overlap2=math.nan, width=math.nan,
                       lam_pv=math.nan, s_pv=math.nan, overlap2_pv=math.nan,
                       residual=math.nan, reason=root.reason, margin=root.margin)
    pv = law.pv(np.array([root.s]))
    lam_pv, S = float(pv.x[0]) - law.mu, float(pv.S[0])
    ov_pv = (1.0 - law.m**2) * float(pv.dx[0] / pv.dS[0])
    common = dict(lam_pv=lam_pv, s_pv=root.s, overlap2_pv=ov_pv, margin=root.margin)
    if not ov_pv > 0:  # a pole of G_ee = 1/S must have a positive residue
        return Outlier(status="absent", lam=math.nan, overlap2=math.nan, width=math.nan,
                       residual=abs(S), reason="the root of S_PV has a negative weight "
                       "(1/S' < 0): not an eigenvalue (seen on sample laws near their lowest "
                       "sample)", **common)
    if law.bounded_below and 1.0 / root.s < law.z_min:
        return Outlier(status="exists", lam=lam_pv, overlap2=ov_pv, width=0.0, residual=abs(S),
                       reason="pole 1/s_out below the support of z: isolated eigenvalue",
                       **common)
    try:
        x_res = _re_s_root(law, lam_pv + law.mu)
    except ValueError as exc:
        return Outlier(status="resonance", lam=lam_pv, overlap2=ov_pv, width=math.nan,
                       residual=abs(S), reason=f"PV root only ({exc})", **common)
    sc, res, _ = stieltjes(law, np.array([x_res]))
    _, dx, _, _, _, B1 = law.x_of_s(sc)
    Sx = x_res - law.alpha * law.expect(sc)[2][0]
    dS = (1.0 - law.alpha * B1[0] / dx[0]).real
    return Outlier(status="resonance", lam=x_res - law.mu, overlap2=(1.0 - law.m**2) / dS,
                   width=2.0 * abs(Sx.imag) / dS, residual=float(abs(Sx.real) + res[0]),
                   reason="pole 1/s_out inside the support of z (H7): resonance of nu_e",
                   **common)


def _re_s_root(law: WeightLaw, x: float) -> float:
    """``Re S(x) = 0`` on the physical branch near the PV root x (complex route, H6);
    ValueError when it cannot be bracketed."""

    def re_s(xx: float) -> float:
        sc, _, _ = stieltjes(law, np.array([xx]))
        return float((xx - law.alpha * law.expect(sc)[2][0]).real)

    half = max(1e-3, 0.05 * abs(x))
    lo, hi = x - half, x + half
    flo, fhi = re_s(lo), re_s(hi)
    for _ in range(6):
        if flo * fhi <= 0:
            break
        lo, hi = x - 2 * (x - lo), x + 2 * (hi - x)
        flo, fhi = re_s(lo), re_s(hi)
    if flo * fhi > 0:
        raise ValueError("Re S(x) = 0 not bracketed near the PV root")
    return brentq(re_s, lo, hi, xtol=1e-12, rtol=1e-12)
