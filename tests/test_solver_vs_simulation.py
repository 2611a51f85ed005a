"""DMFT (N = inf) against finite-N gradient descent with matched alpha, m0 and step.

The solver is the N = inf limit of gradient descent with ``eta = dt`` (see
``dmft/solver.py``), so the two routes share their discretisation and differ only by Monte
Carlo noise (DMFT: independent sub-populations; simulation: independent datasets) and
finite-N corrections. Each comparison allows

    |x_DMFT - x_N| <= 3 sqrt(se_DMFT^2 + se_N^2) + A_x * (1000 / N),

where ``A_x`` is the finite-N shift measured at N = 1000 (``FINITE_N_SHIFT_1000``, from
the N = 1000, 2000, 4000 runs of ``test_finite_n_trend``, marked slow): it halves when N
doubles.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from dmft.simulate import simulate
from dmft.solver import solve

TIMES = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0)
M0S = (0.1, 0.3)
# |sim(N=1000) - DMFT| measured at alpha = 3, largest over t <= 5 and m0 in {0.1, 0.3},
# with its sign-independent size; see test_finite_n_trend for the N dependence.
FINITE_N_SHIFT_1000 = {"m": 0.04, "e": 0.015, "mu": 0.04}


@cache
def _dmft(alpha: float, m0: float, t_max: float, dt: float, n_samples: int, seed: int):
    return solve(alpha, m0, t_max, dt=dt, n_samples=n_samples, seed=seed)


@cache
def _gd(alpha: float, N: int, t_max: float, eta: float, seeds: int, seed: int):
    return simulate(alpha, N, m0=list(M0S), replicas=len(M0S), t_max=t_max, eta=eta,
                    seeds=seeds, seed=seed, dtype=np.float32)


def _compare(alpha, N, t_max, eta, seeds, n_samples, seed=0):
    """Rows (m0, t, name, dmft, se_dmft, sim, se_sim, tolerance) for every comparison."""
    sim = _gd(alpha, N, t_max, eta, seeds, seed)
    rows = []
    for r, m0 in enumerate(M0S):
        sol = _dmft(alpha, m0, t_max, eta, n_samples, seed + 17 * r + 1)
        for t in (t for t in TIMES if t <= t_max + 1e-9):
            k = int(round(t / eta))
            assert abs(sim.t[k] - t) < 1e-9 and abs(sol.t[k] - t) < 1e-9
            for name in ("m", "e", "mu"):
                x = getattr(sim, name)[r :: len(M0S), k]
                se_sim = x.std(ddof=1) / np.sqrt(x.size)
                d, se_d = getattr(sol, name)[k], getattr(sol, f"{name}_sem")[k]
                tol = 3 * np.hypot(se_d, se_sim) + FINITE_N_SHIFT_1000[name] * 1000 / N
                rows.append((m0, t, name, d, se_d, x.mean(), se_sim, tol))
    return rows


def _report(rows) -> str:
    return "\n".join(f"m0={m0} t={t} {n}: dmft={d:.4f}+-{sd:.4f} sim={s:.4f}+-{ss:.4f} "
                     f"tol={tol:.4f}" for m0, t, n, d, sd, s, ss, tol in rows)


@pytest.mark.parametrize("alpha, t_max, eta", [(3.0, 5.0, 0.02), (8.0, 2.0, 0.01)])
def test_dmft_matches_gradient_descent_at_n2000(alpha, t_max, eta):
    rows = _compare(alpha, 2000, t_max, eta, seeds=8, n_samples=10_000)
    bad = [r for r in rows if abs(r[3] - r[5]) > r[7]]
    assert not bad, "outside tolerance:\n" + _report(bad)


def test_linear_regression_matches_large_n_without_noise_to_hide_behind():
    """f linear: M_R is exact and M_C nearly so; DMFT vs N = 4000 to about 1e-2."""
    alpha, m0, N, eta, t_max = 3.0, 0.1, 4000, 0.01, 1.0
    sol = solve(alpha, m0, t_max, dt=eta, n_samples=20_000, seed=2, loss="linear_regression")
    sim = simulate(alpha, N, m0=m0, t_max=t_max, eta=eta, seeds=2, seed=3,
                   loss="linear_regression")
    for name, tol in (("m", 1e-2), ("e", 1e-2), ("mu", 2e-2)):
        diff = np.abs(getattr(sol, name) - sim.mean(name))
        assert diff.max() < tol, (name, diff.max())
    assert sol.m_sem.max() < 2e-3  # the only noise left is that of the M_C estimate


@pytest.mark.slow
def test_finite_n_trend():
    """N = 1000 and N = 4000 both agree with the DMFT, and the finite-N shift between them
    stays within the allowance model A (1000/N) used by the default test.

    Measured (first run): every row passed at both N, but the mean |DMFT - GD| gap was
    0.046 at N = 1000 and 0.048 at N = 4000: at S = 2e4 the DMFT's own Monte Carlo error
    (common to both N) dominates the gap, so "the gap shrinks" is not testable there;
    the shift between the two simulations is.
    """
    sims = {}
    for N, seeds in ((1000, 16), (4000, 8)):
        rows = _compare(3.0, N, 5.0, 0.02, seeds=seeds, n_samples=20_000)
        bad = [r for r in rows if abs(r[3] - r[5]) > r[7]]
        assert not bad, f"N={N} outside tolerance:\n" + _report(bad)
        sims[N] = rows
    for r1, r4 in zip(sims[1000], sims[4000], strict=True):
        name = r1[2]
        allowed = 3 * np.hypot(r1[6], r4[6]) + FINITE_N_SHIFT_1000[name] * (1 - 1000 / 4000)
        assert abs(r1[5] - r4[5]) <= allowed, (r1, r4)


@pytest.mark.slow
def test_long_times_against_extrapolation_in_one_over_n():
    """alpha = 3, m0 = 0.1 to t = 10: DMFT vs simulations at N = 1000, 2000, 4000
    extrapolated linearly in 1/N, within the combined standard errors."""
    alpha, m0, eta, t_max = 3.0, 0.1, 0.02, 10.0
    sol = solve(alpha, m0, t_max, dt=eta, n_samples=20_000, seed=4)
    Ns = np.array([1000, 2000, 4000])
    for t in (5.0, 10.0):
        k = int(round(t / eta))
        means, ses = [], []
        for N in Ns:
            sim = simulate(alpha, int(N), m0=m0, t_max=t_max, eta=eta, seeds=8, seed=5,
                           dtype=np.float32)
            means.append(sim.mean("m")[k])
            ses.append(sim.sem("m")[k])
        w = 1 / np.asarray(ses) ** 2
        A = np.vstack([np.ones(3), 1 / Ns]).T
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        coef = cov @ (A.T @ (w * np.asarray(means)))
        se = np.hypot(np.sqrt(cov[0, 0]), sol.m_sem[k])
        assert abs(coef[0] - sol.m[k]) < 3 * se, (t, coef[0], sol.m[k], se)


@pytest.mark.slow
def test_convergence_in_dt_and_samples():
    """m(t = 5) at alpha = 3, m0 = 0.3: dt vs dt/2 and S vs 4S agree within errors."""
    base = solve(3.0, 0.3, 5.0, dt=0.02, n_samples=10_000, seed=6)
    half = solve(3.0, 0.3, 5.0, dt=0.01, n_samples=10_000, seed=6)
    more = solve(3.0, 0.3, 5.0, dt=0.02, n_samples=40_000, seed=7)
    k = base.t.size - 1
    assert abs(base.m[k] - half.m[-1]) < 3 * np.hypot(base.m_sem[k], half.m_sem[-1])
    assert abs(base.m[k] - more.m[k]) < 3 * np.hypot(base.m_sem[k], more.m_sem[k])
    assert more.m_sem[k] < base.m_sem[k]  # Monte Carlo error falls with S
