"""Hessian spectrum from a law of weights (THEORY.md H1-H8, T1).

Conventions
-----------
All eigenvalues returned by the public API are *Riemannian* eigenvalues ``lam = eig(D) - mu``
(H1, H2), with ``D`` the restriction of ``(1/N) sum_mu z_mu x_mu x_mu^T`` to the tangent space
and ``z = f'(h)``. Internally ``x = lam + mu`` denotes an eigenvalue of D. ``alpha = M / N``.
With weights ``(z, g)``, ``g = (h* - m h)/sqrt(1 - m^2)`` (H2): ``A(s) = E[z/(1 - z s)]``,
``B(s) = E[g^2 z/(1 - z s)]`` and their s-derivatives ``A1``, ``B1`` (:meth:`WeightLaw.expect`);
``x(s) = 1/s + alpha A(s)`` (H3, H4); ``S(x) = x - alpha B(s(x))`` (H5, H6).

Layout
------
:class:`WeightLaw` holds the law (exact Gaussian quadrature at t = 0, samples as
piecewise-linear densities, or atoms: :mod:`dmft._spectral_laws`) and its basic maps
(expectations, principal-value branch); its spectral methods are short entries into
:mod:`dmft._bulk` (density, edges: H3, H4), :mod:`dmft._outlier` (signal measure nu_e, BBP
outlier: H5-H7) and :mod:`dmft._finite_n` (finite-N picture: H8). Along a DMFT solution:
:func:`spectrum_along` (with delete-one-group jackknife errors over the population groups);
curves ready to draw: :func:`spectrum_curves`. Sample laws are histograms (``estimator=
"bins"``) or smooth kernel estimates (``"kde"``, :mod:`dmft._smooth_law`).

Edges (one definition each, the same in the records, ``dmft spectrum`` and the figures)
------------------------------------------------------------------------------------------
- hard edge (``hard_edge``): the N = inf left end of the support of rho (H4); none (NaN)
  where z is unbounded below (``kind="tail"``) or a sample law ends at its lowest sample
  (``"sample_end"``);
- tail start at size N (``tail_start``): the level below which the expected number of bulk
  eigenvalues, ``N int rho``, is 1;
- finite-N lowest eigenvalue (``lowest_q16``, ``lowest_median``, ``lowest_q84``,
  ``lam_low``): Poisson states with that mean plus the outlier (H8).

Measured (section 5 of THEORY.md) - see :data:`SECTION5_NOTES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from dmft import _checks
from dmft._bulk import DensityResult, Edge, EdgeKind, left_edge, right_edge, stieltjes
from dmft._crossing import first_down_crossing, local_linear
from dmft._curves import RESOLVE_SAMPLES, SpectrumCurves, resolved_mask, spectrum_curves
from dmft._finite_n import FiniteNPicture, finite_n
from dmft._outlier import (
    Outlier,
    OutlierStatus,
    PVRoot,
    SignalResult,
    outlier,
    outlier_present,
    pv_root,
    signal_measure,
)
from dmft._quadrature_law import NormalisedLaw
from dmft._smooth_law import kde_law
from dmft._spectral_laws import AtomLaw, DensityLaw, GaussianLaw, dynamic_signal_weights
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
    Decided by an S-scan at t in [5, 10] (``benchmarks/plain_s_scan.py``, 3-5 seeds per S):
    the lowest weight over the window falls ~1.5 per factor 4 in S (alpha = 14: -8.2,
    -10.0, -12.7 at S = 8e3, 3.2e4, 1.28e5), an unbounded, roughly exponential tail, and
    the sample-law outlier fades with S (present at 97 %, 89 %, 43 % of the times), and the
    growth factor loses its exponential rate earlier at larger S: the late thresholds of
    the plain loss are finite-S values (THEORY T2, T3).
"""

