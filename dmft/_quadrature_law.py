"""Private backend of :mod:`dmft.spectrum`: the exact t = 0 weight law of the normalised loss.

Loss l_a (THEORY.md E4a) at the start: ``(h, h*)`` standard Gaussians with correlation m,
``y = h*^2``, ``z = f'(h; y) = (3 h^2 - y) / (a + y)``, ``g = (h* - m h) / sqrt(1 - m^2)``.
z is bounded below (``z > -1``: hard left edge, H4) and unbounded above; it varies on the
scale ``sqrt(a)`` in both h and h*. The backend has the interface of
:class:`dmft._spectral_laws.GaussianLaw` (``expect``, ``cdf``, ``z_min``, ``z_max``,
``mean_z``, ``mean_g2``), so :class:`dmft.spectrum.WeightLaw` uses it unchanged (H3-H8).

Two exact-quadrature routes
---------------------------
Direct (real ``s`` in ``[-1, 0]``: the pole ``1/s <= -1`` lies below the support, so the
    integrands are smooth; this is the whole left branch of H4/H6 and T1). Substitute
    ``h* = sqrt(a) sinh u``, ``h = sqrt(a) sinh t``: then ``z = (3 sinh^2 t - sinh^2 u) /
    cosh^2 u`` and the poles of ``1/(1 - z s)`` lie at distance >= ~0.6 from the real
    (u, t) plane for every s in [-1, 0) and every a, so the trapezoid rule on a tensor grid
    (``n_nodes`` per axis, ranges cut where the Gaussian weight is below ~e^-50) converges
    geometrically, uniformly in a.
Density (everything else: complex s and s outside [-1, 0], i.e. the bulk, H3, H5). The density
    of z and ``p2(z) = E[g^2 | z] p(z)`` are exact one-dimensional integrals: with
    ``c = |z| a / (1 + z)``, ``h* = +-sqrt(c) sinh v`` (z > 0) or ``+-sqrt(c) cosh v`` (z < 0)
    and ``h = +-sqrt(q)``, ``q = (z (a + y) + y) / 3``, the Jacobian is the constant
    ``sqrt(3 / (1 + z))``::

        p(z) = sqrt(3/(1+z)) sum_{+-,+-} int_0^inf dv phi(h*) phi_m(h | h*) (a + y) / 6,

    a smooth, double-exponentially decaying integrand (trapezoid rule in v). p has a log
    singularity at z = 0 and a ``1/sqrt(1+z)`` shoulder near z = -1 on the scale a; the panel
    ends are geometric towards -1 and towards 0 from both sides. p and p2 are evaluated at 8
    Gauss-Legendre nodes per panel; panels near the pole ``1/s`` use the exact Cauchy
    transform of the degree-7 interpolant (complex branch with the ``s - i0`` prescription).
    Unlike the piecewise-linear :class:`dmft._spectral_laws.DensityLaw` (whose Cauchy route
    cancels catastrophically when ``|1/s|`` is far beyond most of the mass, measured: A(s) off
    by 10% at a = 0.01, s = 1/(-40 + 217i)), every panel sum is local, so no cancellation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import brentq

_CUT = 10.0  # Gaussian cut-off in units of the standard deviation (weight ~ e^-50)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _check(a: float, m: float) -> tuple[float, float]:
    a, m = float(a), float(m)
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"a (normalisation of l_a, E4a) must be finite and > 0, got {a}")
    if not abs(m) < 1:
        raise ValueError(f"the overlap m must satisfy |m| < 1, got {m}")
    return a, m


def _log_pair_density(h: np.ndarray, hs: np.ndarray, m: float) -> np.ndarray:
    """log of the joint density of (h, h*): h* ~ N(0,1), h | h* ~ N(m h*, 1 - m^2)."""
    c2 = 1.0 - m * m
    return -0.5 * hs * hs - 0.5 * (h - m * hs) ** 2 / c2 - 2 * _LOG_SQRT_2PI - 0.5 * math.log(c2)


def direct_nodes(a: float, m: float = 0.0, n_nodes: int = 240):
    """Nodes ``(z, g^2, weight, h, y)`` of the tensor trapezoid rule of the direct route.

    ``sum(weight * F(z, g^2))`` approximates ``E[F]`` for F smooth on the support of z
    (geometric convergence in ``n_nodes``); nodes of weight below 1e-30 are dropped.
    """
    a, m = _check(a, m)
    hmax = _CUT * (1.0 + abs(m))
    U = math.asinh(_CUT / math.sqrt(a))
    T = math.asinh(hmax / math.sqrt(a))
    u = np.linspace(-U, U, n_nodes)
    t = np.linspace(-T, T, n_nodes)
    du, dt = u[1] - u[0], t[1] - t[0]
    uu, tt = np.meshgrid(u, t, indexing="ij")
    hs = math.sqrt(a) * np.sinh(uu)
    h = math.sqrt(a) * np.sinh(tt)
    w = np.exp(_log_pair_density(h, hs, m)) * a * np.cosh(uu) * np.cosh(tt) * du * dt
    y = hs * hs
    keep = w > 1e-30 * w.max()
    z = ((3.0 * h * h - y) / (a + y))[keep]
    g2 = ((hs - m * h) ** 2 / (1.0 - m * m))[keep]
    return z, g2, w[keep], h[keep], y[keep]


def exact_density(z: np.ndarray, a: float, m: float = 0.0, n_v: int = 400):
    """Exact ``p(z)`` and ``p2(z) = E[g^2 | z] p(z)`` of ``z = (3h^2 - y)/(a + y)`` at t = 0.

    Parameters
    ----------
    z : array of values in (-1, inf), none equal to 0 (log singularity of p).
    n_v : trapezoid nodes of the 1D integral per z (see the module docstring).
    """
    a, m = _check(a, m)
    z = np.asarray(z, float)
    if np.any(z <= -1) or np.any(z == 0):
        raise ValueError("exact_density needs -1 < z and z != 0")
    zc = z[:, None]
    c = np.abs(zc) * a / (1.0 + zc)
    # v range: up to y ~ (cut-off)^2 (1 + |m|)^2 for the Gaussian of h*
    ymax = (_CUT * (1.0 + abs(m))) ** 2 + 1.0
    vmax = np.arccosh(np.sqrt(np.maximum(ymax / c, 1.0)) + 1.0)
    frac = np.linspace(0.0, 1.0, n_v)[None, :]
    v = vmax * frac
    dv = vmax / (n_v - 1)
    pos = zc > 0
    root_y = np.sqrt(c) * np.where(pos, np.sinh(v), np.cosh(v))
    y = root_y**2
    sq = np.sqrt(np.maximum((1.0 + zc) * c / 3.0, 0.0)) * np.where(pos, np.cosh(v), np.sinh(v))
    trap = np.where((frac == 0) | (frac == 1), 0.5, 1.0)
    p = np.zeros(z.shape)
    p2 = np.zeros(z.shape)
    for sh in (1.0, -1.0):
        for sg in (1.0, -1.0):
            hs, h = sh * root_y, sg * sq
            dens = np.exp(_log_pair_density(h, hs, m)) * (a + y) / 6.0 * trap
            p += np.sum(dens, axis=1)
            p2 += np.sum(dens * (hs - m * h) ** 2 / (1.0 - m * m), axis=1)
    jac = np.sqrt(3.0 / (1.0 + z)) * dv[:, 0]
    return p * jac, p2 * jac


def density_knots(a: float, m: float = 0.0, per_decade: int = 40) -> np.ndarray:
    """Knots in (-1, z_hi]: geometric towards -1 (down to where p ~ e^-60), towards 0 from
    both sides (down to |z| = 1e-12) and up to ``z_hi`` where p ~ e^-60."""
    a, m = _check(a, m)
    lo = 120.0 / (120.0 + a)  # y0 = -z a/(1+z) = 120 at z = -lo
    hi = 6.0 * 60.0 / (a * (1.0 - abs(m)) ** 2) + 10.0
    def geo(x0: float, x1: float) -> np.ndarray:
        return np.geomspace(x0, x1, max(int(per_decade * math.log10(x1 / x0)), 2) + 1)
    left = -1.0 + geo(1.0 - lo, 0.5)
    mid = -geo(1e-12, 0.5)[::-1]
    right = geo(1e-12, hi)
    return np.unique(np.concatenate([left, mid, right]))


class _PanelLaw:
    """Exact densities ``p(z)``, ``p2(z)`` sampled at 8 Gauss-Legendre nodes per panel.

    Regular integrals are the Gauss-Legendre sums. For a panel within two widths of the pole
    ``w = 1/s`` the density is replaced by its degree-7 interpolant P on the panel and
    ``int P/(z - w) = int (P(z) - P(w))/(z - w) + P(w) log((b1 - w)/(b0 - w))`` (polynomial
    part by the same rule, exactly); ``w + i0`` on the real axis (``s - i0``).
    """

    def __init__(self, b: np.ndarray, a: float, m: float, n_v: int):
        self.xi, self.wx = np.polynomial.legendre.leggauss(8)
        self.b0, self.d = b[:-1], np.diff(b)
        self.z = self.b0[:, None] + 0.5 * self.d[:, None] * (self.xi + 1.0)  # (panels, 8)
        p, p2 = exact_density(self.z.ravel(), a, m, n_v)
        self.q = [p.reshape(self.z.shape), p2.reshape(self.z.shape)]
        self.qw = [q * (0.5 * self.d[:, None] * self.wx) for q in self.q]
        # Legendre coefficients of the interpolants in the panel coordinate xi in [-1, 1]
        V = np.polynomial.legendre.legvander(self.xi, 7)
        self.coef = [np.linalg.solve(V, q.T) for q in self.q]  # (8, panels)
        self.mass = [float(qw.sum()) for qw in self.qw]

    def _near(self, w: np.ndarray, k: int, idx: np.ndarray, pan: np.ndarray) -> np.ndarray:
        """Exact ``int P/(z - w)`` and its w-derivative on panels ``pan`` at ``w[idx]``."""
        b0, d, wv = self.b0[pan], self.d[pan], w[idx]
        xw = 2.0 * (wv - b0) / d - 1.0
        c = self.coef[k][:, pan]
        Pw = np.polynomial.legendre.legval(xw, c, tensor=False)
        dPw = np.polynomial.legendre.legval(xw, np.polynomial.legendre.legder(c), tensor=False)
        dPw = dPw * 2.0 / d
        zn, q = self.z[pan], self.q[k][pan]
        wt = 0.5 * d[:, None] * self.wx
        dz = zn - wv[:, None]
        L = np.log((b0 + d - wv) / (b0 - wv))
        dL = 1.0 / (b0 - wv) - 1.0 / (b0 + d - wv)
        I0 = np.sum(wt * (q - Pw[:, None]) / dz, axis=1) + Pw * L
        I1 = (np.sum(wt * (q - Pw[:, None] - dPw[:, None] * dz) / dz**2, axis=1)
              + dPw * L + Pw * dL)
        return I0, I1

    def expect(self, s: np.ndarray) -> np.ndarray:
        """A, A1, B, B1 at complex s (Im s <= 0), shape (4, len(s))."""
        w = 1.0 / s
        tiny = 1e-13 * (1.0 + np.abs(w))
        w = np.where(s.imag == 0, w.real + 1j * tiny, w)
        out = np.empty((4, s.size), dtype=complex)
        zf = self.z.ravel()
        for i in range(0, s.size, 64):
            sl = slice(i, i + 64)
            r = zf[None, :] / (1.0 - s[sl, None] * zf[None, :])
            dist = np.maximum(np.maximum(self.b0[None, :] - w[sl, None].real,
                                         w[sl, None].real - self.b0 - self.d), 0.0)
            near = np.hypot(dist, w[sl, None].imag) < 2.0 * self.d[None, :]
            ii, pan = np.nonzero(near)
            for k in range(2):
                full = (r * self.qw[k].ravel()).reshape(r.shape[0], *self.z.shape)
                full2 = (r * r * self.qw[k].ravel()).reshape(full.shape)
                A = full.sum(axis=(1, 2))
                A1 = full2.sum(axis=(1, 2))
                if ii.size:
                    I0, I1 = self._near(w[sl], k, ii, pan)
                    wv = w[sl][ii]
                    M = self.qw[k][pan].sum(axis=1)
                    exact_A = -wv * M - wv**2 * I0
                    exact_A1 = wv**2 * (M + 2 * wv * I0 + wv**2 * I1)
                    np.add.at(A, ii, exact_A - full[ii, pan].sum(axis=1))
                    np.add.at(A1, ii, exact_A1 - full2[ii, pan].sum(axis=1))
                out[2 * k, sl], out[2 * k + 1, sl] = A, A1
        return out

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``P(z < x)`` from the panel sums (interpolant integrated on the partial panel)."""
        cum = np.concatenate([[0.0], np.cumsum(self.qw[0].sum(axis=1))])
        b = np.append(self.b0, self.b0[-1] + self.d[-1])
        i = np.clip(np.searchsorted(b, x, side="right") - 1, 0, self.b0.size - 1)
        xi = np.clip(2.0 * (x - self.b0[i]) / self.d[i] - 1.0, -1.0, 1.0)
        ci = np.polynomial.legendre.legint(self.coef[0][:, i], lbnd=-1)
        part = np.polynomial.legendre.legval(xi, ci, tensor=False) * 0.5 * self.d[i]
        return np.where(x <= b[0], 0.0, np.where(x >= b[-1], cum[-1], cum[i] + part))


