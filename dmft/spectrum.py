"""Hessian spectrum from a law of weights (THEORY.md H1-H8, T1).

Conventions
-----------
All eigenvalues returned by the public API are *Riemannian* eigenvalues ``lam = eig(D) - mu``
(H1, H2), with ``D`` the restriction of ``(1/N) sum_mu z_mu x_mu x_mu^T`` to the tangent space
and ``z = f'(h)``. Internally ``x = lam + mu`` denotes an eigenvalue of D. ``alpha = M / N``.

Formulas used (weights ``(z, g)``, ``g = (h* - m h)/sqrt(1 - m^2)``, H2)
---------------------------------------------------------------------
- ``A(s) = E[z/(1 - z s)]``, ``B(s) = E[g^2 z/(1 - z s)]`` and their s-derivatives
  ``A1 = E[z^2/(1 - z s)^2]``, ``B1 = E[g^2 z^2/(1 - z s)^2]``.
- (H3) ``x(s) = 1/s + alpha A(s)``; ``s(x + i0)`` is found by Newton's method on
  ``F(s) = x(s) - x``, continued from large ``|x + i eta|`` (``s ~ 1/(x + i eta)``) down to
  ``eta = 0`` for every grid point at once; the physical branch is imposed explicitly
  (``Im s <= 0`` at every step) and checked; the residual ``|F| / (1 + |x|)`` is returned.
  ``rho(lam) = -Im s / pi``.
- (H5) ``S(x) = x - alpha B(s(x))``, ``G_ee = 1/S``, ``nu_e = -Im(1/S) / pi``.
- (H6) Real route (principal values, ``s`` real, ``s - i0``): ``S_PV(s) = 1/s +
  alpha Re[A(s) - B(s)]``; the outlier is the first root met as s decreases from 0-, with
  ``x_out = x_PV(s_out)`` and overlap ``(1 - m^2)/S'``, ``S' = dS/dx = S_PV'(s)/x_PV'(s)``.
  Complex route: ``S(x)`` on the physical branch; the resonance sits at ``Re S(x) = 0``,
  weight ``(1 - m^2)/Re S'(x)`` and ``FWHM = 2 Im S / Re S'``,
  ``S'(x) = 1 - alpha B1(s)/x'(s)``. Where the pole ``1/s_out`` lies outside the support of z
  the two routes coincide and the outlier is an isolated eigenvalue (status ``exists``);
  where it lies inside (z unbounded below, H7) it is a ``resonance``; without a root it is
  ``absent`` (with the reason).
- (H4) Left edge for a law bounded below: first zero of ``x'(s)`` for ``1/z_min < s < 0``
  (or the end of that interval: edge at ``x(1/z_min)``). Right edge: first zero of
  ``x'(s)`` for ``0 < s < 1/z_max``. For laws unbounded on that side the same recipe on the
  principal-value branch is reported with ``kind="tail"`` (an exponentially thin tail of
  eigenvalues lies beyond it; on the left, use :meth:`WeightLaw.finite_n`).
- (H8) Finite N: the expected number of eigenvalues of D below ``x_PV(s)`` is
  ``n(s) = N alpha P(z < 1/s)`` along the PV branch ``s in (s_turn, 0)``; states are
  Poisson with that mean, plus one state at the outlier. Then
  ``P(lam_k > x) = P(Poisson(n(x)) + 1[x > x_out] < k)``, the outlier is the lowest with
  probability ``exp(-n(s_out))``, and ``E[overlap^2 of the lowest] ~ exp(-n(s_out))
  (1 - m^2)/S'``.

Backends for the weight law: exact Gaussian quadrature at t = 0 (any m; see
:mod:`dmft._spectral_laws`), samples (piecewise-linear densities on equal-count plus
asinh-spaced bins), or atoms (e.g. z = 1, Marchenko-Pastur).

Measured (section 5 of THEORY.md) - see :data:`SECTION5_NOTES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import poisson

from dmft import _checks
from dmft._spectral_laws import AtomLaw, DensityLaw, GaussianLaw
from dmft.losses import PHASE_RETRIEVAL, Loss, get_loss

SECTION5_NOTES = """Measurements (issue 4; single finite-N GD runs, N = 800, m0 = 0.1, preliminary).