__all__ = [
    "RESOLVE_SAMPLES",
    "DensityResult",
    "Edge",
    "EdgeKind",
    "FiniteNPicture",
    "Outlier",
    "OutlierStatus",
    "PVRoot",
    "PVValues",
    "SignalResult",
    "SpectrumCurves",
    "SpectrumTrajectory",
    "WeightLaw",
    "jackknife_se",
    "n_groups",
    "resolved_mask",
    "spectrum_along",
    "spectrum_curves",
]

LawKind = Literal["gaussian", "normalised", "samples", "atoms"]
Estimator = Literal["bins", "kde"]


@dataclass(frozen=True)
class PVValues:
    """Principal-value quantities on real s of the left or right branch (H4, H6).

    ``x = x_PV(s) = 1/s + alpha Re A(s)`` (a D-eigenvalue; Riemannian ``x - mu``),
    ``dx = x_PV'(s)``, ``S = S_PV(s) = 1/s + alpha Re[A(s) - B(s)]``, ``dS = S_PV'(s)``.
    """

    x: np.ndarray
    dx: np.ndarray
    S: np.ndarray
    dS: np.ndarray


@dataclass(frozen=True)
class WeightLaw:
    """Law of the weight pair ``(z, g)`` at one time (H2) with ``alpha``, ``mu`` and ``m``.

    Build with :meth:`gaussian` (t = 0, plain loss, exact quadrature), :meth:`normalised`
    (t = 0, normalised loss l_a, exact quadrature), :meth:`from_samples` or
    :meth:`from_solution`. ``mu`` is the Lagrange multiplier (E5) so that Riemannian
    eigenvalues are ``eig(D) - mu``; ``m`` the overlap, entering only ``overlap2 ∝ 1 - m^2``.
    """

    alpha: float
    mu: float
    m: float
    kind: LawKind
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
        return cls(alpha=alpha, mu=mu, m=m, kind="gaussian", t=0.0, backend=GaussianLaw(m, n_quad))

    @classmethod
    def normalised(cls, alpha: float, a: float, m: float = 0.0, mu: float | None = None,
                   n_nodes: int = 240, per_decade: int = 10, n_v: int = 400) -> WeightLaw:
        """t = 0 law of phase retrieval with the normalised loss l_a (E4a), exact quadrature.

        h, h* standard Gaussians with correlation m, ``y = h*^2``, ``z = (3 h^2 - y)/(a + y)``
        (bounded below by -1: hard left edge, H4). ``mu`` defaults to ``mu(0) = alpha E[f h]``
        (E5) with ``f = (h^2 - y) h / (a + y)``. ``n_nodes``, ``per_decade``, ``n_v``: the
        quadrature levels of :class:`dmft._quadrature_law.NormalisedLaw` (the defaults give
        alpha_BBP_init to ~1e-13 at a = 0.01)."""
        alpha = _checks.positive("alpha", alpha)
        m = _checks.in_range("m", m, -1.0, 1.0)
        if abs(m) >= 1.0:
            raise ValueError("m must satisfy |m| < 1 (the tangent direction e is undefined)")
        backend = NormalisedLaw(a, m, n_nodes=_checks.integer("n_nodes", n_nodes, 16),
                                per_decade=_checks.integer("per_decade", per_decade, 2),
                                n_v=_checks.integer("n_v", n_v, 16))
        mu = alpha * backend.mean_fh if mu is None else _checks.finite("mu", mu)
        return cls(alpha=alpha, mu=mu, m=m, kind="normalised", t=0.0, backend=backend)

    @classmethod
    def from_samples(cls, z, g, alpha: float, mu: float, m: float = 0.0,
                     n_bins: int | None = None, t: float = math.nan,
                     estimator: Estimator = "bins") -> WeightLaw:
        """Law from samples ``z_i = f'(h_i)``, ``g_i`` (equal weights).

        With at most 32 distinct z values the law is kept as atoms (exact), otherwise it is
        represented by piecewise-linear densities: ``estimator="bins"`` a histogram on
        ``n_bins`` equal-count bins (plus asinh bins in the tails), ``"kde"`` a smooth kernel
        estimate with a cross-validated bandwidth (:mod:`dmft._smooth_law`; ``n_bins``
        unused, refused)."""
        if estimator not in ("bins", "kde"):
            raise ValueError(f"estimator must be 'bins' or 'kde', got {estimator!r}")
        if estimator == "kde" and n_bins is not None:
            raise ValueError("n_bins is for estimator='bins'; the kde bandwidth is chosen "
                             "by cross validation")
        z = _checks.finite_array("z", z, ndim=1)
        g = _checks.finite_array("g", g, ndim=1)
        if z.shape != g.shape:
            raise ValueError(f"z and g must have the same shape, got {z.shape} and {g.shape}")
        alpha = _checks.positive("alpha", alpha)
        mu = _checks.finite("mu", mu)
        m = _checks.in_range("m", m, -1.0, 1.0)
        if np.unique(z).size <= 32:
            return cls(alpha=alpha, mu=mu, m=m, kind="atoms", t=t,
                       backend=AtomLaw.from_samples(z, g * g))
        if z.size < 100:
            raise ValueError(f"need at least 100 samples for a continuous law, got {z.size}")
        backend = (kde_law(z, g * g)[0] if estimator == "kde"
                   else DensityLaw.from_samples(z, g * g, n_bins))
        return cls(alpha=alpha, mu=mu, m=m, kind="samples", t=t, backend=backend)

    @classmethod
    def from_solution(cls, sol: Any, t: float, n_bins: int | None = None,
                      drop_group: int | None = None,
                      estimator: Estimator = "bins") -> WeightLaw:
        """Law at time t from a DMFT Solution (H2): the sample time nearest to t is used.

        ``drop_group``: leave out that population group (``sol.metadata["n_groups"]`` equal
        consecutive blocks of the samples; m and mu then from the other groups' curves when
        the solution keeps them): the replicate of a delete-one-group jackknife.

        ``z = loss.fp(h_samples[k], y)``, ``g = (h_star - m h)/sqrt(1 - m^2)`` rescaled to
        ``E g^2 = 1`` (H2', :func:`dmft._spectral_laws.dynamic_signal_weights`) with
        ``m = m(t_k)``, ``mu = mu(t_k)`` interpolated on ``sol.t``; ``m = 0`` for a tangent
        solution (``solve(tangent=True)``, whose ``m`` is ``m0 G(t)``: the m -> 0+ limit).

        At t = 0 for noiseless phase retrieval the law is known exactly (h, h* Gaussian with
        correlation m0) and :meth:`gaussian` (plain loss) or :meth:`normalised` (l_a, with
        the exact ``mu(0) = alpha E[f h]``) is returned instead of the samples: for the plain
        loss the lower tail of ``z = 3 h^2 - h*^2`` is unbounded, which a sample law cannot
        represent (measured: its BBP margin at alpha = 2.5 was 22 +- 12, 28 +- 8, 17 +- 4 for
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
        keep = _group_keep(sol, drop_group)
        # a tangent solution (solve(tangent=True)) carries m0 G(t), not an overlap: its
        # population is the m -> 0+ limit, whose law has m = 0
        tangent = bool(getattr(sol, "metadata", {}).get("tangent", False))
        m = 0.0 if tangent else float(np.interp(tk, sol.t, _curve(sol, "m", drop_group)))
        mu = float(np.interp(tk, sol.t, _curve(sol, "mu", drop_group)))
        loss: Loss = get_loss(getattr(sol, "loss", PHASE_RETRIEVAL))
        noise = getattr(sol, "metadata", {}).get("noise", 0.0)
        if tk == 0.0 and noise == 0.0 and abs(m) < 1:
            if loss.name == PHASE_RETRIEVAL.name:
                return cls.gaussian(sol.alpha, m, n_quad=256)
            if loss.a is not None:
                return cls.normalised(sol.alpha, loss.a, m)
        h = np.asarray(sol.h_samples[k], float)[keep]
        hs = np.asarray(sol.h_star, float)[keep]
        z = loss.fp(h, np.asarray(sol.y, float)[keep])
        g = dynamic_signal_weights(h, hs, m)  # H2': unit E g^2 (issue 13)
        return cls.from_samples(z, g, sol.alpha, mu, m, n_bins=n_bins, t=tk,
                                estimator=estimator)

    def at_alpha(self, alpha: float) -> WeightLaw:
        """The same t = 0 law (``gaussian`` or ``normalised``) at another alpha; ``mu``, which
        is proportional to alpha at t = 0 (E5), is rescaled (the quadrature is reused)."""
        if self.kind not in ("gaussian", "normalised"):
            raise ValueError(f"at_alpha needs a t = 0 law (gaussian or normalised), got "
                             f"{self.kind}")
        alpha = _checks.positive("alpha", alpha)
        return replace(self, alpha=alpha, mu=self.mu * alpha / self.alpha)

    # ------------------------------------------------------------------ basic maps
    @property
    def z_min(self) -> float:
        """Lower end of the support of z (``-inf`` at t = 0: H7)."""
        return float(self.backend.z_min)

    @property
    def z_max(self) -> float:
        """Upper end of the support of z."""
        return float(self.backend.z_max)

    @property
    def bounded_below(self) -> bool:
        """Whether the law of z has a finite lower end (samples: always, at face value)."""
        return math.isfinite(self.z_min)

    @property
    def scale(self) -> float:
        """Eigenvalue scale ``1 + alpha (|E z| + 2)`` of the grids and continuations."""
        return 1.0 + self.alpha * (abs(self.backend.mean_z) + 2.0)

    def cdf(self, x) -> np.ndarray:
        """``P(z < x)``."""
        return self.backend.cdf(np.asarray(x, float))

    def expect(self, s) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(A, A1, B, B1)`` at complex ``s`` with ``Im s <= 0`` (module docstring).

        ``A = E[z/(1 - z s)]``, ``A1 = E[z^2/(1 - z s)^2]``, ``B = E[g^2 z/(1 - z s)]``,
        ``B1 = E[g^2 z^2/(1 - z s)^2]``; a real s means ``s - i0``: real parts are principal
        values, imaginary parts the ``i pi`` residues (H3-H6)."""
        return self.backend.expect(np.asarray(s, dtype=complex))

    def x_of_s(self, s) -> tuple[np.ndarray, ...]:
        """``(x(s), x'(s), A, A1, B, B1)`` at complex s: ``x(s) = 1/s + alpha A(s)`` (H4)."""
        A, A1, B, B1 = self.expect(s)
        s = np.asarray(s, dtype=complex)
        return 1.0 / s + self.alpha * A, -1.0 / s**2 + self.alpha * A1, A, A1, B, B1

    def pv(self, s) -> PVValues:
        """Principal-value branch at real ``s`` (H4, H6): see :class:`PVValues`."""
        s = np.asarray(s, float)
        A, A1, B, B1 = self.expect(s.astype(complex))
        return PVValues(x=1.0 / s + self.alpha * A.real,
                        dx=-1.0 / s**2 + self.alpha * A1.real,
                        S=1.0 / s + self.alpha * (A.real - B.real),
                        dS=-1.0 / s**2 + self.alpha * (A1.real - B1.real))

    # ------------------------------------------------------------------ spectrum (H3-H8)
    def density(self, lams) -> DensityResult:
        """Bulk density ``rho(lam)`` of the Riemannian Hessian (H3) at real ``lams``."""
        lams = _checks.finite_array("lams", lams)
        s, res, conv = stieltjes(self, lams + self.mu)
        return DensityResult(lam=lams, rho=-s.imag / np.pi, s=s, residual=res, converged=conv)

    def signal_measure(self, lams) -> SignalResult:
        """``nu_e(lam) = -Im G_ee(lam + i0)/pi``, ``G_ee = 1/S`` (H5); integrates to 1."""
        return signal_measure(self, _checks.finite_array("lams", lams))

    def hard_edge(self) -> Edge:
        """N = inf left hard edge (H4, :class:`Edge`): NaN where there is none (z unbounded
        below: ``tail``; a sample law ending at its lowest sample: ``sample_end``). The
        finite-N levels (tail start, lowest eigenvalue) are in :meth:`finite_n`."""
        return left_edge(self)

    def right_edge(self) -> Edge:
        """Right edge (H4 recipe on the s > 0 branch continued from 0+)."""
        return right_edge(self)

    def pv_root(self) -> PVRoot:
        """First root of ``S_PV(s)`` as s decreases from 0- (H6), with the BBP margin."""
        return pv_root(self)

    def outlier(self) -> Outlier:
        """BBP outlier (H6, H7): location, squared overlap with w*, width and status."""
        return outlier(self)

    def finite_n(self, N: int, k_low: int = 3, local_overlap: bool = True) -> FiniteNPicture:
        """Finite-N picture of the low end (H8, :mod:`dmft._finite_n`): expected lowest
        ``k_low`` eigenvalues, quantiles of the lowest, the tail start at size N (expected
        count of bulk eigenvalues below it = 1), probability that the outlier is the lowest,
        expected overlap^2 of the lowest (``local_overlap``: also its local-ratio estimate,
        NaN otherwise)."""
        N = _checks.integer("N", N, 2)
        return finite_n(self, N, _checks.integer("k_low", k_low, 1), local_overlap)