class NormalisedLaw:
    """t = 0 law of ``(z, g)`` for the normalised loss l_a (E4a) at overlap m (exact quadrature).

    Parameters
    ----------
    a : float
        Normalisation of l_a, finite and > 0.
    m : float
        Overlap at the start, |m| < 1.
    n_nodes : int
        Trapezoid nodes per axis of the direct route (real s in [-1, 0]).
    per_decade : int
        Panels per decade of the density route (complex branch, bulk).
    n_v : int
        Trapezoid nodes of the 1D integral giving p(z) and p2(z) at each knot.

    Attributes
    ----------
    z_min, z_max : -1 (infimum of z, not attained) and inf.
    mean_z : ``E[z]``; mean_g2 : ``E[g^2] = 1``; mean_fh : ``E[f h]``, so ``mu(0) = alpha
        mean_fh`` (E5) with ``f = (h^2 - y) h / (a + y)``.
    mass_error : ``|int p - 1|`` of the panel quadrature (not renormalised; ~1e-16).
    """

    def __init__(self, a: float, m: float = 0.0, n_nodes: int = 240, per_decade: int = 10,
                 n_v: int = 400):
        self.a, self.m = _check(a, m)
        z, g2, w, h, y = direct_nodes(self.a, self.m, int(n_nodes))
        self._z, self._g2, self._w = z, g2, w
        self.z_min = -1.0
        self.z_max = math.inf
        self.mean_z = float(w @ z)
        self.mean_g2 = float(w @ g2)
        self.mean_fh = float(w @ ((h * h - y) * h * h / (self.a + y)))
        self._panels = _PanelLaw(density_knots(self.a, self.m, int(per_decade)), self.a,
                                 self.m, int(n_v))
        self.mass_error = abs(self._panels.mass[0] - 1.0)

    def _direct(self, s: np.ndarray) -> np.ndarray:
        """A, A1, B, B1 at real s in [-1, 0] from the tensor trapezoid nodes."""
        out = np.empty((4, s.size))
        for i in range(0, s.size, 64):
            r = self._z[None, :] / (1.0 - s[i:i + 64, None] * self._z[None, :])
            rw, r2w = r * self._w, r * r * self._w
            out[:, i:i + 64] = [rw.sum(1), r2w.sum(1), rw @ self._g2, r2w @ self._g2]
        return out

    def expect(self, s: np.ndarray):
        """``A, A1, B, B1`` (see :mod:`dmft._spectral_laws`) at complex s, Im s <= 0."""
        s = np.asarray(s, dtype=complex)
        shape = s.shape
        s = s.reshape(-1)
        direct = (s.imag == 0) & (s.real >= -1.0) & (s.real <= 0.0)
        out = np.empty((4, s.size), dtype=complex)
        if direct.any():
            out[:, direct] = self._direct(s[direct].real)
        if not direct.all():
            out[:, ~direct] = self._panels.expect(s[~direct])
        return tuple(o.reshape(shape) for o in out)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``P(z < x)`` (Gauss-Legendre panels of the exact density)."""
        x = np.asarray(x, float)
        return self._panels.cdf(x.ravel()).reshape(x.shape)


@dataclass(frozen=True)
class BBPInitBounded:
    """alpha_BBP_init for a law bounded below (T1 with a hard edge, H4, H6).

    ``alpha``: threshold; ``s``: s of the outlier at threshold; ``kind``: ``"edge"`` (the
    root of S_PV leaves the H4 turning point: overlap^2 -> 0 there, standard BBP),
    ``"pair"`` (a tangency of S_PV inside the branch: the root appears as a pair with a
    finite overlap), ``"support"`` (the root enters at the end ``s = 1/z_min`` of the
    branch); ``s_turn``: the H4 turning point at that alpha (nan if none).
    """

    alpha: float
    s: float
    kind: Literal["edge", "pair", "support"]
    s_turn: float


def alpha_bbp_init_bounded(backend, n_grid: int = 400) -> BBPInitBounded:
    """Smallest alpha with an isolated outlier (H6) for a law of z bounded below by z_min < 0.

    On the left branch ``1/z_min < s < 0`` (real, smooth integrands) the outlier condition
    ``S_PV(s) = 1/s + alpha R(s) = 0``, ``R = A - B``, holds at ``alpha = a_R(s) =
    -1/(s R(s))`` and the branch (H4) ends where ``x'(s) = -1/s^2 + alpha A1(s) = 0``, i.e.
    s is on the branch iff ``alpha < a_T(s') = 1/(s'^2 A1(s'))`` for all s' in [s, 0). The
    threshold is ``min a_R(s)`` over the s allowed by that constraint: at an interior
    tangency (``R + s R' = 0``), at the crossing ``a_R = a_T`` (edge), or at ``s = 1/z_min``.
    """
    s_lo = 1.0 / backend.z_min
    s = -np.geomspace(1e-5, -s_lo, n_grid)

    def parts(u: np.ndarray):
        A, A1, B, B1 = (v.real for v in backend.expect(np.asarray(u, complex)))
        return A - B, A1 - B1, A1

    R, R1, A1 = parts(s)
    with np.errstate(divide="ignore"):
        aR = np.where(R > 0, -1.0 / (s * R), np.inf)
    aT = np.minimum.accumulate(1.0 / (s * s * A1))
    ok = aR <= aT
    if not ok.any():
        raise ValueError("no alpha gives a root of S_PV on the left branch")
    k = int(np.argmin(np.where(ok, aR, np.inf)))
    if k == n_grid - 1:
        return BBPInitBounded(float(aR[k]), float(s[k]), "support", math.nan)
    if ok[k - 1] and ok[k + 1]:  # interior tangency: d(s R)/ds = R + s R' = 0
        def dfun(u: float) -> float:
            r, r1, _ = parts(np.array([u]))
            return float(r[0] + u * r1[0])
        st = brentq(dfun, s[k + 1], s[k - 1], xtol=1e-15, rtol=1e-14)
        r = parts(np.array([st]))[0][0]
        return BBPInitBounded(float(-1.0 / (st * r)), float(st), "pair", math.nan)
    # the constraint binds: crossing of a_R with a_T next to k
    def gap(u: float) -> float:
        r, _, a1 = parts(np.array([u]))
        return float(-1.0 / (u * r[0]) - 1.0 / (u * u * a1[0]))
    j = k + 1 if not ok[k + 1] else k - 1
    lo, hi = sorted((s[k], s[j]))
    st = brentq(gap, lo, hi, xtol=1e-15, rtol=1e-14)
    r, _, a1 = parts(np.array([st]))
    return BBPInitBounded(float(1.0 / (st * st * a1[0])), float(st), "edge", float(st))