(i) Outliers beyond w* at t > 0. Dense Riemannian Hessians along gradient descent
    (alpha = 8, eta = 0.004, t = 0..2; alpha = 3, eta = 0.01, t = 0..10): squared overlaps of
    the 5 lowest eigenvectors with the tangent part of w(0) stay <= 0.006 (~5/N) except
    0.06 at alpha = 8, t = 0.25 (m = 0.68, where w(0) still has a w* component); no second
    isolated low eigenvalue appears. The lowest eigenvectors do overlap the Riemannian
    gradient (0.04-0.45): the residual gradient lives in the soft modes, which is expected
    and not a new outlier. So no evidence of trajectory outliers at the 1/N level; (H2)
    is consistent with these Hessians, more seeds are needed to bound it.
(ii) Bounded-below law. alpha = 8 (recovery): the negative tail of z = f'(h) shrinks with m:
    z_min = -14.5, -7.8, -1.1, -0.04, ~0 at t = 0, 0.25, 0.5, 0.75, 2 (m -> 1, z -> 2 h^2 >= 0):
    a hard left edge (H4) appears once m is close to 1 (t ~ 0.5 here). alpha = 3 (no
    recovery, plateau): the lower tail compacts within t ~ 3 and then stays put
    (z_min ~ -3.0..-3.3, P(z < -2) ~ 0.003-0.005 at t = 3..10); with these samples the H4
    recipe gives a hard edge at -0.74 with its pole 1/s = -3.41 just below z_min, i.e.
    controlled by the extreme samples; finite-N lowest eigenvalue -0.54. Undecided whether
    the N = inf late-time law is strictly bounded: needs DMFT samples (S >~ 1e5).
(iii) t = 0 finite N (H8): the Poisson tail + one outlier state predicts the lowest eigenvalue
    within ~0.3-0.6 (N = 500-2000); below alpha_BBP_init it misses that the lowest
    eigenvector still has overlap^2 ~ 0.16 (N = 500, alpha = 3) with w*, which the local ratio
    (1 - m^2) nu_e / (N rho) at the lowest eigenvalue reproduces (0.11-0.15): the tail
    states themselves carry the broad resonance.
(iv) Sample laws cannot represent an unbounded lower tail (issue 5). At t = 0 (z = 3 h^2 -
    h*^2, unbounded below) the BBP margin of a law built from S Gaussian samples is
    22 +- 12, 28 +- 8, 17 +- 4, -0.7 +- 1.4 (S = 2e3, 8e3, 3.2e4, 1.28e5; alpha = 2.5, six
    draws each) against the exact -1.25: a spurious outlier. WeightLaw.from_solution
    therefore uses the exact Gaussian law at t = 0. Along the DMFT (m0 = 1e-10) the
    lower tail compacts (z_min ~ -10.5 at t = 0, ~ -6 to -9 for t >= 2.5) and the late
    margins become usable: at alpha = 10, t in [2.5, 5], S = 4e3, 8e3, 1.6e4, 3.2e4 give
    -1.9, -2.1, -1.2, -1.8 (S = 2e3: +0.5, biased); at alpha = 12: 0.05, -0.5, 0.17, -0.8
    (S = 2e3: +2.7). The S-to-S scatter (0.4-0.5) exceeds the within-run error and is
    carried as a systematic by alpha_bbp_ts. z_min at late times: -8.2, -7.3, -8.4, -7.0,
    -7.8 (alpha = 10, S = 2e3 ... 3.2e4), no drift with S, consistent with a bounded lower
    tail there; at alpha = 12: -7.1, -6.9, -7.6, -8.0, -9.3, a slow drift: undecided.
