"""Finite-N Riemannian Hessians at overlap m -> 1 against the weight law (THEORY H2-H6).

Issue 13 item 1. alpha = 6, plain loss. Two kinds of points:

(a) static: ``w = m w* + sqrt(1 - m^2) sqrt(N) u`` with u a uniform unit vector orthogonal to
    w*, independent of the data; law: :meth:`dmft.spectrum.WeightLaw.gaussian` (h, h*
    Gaussians with correlation m: exact quadrature).
(b) gradient descent from m0 = 0.3 (:func:`dmft.simulate.simulate`, eta = 0.01) to time t;
    law: :meth:`WeightLaw.from_solution` of a DMFT solution with the same alpha, m0, dt.

Per point and N: the lowest Riemannian eigenvalues (dense ``eigh`` up to N = 2000, which
there beats Lanczos on the clustered lower edge; Lanczos beyond), the squared overlap
of the lowest eigenvector with e (unit vector of span(w, w*) orthogonal to w), and the
finite-N moments ``E g^2`` and ``alpha E[z g^2] - mu`` (the Rayleigh
quotient ``e^T H e``); the lam_1 column is extrapolated linearly in 1/N (least squares over
the per-N means). Law columns: left edge (H4) and outlier (H6); for (b) both
the law of :meth:`WeightLaw.from_solution` (H2', unit ``E g^2``) and the raw H2 law
(``g = (h* - m h)/sqrt(1 - m^2)`` as sampled), which is what issue 13 reported.

Run: ``PYTHONPATH=$PWD python benchmarks/m_to_one.py [--quick]`` (~10 min; --quick ~30 s).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from dmft.hessian import hessian_extremes, riemannian_hessian_dense
from dmft.losses import get_loss
from dmft.problem import make_problem
from dmft.simulate import simulate
from dmft.solver import solve
from dmft.spectrum import WeightLaw

ALPHA = 6.0
LOSS = get_loss("phase_retrieval")


def lowest(prob, w: np.ndarray, k: int = 3) -> tuple[np.ndarray, float, float, float]:
    """Lowest k Riemannian eigenvalues, overlap^2 of the lowest eigenvector with e, and the
    finite-N ``E g^2``, ``alpha E[z g^2] - mu`` (H2 moments of the sample law)."""
    N = prob.N
    ws = prob.w_star / math.sqrt(N)
    wh = w / np.linalg.norm(w)
    m = float(ws @ wh)
    e = ws - m * wh
    e /= np.linalg.norm(e)
    h = prob.X @ wh
    g = prob.X @ e
    z = LOSS.fp(h, prob.y)
    mu = float(np.mean(LOSS.f(h, prob.y) * h)) * ALPHA
    if N <= 2000:  # dense eigh: faster than Lanczos for the clustered lower edge
        H = riemannian_hessian_dense(prob.X, prob.y, w)
        lam, vec = np.linalg.eigh(H)
        keep = np.argsort(np.abs(lam))[1:]  # drop the trivial 0 along w
        keep = keep[np.argsort(lam[keep])][:k]
        lam, v = lam[keep], vec[:, keep[0]]
    else:
        res = hessian_extremes(prob.X, prob.y, w, prob.w_star, k_low=k, k_high=0,
                               return_vectors=True)
        lam, v = res.lam_low, res.vectors_low[:, 0]
    return lam, float((v @ e) ** 2), float(np.mean(g * g)), ALPHA * float(np.mean(z * g * g)) - mu


def extrapolate(Ns, means) -> float:
    """Intercept of a least-squares line in 1/N."""
    return float(np.polyfit(1.0 / np.asarray(Ns, float), np.asarray(means), 1)[1])


def law_cols(law: WeightLaw) -> str:
    o, le = law.outlier(), law.hard_edge()
    lam = f"{o.lam:7.3f}" if o.status != "absent" else "   none"
    return f"edge {le.lam:6.3f} ({le.kind:4s}) outlier {lam} [{o.status}]"


def static(Ns, n_data: int, eps_list) -> None:
    print("(a) static points w = m w* + sqrt(1-m^2) sqrt(N) u, alpha = 6")
    for eps in eps_list:
        m = 1.0 - eps
        print(f"  m = 1 - {eps:.0e}: law {law_cols(WeightLaw.gaussian(ALPHA, m))}")
        means = []
        for N in Ns:
            n = n_data if N <= 1000 else 2  # N = 2000: ~40 s per dense Hessian
            probs = [make_problem(ALPHA, N, m0=m, seed=1000 * N + d) for d in range(n)]
            rows = [lowest(p, p.W0[0]) for p in probs]
            _report(N, rows)
            means.append(np.mean([r[0][0] for r in rows]))
        print(f"    lam_1 extrapolated to 1/N = 0: {extrapolate(Ns, means):.3f}")


def _report(N: int, rows) -> None:
    lam1 = np.array([r[0][0] for r in rows])
    lam2 = np.array([r[0][1] for r in rows])
    ov = np.array([r[1] for r in rows])
    se = lambda x: x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else math.nan  # noqa: E731
    print(f"    N={N:5d}: lam_1 {lam1.mean():6.3f} +- {se(lam1):.3f}  lam_2 {lam2.mean():6.3f}"
          f"  |<v1,e>|^2 {ov.mean():.3f} +- {se(ov):.3f}  E g^2 {np.mean([r[2] for r in rows]):.3f}"
          f"  e^T H e {np.mean([r[3] for r in rows]):.3f}")


def gd(Ns, n_data: int, times) -> None:
    print("(b) gradient descent from m0 = 0.3, alpha = 6, eta = 0.01")
    sol = solve(ALPHA, 0.3, max(times), dt=0.01, n_samples=8000, seed=0, sample_times=times)
    per_t = {t: [] for t in times}
    for N in Ns:
        for t in times:
            sim = simulate(ALPHA, N, m0=0.3, t_max=t, eta=0.01, seeds=n_data, seed=N)
            children = np.random.SeedSequence(N).spawn(n_data)
            probs = [make_problem(ALPHA, N, m0=0.3, seed=c) for c in children]
            rows = [lowest(p, w) for p, w in zip(probs, sim.w_final, strict=True)]
            ms = [float(p.w_star @ w) / N for p, w in zip(probs, sim.w_final, strict=True)]
            per_t[t].append((N, rows, float(np.mean(ms))))
    for k, t in enumerate(times):
        law = WeightLaw.from_solution(sol, t)
        z = LOSS.fp(np.asarray(sol.h_samples[k]), np.asarray(sol.y))
        g = (np.asarray(sol.h_star) - law.m * np.asarray(sol.h_samples[k])) / math.sqrt(
            1 - law.m**2)
        raw = WeightLaw.from_samples(z, g, ALPHA, law.mu, law.m)
        print(f"  t = {t}: DMFT m = 1 - {1 - law.m:.1e}, E g^2 {np.mean(g * g):.3f}, "
              f"e^T H e {ALPHA * np.mean(z * g * g) - law.mu:.3f}\n"
              f"    law H2': {law_cols(law)}\n    law H2 (raw g): {law_cols(raw)}")
        for N, rows, m in per_t[t]:
            print(f"    (finite N: m = 1 - {1 - m:.1e})", end="")
            _report(N, rows)
        Ns = [r[0] for r in per_t[t]]
        means = [np.mean([x[0][0] for x in r[1]]) for r in per_t[t]]
        print(f"    lam_1 extrapolated to 1/N = 0: {extrapolate(Ns, means):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        static([250, 500], 2, [1e-3, 1e-6])
        gd([250, 500], 2, [1.5, 3.0])
    else:
        static([250, 500, 1000, 2000], 3, [1e-3, 1e-4, 1e-5, 1e-6])
        gd([250, 500, 1000], 3, [0.3, 1.0, 1.5, 2.0, 3.0])


if __name__ == "__main__":
    main()
