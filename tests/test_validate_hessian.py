"""Hessian rows of :func:`dmft.validate.validate` with the finite-N allowance (issue 13 item 4).

Route 1: the report. Route 2: an independent run of the simulator at N/2 with the same
parameters, from which the allowance ``|x_N - x_{N/2}| / (2^(2/3) - 1)`` and the z are
recomputed by hand; the theory's group error enters in quadrature (0 at t = 0, where the law
is exact quadrature, positive on the sample laws of later snapshots).
"""

from __future__ import annotations

import numpy as np

from dmft.simulate import simulate
from dmft.validate import validate

ALPHA, N, M0, T_MAX, ETA, SEEDS = 6.0, 160, 0.3, 1.0, 0.02, 3


def test_hessian_z_uses_the_two_size_allowance():
    r = validate(ALPHA, N, m0=M0, t_max=T_MAX, eta=ETA, seeds=SEEDS, n_samples=2000,
                 hessian_points=2)
    every = float(np.diff(r.t_hessian)[0])
    half = simulate(ALPHA, N // 2, m0=M0, t_max=T_MAX, eta=ETA, seeds=SEEDS, seed=0,
                    hessian_every=every, k_low=2, k_high=0)
    cols = {"lam_1": half.hess_low[:, :, 0], "lam_2": half.hess_low[:, :, 1],
            "overlap2_1": half.hess_low_overlap2[:, :, 0]}
    for k, x in cols.items():
        allowance = np.abs(r.hessian_finite_n[k] - x.mean(axis=0)) / (2 ** (2 / 3) - 1)
        np.testing.assert_allclose(r.hessian_allowance[k], allowance, rtol=1e-9, atol=1e-15)
        se = np.sqrt(r.hessian_finite_n_sem[k] ** 2 + allowance**2
                     + r.hessian_theory_sem[k] ** 2)
        ok = se > 1e-12
        z = (r.hessian_theory[k] - r.hessian_finite_n[k])[ok] / se[ok]
        np.testing.assert_allclose(r.hessian_z[k][ok], z, rtol=1e-9)
    assert "N/2" in r.params["hessian_allowance"]
    late = r.t_hessian > 0
    assert np.all(r.hessian_theory_sem["lam_1"][late] > 0)