"""

__all__ = [
    "WeightLaw",
    "DensityResult",
    "SignalResult",
    "Edge",
    "Outlier",
    "FiniteNPicture",
    "SpectrumTrajectory",
    "spectrum_along",
]


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
class SignalResult:
    """Spectral measure of the signal direction e (H5): ``nu_e = -Im(1/S) / pi``."""

    lam: np.ndarray
    nu_e: np.ndarray
    S: np.ndarray
    residual: np.ndarray


@dataclass(frozen=True)
class Edge:
    """A spectral edge (H4), Riemannian. ``kind``: ``hard`` (x'(s) = 0 with the pole outside
    the support), ``support`` (edge at the end of the support of z), ``tail`` (PV recipe on
    a side where z is unbounded: an exponentially thin tail lies beyond), ``none``."""

    lam: float
    s: float
    kind: str
    reason: str = ""


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

    status: str
    lam: float
    overlap2: float
    width: float
    lam_pv: float
    s_pv: float
    overlap2_pv: float
    residual: float
    reason: str = ""
    margin: float = math.nan


@dataclass(frozen=True)
class FiniteNPicture:
    """Finite-N picture of the low end of the spectrum (H8), Riemannian eigenvalues.

    ``lam_low[k]``: expected (k+1)-th lowest eigenvalue; ``p_outlier_lowest``:
    probability that the outlier is the lowest eigenvalue; ``overlap2_lowest``: expected
    squared overlap of the lowest eigenvector with w*; ``n_below_outlier``: expected number of
    tail states below the outlier, ``N alpha P(z < 1/s_out)``;
    ``overlap2_lowest_local``: the same overlap from the local ratio
    ``(1 - m^2) nu_e(lam) / (N rho(lam))`` averaged over the law of the lowest eigenvalue
    (no separate outlier state; measured to be the better predictor, see module notes).
    """

    N: int
    lam_low: np.ndarray
    p_outlier_lowest: float
    overlap2_lowest: float
    n_below_outlier: float
    outlier: Outlier
    overlap2_lowest_local: float = math.nan


def _poisson_sf_counts(n: np.ndarray, k: int, extra: np.ndarray) -> np.ndarray:
    """P(Poisson(n) + extra < k + 1) = P(k-th lowest (1-based k+1) above)."""
    out = np.zeros_like(n)
    kk = k - extra  # need Poisson <= kk
    ok = kk >= 0
    out[ok] = poisson.cdf(kk[ok], n[ok])
    return out


@dataclass(frozen=True)
class WeightLaw:
    """Law of the weight pair ``(z, g)`` at one time (H2) with ``alpha``, ``mu`` and ``m``.

    Build with :meth:`gaussian` (t = 0, exact quadrature), :meth:`from_samples` or
    :meth:`from_solution`. ``mu`` is the Lagrange multiplier (E5) so that Riemannian
    eigenvalues are ``eig(D) - mu``; ``m`` the overlap, entering only ``overlap2 ∝ 1 - m^2``.
    """

    alpha: float
    mu: float
    m: float
    kind: str
    t: float = math.nan
    backend: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def gaussian(cls, alpha: float, m: float = 0.0, n_quad: int = 512,
                 mu: float | None = None) -> WeightLaw:
        """t = 0 law of phase retrieval (E4): h, h* standard Gaussians with correlation m,
        ``z = 3 h^2 - h*^2``; ``mu`` defaults to ``mu(0) = 2 alpha (1 - m^2)`` (section 1).

        ``n_quad`` is the number of trapezoid nodes in the polar angle (spectral accuracy;
        256 gives ~1e-12 on the bulk, 512 on the tails)."""
        alpha = _checks.positive("alpha", alpha)
        m = _checks.in_range("m", m, -1.0, 1.0)
        if abs(m) >= 1.0:
            raise ValueError("m must satisfy |m| < 1 (the tangent direction e is undefined)")
        n_quad = _checks.integer("n_quad", n_quad, 16)
        mu = 2.0 * alpha * (1.0 - m * m) if mu is None else _checks.finite("mu", mu)
        return cls(alpha, mu, m, "gaussian", 0.0, GaussianLaw(m, n_quad))

    @classmethod
    def from_samples(cls, z, g, alpha: float, mu: float, m: float = 0.0,
                     n_bins: int | None = None, t: float = math.nan) -> WeightLaw:
        """Law from samples ``z_i = f'(h_i)``, ``g_i`` (equal weights).

        With at most 32 distinct z values the law is kept as atoms (exact), otherwise it is
        represented by piecewise-linear densities (Monte Carlo + binning error)."""
        z = _checks.finite_array("z", z, ndim=1)
        g = _checks.finite_array("g", g, ndim=1)
        if z.shape != g.shape:
            raise ValueError(f"z and g must have the same shape, got {z.shape} and {g.shape}")
        alpha = _checks.positive("alpha", alpha)
        mu = _checks.finite("mu", mu)
        m = _checks.in_range("m", m, -1.0, 1.0)
        if np.unique(z).size <= 32:
            return cls(alpha, mu, m, "atoms", t, AtomLaw.from_samples(z, g * g))
        if z.size < 100:
            raise ValueError(f"need at least 100 samples for a continuous law, got {z.size}")
        return cls(alpha, mu, m, "samples", t, DensityLaw.from_samples(z, g * g, n_bins))

    @classmethod
    def from_solution(cls, sol: Any, t: float, n_bins: int | None = None) -> WeightLaw:
        """Law at time t from a DMFT Solution (H2): the sample time nearest to t is used.

        ``z = loss.fp(h_samples[k], y)``, ``g = (h_star - m h)/sqrt(1 - m^2)`` with
        ``m = m(t_k)``, ``mu = mu(t_k)`` interpolated on ``sol.t``.

        At t = 0 for noiseless phase retrieval the law is known exactly (h, h* Gaussian with
        correlation m0) and :meth:`gaussian` is returned instead of the samples: the lower
        tail of ``z = 3 h^2 - h*^2`` is unbounded, which a sample law cannot represent
        (measured: its BBP margin at alpha = 2.5 was 22 +- 12, 28 +- 8, 17 +- 4 for
        S = 2000, 8000, 32000 against the exact -1.25, i.e. a spurious outlier)."""
        t = _checks.finite("t", t)
        ts = np.asarray(sol.sample_times, float)
        if ts.size == 0:
            raise ValueError("the solution holds no sample times")
        tol = 1e-9 * (1.0 + abs(t))
        if t < ts.min() - tol or t > ts.max() + tol:
            raise ValueError(f"t = {t} is outside the sampled times [{ts.min()}, {ts.max()}] "
                             "of the solution")
        k = int(np.argmin(np.abs(ts - t)))
        tk = float(ts[k])
        m = float(np.interp(tk, sol.t, sol.m))
        mu = float(np.interp(tk, sol.t, sol.mu))
        loss: Loss = get_loss(getattr(sol, "loss", PHASE_RETRIEVAL))
        noise = getattr(sol, "metadata", {}).get("noise", 0.0)
        if tk == 0.0 and loss.name == PHASE_RETRIEVAL.name and noise == 0.0 and abs(m) < 1:
            return cls.gaussian(sol.alpha, m, n_quad=256)
        h = np.asarray(sol.h_samples[k], float)
        hs = np.asarray(sol.h_star, float)
        z = loss.fp(h, np.asarray(sol.y, float))
        g = (hs - m * h) / math.sqrt(max(1.0 - m * m, 1e-300))
        return cls.from_samples(z, g, sol.alpha, mu, m, n_bins=n_bins, t=tk)

    # ------------------------------------------------------------------ basic maps
    @property
    def z_min(self) -> float:
        return float(self.backend.z_min)

    @property
    def z_max(self) -> float:
        return float(self.backend.z_max)

    @property
    def bounded_below(self) -> bool:
        """Whether the law of z has a finite lower end (samples: always, at face value)."""
        return math.isfinite(self.z_min)

    def cdf(self, x) -> np.ndarray:
        """``P(z < x)``."""
        return self.backend.cdf(np.asarray(x, float))

    def _expect(self, s):
        return self.backend.expect(np.asarray(s, dtype=complex))

    def _x_of_s(self, s):
        """D-eigenvalue ``x(s) = 1/s + alpha A(s)`` and ``x'(s)`` (H4), complex."""
        A, A1, B, B1 = self._expect(s)
        s = np.asarray(s, dtype=complex)
        return 1.0 / s + self.alpha * A, -1.0 / s**2 + self.alpha * A1, A, A1, B, B1

    def _scale(self) -> float:
        return 1.0 + self.alpha * (abs(self.backend.mean_z) + 2.0)

    # ------------------------------------------------------------------ H3
    def _solve(self, x: np.ndarray, max_newton: int = 60, tol: float = 1e-12):
        """``s(x + i0)`` for real D-eigenvalues x (vectorised eta-continuation + Newton)."""
        x = np.asarray(x, float)
        sc = self._scale()
        etas = sc * np.concatenate([4.0 ** -np.arange(0, 13), [0.0]])
        z = x + 1j * etas[0]
        s = 1.0 / z
        conv = np.zeros(x.shape, bool)
        res = np.full(x.shape, np.inf)
        for eta in etas:
            z = x + 1j * eta
            active = np.ones(x.shape, bool)
            for _ in range(max_newton):
                idx = np.flatnonzero(active)
                if idx.size == 0:
                    break
                si = s[idx]
                xs, xp, *_ = self._x_of_s(si)
                F = xs - z[idx]
                r = np.abs(F) / (1.0 + np.abs(z[idx]))
                res[idx] = r
                done = r < tol
                active[idx[done]] = False
                idx, si, F, xp = idx[~done], si[~done], F[~done], xp[~done]
                with np.errstate(all="ignore"):
                    step = F / xp
                new = si - step
                # physical branch: keep Im s <= 0; damp steps that leave it or blow up
                bad = ~np.isfinite(new)
                new = np.where(bad, si, new)
                up = new.imag > 0
                new = np.where(up, new.real + 0.5j * si.imag, new)
                s[idx] = new
            conv = res < 1e-9
        s = np.where(s.imag > 0, s.real + 0j, s)
        return s, res, conv

    def density(self, lams) -> DensityResult:
        """Bulk density ``rho(lam)`` of the Riemannian Hessian (H3) at real ``lams``."""
        lams = _checks.finite_array("lams", lams)
        s, res, conv = self._solve(lams + self.mu)
        return DensityResult(lams, -s.imag / np.pi, s, res, conv)

    # ------------------------------------------------------------------ H5
    def signal_measure(self, lams) -> SignalResult:
        """``nu_e(lam) = -Im G_ee(lam + i0)/pi``, ``G_ee = 1/S`` (H5); integrates to 1."""
        lams = _checks.finite_array("lams", lams)
        x = lams + self.mu
        s, res, _ = self._solve(x)
        A, A1, B, B1 = self._expect(s)
        S = x - self.alpha * B
        with np.errstate(all="ignore"):
            nu = -(1.0 / S).imag / np.pi
        return SignalResult(lams, nu, S, res)

    # ------------------------------------------------------------------ PV branch
    def _pv(self, s):
        """Principal-value quantities on real s: x_PV, x_PV', S_PV, S_PV'."""
        s = np.asarray(s, float)
        A, A1, B, B1 = self._expect(s.astype(complex))
        x = 1.0 / s + self.alpha * A.real
        xp = -1.0 / s**2 + self.alpha * A1.real
        S = 1.0 / s + self.alpha * (A.real - B.real)
        Sp = -1.0 / s**2 + self.alpha * (A1.real - B1.real)
        return x, xp, S, Sp

    def _s_left_limit(self) -> float:
        """Most negative s on the left branch: ``1/z_min`` (pole enters the support)."""
        zmin = self.z_min
        if math.isfinite(zmin) and zmin < 0:
            return 1.0 / zmin
        return -math.inf

    def _s_grid_left(self, n: int = 400) -> np.ndarray:
        lo = self._s_left_limit()
        sc = self._scale()
        smin = -50.0 / sc if not math.isfinite(lo) else lo
        smin = max(smin, -50.0)
        # dense near 0- (x -> -inf) and geometric towards smin
        g = -np.geomspace(1e-4 / sc, -smin, n)
        if math.isfinite(lo):
            g = g[g > lo * (1 - 1e-9)]
        return g

    def _turn_left(self) -> tuple[float, str]:
        """First zero of x_PV'(s) as s decreases from 0- (H4 recipe)."""
        s = self._s_grid_left()
        _, xp, _, _ = self._pv(s)
        sign = np.flatnonzero((xp[:-1] < 0) & (xp[1:] >= 0))
        if sign.size == 0:
            lo = self._s_left_limit()
            if math.isfinite(lo):
                return lo, "support"
            return float(s[-1]), "none"
        i = sign[0]
        f = lambda u: float(self._pv(np.array([u]))[1][0])  # noqa: E731
        return brentq(f, s[i + 1], s[i], xtol=1e-14, rtol=1e-13), "turn"

    # ------------------------------------------------------------------ H4
    def left_edge(self, N: int | None = None) -> Edge | FiniteNPicture:
        """Left edge (H4) where z is bounded below; otherwise (z unbounded below) the
        finite-N picture (H8) when ``N`` is given, else an Edge of kind ``tail``."""
        st, how = self._turn_left()
        if how == "none":
            return Edge(math.nan, math.nan, "none", "x_PV'(s) has no zero on the left branch")
        x = float(self._pv(np.array([st]))[0][0])
        if self.bounded_below and how == "turn":
            return Edge(x - self.mu, st, "hard", "x'(s) = 0 with 1/s below the support of z")
        if self.bounded_below:
            return Edge(x - self.mu, st, "support", "edge at the lower end of the support")
        if N is not None:
            return self.finite_n(N)
        return Edge(x - self.mu, st, "tail",
                    "z is unbounded below (H7): exponentially thin tail beyond this PV turning "
                    "point; use finite_n(N) (H8) for the lowest eigenvalues")

    def right_edge(self) -> Edge:
        """Right edge (H4 recipe on the s > 0 branch continued from 0+)."""
        zmax = self.z_max
        hi = 1.0 / zmax if math.isfinite(zmax) and zmax > 0 else 50.0
        sc = self._scale()
        s = np.geomspace(1e-4 / sc, hi, 400)
        if math.isfinite(zmax):
            s = s[s < hi * (1 - 1e-9)]
        _, xp, _, _ = self._pv(s)
        pos = np.flatnonzero((xp[:-1] < 0) & (xp[1:] >= 0))
        if pos.size == 0:
            if math.isfinite(zmax) and zmax > 0:
                x = float(self._pv(np.array([s[-1]]))[0][0])
                return Edge(x - self.mu, float(s[-1]), "support", "upper end of the support")
            return Edge(math.nan, math.nan, "none", "x_PV'(s) has no zero for s > 0")
        if not math.isfinite(zmax):
            # measured at t = 0: the PV turning point lies inside the bulk (e.g. alpha = 5:
            # lam = -13.2 while rho > 0 up to ~ +50): no number rather than a wrong one
            return Edge(math.nan, math.nan, "tail",
                        "z is unbounded above: exponentially thin right tail, no hard edge; "
                        "the PV recipe (H4) fails on this side")
        i = pos[0]
        f = lambda u: float(self._pv(np.array([u]))[1][0])  # noqa: E731
        st = brentq(f, s[i], s[i + 1], xtol=1e-14, rtol=1e-13)
        x = float(self._pv(np.array([st]))[0][0])
        kind = "hard" if math.isfinite(zmax) else "tail"
        return Edge(x - self.mu, st, kind, "" if kind == "hard" else
                    "z is unbounded above: exponentially thin tail beyond")

    # ------------------------------------------------------------------ H6
    def _pv_root(self):
        """First root of S_PV(s) as s decreases from 0- (before the PV turning point)."""
        st, how = self._turn_left()
        s = self._s_grid_left(600)
        s = np.append(s[s > st], st)
        _, _, S, _ = self._pv(s)
        margin = float(np.nanmax(S))
        up = np.flatnonzero((S[:-1] < 0) & (S[1:] >= 0))
        if up.size == 0:
            return None, f"S_PV(s) < 0 on the whole branch (max {margin:.4g})", margin
        i = up[0]
        f = lambda u: float(self._pv(np.array([u]))[2][0])  # noqa: E731
        root = brentq(f, s[i + 1], s[i], xtol=1e-15, rtol=1e-14)
        return root, "", margin

    def outlier(self) -> Outlier:
        """BBP outlier (H6): location, squared overlap with w*, width and status."""
        cm2 = 1.0 - self.m**2
        root, why, margin = self._pv_root()
        if root is None:
            return Outlier("absent", math.nan, math.nan, math.nan, math.nan, math.nan,
                           math.nan, math.nan, why, margin)
        x, xp, S, Sp = (float(v[0]) for v in self._pv(np.array([root])))
        ov_pv = cm2 * xp / Sp
        if not ov_pv > 0:  # a pole of G_ee = 1/S must have a positive residue
            return Outlier("absent", math.nan, math.nan, math.nan, x - self.mu, root, ov_pv,
                           abs(S), "the root of S_PV has a negative weight (1/S' < 0): not an "
                           "eigenvalue (seen on sample laws near their lowest sample)", margin)
        isolated = self.bounded_below and 1.0 / root < self.z_min
        if isolated:
            return Outlier("exists", x - self.mu, ov_pv, 0.0, x - self.mu, root, ov_pv,
                           abs(S), "pole 1/s_out below the support of z: isolated eigenvalue",
                           margin)
        # complex route: Re S(x) = 0 on the physical branch, near x_PV
        def reS(xx: float) -> float:
            sc, _, _ = self._solve(np.array([xx]))
            _, _, B, _ = (v for v in self._expect(sc))
            return float((xx - self.alpha * B[0]).real)

        width_guess = max(1e-3, 0.05 * abs(x))
        try:
            lo, hi = x - width_guess, x + width_guess
            flo, fhi = reS(lo), reS(hi)
            k = 0
            while flo * fhi > 0 and k < 6:
                lo, hi = x - 2 * (x - lo), x + 2 * (hi - x)
                flo, fhi = reS(lo), reS(hi)
                k += 1
            if flo * fhi > 0:
                raise ValueError("Re S(x) = 0 not bracketed near the PV root")
            xr = brentq(reS, lo, hi, xtol=1e-12, rtol=1e-12)
        except ValueError as exc:
            return Outlier("resonance", x - self.mu, ov_pv, math.nan, x - self.mu, root, ov_pv,
                           abs(S), f"PV root only ({exc})", margin)
        sc, res, _ = self._solve(np.array([xr]))
        xs, xps, A, A1, B, B1 = self._x_of_s(sc)
        Sx = xr - self.alpha * B[0]
        Sprime = 1.0 - self.alpha * B1[0] / xps[0]
        ov = cm2 / Sprime.real
        width = 2.0 * abs(Sx.imag) / Sprime.real
        return Outlier("resonance", xr - self.mu, ov, width, x - self.mu, root, ov_pv,
                       float(abs(Sx.real) + res[0]),
                       "pole 1/s_out inside the support of z (H7): resonance of nu_e", margin)

    # ------------------------------------------------------------------ H8
    def finite_n(self, N: int, k_low: int = 3, n_grid: int = 4000) -> FiniteNPicture:
        """Finite-N picture of the low end (H8): expected lowest ``k_low`` eigenvalues,
        probability that the outlier is the lowest, expected overlap^2 of the lowest."""
        N = _checks.integer("N", N, 2)
        k_low = _checks.integer("k_low", k_low, 1)
        out = self.outlier()
        st, _ = self._turn_left()
        nfun = lambda s: N * self.alpha * self.cdf(1.0 / np.asarray(s))  # noqa: E731
        # s range: from n = 1e-12 (far left) to the PV turning point
        s_hi = -1e-6
        if nfun(s_hi) > 1e-12 or nfun(st) <= 1e-12:
            # all of the branch carries tail states, or none of it does (a law bounded on
            # the left, e.g. samples: the lowest state is the outlier or the hard edge)
            s_far = s_hi
        else:
            s_far = brentq(lambda u: math.log(nfun(u) + 1e-300) - math.log(1e-12), st, s_hi)
        s = -np.geomspace(-s_far, -st, n_grid)
        x, _, _, _ = self._pv(s)
        n = nfun(s)
        lam = x - self.mu
        has = out.status != "absent"
        x_out = out.lam_pv if has else math.inf
        extra = (lam > x_out).astype(int)
        lows = []
        for k in range(k_low):
            P = _poisson_sf_counts(n, k, extra)  # P(lam_(k+1) > lam)
            # E[l] = lam0 + int (P(l > lam) - 1[lam < lam0]) ... with P ~ 1 at lam[0]
            Eval = lam[0] + np.trapezoid(P, lam)
            lows.append(Eval)
        # local route: an eigenvector at lam carries overlap^2 ~ (1-m^2) nu_e / (N rho)
        # (H5/H3 densities, resonance included), averaged over the law of the lowest
        # eigenvalue of the Poisson tail, P(lam_1 > lam) = exp(-n(lam)).
        F1 = 1.0 - np.exp(-n)
        sel = np.flatnonzero((F1 > 1e-4) & (F1 < 1 - 1e-4))
        ov_local = math.nan
        if sel.size >= 2:
            pick = sel[np.linspace(0, sel.size - 1, min(sel.size, 120)).astype(int)]
            lp = lam[pick]
            sres = self._solve(lp + self.mu)[0]
            _, _, B, _ = self._expect(sres)
            with np.errstate(all="ignore"):
                nu = -(1.0 / (lp + self.mu - self.alpha * B)).imag / np.pi
                ratio = (1.0 - self.m**2) * nu / (N * (-sres.imag / np.pi))
            ratio = np.where(np.isfinite(ratio), np.minimum(ratio, 1.0), 0.0)
            ov_local = float(np.sum(0.5 * (ratio[1:] + ratio[:-1]) * np.diff(F1[pick]))
                             / (F1[pick][-1] - F1[pick][0]))
        if has:
            n_out = float(N * self.alpha * self.cdf(np.array(1.0 / out.s_pv)))
            p_low = math.exp(-n_out)
            ov = p_low * out.overlap2
        else:
            n_out, p_low, ov = math.nan, 0.0, 0.0
        return FiniteNPicture(N, np.array(lows), p_low, ov, n_out, out, ov_local)


