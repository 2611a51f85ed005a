"""alpha_BBP_init(a) for the normalised loss l_a (E4a, T1) and the convergence of its t = 0
quadrature law (H3-H6). Prints three tables and the timings.

    PYTHONPATH=$PWD python benchmarks/la_threshold_table.py

1. alpha_BBP_init(a), a = 1e-3 ... 1e3 (13 values, log spaced): threshold, its quadrature error
   (|change| between 120 and 240 trapezoid nodes per axis), kind (edge / pair / support), s and
   the Riemannian eigenvalue of the outlier at threshold.
2. Convergence at a = 0.01, alpha = 6: outlier (H6), left edge (H4) against the direct-route
   nodes; density (H3) at three points against the panels per decade and the 1D nodes.
3. The plain-loss limit: the principal-value pair (resonance) threshold of l_a, min over
   s < -1 of -1/(s R(s)), against the plain loss's alpha_BBP_init = 3.1468 as a grows.
"""

from __future__ import annotations

import time

import numpy as np

from dmft._quadrature_law import NormalisedLaw, alpha_bbp_init_bounded
from dmft.spectrum import WeightLaw
from dmft.thresholds import alpha_bbp_init


def weight_law(backend: NormalisedLaw, alpha: float) -> WeightLaw:
    return WeightLaw(alpha=alpha, mu=alpha * backend.mean_fh, m=0.0, kind="normalised",
                     t=0.0, backend=backend)


def threshold_table() -> None:
    print("a          alpha_BBP_init   quad. error  kind     s_out      lam_out    time[s]")
    for a in np.geomspace(1e-3, 1e3, 13):
        t0 = time.perf_counter()
        res = [alpha_bbp_init_bounded(NormalisedLaw(a, n_nodes=n, per_decade=4))
               for n in (120, 240)]
        law = weight_law(NormalisedLaw(a, n_nodes=240, per_decade=4), res[-1].alpha)
        x = law.pv(np.array([res[-1].s])).x[0]
        print(f"{a:<10.4g} {res[-1].alpha:<16.10f} {abs(res[1].alpha - res[0].alpha):<12.1e} "
              f"{res[-1].kind:<8} {res[-1].s:<10.5f} {x - law.mu:<10.4f} "
              f"{time.perf_counter() - t0:.1f}")


def convergence_table(a: float = 0.01, alpha: float = 6.0) -> None:
    print(f"\nconvergence at a = {a}, alpha = {alpha}")
    print("n_nodes  lam_out              overlap2             lam_edge")
    for n in (60, 120, 240, 480):
        law = weight_law(NormalisedLaw(a, n_nodes=n, per_decade=4), alpha)
        o, e = law.outlier(), law.hard_edge()
        print(f"{n:<8d} {o.lam:<20.14f} {o.overlap2:<20.16f} {e.lam:<20.14f}")
    lams = np.array([-190.0, 0.0, 500.0])
    print("per_decade n_v   rho(-190)            rho(0)               rho(500)        time[s]")
    for pdec, n_v in ((5, 200), (10, 400), (20, 400), (20, 800)):
        t0 = time.perf_counter()
        law = weight_law(NormalisedLaw(a, per_decade=pdec, n_v=n_v), alpha)
        rho = law.density(lams).rho
        print(f"{pdec:<10d} {n_v:<5d} " + " ".join(f"{r:<20.15g}" for r in rho)
              + f" {time.perf_counter() - t0:.1f}")


def plain_limit_table() -> None:
    plain = alpha_bbp_init()
    print(f"\nplain loss (E4): alpha_BBP_init = {plain.alpha:.10f} at s = {plain.s:.6f}")
    print("a        PV-pair threshold of l_a (s < -1, resonance)   s / a")
    for a in (1e2, 1e3, 1e4):
        be = NormalisedLaw(a, per_decade=10)
        s = a * plain.s * np.linspace(0.6, 1.6, 401)
        A, _, B, _ = (v.real for v in be.expect(s.astype(complex)))
        aR = -1.0 / (s * (A - B))
        k = int(np.argmin(aR))
        print(f"{a:<8.0e} {aR[k]:<46.8f} {s[k] / a:.5f}")


def dense_table(a: float = 0.01, N: int = 800, n_sets: int = 6) -> None:
    """Law against dense diagonalisation (m = 0, w = sqrt(N) e_1, w* = sqrt(N) e_2):
    D-eigenvalues (Riemannian + mu, H2), mean +- standard error over datasets."""
    from dmft.losses import normalised_loss

    lo = normalised_loss(a)
    be = NormalisedLaw(a)
    print(f"\ndense diagonalisation, a = {a}, N = {N}, {n_sets} datasets (D-eigenvalues)")
    print("alpha status  x_out   x_edge  ov2_law | lowest        second        ov2_N"
          "          mu_law  mu_N")
    for alpha in (2.0, 2.6, 3.2, 4.0, 6.0):
        law = weight_law(be, alpha)
        o, e = law.outlier(), law.hard_edge()
        rows = []
        for k in range(n_sets):
            rng = np.random.default_rng(1000 + k)
            X = rng.standard_normal((int(round(alpha * N)), N))
            h, y = X[:, 0], X[:, 1] ** 2
            fp, mu = lo.fp(h, y), float(lo.f(h, y) @ h) / N
            ev, V = np.linalg.eigh((X[:, 1:].T * fp) @ X[:, 1:] / N)
            rows.append((ev[0], ev[1], V[0, 0] ** 2, mu))
        r = np.array(rows)
        m, se = r.mean(0), r.std(0, ddof=1) / np.sqrt(n_sets)
        print(f"{alpha:<5} {o.status:<7} {o.lam + law.mu:<7.3f} {e.lam + law.mu:<7.3f} "
              f"{o.overlap2:<7.4f} | {m[0]:.3f}+-{se[0]:.3f}  {m[1]:.3f}+-{se[1]:.3f}  "
              f"{m[2]:.4f}+-{se[2]:.4f}  {law.mu:<7.2f} {m[3]:.1f}+-{se[3]:.1f}")


if __name__ == "__main__":
    import sys

    t_all = time.perf_counter()
    threshold_table()
    convergence_table()
    plain_limit_table()
    if "--dense" in sys.argv:
        dense_table()
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")