# ---------------------------------------------------------------------- groups
def n_groups(sol: Any) -> int:
    """Number of population groups of a DMFT solution (1 when it records none)."""
    return int(getattr(sol, "metadata", {}).get("n_groups", 1) or 1)


def _group_keep(sol: Any, drop: int | None) -> slice | np.ndarray:
    """Sample indices without group ``drop`` (groups: equal consecutive blocks)."""
    if drop is None:
        return slice(None)
    G, S = n_groups(sol), np.asarray(sol.h_star).size
    if not 0 <= drop < G or G < 2:
        raise ValueError(f"drop_group={drop} needs 0 <= drop_group < n_groups = {G} (>= 2)")
    idx = np.arange(S)
    return idx[(idx * G) // S != drop]


def _curve(sol: Any, name: str, drop: int | None) -> np.ndarray:
    """``sol.<name>`` on ``sol.t``, or the mean of the other groups' curves when a group is
    dropped and the solution keeps per-group curves."""
    groups = getattr(sol, f"{name}_groups", None)
    if drop is None or groups is None:
        return np.asarray(getattr(sol, name), float)
    g = np.asarray(groups, float)
    return np.delete(g, drop, axis=0).mean(axis=0)


def jackknife_se(full: float, replicates: np.ndarray) -> float:
    """Delete-one-group jackknife standard error ``sqrt((G-1)/G sum (x_j - mean x)^2)``;
    NaN when a replicate is NaN while ``full`` is not (the quantity is not stable)."""
    x = np.asarray(replicates, float)
    if not math.isfinite(full):
        return math.nan
    if x.size < 2 or not np.all(np.isfinite(x)):
        return math.nan
    G = x.size
    return float(math.sqrt((G - 1) / G * np.sum((x - x.mean()) ** 2)))


# ---------------------------------------------------------------------- trajectory
# half width, relative to t, of the window of the majority rule of t_BBP (T2)
SMOOTH_T_BBP = 0.3
ERROR_FIELDS = ("hard_edge", "tail_start", "lowest_median", "lam_out", "overlap2", "width")


@dataclass(frozen=True)
class SpectrumTrajectory:
    """Spectrum along a DMFT trajectory, one entry per requested time (H2-H8, T2).

    ``t``, ``mu``, ``m``: time (the sample time used), multiplier and overlap; ``lam_out``,
    ``overlap2``, ``width``, ``status``, ``margin``: the outlier (:class:`Outlier`);
    ``right_edge``; ``z_min``, ``frac_z_negative``: lower end of the law of z and
    ``P(z < 0)``. The three levels of the low end (Riemannian; THEORY H4, H8):

    - ``hard_edge``, ``hard_edge_kind``: the N = inf left end of the bulk's support
      (:meth:`WeightLaw.hard_edge`; NaN for an unbounded tail or a sample law ending at
      its lowest sample);
    - ``tail_start``: at size ``N``, the level below which the expected number of bulk
      eigenvalues is 1 (:class:`FiniteNPicture`);
    - ``lowest_q16``, ``lowest_median``, ``lowest_q84``: quantiles of the finite-N lowest
      eigenvalue (H8 picture at size ``N``).

    The size-N fields are NaN when ``N`` is None. ``errors``: delete-one-group jackknife
    standard errors of :data:`ERROR_FIELDS` (0 for the exact t = 0 law; empty unless
    asked for).
    """

    t: np.ndarray
    mu: np.ndarray
    m: np.ndarray
    lam_out: np.ndarray
    overlap2: np.ndarray
    width: np.ndarray
    status: list[OutlierStatus]
    hard_edge: np.ndarray
    hard_edge_kind: list[EdgeKind]
    right_edge: np.ndarray
    z_min: np.ndarray
    frac_z_negative: np.ndarray
    margin: np.ndarray
    N: int | None = None
    tail_start: np.ndarray | None = None
    lowest_q16: np.ndarray | None = None
    lowest_median: np.ndarray | None = None
    lowest_q84: np.ndarray | None = None
    errors: dict[str, np.ndarray] = field(default_factory=dict)

    def presence(self, smooth: float = SMOOTH_T_BBP) -> np.ndarray:
        """+1 where the outlier exists (:meth:`_present`), -1 where not, smoothed by a local
        linear fit of half width ``smooth * t`` after a running majority of three
        (:func:`dmft._crossing.local_linear`): the local excess of spectrum times with the
        outlier over those without, in [-1, 1]."""
        return local_linear(self.t, np.where(self._present(), 1.0, -1.0), smooth)

    def _present(self) -> np.ndarray:
        """Where the outlier exists: status not ``"absent"`` and BBP margin > 0."""
        return outlier_present(self.status, self.margin)

    def t_bbp(self, smooth: float = SMOOTH_T_BBP) -> float:
        """Time at which the outlier merges with the bulk (T2), NaN if it never does.

        ``smooth > 0`` (default): the first time at which the outlier is missing from the
        majority of the spectrum times within ``+- smooth * t`` (the zero of
        :meth:`presence`, interpolated linearly). Only signs enter: every spectrum time
        carries its own weight-law noise, with artefacts of the sample law (a positive
        ``max S_PV`` with the outlier rejected, values of 40-100 for the plain loss whose
        z has no lower end), and the raw first merge is the first downward fluctuation,
        biased early where the margin approaches 0 slowly; the majority crosses where the
        mean margin does (symmetric noise). Early times, where the margin moves fast, keep
        their own values. ``smooth = 0``: the raw first merge (the last time with the
        outlier and the first without, the margin linearly interpolated between them;
        midpoint where the margin keeps its sign because the outlier was rejected for a
        negative weight). ``t[0]`` if there is no outlier at the first time.
        """
        smooth = _checks.finite("smooth", smooth)
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0 (0: the raw first merge), got {smooth!r}")
        if smooth > 0:
            return first_down_crossing(self.t, self.presence(smooth))
        gone = np.flatnonzero(~self._present())
        if gone.size == 0:
            return math.nan
        k = int(gone[0])
        if k == 0:
            return float(self.t[0])
        a, b = self.margin[k - 1], self.margin[k]
        frac = a / (a - b) if b < 0 else 0.5  # no sign change (e.g. negative weight): midpoint
        return float(self.t[k - 1] + frac * (self.t[k] - self.t[k - 1]))


def _levels(law: WeightLaw, N: int | None) -> tuple[dict[str, float], Outlier, Edge]:
    """The quantities of :data:`ERROR_FIELDS` (and the quantiles) of one law, with its
    outlier and hard edge."""
    edge = law.hard_edge()
    fn = law.finite_n(N, k_low=1, local_overlap=False) if N is not None else None
    out = fn.outlier if fn is not None else law.outlier()
    row = {"hard_edge": edge.lam, "lam_out": out.lam, "overlap2": out.overlap2,
           "width": out.width, "tail_start": math.nan, "lowest_q16": math.nan,
           "lowest_median": math.nan, "lowest_q84": math.nan}
    if fn is not None:
        q16, q50, q84 = fn.lowest_quantiles
        row.update(tail_start=fn.tail_start, lowest_q16=q16, lowest_median=q50, lowest_q84=q84)
    return row, out, edge


def spectrum_along(solution: Any, times, n_bins: int | None = None, N: int | None = None,
                   group_errors: bool = False,
                   estimator: Estimator = "bins") -> SpectrumTrajectory:
    """Outlier, edges and weight-law summaries along a DMFT solution at ``times``.

    ``N``: size for the tail start and the lowest-eigenvalue quantiles (H8); ``group_errors``:
    delete-one-group jackknife errors (``n_groups`` more laws per time); ``estimator``: of
    the sample laws (:meth:`WeightLaw.from_samples`)."""
    times = _checks.finite_array("times", times, ndim=1)
    if N is not None:
        N = _checks.integer("N", N, 2)
    laws = [WeightLaw.from_solution(solution, float(t), n_bins=n_bins, estimator=estimator)
            for t in times]
    rows, outs, edges = zip(*(_levels(law, N) for law in laws), strict=True)
    column = lambda values: np.array(list(values), float)  # noqa: E731
    errors: dict[str, np.ndarray] = {}
    if group_errors:
        errors = _group_errors(solution, times, laws, rows, N, {"n_bins": n_bins,
                                                                 "estimator": estimator})
    pick = (lambda k: column(r[k] for r in rows)) if N is not None else (lambda k: None)  # noqa: E731
    return SpectrumTrajectory(
        t=column(law.t for law in laws), mu=column(law.mu for law in laws),
        m=column(law.m for law in laws), lam_out=column(o.lam for o in outs),
        overlap2=column(o.overlap2 for o in outs), width=column(o.width for o in outs),
        status=[o.status for o in outs], hard_edge=column(e.lam for e in edges),
        hard_edge_kind=[e.kind for e in edges],
        right_edge=column(law.right_edge().lam for law in laws),
        z_min=column(law.z_min for law in laws),
        frac_z_negative=column(float(np.ravel(law.cdf(np.array([0.0])))[0]) for law in laws),
        margin=column(o.margin for o in outs), N=N, tail_start=pick("tail_start"),
        lowest_q16=pick("lowest_q16"), lowest_median=pick("lowest_median"),
        lowest_q84=pick("lowest_q84"), errors=errors)


def _group_errors(sol: Any, times: np.ndarray, laws: list[WeightLaw], rows, N: int | None,
                  law_options: dict[str, Any]) -> dict[str, np.ndarray]:
    """Jackknife errors of :data:`ERROR_FIELDS` at each time (0 for exact t = 0 laws)."""
    G = n_groups(sol)
    if G < 2:
        raise ValueError("group_errors needs a solution with n_groups >= 2")
    errs = {k: np.zeros(times.size) for k in ERROR_FIELDS}
    for i, (t, law, full) in enumerate(zip(times, laws, rows, strict=True)):
        if law.kind in ("gaussian", "normalised"):
            continue  # exact quadrature: no Monte Carlo error
        reps = [_levels(WeightLaw.from_solution(sol, float(t), drop_group=j, **law_options),
                        N)[0] for j in range(G)]
        for k in ERROR_FIELDS:
            errs[k][i] = jackknife_se(full[k], np.array([r[k] for r in reps]))
    return errs