# ---------------------------------------------------------------------- trajectory
@dataclass(frozen=True)
class SpectrumTrajectory:
    """Spectrum along a DMFT trajectory (one entry per requested time)."""

    t: np.ndarray
    mu: np.ndarray
    m: np.ndarray
    lam_out: np.ndarray
    overlap2: np.ndarray
    width: np.ndarray
    status: list[str]
    left_edge: np.ndarray
    left_kind: list[str]
    right_edge: np.ndarray
    z_min: np.ndarray
    frac_z_negative: np.ndarray
    margin: np.ndarray

    def t_bbp(self) -> float:
        """First time at which the outlier merges with the bulk (T2), NaN if it never does.

        The BBP margin ``max S_PV`` (see :class:`Outlier`) is linearly interpolated between
        the last time with the outlier and the first without, so the result is not tied to
        the grid of ``t`` (midpoint where the margin keeps its sign because the outlier was
        rejected for a negative weight); ``t[0]`` if there is no outlier at the first time.
        """
        present = np.array([st != "absent" for st in self.status]) & (self.margin > 0)
        gone = np.flatnonzero(~present)
        if gone.size == 0:
            return math.nan
        k = int(gone[0])
        if k == 0:
            return float(self.t[0])
        a, b = self.margin[k - 1], self.margin[k]
        frac = a / (a - b) if b < 0 else 0.5  # no sign change (e.g. negative weight): midpoint
        return float(self.t[k - 1] + frac * (self.t[k] - self.t[k - 1]))


def spectrum_along(solution: Any, times, n_bins: int | None = None) -> SpectrumTrajectory:
    """Outlier, edges and weight-law summaries along a DMFT solution at ``times``."""
    times = _checks.finite_array("times", times, ndim=1)
    rows = []
    for t in times:
        law = WeightLaw.from_solution(solution, float(t), n_bins=n_bins)
        out = law.outlier()
        le = law.left_edge()
        re_ = law.right_edge()
        frac_neg = float(np.asarray(law.cdf(np.array([0.0]))).ravel()[0])
        rows.append((law.t, law.mu, law.m, out.lam, out.overlap2, out.width, out.status,
                     le.lam, le.kind, re_.lam, law.z_min, frac_neg, out.margin))
    cols = list(zip(*rows, strict=True))
    arr = lambda i: np.array(cols[i], float)  # noqa: E731
    return SpectrumTrajectory(arr(0), arr(1), arr(2), arr(3), arr(4), arr(5), list(cols[6]),
                              arr(7), list(cols[8]), arr(9), arr(10), arr(11), arr(12))
