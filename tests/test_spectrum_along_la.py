"""Spectrum along a DMFT trajectory of the normalised loss l_a (issue 11 item 5; H2-H6).

Independent routes: :func:`dmft.spectrum.spectrum_along` (law of the DMFT samples, H3-H6)
against dense diagonalisation of finite-N matrices built from the same weights (H2): the
tangent part of ``(1/N) sum_mu z_mu x_mu x_mu^T`` with ``x_mu . e = g_mu`` and the other N - 2
components independent standard Gaussians, ``(z_mu, g_mu)`` drawn without replacement from
the DMFT's samples at that time. Riemannian eigenvalue = D-eigenvalue - mu(t).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmft.losses import get_loss
from dmft.solver import solve
from dmft.spectrum import WeightLaw, spectrum_along

A = 0.01
ALPHA, M0, TIMES = 6.0, 0.1, [0.0, 0.05]


@pytest.fixture(scope="module")
def trajectory():
    loss = get_loss("phase_retrieval", a=A)
    # explicit DMFT step: the local rate f' ~ 3 h^2 / a needs dt ~ a times the plain one
    sol = solve(ALPHA, M0, TIMES[-1], dt=2.5e-4, n_samples=4000, n_response=500,
                sample_times=TIMES, loss=loss, seed=3)
    return sol, spectrum_along(sol, TIMES), loss


def weights(sol, loss, t):
    k = int(np.argmin(np.abs(sol.sample_times - t)))
    m = float(np.interp(sol.sample_times[k], sol.t, sol.m))
    h, hs = np.asarray(sol.h_samples[k]), np.asarray(sol.h_star)
    return loss.fp(h, np.asarray(sol.y)), (hs - m * h) / math.sqrt(1 - m * m)


def dense_low(z, g, N, rng):
    """Two lowest D-eigenvalues and the overlap^2 of the lowest eigenvector with e."""
    M = int(round(ALPHA * N))
    pick = rng.choice(z.size, M, replace=False)
    X = np.column_stack([g[pick], rng.standard_normal((M, N - 2))])
    ev, V = np.linalg.eigh((X.T * z[pick]) @ X / N)
    return ev[0], ev[1], V[0, 0] ** 2


def test_hard_edge_and_outlier_tracked_in_time(trajectory):
    """At each time: the outlier exists below a hard left edge (z > -1, H4); the law's outlier,
    its overlap^2 with e and the edge against dense matrices (N = 300, 5 draws): outlier within
    3 s.e. + an O(1/N) bias allowance 10 (1 + |x|)/N, the second eigenvalue within 3 s.e. of
    the edge plus three finite-N edge scales ((1.5 sqrt(0.05) / (rho N))^(2/3), square-root
    edge), the overlap^2 within 3 s.e. + 5/N."""
    sol, tr, loss = trajectory
    assert tr.hard_edge_kind == ["hard", "hard"] and tr.status == ["exists", "exists"]
    assert np.all(tr.z_min >= -1.0) and np.all(tr.lam_out < tr.hard_edge)
    assert tr.hard_edge[1] > tr.hard_edge[0] + 10  # the edge moves: mu(t) drops from ~200
    rng = np.random.default_rng(7)
    N, n_sets = 300, 5
    for k, t in enumerate(TIMES[1:], start=1):
        z, g = weights(sol, loss, t)
        rows = np.array([dense_low(z, g, N, rng) for _ in range(n_sets)])
        mean = rows.mean(axis=0)
        se = rows.std(axis=0, ddof=1) / math.sqrt(n_sets)
        x_out, x_edge = tr.lam_out[k] + tr.mu[k], tr.hard_edge[k] + tr.mu[k]
        law = WeightLaw.from_solution(sol, t)
        rho = law.density(np.array([tr.hard_edge[k] + 0.05])).rho[0]
        d = (1.5 * math.sqrt(0.05) / (rho * N)) ** (2 / 3)
        assert abs(mean[0] - x_out) <= 3 * se[0] + 10 * (1 + abs(x_out)) / N, (t, mean, x_out)
        assert abs(mean[1] - x_edge) <= 3 * se[1] + 3 * d, (t, mean, x_edge, d)
        assert abs(mean[2] - tr.overlap2[k] / (1 - tr.m[k] ** 2)) <= 3 * se[2] + 5 / N
